//! Loading GP Patient Survey practice files: each file replaces its survey year.

use super::GP_PATIENT_SURVEY as TABLE;
use super::parse::{list_band, read, year_of};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::{JsonObject, Tx};
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static GP_PATIENT_SURVEY: Source = Source {
    name: "gpps",
    description: "GP Patient Survey practice results: \
                  GPPS_<yyyy>_Practice_data_(weighted)_(csv)_PUBLIC.csv, or a zip holding it, \
                  read a row at a time. Two header schemes, told by the practice code column: \
                  2024 on (ad_practicecode, ad_practicename, ad_icscode, ad_icsname, \
                  ad_icscodeons, ad_commissioningregioncode, ad_commissioningregionname, \
                  ad_pcncode, ad_pcnname, distributed, received, resprate, popsize, all \
                  required; question columns <stem>.<suffix>) and 2023 and earlier \
                  (Practice_Code or Practice_code and Practice_Name required; distributed, \
                  received, resprate, popsize, ICS_Code/ICS_Name or STP_Code/STP_Name, \
                  CR_Code/CR_Name read where present, as reported by analysts' scripts and not \
                  yet seen; other _Code/_Name columns skipped; question columns such as \
                  Q28_12pct). Every other column is a question measure, served by its name in \
                  `measures`; its cells must be numbers, with negative markers (-97), / and \
                  empty cells read as missing. Headers are matched ignoring case. The year \
                  comes from the file name, or from --option year=2025 for a file whose name \
                  lacks it. Each file replaces its year",
    writes: &[&TABLE],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct Record {
        year: i64,
        practice_code: String,
        practice_name: Option<String>,
        pcn_code: Option<String>,
        pcn_name: Option<String>,
        ics_code: Option<String>,
        ics_name: Option<String>,
        region_code: Option<String>,
        region_name: Option<String>,
        list_band: Option<&'static str>,
        list_size: Option<i64>,
        distributed: Option<i64>,
        received: Option<i64>,
        response_rate: Option<f64>,
        overall_experience: Option<f64>,
        contact_experience: Option<f64>,
        phone_ease: Option<f64>,
        measures: JsonObject,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    let (scheme, rows) = read(file)?;
    let year = year_of(file, ctx.option("year"))?;
    scheme.check_year(&file.to_string(), year)?;
    ctx.replace(tx, &TABLE, &[("year", year.into())], "")
        .await?;
    let mut loader = ctx.loader::<Record>(tx, &TABLE)?;
    for row in rows {
        let row = row?;
        loader
            .push(Record {
                year,
                practice_code: row.practice_code,
                practice_name: row.practice_name,
                pcn_code: row.pcn_code,
                pcn_name: row.pcn_name,
                ics_code: row.ics_code,
                ics_name: row.ics_name,
                region_code: row.region_code,
                region_name: row.region_name,
                list_band: list_band(row.list_size),
                list_size: row.list_size,
                distributed: row.distributed,
                received: row.received,
                response_rate: row.response_rate,
                overall_experience: row.overall_experience,
                contact_experience: row.contact_experience,
                phone_ease: row.phone_ease,
                measures: row.measures,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: [year.to_string()].into(),
    })
}
