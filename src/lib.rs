//! haresign: a read-only JSON API for English NHS primary-care reference data, wire-compatible
//! with the Django REST Framework service it replaces.

pub mod api;
pub mod app;
pub mod catalogue;
pub mod db;
pub mod demo;
pub mod import;
pub mod keys;
pub mod logging;
pub mod schema;
pub mod server;
pub mod throttle;
pub mod usage;

use schema::Table;

/// Version of the declarations below. Bump it with every change to a table, column or index, so
/// that an older haresign refuses a database a newer one has migrated, instead of reporting
/// the newer tables as differences.
pub const SCHEMA_VERSION: i64 = 1;

/// Every table the database holds besides the storage's own `schema_version`: the service's,
/// then the catalogue's.
pub fn schema_tables() -> Vec<&'static Table> {
    let mut tables: Vec<&'static Table> = vec![
        &keys::API_KEYS,
        &usage::API_KEY_USAGE,
        &import::record::IMPORTS,
    ];
    tables.extend(catalogue::tables());
    tables
}

/// Brings the database to the tables the service and its catalogue declare, adding what is
/// missing and refusing any other difference; returns what it changed (nothing when run again).
pub async fn migrate(db: &db::Db) -> Result<Vec<db::Step>, db::MigrateError> {
    db.migrate(
        &schema_tables(),
        &catalogue::searched_columns(),
        SCHEMA_VERSION,
    )
    .await
}
