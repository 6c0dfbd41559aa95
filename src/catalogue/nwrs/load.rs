//! Loading workforce files: each file replaces its own layout's rows for its snapshot, so the
//! detailed and the high-level file of one snapshot can be imported together or apart. Where
//! both have a row for the same practice, group and role, the high-level row is kept: it
//! overwrites a detailed row, and a detailed row never overwrites it. A high-level file
//! re-imported alone does not bring back detailed rows it once replaced for roles it no longer
//! lists; importing the whole zip again does.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sea_query::{Alias, OnConflict};

use super::NWRS as NWRS_TABLE;
use super::parse::{Layout, PracticeStaff, detect, read_detailed, read_high_level, snapshot_of};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::{TableRow, Tx};
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static NWRS: Source = Source {
    name: "nwrs",
    description: "General Practice Workforce practice-level CSVs: GPWPracticeCSV.MMYYYY.zip, or the detailed and high-level CSVs inside it",
    writes: &[&NWRS_TABLE],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct NwrsRow {
        snapshot: NaiveDate,
        practice_code: String,
        practice_name: Option<String>,
        pcn_code: Option<String>,
        pcn_name: Option<String>,
        sub_icb_code: Option<String>,
        sub_icb_name: Option<String>,
        icb_code: Option<String>,
        icb_name: Option<String>,
        region_code: Option<String>,
        region_name: Option<String>,
        staff_group: String,
        staff_role: String,
        headcount: Option<i64>,
        fte: Option<i64>,
        source: &'static str,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    // The publication's zip also holds the definitions workbooks, which carry no data.
    if file.is_xlsx() && file.in_zip() {
        return Ok(Loaded::default());
    }
    let snapshot = snapshot_of(file)?;
    let layout = detect(file)?;
    let slice = [
        ("snapshot", snapshot.into()),
        ("source", layout.as_str().into()),
    ];
    ctx.replace(tx, &NWRS_TABLE, &slice, "").await?;
    let practices: Box<dyn Iterator<Item = Result<PracticeStaff, ImportError>> + Send> =
        match layout {
            Layout::Detailed => Box::new(read_detailed(file)?),
            Layout::HighLevel => Box::new(read_high_level(file)?.into_iter().map(Ok)),
        };
    let mut on_conflict =
        OnConflict::columns(NWRS_TABLE.primary_key.iter().map(|c| Alias::new(*c)));
    match layout {
        Layout::Detailed => on_conflict.do_nothing(),
        Layout::HighLevel => on_conflict.update_columns(
            <NwrsRow as TableRow>::COLUMNS
                .iter()
                .filter(|c| !NWRS_TABLE.primary_key.contains(c))
                .map(|c| Alias::new(*c)),
        ),
    };
    let mut loader = ctx
        .loader::<NwrsRow>(tx, &NWRS_TABLE)?
        .on_conflict(on_conflict);
    let mut seen = BTreeSet::new();
    for practice in practices {
        let practice = practice?;
        let place = practice.geography;
        if !seen.insert(place.practice_code.clone()) {
            return Err(ImportError::unrecognised(
                &file.to_string(),
                format!(
                    "practice {} appears on more than one row",
                    place.practice_code
                ),
            ));
        }
        for staff in practice.staff {
            loader
                .push(NwrsRow {
                    snapshot,
                    practice_code: place.practice_code.clone(),
                    practice_name: place.practice_name.clone(),
                    pcn_code: place.pcn_code.clone(),
                    pcn_name: place.pcn_name.clone(),
                    sub_icb_code: place.sub_icb_code.clone(),
                    sub_icb_name: place.sub_icb_name.clone(),
                    icb_code: place.icb_code.clone(),
                    icb_name: place.icb_name.clone(),
                    region_code: place.region_code.clone(),
                    region_name: place.region_name.clone(),
                    staff_group: staff.staff_group.to_string(),
                    staff_role: staff.staff_role.to_string(),
                    headcount: staff.headcount,
                    fte: staff.fte,
                    source: layout.as_str(),
                    import_id: ctx.import_id,
                })
                .await?;
        }
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: BTreeSet::from([snapshot.to_string()]),
    })
}
