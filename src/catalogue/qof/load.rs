//! Loading QOF files. Each file replaces its own rows of its year (a regional achievement file
//! its region's rows), so a year's zip, or any of its CSVs, can be imported again and leaves one
//! copy. All files given to one import share its transaction: a broken regional file aborts the
//! whole year and the previous data stays served.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use super::parse::{
    Achievement, Indicator, PracticeGeography, Prevalence, QofFile, identify, read_achievement,
    read_geographies, read_indicators, read_practice_points, read_prevalence,
};
use super::settings::{self, YearSettings};
use super::{
    QOF_ACHIEVEMENT, QOF_INDICATORS, QOF_PRACTICE_POINTS, QOF_PRACTICES, QOF_PREVALENCE,
    QOF_YEAR_SETTINGS,
};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::{Cell, TableRow, Tx};
use crate::schema::{Kind, Table};
use crate::source::error::ImportError;
use crate::source::{SourceFile, open_sources};

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

/// A QOF file as read, before anything is written.
enum QofRows {
    Achievement {
        region: String,
        rows: BTreeMap<(String, String), Achievement>,
    },
    Prevalence(Vec<Prevalence>),
    Indicators(Vec<Indicator>),
    Geographies(Vec<PracticeGeography>),
    PracticePoints(Vec<(String, Option<i64>)>),
    Ignored,
}

fn read(file: &SourceFile) -> Result<(QofRows, String), ImportError> {
    let (kind, year) = identify(file)?;
    let rows = match kind {
        QofFile::Ignored => QofRows::Ignored,
        QofFile::Achievement { region } => QofRows::Achievement {
            region,
            rows: read_achievement(file)?,
        },
        QofFile::Prevalence => QofRows::Prevalence(read_prevalence(file)?),
        QofFile::MappingIndicators => QofRows::Indicators(read_indicators(file)?),
        QofFile::MappingGeographies => QofRows::Geographies(read_geographies(file)?),
        QofFile::OrganisationReference => QofRows::PracticePoints(read_practice_points(file)?),
    };
    Ok((rows, year))
}

/// A year is a dozen files, each read whole: the next one is read while this one is written.
async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    let (rows, year) = ctx.read_ahead(file, 1, read)?;
    let rows = match rows {
        QofRows::Ignored => return Ok(Loaded::default()),
        QofRows::Achievement { region, rows } => {
            load_achievement(tx, file, ctx, &year, &region, rows).await?
        }
        QofRows::Prevalence(rows) => load_prevalence(tx, file, ctx, &year, rows).await?,
        QofRows::Indicators(rows) => load_indicators(tx, file, ctx, &year, rows).await?,
        QofRows::Geographies(rows) => load_geographies(tx, file, ctx, &year, rows).await?,
        QofRows::PracticePoints(rows) => load_practice_points(tx, file, ctx, &year, rows).await?,
    };
    upsert_year(tx, &year).await?;
    Ok(Loaded {
        rows,
        periods: BTreeSet::from([year]),
    })
}

fn duplicate(file: &SourceFile, what: String) -> ImportError {
    ImportError::unrecognised(&file.to_string(), format!("{what} appears more than once"))
}

crate::table_row! {
    struct AchievementRow {
        year: String,
        practice_code: String,
        indicator_code: String,
        achieved_points: Option<i64>,
        max_points: Option<i64>,
        numerator: Option<i64>,
        denominator: Option<i64>,
        pcas: Option<i64>,
        register: Option<i64>,
        achievement: Option<f64>,
        region: String,
        import_id: i64,
    }
}

crate::table_row! {
    struct PrevalenceRow {
        year: String,
        practice_code: String,
        group_code: String,
        group_description: Option<String>,
        patient_list_type: Option<String>,
        register: Option<i64>,
        list_size: Option<i64>,
        prevalence: Option<f64>,
        import_id: i64,
    }
}

crate::table_row! {
    struct IndicatorRow {
        year: String,
        indicator_code: String,
        description: Option<String>,
        points: Option<i64>,
        group_code: Option<String>,
        group_description: Option<String>,
        domain_code: Option<String>,
        domain_description: Option<String>,
        patient_list_type: Option<String>,
        active: bool,
        import_id: i64,
    }
}

crate::table_row! {
    struct PracticeRow {
        year: String,
        practice_code: String,
        practice_name: Option<String>,
        pcn_code: Option<String>,
        sub_icb_code: Option<String>,
        icb_code: Option<String>,
        region_code: Option<String>,
        import_id: i64,
    }
}

crate::table_row! {
    struct PracticePointsRow {
        year: String,
        practice_code: String,
        revised_max_points: Option<i64>,
        import_id: i64,
    }
}

/// The columns of a year's settings row, the year first.
const SETTINGS_COLUMNS: [&str; 6] = [
    "year",
    "start_date",
    "end_date",
    "is_current",
    "max_points",
    "pound_per_point",
];

/// The columns a newer row of the same key overwrites.
fn updated_columns<R: TableRow>(table: &Table) -> impl Iterator<Item = Alias> + '_ {
    R::COLUMNS
        .iter()
        .filter(|c| !table.primary_key.contains(c))
        .map(|c| Alias::new(*c))
}

async fn load_achievement(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
    region: &str,
    rows: BTreeMap<(String, String), Achievement>,
) -> Result<u64, ImportError> {
    let mapping = year_mapping(tx, file, year).await?;
    ctx.replace(
        tx,
        &QOF_ACHIEVEMENT,
        &[("year", year.into()), ("region", region.into())],
        "",
    )
    .await?;
    // A practice that moved region since the year was last imported is still in its old
    // region's rows until that file is imported again; the newer file wins.
    let on_conflict =
        OnConflict::columns(QOF_ACHIEVEMENT.primary_key.iter().map(|c| Alias::new(*c)))
            .update_columns(updated_columns::<AchievementRow>(&QOF_ACHIEVEMENT))
            .to_owned();
    let mut loader = tx
        .loader::<AchievementRow>(&QOF_ACHIEVEMENT)?
        .on_conflict(on_conflict);
    for ((practice, indicator), row) in rows {
        let max_points = mapping.points.get(&indicator).copied().flatten();
        loader
            .push(AchievementRow {
                year: year.to_owned(),
                practice_code: practice,
                indicator_code: indicator,
                achieved_points: row.achieved_points,
                max_points,
                numerator: row.numerator,
                denominator: row.denominator,
                pcas: row.pcas,
                register: row.register,
                achievement: row.percent(),
                region: region.to_owned(),
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(loader.finish().await?)
}

/// What the year's indicator mapping gives the rows of other files: each indicator's points
/// (achievement `max_points`) and each register group's description (prevalence
/// `group_description`, the greatest of its indicators', as `DERIVE` takes it).
#[derive(Debug, Default, PartialEq)]
struct YearMapping {
    points: HashMap<String, Option<i64>>,
    groups: HashMap<String, Option<String>>,
}

impl YearMapping {
    fn add(
        &mut self,
        indicator: String,
        points: Option<i64>,
        group: Option<(String, Option<String>)>,
    ) {
        self.points.insert(indicator, points);
        if let Some((code, description)) = group {
            let kept = self.groups.entry(code).or_default();
            // SQL's MAX: the greatest description, null only when every one is.
            if description > *kept {
                *kept = description;
            }
        }
    }
}

/// The year's mapping, for rows as they are written: from the indicator mapping in the file's
/// own zip, else from the mapping an earlier import left. `DERIVE` still sets every row from the
/// mapping the year ends up with; filled here, its updates find nothing to rewrite, where
/// rewriting a year's rows took most of a QOF import on PostgreSQL.
async fn year_mapping(
    tx: &mut Tx,
    file: &SourceFile,
    year: &str,
) -> Result<YearMapping, ImportError> {
    let mut mapping = YearMapping::default();
    if file.in_zip() {
        for member in open_sources(file.path())? {
            // A member that cannot be identified reports that itself when it is loaded.
            if let Ok((QofFile::MappingIndicators, member_year)) = identify(&member)
                && member_year == year
            {
                for row in read_indicators(&member)? {
                    let group = row.group_code.map(|code| (code, row.group_description));
                    mapping.add(row.indicator_code, row.points, group);
                }
                return Ok(mapping);
            }
        }
    }
    let mut select = Query::select();
    select
        .columns(
            [
                "indicator_code",
                "points",
                "group_code",
                "group_description",
            ]
            .map(Alias::new),
        )
        .from(Alias::new(QOF_INDICATORS.name))
        .and_where(Expr::col(Alias::new("year")).eq(year));
    let rows = tx
        .fetch_cells(
            &select,
            &[Kind::Text, Kind::Integer, Kind::Text, Kind::Text],
        )
        .await?;
    let text = |cell: &Cell| match cell {
        Cell::Text(text) => Some(text.clone()),
        _ => None,
    };
    for row in &rows {
        let Some(indicator) = text(&row[0]) else {
            continue;
        };
        let points = match row[1] {
            Cell::Int(points) => Some(points),
            _ => None,
        };
        let group = text(&row[2]).map(|code| (code, text(&row[3])));
        mapping.add(indicator, points, group);
    }
    Ok(mapping)
}

async fn load_prevalence(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
    rows: Vec<Prevalence>,
) -> Result<u64, ImportError> {
    let mapping = year_mapping(tx, file, year).await?;
    ctx.replace(tx, &QOF_PREVALENCE, &[("year", year.into())], "")
        .await?;
    let mut seen = BTreeSet::new();
    let mut loader = ctx.loader::<PrevalenceRow>(tx, &QOF_PREVALENCE)?;
    for row in rows {
        if !seen.insert((row.practice_code.clone(), row.group_code.clone())) {
            return Err(duplicate(
                file,
                format!("practice {} group {}", row.practice_code, row.group_code),
            ));
        }
        let percent = row.percent();
        loader
            .push(PrevalenceRow {
                year: year.to_owned(),
                practice_code: row.practice_code,
                group_description: mapping.groups.get(&row.group_code).cloned().flatten(),
                group_code: row.group_code,
                patient_list_type: row.patient_list_type,
                register: row.register,
                list_size: row.list_size,
                prevalence: percent,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(loader.finish().await?)
}

async fn load_indicators(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
    rows: Vec<Indicator>,
) -> Result<u64, ImportError> {
    ctx.replace(tx, &QOF_INDICATORS, &[("year", year.into())], "")
        .await?;
    let mut seen = BTreeSet::new();
    let mut loader = ctx.loader::<IndicatorRow>(tx, &QOF_INDICATORS)?;
    for row in rows {
        if !seen.insert(row.indicator_code.clone()) {
            return Err(duplicate(file, format!("indicator {}", row.indicator_code)));
        }
        loader
            .push(IndicatorRow {
                year: year.to_owned(),
                indicator_code: row.indicator_code,
                description: row.description,
                points: row.points,
                group_code: row.group_code,
                group_description: row.group_description,
                domain_code: row.domain_code,
                domain_description: row.domain_description,
                patient_list_type: row.patient_list_type,
                // Set for every year once the import's files are in (see `DERIVE`).
                active: false,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(loader.finish().await?)
}

async fn load_geographies(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
    rows: Vec<PracticeGeography>,
) -> Result<u64, ImportError> {
    ctx.replace(tx, &QOF_PRACTICES, &[("year", year.into())], "")
        .await?;
    let mut seen = BTreeSet::new();
    let mut loader = ctx.loader::<PracticeRow>(tx, &QOF_PRACTICES)?;
    for row in rows {
        if !seen.insert(row.practice_code.clone()) {
            return Err(duplicate(file, format!("practice {}", row.practice_code)));
        }
        loader
            .push(PracticeRow {
                year: year.to_owned(),
                practice_code: row.practice_code,
                practice_name: row.practice_name,
                pcn_code: row.pcn_code,
                sub_icb_code: row.sub_icb_code,
                icb_code: row.icb_code,
                region_code: row.region_code,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(loader.finish().await?)
}

async fn load_practice_points(
    tx: &mut Tx,
    file: &SourceFile,
    ctx: &LoadContext,
    year: &str,
    rows: Vec<(String, Option<i64>)>,
) -> Result<u64, ImportError> {
    ctx.replace(tx, &QOF_PRACTICE_POINTS, &[("year", year.into())], "")
        .await?;
    let mut seen = BTreeSet::new();
    let mut loader = ctx.loader::<PracticePointsRow>(tx, &QOF_PRACTICE_POINTS)?;
    for (practice, points) in rows {
        if !seen.insert(practice.clone()) {
            return Err(duplicate(file, format!("practice {practice}")));
        }
        loader
            .push(PracticePointsRow {
                year: year.to_owned(),
                practice_code: practice,
                revised_max_points: points,
                import_id: ctx.import_id,
            })
            .await?;
    }
    Ok(loader.finish().await?)
}

/// Writes every year of the settings in force, and the imported year with its financial-year
/// dates if the settings do not list it; `DERIVE` builds the year list from these. A handful
/// of rows for every file: plain statements, where a bulk load would cost PostgreSQL a `COPY`
/// and its round trips per row.
async fn upsert_year(tx: &mut Tx, year: &str) -> Result<(), ImportError> {
    let mut years = settings::current()?;
    let listed = years.contains_key(year);
    if !listed {
        years.insert(year.to_owned(), YearSettings::default_for(year));
    }
    let mut key = OnConflict::column(Alias::new("year"));
    // A year the settings do not list keeps whatever an earlier settings file said.
    let (kept, updated): (Vec<_>, Vec<_>) = years
        .into_iter()
        .partition(|(name, _)| name == year && !listed);
    let statements = [
        (kept, key.clone().do_nothing().to_owned()),
        (
            updated,
            key.update_columns(SETTINGS_COLUMNS[1..].iter().map(|c| Alias::new(*c)))
                .to_owned(),
        ),
    ];
    for (rows, on_conflict) in statements {
        if rows.is_empty() {
            continue;
        }
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(QOF_YEAR_SETTINGS.name))
            .columns(SETTINGS_COLUMNS.map(Alias::new))
            .on_conflict(on_conflict);
        for (name, settings) in rows {
            insert.values_panic([
                name.into(),
                settings.start_date.into(),
                settings.end_date.into(),
                settings.is_current.into(),
                settings.max_points.into(),
                settings.pound_per_point.into(),
            ]);
        }
        tx.insert(&insert).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::db::Db;

    fn fixture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/qof")
            .join(path)
    }

    #[tokio::test]
    async fn rows_take_the_mapping_of_their_zip_else_the_databases() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("qof.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate(&[&QOF_INDICATORS], &[], 1).await.unwrap();
        let mut tx = db.begin().await.unwrap();

        let zipped = open_sources(&fixture("QOF2324.zip"))
            .unwrap()
            .into_iter()
            .find(|m| m.name() == "ACHIEVEMENT_LONDON_2324.csv")
            .unwrap();
        let mapping = year_mapping(&mut tx, &zipped, "2023/24").await.unwrap();
        assert_eq!(mapping.points.len(), 3, "{mapping:?}");
        // Points are kept in hundredths.
        assert_eq!(mapping.points["AF001"], Some(2900));
        assert_eq!(mapping.points["SMOK002"], Some(2500));
        assert_eq!(
            mapping.groups["SMOK"].as_deref(),
            Some("Smoking, all patients")
        );
        let other_year = year_mapping(&mut tx, &zipped, "2024/25").await.unwrap();
        assert_eq!(other_year, YearMapping::default());

        let bare = open_sources(&fixture("2324/PREVALENCE_2324.csv"))
            .unwrap()
            .remove(0);
        let nothing_yet = year_mapping(&mut tx, &bare, "2023/24").await.unwrap();
        assert_eq!(nothing_yet, YearMapping::default());
        let mut loader = tx.loader::<IndicatorRow>(&QOF_INDICATORS).unwrap();
        let indicators = [
            ("AF001", Some(1200), "AF", Some("Atrial fibrillation")),
            ("DM014", None, "DM", None),
            ("DM020", Some(200), "DM", Some("Diabetes mellitus")),
            ("DM021", Some(300), "DM", Some("Diabetes")),
        ];
        for (code, points, group, description) in indicators {
            loader
                .push(IndicatorRow {
                    year: "2023/24".to_owned(),
                    indicator_code: code.to_owned(),
                    description: None,
                    points,
                    group_code: Some(group.to_owned()),
                    group_description: description.map(str::to_owned),
                    domain_code: None,
                    domain_description: None,
                    patient_list_type: None,
                    active: true,
                    import_id: 1,
                })
                .await
                .unwrap();
        }
        loader.finish().await.unwrap();
        let mapping = year_mapping(&mut tx, &bare, "2023/24").await.unwrap();
        assert_eq!(mapping.points.len(), 4);
        assert_eq!(mapping.points["AF001"], Some(1200));
        assert_eq!(mapping.points["DM014"], None);
        // The greatest of a group's descriptions, as SQL's MAX gives it, whatever their order.
        assert_eq!(mapping.groups["DM"].as_deref(), Some("Diabetes mellitus"));
        assert_eq!(mapping.groups["AF"].as_deref(), Some("Atrial fibrillation"));
    }

    /// Each year's settings row, as `year|start|end|current|max points|pounds per point`.
    async fn settings_rows(tx: &mut Tx) -> Vec<String> {
        let mut select = Query::select();
        select
            .columns(SETTINGS_COLUMNS.map(Alias::new))
            .from(Alias::new(QOF_YEAR_SETTINGS.name))
            .order_by(Alias::new("year"), sea_query::Order::Asc);
        let kinds = [
            Kind::Text,
            Kind::Date,
            Kind::Date,
            Kind::Boolean,
            Kind::Integer,
            Kind::Integer,
        ];
        let rows = tx.fetch_cells(&select, &kinds).await.unwrap();
        rows.iter()
            .map(|row| {
                row.iter()
                    .map(|cell| format!("{cell:?}"))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    }

    #[tokio::test]
    async fn settings_rows_are_rewritten_and_an_unlisted_years_row_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut urls = vec![(
            format!("sqlite://{}", dir.path().join("qof.db").display()),
            None,
        )];
        if let Ok(url) = std::env::var("HARESIGN_TEST_DATABASE_URL") {
            let schema = format!("qof_settings_{}", std::process::id());
            urls.push((url, Some(schema)));
        }
        for (url, schema) in urls {
            let admin = Db::connect(&url).await.unwrap();
            if let Some(schema) = &schema {
                crate::db::create_test_schema(&admin, schema).await;
            }
            let db = Db::connect_in_schema(&url, schema.as_deref())
                .await
                .unwrap();
            db.migrate(&[&QOF_YEAR_SETTINGS], &[], 1).await.unwrap();
            let mut tx = db.begin().await.unwrap();
            upsert_year(&mut tx, "2031/32").await.unwrap();
            let rows = settings_rows(&mut tx).await;
            assert_eq!(rows.len(), 5, "{rows:?}");
            assert_eq!(
                rows[4],
                "Text(\"2031/32\")|Date(2031-04-01)|Date(2032-03-31)|Bool(false)|Null|Null"
            );
            // An operator's own figures for a year the settings do not list stay; a listed
            // year's row is rewritten from the settings.
            tx.execute_raw(
                "UPDATE qof_year_settings SET max_points = 99, pound_per_point = 1 \
                 WHERE year IN ('2031/32', '2022/23')",
            )
            .await
            .unwrap();
            upsert_year(&mut tx, "2031/32").await.unwrap();
            upsert_year(&mut tx, "2022/23").await.unwrap();
            let rows = settings_rows(&mut tx).await;
            assert_eq!(rows.len(), 5, "{rows:?}");
            assert!(rows[4].ends_with("|Int(99)|Int(1)"), "{rows:?}");
            assert_eq!(
                rows[1],
                "Text(\"2022/23\")|Date(2022-04-01)|Date(2023-03-31)|Bool(false)|Int(63500)|Int(20756)"
            );
            tx.rollback().await.unwrap();
            db.close().await;
            if let Some(schema) = &schema {
                crate::db::drop_test_schema(&admin, schema).await;
            }
        }
    }
}
