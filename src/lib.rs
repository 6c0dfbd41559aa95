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
pub mod server;
pub mod throttle;
pub mod usage;

use catalogue::declare::Table;

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
