//! `haresign demo` end to end at a hundredth of national scale: the synthetic England written as
//! publisher files, imported through the real importers, and every catalogue endpoint served
//! from it over the real router, each with rows.

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::common::{Backend, TestApp};
use haresign::catalogue;
use haresign::db::{Cell, ConnectOptions, Db};
use haresign::schema::{Endpoint, FilterKind, Shape};

crate::trials! {
    current_thread: [
        a_small_demo_serves_rows_from_every_endpoint,
        a_bulk_built_demo_is_served_with_a_write_ahead_log,
    ],
}

/// Small enough for every `cargo test`, large enough for every endpoint to have rows.
const SCALE: f64 = 0.01;
const SEED: u64 = 1;

/// The column a filter constrains.
fn filter_column(endpoint: &Endpoint, name: &str) -> &'static str {
    let filter = endpoint
        .filters
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{}: no filter {name}", endpoint.path));
    match filter.kind {
        FilterKind::Code(column)
        | FilterKind::CodeInList(column)
        | FilterKind::LowerCode(column)
        | FilterKind::Label(column)
        | FilterKind::Date(column)
        | FilterKind::Month(column)
        | FilterKind::FinancialYear(column)
        | FilterKind::Year(column)
        | FilterKind::Boolean(column) => column,
        FilterKind::Search { .. } => panic!("{}: {name} searches several columns", endpoint.path),
    }
}

/// A value of `column` in the endpoint's own table, as a query or a path gives it, so that the
/// request it goes into has rows.
async fn value_in(app: &TestApp, endpoint: &Endpoint, column: &str) -> String {
    let declared = endpoint
        .table
        .column(column)
        .unwrap_or_else(|| panic!("{}: no column {column}", endpoint.table.name));
    let mut select = Query::select();
    select
        .column(Alias::new(column))
        .from(Alias::new(endpoint.table.name))
        .and_where(Expr::col(Alias::new(column)).is_not_null())
        .limit(1);
    let rows = app.db.fetch_cells(&select, &[declared.kind]).await.unwrap();
    match rows.first().and_then(|row| row.first()) {
        Some(Cell::Text(text)) => text.clone(),
        Some(Cell::Date(date)) => date.to_string(),
        Some(Cell::Int(year)) => year.to_string(),
        other => panic!(
            "{}.{column}: no usable value: {other:?}",
            endpoint.table.name
        ),
    }
}

async fn a_small_demo_serves_rows_from_every_endpoint() {
    let app = TestApp::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let summary = haresign::demo::build::build(&app.db, dir.path(), SEED, SCALE, false)
        .await
        .unwrap();
    assert!(summary.practices > 0 && summary.rows > 0, "{summary:?}");
    for endpoint in catalogue::endpoints() {
        let mut path = format!("/api/v1/{}", endpoint.path);
        if let Some(lookup) = &endpoint.lookup {
            let value = value_in(&app, endpoint, lookup.column).await;
            path = path.replace(&format!("{{{}}}", lookup.param), &value);
        }
        let query = match endpoint.core.first() {
            Some(&core) => {
                let value = value_in(&app, endpoint, filter_column(endpoint, core)).await;
                format!("?{core}={value}")
            }
            None => String::new(),
        };
        let uri = format!("{path}{query}");
        let response = app.get(&uri).await;
        assert_eq!(response.status, 200, "{uri}: {}", response.text());
        let body = response.json();
        let rows = match endpoint.shape {
            Shape::Paginated => &body["results"],
            Shape::Array => &body,
        };
        assert!(
            rows.as_array().is_some_and(|rows| !rows.is_empty()),
            "{uri} has no rows"
        );
        if endpoint.shape == Shape::Paginated {
            assert!(body["count"].as_u64() > Some(0), "{uri}: {body}");
        }
    }
    app.finish().await;
}

/// The demo's database is built without a write-ahead log (`ConnectOptions::bulk_build`), and
/// the connection made to serve it turns the log back on, so readers never wait for an import.
async fn a_bulk_built_demo_is_served_with_a_write_ahead_log() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.db");
    let url = format!("sqlite://{}", file.display());
    let options = ConnectOptions {
        bulk_build: true,
        ..ConnectOptions::default()
    };
    let db = Db::connect_with(&url, &options).await.unwrap();
    haresign::migrate(&db).await.unwrap();
    haresign::demo::build::build(&db, &dir.path().join("files"), SEED, SCALE, false)
        .await
        .unwrap();
    db.close().await;
    assert_eq!(
        journal_versions(&file),
        [1, 1],
        "a rollback journal while building"
    );
    assert!(!dir.path().join("demo.db-wal").exists());

    let served = Db::connect(&url).await.unwrap();
    assert_eq!(
        journal_versions(&file),
        [2, 2],
        "write-ahead logging once served"
    );
    let Db::Sqlite { pool, .. } = &served else {
        unreachable!("a sqlite:// URL")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let practices: i64 = sqlx::query_scalar("SELECT count(*) FROM practices")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(practices > 0);
    served.close().await;
}

/// The file format's write and read versions (header bytes 18 and 19): 1 for a rollback
/// journal, 2 for write-ahead logging.
fn journal_versions(file: &std::path::Path) -> [u8; 2] {
    use std::io::Read;
    let mut header = [0; 100];
    std::fs::File::open(file)
        .unwrap()
        .read_exact(&mut header)
        .unwrap();
    [header[18], header[19]]
}
