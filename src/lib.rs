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
pub mod signal;
pub mod source;
pub mod synthetic;
pub mod tally;
pub mod throttle;
pub mod usage;

use schema::Table;

/// Version of the declarations below. Bump it with every change to a table, column or index, so
/// that an older haresign refuses a database a newer one has migrated, instead of reporting
/// the newer tables as differences.
pub const SCHEMA_VERSION: i64 = 3;

/// Every table the database holds besides the storage's own `schema_version`: the service's,
/// then the catalogue's.
pub fn schema_tables() -> Vec<&'static Table> {
    let mut tables: Vec<&'static Table> = vec![
        &keys::API_KEYS,
        &usage::API_KEY_USAGE,
        &import::record::IMPORTS,
        &tally::ROW_TALLIES,
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
    .map_err(|error| error.naming_sources(catalogue::sources_refilling))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// What of the declarations the stored schema and its rows depend on (descriptions do not).
    fn declarations() -> String {
        let mut out = String::new();
        // The order tables are declared in is not part of the stored schema.
        let mut tables: Vec<&Table> = std::iter::once(&db::SCHEMA_VERSIONS)
            .chain(schema_tables())
            .collect();
        tables.sort_by_key(|t| t.name);
        for table in tables {
            out.push_str(&format!("{} key {:?}\n", table.name, table.primary_key));
            for column in table.columns {
                let null = if column.nullable { "NULL" } else { "NOT NULL" };
                out.push_str(&format!("  {} {:?} {null}\n", column.name, column.kind));
            }
            for index in table.indexes {
                out.push_str(&format!("  index {index:?}\n"));
            }
        }
        out
    }

    /// A declaration that changes without a new schema version fails here, so that an older
    /// haresign is told a database is newer instead of finding its new columns undeclared.
    #[test]
    fn each_schema_version_stands_for_one_set_of_declarations() {
        let digest = hex::encode(Sha256::digest(declarations()));
        assert_eq!(
            (SCHEMA_VERSION, digest.as_str()),
            (
                3,
                "dbba93cfa5dcf10ac7b81e0799cee8fb6362401b10da56c6c164942285983f23"
            ),
            "the declarations changed: bump SCHEMA_VERSION and put the new digest here"
        );
    }
}
