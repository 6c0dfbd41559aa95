//! `datasets/`: one row per dataset the key may read, with its endpoints, publication, periods,
//! rows, last import and whether its latest period is older than its publication's cadence
//! allows. Periods and rows come from the imports' tallies (`crate::tally`), so a request reads
//! two small tables; a table no period filter reads is counted once per import generation.

use std::collections::HashMap;

use sea_query::{Alias, Expr, ExprTrait, Func, Order, Query, SqliteQueryBuilder};
use serde_json::{Value, json};

use super::period::{self, cadence_name};
use crate::api::app::AppState;
use crate::api::cache::Ticket;
use crate::api::compat::pagination::{links, page_request, page_size, resolve_page};
use crate::api::compat::querydict::QueryParams;
use crate::api::error::ApiError;
use crate::api::list::{RequestInfo, absolute_uri, origin};
use crate::api::pipeline::may_read;
use crate::api::routes::API_V1;
use crate::catalogue::{self, DATASETS, Dataset};
use crate::db::{Cell, Db};
use crate::import::record::IMPORTS;
use crate::keys::ApiKey;
use crate::schema::{Kind, Table};
use crate::tally::ROW_TALLIES;

pub const VIEW_NAME: &str = "Dataset List";
/// drf-spectacular's operationId of the list.
pub const OPERATION_ID: &str = "v1_datasets_list";
/// Names the schema components (`Dataset`, `PaginatedDatasetList`).
pub const COMPONENT: &str = "Dataset";

pub const DESCRIPTION: &str = "Every dataset the key may read (a key limited to scopes sees only \
    those), in the index's order: its endpoints, the publication its files come from, the \
    periods and rows it serves, its last successful import and whether it is stale.";

/// The periods of one tallied column.
struct Tally {
    earliest: String,
    latest: String,
    periods: i64,
    rows: i64,
}

/// One file of an import run.
pub(crate) struct Imported {
    run: i64,
    source: String,
    name: String,
    sha256: String,
    pub(crate) finished: Cell,
    pub(crate) rows: i64,
}

/// The page of datasets `params` asks for.
pub async fn page(
    state: &AppState,
    request: &RequestInfo<'_>,
    params: &QueryParams,
    key: &ApiKey,
) -> Result<Value, ApiError> {
    let visible: Vec<&Dataset> = DATASETS
        .iter()
        .copied()
        .filter(|dataset| may_read(key, dataset.scope))
        .collect();
    let size = page_size(
        params.last("page_size"),
        state.settings.page_size,
        state.settings.max_page_size,
    );
    let requested = page_request(params.last("page")).map_err(|_| ApiError::InvalidPage)?;
    let (page, num_pages) =
        resolve_page(requested, visible.len() as u64, size).map_err(|_| ApiError::InvalidPage)?;
    let shown = visible
        .iter()
        .skip(usize::try_from((page - 1) * u64::from(size)).unwrap_or(usize::MAX))
        .take(size as usize);
    let tallies = tallies(&state.db).await?;
    let imports = latest_runs(&state.db).await?;
    let ticket = state.cache.generation(&state.db).await?.ticket;
    let origin = origin(state, request);
    let mut results = Vec::new();
    for dataset in shown {
        let rows = rows(state, ticket, dataset, &tallies).await?;
        results.push(row(state, dataset, &origin, &tallies, &imports, rows));
    }
    let (next, previous) = links(&absolute_uri(state, request), page, num_pages);
    Ok(json!({
        "count": visible.len(),
        "next": next,
        "previous": previous,
        "results": results,
    }))
}

fn row(
    state: &AppState,
    dataset: &Dataset,
    origin: &str,
    tallies: &HashMap<(String, String), Tally>,
    imports: &[Imported],
    rows: i64,
) -> Value {
    let endpoints: Vec<String> = dataset
        .endpoints
        .iter()
        .map(|e| format!("{origin}{API_V1}{}", e.path))
        .collect();
    let (mut earliest, mut latest, mut periods) = (None, None, 0);
    let mut end = None;
    if let Some((endpoint, filter)) = catalogue::period_of(dataset) {
        let column = filter.kind.column();
        if let Some(tally) = tallies.get(&(endpoint.table.name.to_owned(), column.to_owned())) {
            let latest_shown = period::shown(&filter.kind, &tally.latest);
            end = period::end(&filter.kind, &latest_shown);
            earliest = Some(period::shown(&filter.kind, &tally.earliest));
            latest = Some(latest_shown);
            periods = tally.periods;
        }
    }
    let cadence = dataset.publication.cadence;
    let today = period::day_of(state.clock.now());
    let stale = cadence
        .zip(end)
        .map(|(cadence, end)| state.settings.stale_after.is_stale(cadence, end, today));
    json!({
        "dataset": dataset.name,
        "scope": dataset.scope,
        "endpoints": endpoints,
        "publication": dataset.publication.name,
        "publication_url": dataset.publication.url,
        "cadence": cadence.map(cadence_name),
        "latest_period": latest,
        "earliest_period": earliest,
        "periods": periods,
        "rows": rows,
        "last_import": last_import(dataset, imports),
        "stale": stale,
    })
}

/// The latest successful run among the dataset's sources: its time and files.
/// The files of the dataset's latest successful import run, in import order; empty if it has
/// none. `imports` is what `latest_runs` read.
pub(crate) fn latest_run<'i>(dataset: &Dataset, imports: &'i [Imported]) -> Vec<&'i Imported> {
    let sources = catalogue::sources_of(dataset);
    let ours = || {
        imports
            .iter()
            .filter(|i| sources.contains(&i.source.as_str()))
    };
    let Some(run) = ours().map(|i| i.run).max() else {
        return Vec::new();
    };
    ours().filter(|i| i.run == run).collect()
}

fn last_import(dataset: &Dataset, imports: &[Imported]) -> Value {
    let files = latest_run(dataset, imports);
    if files.is_empty() {
        return Value::Null;
    }
    let files_json: Vec<Value> = files
        .iter()
        .map(|f| json!({"name": f.name, "sha256": f.sha256}))
        .collect();
    json!({
        "time": files.last().map(|f| &f.finished),
        "files": files_json,
    })
}

/// Every tallied column's earliest and latest period, number of periods and rows.
async fn tallies(db: &Db) -> Result<HashMap<(String, String), Tally>, sqlx::Error> {
    let mut select = Query::select();
    select
        .columns([Alias::new("table_name"), Alias::new("column_name")])
        .expr(Func::min(Expr::col(Alias::new("value"))))
        .expr(Func::max(Expr::col(Alias::new("value"))))
        .expr(Func::count(Expr::cust("*")))
        // PostgreSQL sums a BIGINT column as NUMERIC.
        .expr(Expr::cust("CAST(SUM(row_count) AS BIGINT)"))
        .from(Alias::new(ROW_TALLIES.name))
        .group_by_columns([Alias::new("table_name"), Alias::new("column_name")]);
    let kinds = [
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Integer,
        Kind::Integer,
    ];
    let mut out = HashMap::new();
    for row in db.fetch_cells(&select, &kinds).await? {
        let Ok(
            [
                Cell::Text(table),
                Cell::Text(column),
                Cell::Text(earliest),
                Cell::Text(latest),
                Cell::Int(periods),
                Cell::Int(rows),
            ],
        ) = <[Cell; 6]>::try_from(row)
        else {
            continue;
        };
        out.insert(
            (table, column),
            Tally {
                earliest,
                latest,
                periods,
                rows,
            },
        );
    }
    Ok(out)
}

/// The files of every source's latest successful run, in the order they were given.
pub(crate) async fn latest_runs(db: &Db) -> Result<Vec<Imported>, sqlx::Error> {
    // Files imported before runs were recorded are each a run of their own.
    let run = "COALESCE(run_id, id)";
    let mut select = Query::select();
    select
        .expr(Expr::cust(run))
        .columns(["source", "file_name", "sha256", "finished_at", "row_count"].map(Alias::new))
        .from(Alias::new(IMPORTS.name))
        .and_where(Expr::col(Alias::new("status")).eq("succeeded"))
        .and_where(Expr::cust(format!(
            "{run} IN (SELECT MAX({run}) FROM {} WHERE status = 'succeeded' GROUP BY source)",
            IMPORTS.name
        )))
        .order_by(Alias::new("id"), Order::Asc);
    let kinds = [
        Kind::Integer,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Timestamp,
        Kind::Integer,
    ];
    Ok(db
        .fetch_cells(&select, &kinds)
        .await?
        .into_iter()
        .filter_map(|row| {
            let [
                Cell::Int(run),
                Cell::Text(source),
                Cell::Text(name),
                Cell::Text(sha256),
                finished,
                rows,
            ] = <[Cell; 6]>::try_from(row).ok()?
            else {
                return None;
            };
            Some(Imported {
                run,
                source,
                name,
                sha256,
                finished,
                rows: match rows {
                    Cell::Int(n) => n,
                    _ => 0,
                },
            })
        })
        .collect())
}

/// The rows the dataset's endpoints serve: summed from a table's tally where imports keep one,
/// otherwise counted, once per import generation.
async fn rows(
    state: &AppState,
    ticket: Ticket,
    dataset: &Dataset,
    tallies: &HashMap<(String, String), Tally>,
) -> Result<i64, sqlx::Error> {
    let mut tables: Vec<&Table> = dataset.endpoints.iter().map(|e| e.table).collect();
    tables.sort_unstable_by_key(|t| t.name);
    tables.dedup_by_key(|t| t.name);
    let mut total = 0;
    for table in tables {
        let tallied = tallies
            .iter()
            .find(|((name, _), _)| name == table.name)
            .map(|(_, tally)| tally.rows);
        total += match tallied {
            Some(rows) => rows,
            None => count(state, ticket, table).await?,
        };
    }
    Ok(total)
}

async fn count(state: &AppState, ticket: Ticket, table: &Table) -> Result<i64, sqlx::Error> {
    let mut select = Query::select();
    select
        .expr(Func::count(Expr::cust("*")))
        .from(Alias::new(table.name));
    let key = select.to_string(SqliteQueryBuilder);
    if let Some(count) = state.cache.count(ticket, &key) {
        return Ok(i64::try_from(count).unwrap_or(i64::MAX));
    }
    let count = state.db.fetch_i64(&select).await?.unwrap_or(0);
    state
        .cache
        .put_count(ticket, key, u64::try_from(count).unwrap_or(0));
    Ok(count)
}

/// The schema of one row, as `row` writes it.
pub fn component() -> Value {
    let defaults = period::StaleAfter::default();
    let nullable_string = |description: &str| json!({"type": "string", "nullable": true, "readOnly": true, "description": description});
    let integer = |description: &str| json!({"type": "integer", "readOnly": true, "description": description});
    let properties = json!({
        "dataset": {"type": "string", "readOnly": true, "description": "Dataset name"},
        "scope": {
            "type": "string",
            "readOnly": true,
            "description": "The key scope that reads its endpoints (`keys create --scope`)",
        },
        "endpoints": {
            "type": "array",
            "items": {"type": "string"},
            "readOnly": true,
            "description": "Absolute URLs of its endpoints, as the index gives them",
        },
        "publication": {
            "type": "string",
            "readOnly": true,
            "description": "The NHS publication its files come from",
        },
        "publication_url": {
            "type": "string",
            "format": "uri",
            "readOnly": true,
            "description": "The publication's page",
        },
        "cadence": {
            "type": "string",
            "enum": ["monthly", "quarterly", "annual", null],
            "nullable": true,
            "readOnly": true,
            "description": "How often the publication adds a period; null for a snapshot (ODS)",
        },
        "latest_period": nullable_string(
            "Latest period with rows, as the dataset's period filter takes it (`2025-10`, \
             `2025-06-30`, `2024/25`, `2025`); null before any import or for a dataset without \
             periods"
        ),
        "earliest_period": nullable_string("Earliest period with rows, written the same way"),
        "periods": integer("How many periods have rows"),
        "rows": integer("Rows its endpoints serve"),
        "last_import": {
            "type": "object",
            "nullable": true,
            "readOnly": true,
            "description": "The latest successful import run of its sources; null if none",
            "properties": {
                "time": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the run's last file finished",
                },
                "files": {
                    "type": "array",
                    "description": "The run's files, in the order they were given",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "sha256": {"type": "string"},
                        },
                        "required": ["name", "sha256"],
                    },
                },
            },
            "required": ["time", "files"],
        },
        "stale": {
            "type": "boolean",
            "nullable": true,
            "readOnly": true,
            "description": format!(
                "True when the latest period ended longer ago than the cadence allows: days \
                 counted from the period's last day (a month's last day, the date itself, 31 \
                 March of a financial year, 31 December of a year) to today (UTC), at most {} \
                 monthly, {} quarterly and {} annual by default (`serve --stale-after`). Null \
                 without a cadence (ODS snapshots) or without periods.",
                defaults.monthly, defaults.quarterly, defaults.annual
            ),
        },
    });
    let required: Vec<&String> = properties
        .as_object()
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    json!({"type": "object", "properties": properties, "required": required})
}
