//! Loading QOF files. Each file replaces its own rows of its year (a regional achievement file
//! its region's rows), so a year's zip, or any of its CSVs, can be imported again and leaves one
//! copy. All files given to one import share its transaction: a broken regional file aborts the
//! whole year and the previous data stays served.

use std::collections::BTreeSet;

use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, Value};

use super::parse::{
    QofFile, identify, read_achievement, read_geographies, read_indicators, read_practice_points,
    read_prevalence,
};
use super::settings::{self, YearSettings};
use super::{
    QOF_ACHIEVEMENT, QOF_INDICATORS, QOF_PRACTICE_POINTS, QOF_PRACTICES, QOF_PREVALENCE,
    QOF_YEAR_SETTINGS,
};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::Tx;
use crate::schema::Table;
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static QOF: Source = Source {
    name: "qof",
    description: "Quality and Outcomes Framework raw data: QOF<yyyy>.zip, or the ACHIEVEMENT_<REGION>, PREVALENCE, MAPPING_INDICATORS, MAPPING_NHS_GEOGRAPHIES and ORGANISATION_REFERENCE CSVs inside it",
    writes: &[
        &QOF_YEAR_SETTINGS,
        &QOF_PRACTICES,
        &QOF_PRACTICE_POINTS,
        &QOF_INDICATORS,
        &QOF_PREVALENCE,
        &QOF_ACHIEVEMENT,
    ],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    let (kind, year) = identify(file)?;
    let rows = match kind {
        QofFile::Ignored => return Ok(Loaded::default()),
        QofFile::Achievement { region } => load_achievement(tx, file, ctx, &year, &region).await?,
        QofFile::Prevalence => load_prevalence(tx, file, ctx, &year).await?,
        QofFile::MappingIndicators => load_indicators(tx, file, ctx, &year).await?,
        QofFile::MappingGeographies => load_geographies(tx, file, ctx, &year).await?,
        QofFile::OrganisationReference => load_practice_points(tx, file, ctx, &year).await?,
    };
    upsert_year(tx, &year).await?;
    Ok(Loaded {
        rows,
        periods: BTreeSet::from([year]),
    })
}

/// Deletes `table`'s rows of `year`, and of `region` where given.
async fn clear(
    tx: &mut Tx,
    table: &Table,
    year: &str,
    region: Option<&str>,
) -> Result<(), ImportError> {
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(table.name))
        .and_where(Expr::col(Alias::new("year")).eq(year));
    if let Some(region) = region {
        delete.and_where(Expr::col(Alias::new("region")).eq(region));
    }
    tx.delete(&delete).await?;
    Ok(())
}

fn duplicate(file: &SourceFile, what: String) -> ImportError {
    ImportError::unrecognised(&file.to_string(), format!("{what} appears more than once"))
}

const ACHIEVEMENT_COLUMNS: [&str; 12] = [
    "year",
    "practice_code",
    "indicator_code",
    "achieved_points",
    "max_points",
    "numerator",
    "denominator",
    "pcas",
    "register",
    "achievement",
    "region",
    "import_id",
];

async fn load_achievement(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
    region: &str,
) -> Result<u64, ImportError> {
    let rows = read_achievement(file)?;
    clear(tx, &QOF_ACHIEVEMENT, year, Some(region)).await?;
    // A practice that moved region since the year was last imported is still in its old
    // region's rows until that file is imported again; the newer file wins.
    let on_conflict =
        OnConflict::columns(QOF_ACHIEVEMENT.primary_key.iter().map(|c| Alias::new(*c)))
            .update_columns(
                ACHIEVEMENT_COLUMNS
                    .iter()
                    .filter(|c| !QOF_ACHIEVEMENT.primary_key.contains(c))
                    .map(|c| Alias::new(*c)),
            )
            .to_owned();
    let mut loader = tx
        .loader(&QOF_ACHIEVEMENT, &ACHIEVEMENT_COLUMNS)
        .on_conflict(on_conflict);
    for ((practice, indicator), row) in rows {
        loader
            .push(vec![
                year.into(),
                practice.into(),
                indicator.into(),
                row.achieved_points.into(),
                // Filled from the year's mapping once every file is in (see `DERIVE`).
                Value::BigInt(None),
                row.numerator.into(),
                row.denominator.into(),
                row.pcas.into(),
                row.register.into(),
                row.percent().into(),
                region.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    Ok(loader.finish().await?)
}

const PREVALENCE_COLUMNS: [&str; 8] = [
    "year",
    "practice_code",
    "group_code",
    "patient_list_type",
    "register",
    "list_size",
    "prevalence",
    "import_id",
];

async fn load_prevalence(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
) -> Result<u64, ImportError> {
    let rows = read_prevalence(file)?;
    clear(tx, &QOF_PREVALENCE, year, None).await?;
    let mut seen = BTreeSet::new();
    let mut loader = tx.loader(&QOF_PREVALENCE, &PREVALENCE_COLUMNS);
    for row in rows {
        if !seen.insert((row.practice_code.clone(), row.group_code.clone())) {
            return Err(duplicate(
                file,
                format!("practice {} group {}", row.practice_code, row.group_code),
            ));
        }
        let percent = row.percent();
        loader
            .push(vec![
                year.into(),
                row.practice_code.into(),
                row.group_code.into(),
                row.patient_list_type.into(),
                row.register.into(),
                row.list_size.into(),
                percent.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    Ok(loader.finish().await?)
}

const INDICATOR_COLUMNS: [&str; 11] = [
    "year",
    "indicator_code",
    "description",
    "points",
    "group_code",
    "group_description",
    "domain_code",
    "domain_description",
    "patient_list_type",
    "active",
    "import_id",
];

async fn load_indicators(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
) -> Result<u64, ImportError> {
    let rows = read_indicators(file)?;
    clear(tx, &QOF_INDICATORS, year, None).await?;
    let mut seen = BTreeSet::new();
    let mut loader = tx.loader(&QOF_INDICATORS, &INDICATOR_COLUMNS);
    for row in rows {
        if !seen.insert(row.indicator_code.clone()) {
            return Err(duplicate(file, format!("indicator {}", row.indicator_code)));
        }
        loader
            .push(vec![
                year.into(),
                row.indicator_code.into(),
                row.description.into(),
                row.points.into(),
                row.group_code.into(),
                row.group_description.into(),
                row.domain_code.into(),
                row.domain_description.into(),
                row.patient_list_type.into(),
                // Set for every year once the import's files are in (see `DERIVE`).
                false.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    Ok(loader.finish().await?)
}

const PRACTICE_COLUMNS: [&str; 8] = [
    "year",
    "practice_code",
    "practice_name",
    "pcn_code",
    "sub_icb_code",
    "icb_code",
    "region_code",
    "import_id",
];

async fn load_geographies(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
) -> Result<u64, ImportError> {
    let rows = read_geographies(file)?;
    clear(tx, &QOF_PRACTICES, year, None).await?;
    let mut seen = BTreeSet::new();
    let mut loader = tx.loader(&QOF_PRACTICES, &PRACTICE_COLUMNS);
    for row in rows {
        if !seen.insert(row.practice_code.clone()) {
            return Err(duplicate(file, format!("practice {}", row.practice_code)));
        }
        loader
            .push(vec![
                year.into(),
                row.practice_code.into(),
                row.practice_name.into(),
                row.pcn_code.into(),
                row.sub_icb_code.into(),
                row.icb_code.into(),
                row.region_code.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    Ok(loader.finish().await?)
}

async fn load_practice_points(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
) -> Result<u64, ImportError> {
    let rows = read_practice_points(file)?;
    clear(tx, &QOF_PRACTICE_POINTS, year, None).await?;
    let mut seen = BTreeSet::new();
    let mut loader = tx.loader(
        &QOF_PRACTICE_POINTS,
        &["year", "practice_code", "revised_max_points", "import_id"],
    );
    for (practice, points) in rows {
        if !seen.insert(practice.clone()) {
            return Err(duplicate(file, format!("practice {practice}")));
        }
        loader
            .push(vec![
                year.into(),
                practice.into(),
                points.into(),
                ctx.import_id.into(),
            ])
            .await?;
        ctx.progress.inc(1);
    }
    Ok(loader.finish().await?)
}

const SETTINGS_COLUMNS: [&str; 6] = [
    "year",
    "start_date",
    "end_date",
    "is_current",
    "max_points",
    "pound_per_point",
];

/// Writes every year of the settings in force, and the imported year with its financial-year
/// dates if the settings do not list it; `DERIVE` builds the year list from these.
async fn upsert_year(tx: &mut Tx, year: &str) -> Result<(), ImportError> {
    let mut years = settings::current()?;
    let listed = years.contains_key(year);
    if !listed {
        years.insert(year.to_owned(), YearSettings::default_for(year));
    }
    for (name, settings) in years {
        let mut key = OnConflict::column(Alias::new("year"));
        // A year the settings do not list keeps whatever an earlier settings file said.
        let on_conflict = if name == year && !listed {
            key.do_nothing().to_owned()
        } else {
            key.update_columns(SETTINGS_COLUMNS[1..].iter().map(|c| Alias::new(*c)))
                .to_owned()
        };
        let mut loader = tx
            .loader(&QOF_YEAR_SETTINGS, &SETTINGS_COLUMNS)
            .on_conflict(on_conflict);
        loader
            .push(vec![
                name.into(),
                settings.start_date.into(),
                settings.end_date.into(),
                settings.is_current.into(),
                settings.max_points.into(),
                settings.pound_per_point.into(),
            ])
            .await?;
        loader.finish().await?;
    }
    Ok(())
}
