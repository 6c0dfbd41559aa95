//! Loading registration files: each file replaces the extracts (months) it holds.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sea_query::{Alias, Expr, ExprTrait, Query, Value};

use super::parse::{
    OrgPopulation, RegistrationFile, detect_registration_file, read_practice_map,
    read_practice_totals, read_quinary_age,
};
use super::{AGE_BAND_COLUMNS, REG_POPULATIONS, REG_PRACTICE_MAP};
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

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    match detect_registration_file(file)? {
        RegistrationFile::Map => load_map(tx, file, ctx).await,
        RegistrationFile::QuinaryAge => {
            load_populations(tx, read_quinary_age(file)?, "quin_age", ctx).await
        }
        RegistrationFile::PracticeTotals => {
            load_populations(tx, read_practice_totals(file)?, "totals", ctx).await
        }
    }
}

async fn load_map(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let rows = read_practice_map(file)?.collect::<Result<Vec<_>, _>>()?;
    let dates: BTreeSet<NaiveDate> = rows.iter().map(|r| r.extract_date).collect();
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(REG_PRACTICE_MAP.name))
        .and_where(Expr::col(Alias::new("extract_date")).is_in(dates.iter().copied()));
    tx.delete(&delete).await?;
    let mut loader = tx.loader(
        &REG_PRACTICE_MAP,
        &[
            "extract_date",
            "practice_code",
            "practice_name",
            "practice_postcode",
            "pcn_code",
            "pcn_name",
            "sub_icb_code",
            "sub_icb_ons_code",
            "sub_icb_name",
            "icb_code",
            "icb_ons_code",
            "icb_name",
            "region_code",
            "region_ons_code",
            "region_name",
            "supplier",
            "import_id",
        ],
    );
    for r in rows {
        loader
            .push(vec![
                r.extract_date.into(),
                r.practice_code.into(),
                r.practice_name.into(),
                r.practice_postcode.into(),
                r.pcn_code.into(),
                r.pcn_name.into(),
                r.sub_icb_code.into(),
                r.sub_icb_ons_code.into(),
                r.sub_icb_name.into(),
                r.icb_code.into(),
                r.icb_ons_code.into(),
                r.icb_name.into(),
                r.region_code.into(),
                r.region_ons_code.into(),
                r.region_name.into(),
                r.supplier.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: periods_of(&dates),
    })
}

const POPULATION_COLUMNS: [&str; 31] = {
    let head = [
        "extract_date",
        "financial_year",
        "org_type",
        "org_code",
        "source",
        "ons_code",
        "postcode",
        "total",
        "male",
        "female",
    ];
    let mut out = [""; 31];
    let mut i = 0;
    while i < head.len() {
        out[i] = head[i];
        i += 1;
    }
    let mut b = 0;
    while b < AGE_BAND_COLUMNS.len() {
        out[head.len() + b] = AGE_BAND_COLUMNS[b];
        b += 1;
    }
    out[30] = "import_id";
    out
};

async fn load_populations(
    tx: &mut Tx,
    rows: Vec<OrgPopulation>,
    source: &'static str,
    ctx: &LoadContext,
) -> Result<Loaded, ImportError> {
    let dates: BTreeSet<NaiveDate> = rows.iter().map(|r| r.extract_date).collect();
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(REG_POPULATIONS.name))
        .and_where(Expr::col(Alias::new("source")).eq(source))
        .and_where(Expr::col(Alias::new("extract_date")).is_in(dates.iter().copied()));
    tx.delete(&delete).await?;
    let mut loader = tx.loader(&REG_POPULATIONS, &POPULATION_COLUMNS);
    for r in rows {
        let mut row: Vec<Value> = Vec::with_capacity(POPULATION_COLUMNS.len());
        row.extend([
            r.extract_date.into(),
            FinancialYear::containing(r.extract_date).to_string().into(),
            r.org_type.as_str().into(),
            r.org_code.into(),
            source.into(),
            r.ons_code.into(),
            r.postcode.into(),
            r.total.into(),
            r.male.into(),
            r.female.into(),
        ]);
        row.extend(r.bands.iter().map(|b| Value::from(*b)));
        row.push(ctx.import_id.into());
        loader.push(row).await?;
        ctx.progress.inc(1);
    }
    Ok(Loaded {
        rows: loader.finish().await?,
        periods: periods_of(&dates),
    })
}
