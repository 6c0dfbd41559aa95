//! haresign: a read-only JSON API for English NHS primary-care reference data, wire-compatible
//! with the Django REST Framework service it replaces.

pub mod api;
pub mod catalogue;
pub mod db;
pub mod demo;
pub mod import;
pub mod keys;
pub mod logging;
pub mod schema;
pub mod server;
pub mod source;
pub mod synthetic;
pub mod throttle;
pub mod usage;

use schema::Table;

/// Every table the database holds: the service's own, then the catalogue's.
pub fn schema_tables() -> Vec<&'static Table> {
    let mut tables: Vec<&'static Table> = vec![
        &keys::API_KEYS,
        &usage::API_KEY_USAGE,
        &import::record::IMPORTS,
    ];
    tables.extend(catalogue::tables());
    tables
}

/// Creates every table and index the service and its catalogue declare (idempotent).
pub async fn migrate(db: &db::Db) -> Result<(), sqlx::Error> {
    db.create_tables(&schema_tables(), &catalogue::searched_columns())
        .await
}
