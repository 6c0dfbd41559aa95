//! Loading payments files: each file replaces its year in the table of its kind (practice or
//! PCN), so a corrected file for a year replaces that year, and the practice and PCN files of
//! one year load side by side.

use super::parse::{Field, Kind, read, year_of};
use super::{PCN_PAYMENTS, PRACTICE_PAYMENTS};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::{JsonObject, Tx};
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static NHS_PAYMENTS: Source = Source {
    name: "payments",
    description: "NHS Payments to General Practice: the annual practice file \
                  (nhspaymentsgp-24-25-prac-csv.csv, nhspaymentsgp-18-19-csv.csv, reissues \
                  such as -v2) and PCN file (nhspaymentsgp-24-25-pcn-csv.csv), told apart by \
                  header (a Practice Code column marks the practice file). Headers are matched \
                  whatever their line breaks, trailing spaces, footnote digits, £ and CamelCase \
                  (2015-16, 2016-17), under every published name of the patient columns; every \
                  other column is a payment component, served by its published name. Amounts \
                  may carry £ and thousands commas; - means none. The year comes from the file \
                  name, or from --option year=2024-25 for a file whose name lacks it. The PCN \
                  file's headers are assumed, not yet seen: PCN Code (required), PCN Name, ICB \
                  Code, ICB Name, Region Code, Region Name, registered and weighted patients \
                  under the practice file's names or Registered Patients / Weighted Patients, \
                  and Total NHS Payments to PCN (or Total Payments). Each file replaces its \
                  year's rows of its kind",
    writes: &[&PRACTICE_PAYMENTS, &PCN_PAYMENTS],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct PracticeRecord {
        year: String,
        practice_code: String,
        practice_name: Option<String>,
        region_code: Option<String>,
        region_name: Option<String>,
        icb_code: Option<String>,
        icb_name: Option<String>,
        sub_icb_code: Option<String>,
        sub_icb_name: Option<String>,
        pcn_code: Option<String>,
        pcn_name: Option<String>,
        contract_type: Option<String>,
        dispensing: Option<String>,
        rurality: Option<String>,
        registered_patients: Option<i64>,
        weighted_patients: Option<i64>,
        total_payments: Option<i64>,
        total_payments_minus_deductions: Option<i64>,
        payment_per_registered_patient: Option<i64>,
        payment_per_weighted_patient: Option<i64>,
        components: JsonObject,
        line: i64,
        import_id: i64,
    }
}

crate::table_row! {
    struct PcnRecord {
        year: String,
        pcn_code: String,
        pcn_name: Option<String>,
        icb_code: Option<String>,
        icb_name: Option<String>,
        region_code: Option<String>,
        region_name: Option<String>,
        registered_patients: Option<i64>,
        weighted_patients: Option<i64>,
        total_payments: Option<i64>,
        components: JsonObject,
        line: i64,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    let (kind, rows) = read(file)?;
    let year = year_of(file, ctx.option("year"))?.to_string();
    let table = match kind {
        Kind::Practice => &PRACTICE_PAYMENTS,
        Kind::Pcn => &PCN_PAYMENTS,
    };
    ctx.replace(tx, table, &[("year", year.as_str().into())], "")
        .await?;
    let line = |row_line: u64| i64::try_from(row_line).unwrap_or(i64::MAX);
    let loaded = match kind {
        Kind::Practice => {
            let mut loader = ctx.loader::<PracticeRecord>(tx, table)?;
            for row in rows {
                let row = row?;
                loader
                    .push(PracticeRecord {
                        year: year.clone(),
                        practice_name: row.text(Field::PracticeName),
                        region_code: row.text(Field::RegionCode),
                        region_name: row.text(Field::RegionName),
                        icb_code: row.text(Field::IcbCode),
                        icb_name: row.text(Field::IcbName),
                        sub_icb_code: row.text(Field::SubIcbCode),
                        sub_icb_name: row.text(Field::SubIcbName),
                        pcn_code: row.text(Field::PcnCode),
                        pcn_name: row.text(Field::PcnName),
                        contract_type: row.text(Field::ContractType),
                        dispensing: row.text(Field::Dispensing),
                        rurality: row.text(Field::Rurality),
                        registered_patients: row.amount(Field::RegisteredPatients),
                        weighted_patients: row.amount(Field::WeightedPatients),
                        total_payments: row.amount(Field::TotalPayments),
                        total_payments_minus_deductions: row.amount(Field::TotalMinusDeductions),
                        payment_per_registered_patient: row.amount(Field::PerRegisteredPatient),
                        payment_per_weighted_patient: row.amount(Field::PerWeightedPatient),
                        line: line(row.line),
                        practice_code: row.key,
                        components: row.components,
                        import_id: ctx.import_id,
                    })
                    .await?;
            }
            loader.finish().await?
        }
        Kind::Pcn => {
            let mut loader = ctx.loader::<PcnRecord>(tx, table)?;
            for row in rows {
                let row = row?;
                loader
                    .push(PcnRecord {
                        year: year.clone(),
                        pcn_name: row.text(Field::PcnName),
                        icb_code: row.text(Field::IcbCode),
                        icb_name: row.text(Field::IcbName),
                        region_code: row.text(Field::RegionCode),
                        region_name: row.text(Field::RegionName),
                        registered_patients: row.amount(Field::RegisteredPatients),
                        weighted_patients: row.amount(Field::WeightedPatients),
                        total_payments: row.amount(Field::TotalPayments),
                        line: line(row.line),
                        pcn_code: row.key,
                        components: row.components,
                        import_id: ctx.import_id,
                    })
                    .await?;
            }
            loader.finish().await?
        }
    };
    Ok(Loaded {
        rows: loaded,
        periods: [year].into(),
    })
}
