//! Loading telephony files. Each CSV (a zip's regional or `Unmapped` member, or a bare CSV) is
//! read and summed to months in memory first (`parse`), then written once: every band to
//! `cloud_telephony_bands` under its file kind's `dimension_type`, and for the day-and-time
//! file the month's total per indicator (its bands summed) to `cloud_telephony`. The run's next
//! member is read meanwhile on a thread of its own (`LoadContext::read_ahead`), as reading and
//! writing a member take about as long as each other.
//!
//! Replacing: a file claims, for each month it holds, the slice of its own kind (the monthly
//! table is the day-and-time file's alone), with its regions as the part. So a month's eight
//! members add up within one import; the same region met again in the run (an original and its
//! `_v2` reissue) is loaded once, from the later file; and a later import of a month's files
//! replaces that month's rows of those kinds. This assumes, as in every published zip, that a
//! member holds one region (the `Unmapped` member none, or its own code).
//!
//! Disagreement between kinds: once a file is loaded, its totals are compared with the other
//! kinds' already in the database (this run's or an earlier import's), practice by practice,
//! for its months and regions: the day-and-time total against the By Durations and Calls
//! Answered Metric `TOTAL` rows (the latter summed over core categories). Each month ×
//! indicator where some practice differs becomes a note in the import summary.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use sea_query::{Alias, Expr, ExprTrait, Query};

use super::parse::{self, Aggregate, Cell, FileKind, TOTAL_BAND};
use super::{BANDS, MONTHLY};
use crate::catalogue::{LoadContext, LoadFuture, Loaded, Source};
use crate::db::{Cell as DbCell, Tx};
use crate::schema::{Kind, fold_label};
use crate::source::SourceFile;
use crate::source::error::ImportError;

pub static CLOUD_TELEPHONY: Source = Source {
    name: "cloud-telephony",
    description: "Cloud Based Telephony Data in General Practice: the monthly By Day and Time, By \
        Durations and Calls Answered Metric zips (7 regional CSVs and an Unmapped one each, \
        reissued names such as _v2 or _0526 included), or the CSVs inside them, in any mix. \
        Files are told apart by their header; days are summed to months. The monthly totals \
        come from the By Day and Time file; the summary notes where the other files' TOTAL \
        rows disagree with them",
    writes: &[&MONTHLY, &BANDS],
    load: |tx, file, ctx| -> LoadFuture<'_> { Box::pin(load(tx, file, ctx)) },
    sample: super::sample::demo,
};

crate::table_row! {
    struct MonthlyRow {
        month: NaiveDate,
        practice_code: Option<String>,
        unassigned: bool,
        pcn_code: Option<String>,
        sub_icb_code: Option<String>,
        icb_code: Option<String>,
        region_code: Option<String>,
        indicator: String,
        value: i64,
        import_id: i64,
    }
}

crate::table_row! {
    struct BandRow {
        month: NaiveDate,
        practice_code: Option<String>,
        unassigned: bool,
        pcn_code: Option<String>,
        sub_icb_code: Option<String>,
        icb_code: Option<String>,
        region_code: Option<String>,
        indicator: String,
        dimension_type: &'static str,
        dimension: String,
        dimension_key: String,
        core_category: Option<String>,
        value: i64,
        import_id: i64,
    }
}

async fn load(tx: &mut Tx, file: &SourceFile, ctx: &LoadContext) -> Result<Loaded, ImportError> {
    if file.is_xlsx() {
        // A zip may carry the metadata or participation workbooks, which hold no call counts.
        if file.in_zip() {
            return Ok(Loaded::default());
        }
        return Err(ImportError::unrecognised(
            &file.to_string(),
            "expected a Cloud Based Telephony CSV (or a zip of them), found a workbook",
        ));
    }
    let aggregate = ctx.read_ahead(file, 1, parse::read)?;
    let kind = aggregate.kind;
    let regions = regions(&aggregate);
    let part = format!(
        "{} {}",
        kind.dimension_type(),
        regions
            .iter()
            .map(|r| r.as_deref().unwrap_or("-"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for month in &aggregate.months {
        if kind == FileKind::DayAndTime {
            ctx.replace(tx, &MONTHLY, &[("month", (*month).into())], &part)
                .await?;
        }
        let slice = [
            ("month", (*month).into()),
            ("dimension_type", kind.dimension_type().into()),
        ];
        ctx.replace(tx, &BANDS, &slice, &part).await?;
    }

    let cells = sorted_cells(&aggregate);
    let band_keys: Vec<String> = (0..aggregate.bands.len())
        .map(|b| aggregate.band_key(b))
        .collect();
    let mut loader = ctx.loader::<BandRow>(tx, &BANDS)?;
    for cell in &cells {
        let account = &aggregate.accounts[cell.account];
        loader
            .push(BandRow {
                month: aggregate.months[cell.month],
                practice_code: account.practice_code.clone(),
                unassigned: account.unassigned,
                pcn_code: account.pcn_code.clone(),
                sub_icb_code: account.sub_icb_code.clone(),
                icb_code: account.icb_code.clone(),
                region_code: account.region_code.clone(),
                indicator: aggregate.indicators[cell.indicator].clone(),
                dimension_type: kind.dimension_type(),
                dimension: aggregate.bands[cell.band].clone(),
                dimension_key: band_keys[cell.band].clone(),
                core_category: cell.core.map(|c| aggregate.core_categories[c].clone()),
                value: count(cell.value),
                import_id: ctx.import_id,
            })
            .await?;
    }
    let mut rows = loader.finish().await?;

    let totals = totals(&aggregate, &cells, &band_keys);
    if kind == FileKind::DayAndTime {
        let mut loader = ctx.loader::<MonthlyRow>(tx, &MONTHLY)?;
        for total in &totals {
            let account = &aggregate.accounts[total.account];
            loader
                .push(MonthlyRow {
                    month: aggregate.months[total.month],
                    practice_code: account.practice_code.clone(),
                    unassigned: account.unassigned,
                    pcn_code: account.pcn_code.clone(),
                    sub_icb_code: account.sub_icb_code.clone(),
                    icb_code: account.icb_code.clone(),
                    region_code: account.region_code.clone(),
                    indicator: aggregate.indicators[total.indicator].clone(),
                    value: count(total.value),
                    import_id: ctx.import_id,
                })
                .await?;
        }
        rows += loader.finish().await?;
    }
    for note in disagreements(tx, file, &aggregate, &totals, &regions).await? {
        ctx.note(note);
    }
    Ok(Loaded {
        rows,
        periods: aggregate.months.iter().map(ToString::to_string).collect(),
    })
}

/// Counts are sums of a month's daily counts, far below `i64::MAX`.
fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The regions of the file's accounts (`None` for accounts published without one).
fn regions(aggregate: &Aggregate) -> BTreeSet<Option<String>> {
    aggregate
        .accounts
        .iter()
        .map(|a| a.region_code.clone())
        .collect()
}

/// Positions of `items` once sorted by `key`: rank[i] is item i's place.
fn ranks<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| key(&items[i]));
    let mut rank = vec![0; items.len()];
    for (place, i) in order.into_iter().enumerate() {
        rank[i] = place;
    }
    rank
}

/// The cells in the served order (month, account, indicator, band, core category), so rows are
/// numbered in that order and a month's rows are written together.
fn sorted_cells(aggregate: &Aggregate) -> Vec<Cell> {
    let account = ranks(&aggregate.accounts, Clone::clone);
    let indicator = ranks(&aggregate.indicators, Clone::clone);
    let band = ranks(&aggregate.bands, |b| fold_label(b));
    let core = ranks(&aggregate.core_categories, Clone::clone);
    let mut cells: Vec<Cell> = aggregate.cells().collect();
    cells.sort_unstable_by_key(|c| {
        (
            aggregate.months[c.month],
            account[c.account],
            indicator[c.indicator],
            band[c.band],
            c.core.map(|i| core[i]),
        )
    });
    cells
}

/// A month's total for an account and indicator.
struct Total {
    month: usize,
    account: usize,
    indicator: usize,
    value: u64,
}

/// The file's monthly totals, in the order of `cells`: the day-and-time file's bands summed;
/// for the other kinds, their `TOTAL` rows (summed over core categories).
fn totals(aggregate: &Aggregate, cells: &[Cell], band_keys: &[String]) -> Vec<Total> {
    let mut totals: Vec<Total> = Vec::new();
    for cell in cells {
        if aggregate.kind != FileKind::DayAndTime && band_keys[cell.band] != TOTAL_BAND {
            continue;
        }
        match totals.last_mut() {
            Some(t)
                if (t.month, t.account, t.indicator)
                    == (cell.month, cell.account, cell.indicator) =>
            {
                t.value += cell.value;
            }
            _ => totals.push(Total {
                month: cell.month,
                account: cell.account,
                indicator: cell.indicator,
                value: cell.value,
            }),
        }
    }
    totals
}

/// How one month × indicator of another kind compares with this file, practice by practice.
#[derive(Default)]
struct Differences {
    practices: u64,
    /// The first practice that differs, with this file's total and the other's.
    example: Option<(String, u64, i64)>,
}

/// The notes for every month × indicator × other kind where a practice's total in this file
/// differs from the other kind's already in the database.
async fn disagreements(
    tx: &mut Tx,
    file: &SourceFile,
    aggregate: &Aggregate,
    totals: &[Total],
    regions: &BTreeSet<Option<String>>,
) -> Result<Vec<String>, ImportError> {
    if totals.is_empty() {
        return Ok(Vec::new());
    }
    let mine: HashMap<(NaiveDate, &str, &str), u64> = totals
        .iter()
        .filter_map(|t| {
            let practice = aggregate.accounts[t.account].practice_code.as_deref()?;
            Some((
                (
                    aggregate.months[t.month],
                    practice,
                    aggregate.indicators[t.indicator].as_str(),
                ),
                t.value,
            ))
        })
        .collect();
    let col = |name: &str| Expr::col(Alias::new(name));
    let mut select = Query::select();
    select
        .columns([Alias::new("month"), Alias::new("practice_code")])
        .and_where(col("unassigned").eq(false))
        .and_where(col("month").is_in(aggregate.months.iter().copied()));
    if regions.iter().all(Option::is_some) {
        select.and_where(col("region_code").is_in(regions.iter().flatten().cloned()));
    }
    if aggregate.kind == FileKind::DayAndTime {
        select
            .column(Alias::new("dimension_type"))
            .column(Alias::new("indicator"))
            .expr(Expr::cust("CAST(SUM(value) AS BIGINT)"))
            .from(Alias::new(BANDS.name))
            .and_where(col("dimension_type").is_in(["duration", "wait"]))
            .and_where(col("dimension_key").eq(TOTAL_BAND))
            .group_by_columns([
                Alias::new("month"),
                Alias::new("practice_code"),
                Alias::new("dimension_type"),
                Alias::new("indicator"),
            ]);
    } else {
        select
            .expr(Expr::val("time"))
            .column(Alias::new("indicator"))
            .column(Alias::new("value"))
            .from(Alias::new(MONTHLY.name));
    }
    let kinds = [
        Kind::Date,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Integer,
    ];
    let theirs = tx.fetch_cells(&select, &kinds).await?;
    let mut found: BTreeMap<(NaiveDate, String, &str), Differences> = BTreeMap::new();
    for row in &theirs {
        let [
            DbCell::Date(month),
            DbCell::Text(practice),
            DbCell::Text(other),
            DbCell::Text(indicator),
            DbCell::Int(value),
        ] = row.as_slice()
        else {
            continue;
        };
        let Some(&total) = mine.get(&(*month, practice.as_str(), indicator.as_str())) else {
            continue;
        };
        if i64::try_from(total).ok() == Some(*value) {
            continue;
        }
        let other_kind = match other.as_str() {
            "duration" => FileKind::Durations,
            "wait" => FileKind::AnsweredMetric,
            _ => FileKind::DayAndTime,
        };
        let differences = found
            .entry((*month, indicator.clone(), other_kind.title()))
            .or_default();
        differences.practices += 1;
        let candidate = (practice.clone(), total, *value);
        if differences
            .example
            .as_ref()
            .is_none_or(|e| candidate.0 < e.0)
        {
            differences.example = Some(candidate);
        }
    }
    let this = aggregate.kind.title();
    Ok(found
        .into_iter()
        .map(|((month, indicator, other), d)| {
            let (practice, ours, theirs) = d.example.unwrap_or_default();
            // The note always reads "<other file>: <its TOTAL> against <day-and-time total>".
            let (other_name, other_value, day_and_time) = if aggregate.kind == FileKind::DayAndTime
            {
                (other, theirs, count(ours))
            } else {
                (this, count(ours), theirs)
            };
            format!(
                "cloud telephony {} {indicator}: the {other_name} TOTAL differs from the \
                 By Day and Time total for {} practice{} (checked on loading {file}); e.g. \
                 {practice}: {other_value} against {day_and_time}",
                month.format("%Y-%m"),
                d.practices,
                if d.practices == 1 { "" } else { "s" },
            )
        })
        .collect())
}
