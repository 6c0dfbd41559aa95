//! Loading online consultation files. Each edition re-publishes a back series, so a file
//! replaces every month it holds, in the table of its kind. A file is read twice: first to
//! check every row and learn its months, so that the months are emptied before any row goes
//! in, then to load the rows in one stream.
//!
//! A file replaces a month region by region (by ICB or sub-ICB location where a dated file
//! names no region): the north and south halves of a month are loaded side by side, importing
//! one half again leaves the other half's rows as they were, and the same half given twice in
//! one import (two editions, or a zip and a CSV from it) is loaded once, from the later file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

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
    let mut areas: BTreeMap<NaiveDate, BTreeSet<Option<(&'static str, String)>>> = BTreeMap::new();
    for row in rows {
        let row = row?;
        let area = row.place().area();
        let month = areas.entry(row.month()).or_default();
        if !month
            .iter()
            .any(|known| known.as_ref().map(|(c, a)| (*c, a.as_str())) == area)
        {
            month.insert(area.map(|(column, code)| (column, code.to_owned())));
        }
    }
    let table = match layout {
        Layout::Practice => &METRICS,
        Layout::Weekday | Layout::Dated => &ONLINE_CONSULTATION_TIMES,
    };
    for (month, covered) in &areas {
        for area in covered {
            let mut slice = vec![("month", (*month).into())];
            slice.extend(
                area.iter()
                    .map(|(column, code)| (*column, code.as_str().into())),
            );
            ctx.replace(tx, table, &slice, "").await?;
        }
    }
    let (_, rows) = read(file)?;
    let loaded = match layout {
        Layout::Practice => {
            let mut loader = ctx.loader::<MetricRecord>(tx, table)?;
            for row in rows {
                let Row::Metric(row) = row? else {
                    unreachable!("a practice file reads as metric rows")
                };
                let place = row.place;
                loader
                    .push(MetricRecord {
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
                        import_id: ctx.import_id,
                    })
                    .await?;
            }
            loader.finish().await?
        }
        Layout::Weekday | Layout::Dated => {
            let mut loader = ctx.loader::<TimeRecord>(tx, table)?;
            for row in rows {
                let Row::Time(row) = row? else {
                    unreachable!("a day-and-time file reads as time rows")
                };
                let place = row.place;
                loader
                    .push(TimeRecord {
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
                        import_id: ctx.import_id,
                    })
                    .await?;
            }
            loader.finish().await?
        }
    };
    Ok(Loaded {
        rows: loaded,
        periods: areas.keys().map(NaiveDate::to_string).collect(),
    })
}
