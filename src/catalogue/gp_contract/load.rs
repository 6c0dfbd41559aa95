//! Loading GP Contract files. A file is read once: each achievement date it holds is emptied
//! when its first row comes, and the import's transaction undoes it all if a later row is
//! broken.
//!
//! Replacing: a file replaces, in the table of its kind, every achievement date it holds, and
//! only those. A quarterly file holds three month ends, so importing Q2 leaves Q1 as it was;
//! a reissue of a quarter (`v2`), in a later import, replaces the quarter's months whole
//! (a practice it drops is gone); given in the same import as the original (a year's zip and
//! the reissue beside it), the file given later is the one loaded and the summary says so.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sea_query::Value;

use super::parse::{Layout, Row, read};
use super::{CARERS, VALUES};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::Tx;
use crate::schema::fold_label;
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static GP_CONTRACT: Source = Source {
    name: "gp-contract",
    description: "GP Contract Services: the quarterly Core GP Contract Q<n> <yyyy-yy>.csv \
        files (v2 reissues too), bare or inside the year's zip (Core GP Contract 2024-25 csv \
        files.zip, Core_GP_Contract_2324_csv_files.zip), with QUALITY_SERVICE, PRACTICE_CODE, \
        PRACTICE_NAME, ACH_DATE, IND_CODE, MEASURE, MEASURE_TYPE (optional: the measure's first \
        word when absent) and VALUE; and, from 2025-26, the CGPCMI01 Unpaid Carers Q<n> \
        <yyyy-yy>.csv files, whose layout is ASSUMED until checked against a published file: \
        QUALITY_SERVICE, SUB_ICB_LOC_CODE, SUB_ICB_LOC_NAME (optional), ACH_DATE, IND_CODE, \
        MEASURE, SEX, AGE_BAND, ETHNICITY, VALUE, read by name in any order, a blank or All \
        breakdown being a total (served as All). Files are told apart by header (PRACTICE_CODE \
        or SUB_ICB_LOC_CODE); ACH_DATE is ISO, DD/MM/YYYY or YYYYMMDD; VALUE * is suppressed \
        (null). Each file replaces the achievement dates it holds",
    writes: &[&VALUES, &CARERS],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct ValueRecord {
        date: NaiveDate,
        practice_code: String,
        practice_name: String,
        indicator: String,
        quality_service_key: String,
        quality_service: String,
        measure_key: String,
        measure: String,
        measure_type: String,
        value: Option<i64>,
        import_id: i64,
    }
}

crate::table_row! {
    struct CarerRecord {
        date: NaiveDate,
        sub_icb_code: String,
        sub_icb_name: Option<String>,
        indicator: String,
        quality_service_key: String,
        quality_service: String,
        measure: String,
        sex_key: String,
        sex: String,
        age_key: String,
        age: String,
        ethnicity_key: String,
        ethnicity: String,
        value: Option<i64>,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    if file.is_xlsx() {
        // A year's zip may carry a metadata workbook, which holds no values.
        if file.in_zip() {
            return Ok(Loaded::default());
        }
        return Err(ImportError::unrecognised(
            &file.to_string(),
            "expected a GP Contract CSV (or a zip of them), found a workbook",
        ));
    }
    let (layout, rows) = read(file)?;
    let mut dates = BTreeSet::new();
    let mut new_date = |row: &Row| {
        let date = row.date();
        dates
            .insert(date)
            .then(|| vec![("date", Value::from(date))])
    };
    let loaded = match layout {
        Layout::Core => {
            let record = |row, import_id| {
                let Row::Value(row) = row else {
                    unreachable!("a core file reads as value rows")
                };
                ValueRecord {
                    date: row.date,
                    practice_code: row.practice_code,
                    practice_name: row.practice_name,
                    indicator: row.indicator,
                    quality_service_key: fold_label(&row.quality_service),
                    quality_service: row.quality_service,
                    measure_key: fold_label(&row.measure),
                    measure: row.measure,
                    measure_type: row.measure_type,
                    value: row.value,
                    import_id,
                }
            };
            ctx.load_replacing(tx, &VALUES, rows, &mut new_date, record)
                .await?
        }
        Layout::Carers => {
            let record = |row, import_id| {
                let Row::Carer(row) = row else {
                    unreachable!("a carers file reads as carer rows")
                };
                CarerRecord {
                    date: row.date,
                    sub_icb_code: row.sub_icb_code,
                    sub_icb_name: row.sub_icb_name,
                    indicator: row.indicator,
                    quality_service_key: fold_label(&row.quality_service),
                    quality_service: row.quality_service,
                    measure: row.measure,
                    sex_key: fold_label(&row.sex),
                    sex: row.sex,
                    age_key: fold_label(&row.age),
                    age: row.age,
                    ethnicity_key: fold_label(&row.ethnicity),
                    ethnicity: row.ethnicity,
                    value: row.value,
                    import_id,
                }
            };
            ctx.load_replacing(tx, &CARERS, rows, &mut new_date, record)
                .await?
        }
    };
    Ok(Loaded {
        rows: loaded,
        periods: dates.iter().map(NaiveDate::to_string).collect(),
    })
}
