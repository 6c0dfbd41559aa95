//! Loading online consultation files. Each edition re-publishes a back series, so a file
//! replaces every month it holds, in the table of its kind. A file is read once: each month's
//! area is emptied when its first row comes, and the import's transaction undoes it all if a
//! later row is broken.
//!
//! A file replaces a month region by region (by ICB or sub-ICB location where a dated file
//! names no region): the north and south halves of a month are loaded side by side, importing
//! one half again leaves the other half's rows as they were, and the same half given twice in
//! one import (two editions, or a zip and a CSV from it) is loaded once, from the later file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use sea_query::Value;

use super::parse::{Layout, Row, read};
use super::{ONLINE_CONSULTATION_TIMES, ONLINE_CONSULTATIONS as METRICS};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::Tx;
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static ONLINE_CONSULTATIONS: Source = Source {
    name: "online-consultations",
    description: "Submissions via Online Consultation Systems in General Practice: the \
                  practice zip (north and south regions CSVs, MONTH ISO or DD/MM/YYYY, each \
                  edition's whole back series) and the By Day and Time file, weekday-aggregated \
                  (MONTH, WEEKDAY, SUBMISSION_TIME, VALUE) or dated (DATE, WEEKDAY, \
                  SUBMISSION_TIME, CLINICAL, ADMIN, UNKNOWN_OTHER, TOTAL; read by column name, \
                  DATE ISO or DD/MM/YYYY: this layout's header is assumed, not yet seen). Files \
                  are told apart by header; each replaces the months it holds",
    writes: &[&METRICS, &ONLINE_CONSULTATION_TIMES],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct MetricRecord {
        month: NaiveDate,
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
        supplier: String,
        metric: String,
        value: Option<f64>,
        import_id: i64,
    }
}

crate::table_row! {
    struct TimeRecord {
        month: NaiveDate,
        date: NaiveDate,
        date_type: &'static str,
        weekday: String,
        weekday_number: i64,
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
        supplier: String,
        submission_time: String,
        clinical: Option<f64>,
        admin: Option<f64>,
        unknown_other: Option<f64>,
        total: Option<f64>,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    let (layout, rows) = read(file)?;
    let mut areas = Areas::new();
    let loaded = match layout {
        Layout::Practice => {
            ctx.load_replacing(
                tx,
                &METRICS,
                rows,
                new_area(&mut areas),
                |row, import_id| {
                    let Row::Metric(row) = row else {
                        unreachable!("a practice file reads as metric rows")
                    };
                    let place = row.place;
                    MetricRecord {
                        month: row.month,
                        practice_code: place.practice_code,
                        practice_name: place.practice_name,
                        pcn_code: place.pcn_code,
                        pcn_name: place.pcn_name,
                        sub_icb_code: place.sub_icb_code,
                        sub_icb_name: place.sub_icb_name,
                        icb_code: place.icb_code,
                        icb_name: place.icb_name,
                        region_code: place.region_code,
                        region_name: place.region_name,
                        supplier: row.supplier,
                        metric: row.metric,
                        value: row.value,
                        import_id,
                    }
                },
            )
            .await?
        }
        Layout::Weekday | Layout::Dated => {
            ctx.load_replacing(
                tx,
                &ONLINE_CONSULTATION_TIMES,
                rows,
                new_area(&mut areas),
                |row, import_id| {
                    let Row::Time(row) = row else {
                        unreachable!("a day-and-time file reads as time rows")
                    };
                    let place = row.place;
                    TimeRecord {
                        month: row.month,
                        date: row.date,
                        date_type: row.date_type,
                        weekday: row.weekday,
                        weekday_number: row.weekday_number,
                        practice_code: place.practice_code,
                        practice_name: place.practice_name,
                        pcn_code: place.pcn_code,
                        pcn_name: place.pcn_name,
                        sub_icb_code: place.sub_icb_code,
                        sub_icb_name: place.sub_icb_name,
                        icb_code: place.icb_code,
                        icb_name: place.icb_name,
                        region_code: place.region_code,
                        region_name: place.region_name,
                        supplier: row.supplier,
                        submission_time: row.submission_time,
                        clinical: row.clinical,
                        admin: row.admin,
                        unknown_other: row.unknown_other,
                        total: row.total,
                        import_id,
                    }
                },
            )
            .await?
        }
    };
    Ok(Loaded {
        rows: loaded,
        periods: areas.keys().map(NaiveDate::to_string).collect(),
    })
}

/// The areas of each month a file has met so far: `(column, code)` of the widest area a row
/// names, `None` for a row that names none.
type Areas = BTreeMap<NaiveDate, BTreeSet<Option<(&'static str, String)>>>;

/// For `LoadContext::load_replacing`: the area of its month a row opens, if no earlier row
/// of the file was in it.
fn new_area(areas: &mut Areas) -> impl FnMut(&Row) -> Option<Vec<(&'static str, Value)>> + '_ {
    |row| {
        let area = row.place().area();
        let seen = areas.entry(row.month()).or_default();
        if seen
            .iter()
            .any(|s| s.as_ref().map(|(c, a)| (*c, a.as_str())) == area)
        {
            return None;
        }
        let area = area.map(|(column, code)| (column, code.to_owned()));
        let mut slice = vec![("month", row.month().into())];
        slice.extend(
            area.iter()
                .map(|(column, code)| (*column, code.as_str().into())),
        );
        seen.insert(area);
        Some(slice)
    }
}
