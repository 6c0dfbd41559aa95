//! Loading registration files: each file replaces the extracts (months) it holds.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::parse::{
    OrgPopulation, PracticeMapping, RegistrationFile, detect_registration_file, read_practice_map,
    read_practice_totals, read_quinary_age,
};
use super::{REG_POPULATIONS, REG_PRACTICE_MAP};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::Tx;
use crate::source::SourceFile;
use crate::source::error::ImportError;
use crate::source::financial_year::FinancialYear;

pub static REGISTRATIONS: Source = Source {
    name: "registrations",
    description: "Patients Registered at a GP Practice: gp-reg-pat-prac-map.csv, gp-reg-pat-prac-quin-age.csv and gp-reg-pat-prac-all.csv (any mix, bare or zipped)",
    writes: &[&REG_PRACTICE_MAP, &REG_POPULATIONS],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

fn periods_of(dates: &BTreeSet<NaiveDate>) -> BTreeSet<String> {
    dates.iter().map(|d| d.to_string()).collect()
}

/// A registration file as read, before anything is written.
enum Registration {
    Map(Vec<PracticeMapping>),
    Populations(Vec<OrgPopulation>, &'static str),
}

fn read(file: &SourceFile) -> Result<Registration, ImportError> {
    Ok(match detect_registration_file(file)? {
        RegistrationFile::Map => {
            Registration::Map(read_practice_map(file)?.collect::<Result<Vec<_>, _>>()?)
        }
        RegistrationFile::QuinaryAge => {
            Registration::Populations(read_quinary_age(file)?, "quin_age")
        }
        RegistrationFile::PracticeTotals => {
            Registration::Populations(read_practice_totals(file)?, "totals")
        }
    })
}

/// A year of monthly extracts is dozens of files, each read whole into a few megabytes: the next
/// two are read while this one is written, as a month's small practice map comes between two
/// large age-band files.
async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    match ctx.read_ahead(file, 2, read)? {
        Registration::Map(rows) => load_map(tx, rows, ctx).await,
        Registration::Populations(rows, source) => load_populations(tx, rows, source, ctx).await,
    }
}

async fn load_map(
    tx: &mut Tx,
    rows: Vec<PracticeMapping>,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let dates: BTreeSet<NaiveDate> = rows.iter().map(|r| r.extract_date).collect();
    for date in &dates {
        ctx.replace(
            tx,
            &REG_PRACTICE_MAP,
            &[("extract_date", (*date).into())],
            "",
        )
        .await?;
    }
    let mut loader = ctx.loader::<MapRow>(tx, &REG_PRACTICE_MAP)?;
    for r in rows {
        loader
            .push(MapRow {
                extract_date: r.extract_date,
                practice_code: r.practice_code,
                practice_name: r.practice_name,
                practice_postcode: r.practice_postcode,
                pcn_code: r.pcn_code,
                pcn_name: r.pcn_name,
                sub_icb_code: r.sub_icb_code,
                sub_icb_ons_code: r.sub_icb_ons_code,
                sub_icb_name: r.sub_icb_name,
                icb_code: r.icb_code,
                icb_ons_code: r.icb_ons_code,
                icb_name: r.icb_name,
                region_code: r.region_code,
                region_ons_code: r.region_ons_code,
                region_name: r.region_name,
                supplier: r.supplier,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: periods_of(&dates),
    })
}

crate::table_row! {
    struct MapRow {
        extract_date: NaiveDate,
        practice_code: String,
        practice_name: String,
        practice_postcode: Option<String>,
        pcn_code: Option<String>,
        pcn_name: Option<String>,
        sub_icb_code: String,
        sub_icb_ons_code: Option<String>,
        sub_icb_name: String,
        icb_code: String,
        icb_ons_code: Option<String>,
        icb_name: String,
        region_code: String,
        region_ons_code: Option<String>,
        region_name: String,
        supplier: Option<String>,
        import_id: i64,
    }
}

crate::table_row! {
    struct PopulationRow {
        extract_date: NaiveDate,
        financial_year: String,
        org_type: &'static str,
        org_code: String,
        source: &'static str,
        ons_code: Option<String>,
        postcode: Option<String>,
        total: Option<i64>,
        male: Option<i64>,
        female: Option<i64>,
        age_0_4: Option<i64>,
        age_5_9: Option<i64>,
        age_10_14: Option<i64>,
        age_15_19: Option<i64>,
        age_20_24: Option<i64>,
        age_25_29: Option<i64>,
        age_30_34: Option<i64>,
        age_35_39: Option<i64>,
        age_40_44: Option<i64>,
        age_45_49: Option<i64>,
        age_50_54: Option<i64>,
        age_55_59: Option<i64>,
        age_60_64: Option<i64>,
        age_65_69: Option<i64>,
        age_70_74: Option<i64>,
        age_75_79: Option<i64>,
        age_80_84: Option<i64>,
        age_85_89: Option<i64>,
        age_90_94: Option<i64>,
        age_95_plus: Option<i64>,
        import_id: i64,
    }
}

async fn load_populations(
    tx: &mut Tx,
    rows: Vec<OrgPopulation>,
    source: &'static str,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let dates: BTreeSet<NaiveDate> = rows.iter().map(|r| r.extract_date).collect();
    for date in &dates {
        let slice = [("extract_date", (*date).into()), ("source", source.into())];
        ctx.replace(tx, &REG_POPULATIONS, &slice, "").await?;
    }
    let mut loader = ctx.loader::<PopulationRow>(tx, &REG_POPULATIONS)?;
    for r in rows {
        // In the order of `parse::AGE_BANDS`.
        let [
            age_0_4,
            age_5_9,
            age_10_14,
            age_15_19,
            age_20_24,
            age_25_29,
            age_30_34,
            age_35_39,
            age_40_44,
            age_45_49,
            age_50_54,
            age_55_59,
            age_60_64,
            age_65_69,
            age_70_74,
            age_75_79,
            age_80_84,
            age_85_89,
            age_90_94,
            age_95_plus,
        ] = r.bands;
        loader
            .push(PopulationRow {
                extract_date: r.extract_date,
                financial_year: FinancialYear::containing(r.extract_date).to_string(),
                org_type: r.org_type.as_str(),
                org_code: r.org_code,
                source,
                ons_code: r.ons_code,
                postcode: r.postcode,
                total: r.total,
                male: r.male,
                female: r.female,
                age_0_4,
                age_5_9,
                age_10_14,
                age_15_19,
                age_20_24,
                age_25_29,
                age_30_34,
                age_35_39,
                age_40_44,
                age_45_49,
                age_50_54,
                age_55_59,
                age_60_64,
                age_65_69,
                age_70_74,
                age_75_79,
                age_80_84,
                age_85_89,
                age_90_94,
                age_95_plus,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: periods_of(&dates),
    })
}
