//! Loading GPAD practice crosstabs. A crosstab replaces its month: the first file of an import
//! run to hold a month empties it, the other regional half of a split month adds to it, and a
//! later file holding the same part (a month met again in a newer release of the same run)
//! replaces the earlier file's rows, so a month is loaded once and the latest edition wins.
//!
//! The parts of a month are the region words of the file name (`London_East_South`,
//! `Midlands_North`); a national file holds all of them. The name is used because the part must
//! be known before the first row is written (the rows it replaces go first), and reading the
//! file twice to find its practices' regions would double the cost of the largest files of
//! any source; the month itself always comes from the rows.
//!
//! ICB and region: from the `Mapping.csv` of the crosstab's own zip where it lists the practice,
//! else from the ODS practice record as it stands at import (one query per file). Mapping.csv
//! wins where they differ, since it is the publisher's geography for the release, and the import
//! summary says how many practices differed.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use sea_query::{Alias, Query};

use super::GP_APPOINTMENTS;
use super::parse::{Crosstab, Geography, Member, identify, read_mapping, regional_parts};
use crate::catalogue::ods::PRACTICES;
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::{Cell, Tx};
use crate::schema::Kind;
use crate::source::error::ImportError;
use crate::source::{SourceFile, open_sources};

pub static APPOINTMENTS: Source = Source {
    name: "appointments",
    description: "Appointments in General Practice, practice level: Practice_Level_Crosstab_<Mon>_<YY>.zip as published (monthly crosstab CSVs, whole months or regional halves, and Mapping.csv), or crosstab CSVs on their own, whose ICB and region then come from the ODS practices. Each month is replaced by the latest file holding it",
    writes: &[&GP_APPOINTMENTS],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct AppointmentRow {
        month: NaiveDate,
        practice_code: String,
        practice_name: Option<String>,
        supplier: Option<String>,
        pcn_code: Option<String>,
        sub_icb_code: Option<String>,
        icb_code: Option<String>,
        region_code: Option<String>,
        hcp_type: String,
        appt_mode: String,
        national_category: String,
        time_between_book_and_appt: String,
        appt_status: String,
        count: i64,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    if file.is_xlsx() {
        // Workbooks in a release zip describe it; a workbook given on its own is a mistake.
        if file.in_zip() {
            return Ok(Loaded::default());
        }
        return Err(ImportError::unrecognised(
            &file.to_string(),
            "expected a practice-level crosstab CSV or a zip of them",
        ));
    }
    let (header, _) = file.csv_with_header()?;
    if identify(&header)? == Member::Mapping {
        if !file.in_zip() {
            ctx.note(format!(
                "{file}: a Mapping.csv is read with the crosstabs of its own zip; crosstab CSVs given on their own take ICB and region from the ODS practices"
            ));
        }
        return Ok(Loaded::default());
    }
    let mapping = zip_mapping(file)?;
    let ods = ods_geography(tx).await?;
    let mut crosstab = Crosstab::open(file)?;
    let Some((first, first_line)) = crosstab.next_row()? else {
        return Ok(Loaded::default());
    };
    let month = first.month;
    for part in regional_parts(&file.base_name_lower()) {
        ctx.replace(tx, &GP_APPOINTMENTS, &[("month", month.into())], part)
            .await?;
    }
    let mut loader = ctx.loader::<AppointmentRow>(tx, &GP_APPOINTMENTS)?;
    let mut differing = HashSet::new();
    let mut seen = HashMap::new();
    let mut next = Some((first, first_line));
    while let Some((row, line)) = next {
        if row.month != month {
            return Err(ImportError::bad_value(
                crosstab.file(),
                line,
                "APPOINTMENT_MONTH_START_DATE",
                &row.month.format("%d%b%Y").to_string().to_uppercase(),
                "the month of the file's first row: one month per file",
            ));
        }
        // Checked here rather than left to the primary key so that the message names both
        // lines; two spellings of one label fold into one row key, too.
        if let Some(earlier) = seen.insert(row.key_hash(), line) {
            return Err(ImportError::unrecognised(
                crosstab.file(),
                format!(
                    "line {line} repeats line {earlier}: the same practice ({}), HCP type, mode, national category, lead time and status",
                    row.practice_code
                ),
            ));
        }
        let mapped = mapping.as_ref().and_then(|m| m.get(&row.practice_code));
        let recorded = ods.get(&row.practice_code);
        if let (Some(mapped), Some(recorded)) = (mapped, recorded)
            && mapped != recorded
        {
            differing.insert(row.practice_code.clone());
        }
        let geography = mapped.or(recorded);
        loader
            .push(AppointmentRow {
                month,
                icb_code: geography.and_then(|g| g.icb_code.clone()),
                region_code: geography.and_then(|g| g.region_code.clone()),
                practice_code: row.practice_code,
                practice_name: row.practice_name,
                supplier: row.supplier,
                pcn_code: row.pcn_code,
                sub_icb_code: row.sub_icb_code,
                hcp_type: row.hcp_type,
                appt_mode: row.appt_mode,
                national_category: row.national_category,
                time_between_book_and_appt: row.time_between_book_and_appt,
                appt_status: row.appt_status,
                count: row.count,
                import_id: ctx.import_id,
            })
            .await?;
        next = crosstab.next_row()?;
    }
    if !differing.is_empty() {
        ctx.note(format!(
            "{file}: Mapping.csv gives {} practice(s) another ICB or region than ODS; Mapping.csv's were kept",
            differing.len()
        ));
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: BTreeSet::from([month.to_string()]),
    })
}

/// The `Mapping.csv` of the zip `file` is a member of, found by header; `None` for a bare file
/// or a zip without one.
fn zip_mapping(file: &SourceFile) -> Result<Option<HashMap<String, Geography>>, ImportError> {
    if !file.in_zip() {
        return Ok(None);
    }
    let mut found = None;
    for member in open_sources(file.path())? {
        if member.is_xlsx() || member == *file {
            continue;
        }
        let (header, _) = member.csv_with_header()?;
        if identify(&header)? != Member::Mapping {
            continue;
        }
        if found.is_some() {
            return Err(ImportError::unrecognised(
                &member.to_string(),
                "the zip holds more than one Mapping.csv, so a practice's ICB and region would be ambiguous",
            ));
        }
        found = Some(read_mapping(&member)?);
    }
    Ok(found)
}

/// Every ODS practice's ICB and region, read once per file.
async fn ods_geography(tx: &mut Tx) -> Result<HashMap<String, Geography>, ImportError> {
    let mut select = Query::select();
    select
        .columns(["ods_code", "icb_code", "region_code"].map(Alias::new))
        .from(Alias::new(PRACTICES.name));
    let rows = tx
        .fetch_cells(&select, &[Kind::Text, Kind::Text, Kind::Text])
        .await?;
    let text = |cell: &Cell| match cell {
        Cell::Text(text) => Some(text.clone()),
        _ => None,
    };
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some((
                text(&row[0])?,
                Geography {
                    icb_code: text(&row[1]),
                    region_code: text(&row[2]),
                },
            ))
        })
        .collect())
}
