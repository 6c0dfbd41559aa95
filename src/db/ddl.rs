//! DDL rendered from table declarations, so both backends' schemas come from one source.

use super::Backend;
use crate::schema::{Column, Kind, Table};

/// The column type `kind` is stored as, spelt as the DDL writes it.
pub fn column_type(backend: Backend, kind: Kind) -> &'static str {
    match (backend, kind) {
        (_, Kind::Text | Kind::Object(_)) => "TEXT",
        (Backend::Sqlite, Kind::Integer | Kind::Decimal(_) | Kind::Boolean) => "INTEGER",
        (Backend::Postgres, Kind::Integer | Kind::Decimal(_)) => "BIGINT",
        (Backend::Postgres, Kind::Boolean) => "BOOLEAN",
        (Backend::Sqlite, Kind::Float) => "REAL",
        (Backend::Postgres, Kind::Float) => "DOUBLE PRECISION",
        // SQLite keeps dates and times as ISO-8601 text, which sorts chronologically.
        (Backend::Sqlite, Kind::Date | Kind::Timestamp) => "TEXT",
        (Backend::Postgres, Kind::Date) => "DATE",
        (Backend::Postgres, Kind::Timestamp) => "TIMESTAMPTZ",
    }
}

/// `CREATE TABLE IF NOT EXISTS` for `table`, without its indexes. A table whose primary key is a
/// single `id` integer gets an auto-assigned key.
pub fn create_table(backend: Backend, table: &Table) -> String {
    let serial = table.numbers_its_rows();
    let mut defs: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            if serial && c.name == "id" {
                return match backend {
                    Backend::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT".to_owned(),
                    Backend::Postgres => "id BIGSERIAL PRIMARY KEY".to_owned(),
                };
            }
            let null = if c.nullable { "" } else { " NOT NULL" };
            format!("{} {}{}", c.name, column_type(backend, c.kind), null)
        })
        .collect();
    if !serial && !table.primary_key.is_empty() {
        defs.push(format!("PRIMARY KEY ({})", table.primary_key.join(", ")));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  {}\n)",
        table.name,
        defs.join(",\n  ")
    )
}

/// The name a declared index is created under.
pub fn index_name(table: &Table, columns: &[&str]) -> String {
    format!("{}_{}_idx", table.name, columns.join("_"))
}

pub fn create_index(table: &Table, columns: &[&str]) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
        index_name(table, columns),
        table.name,
        columns.join(", ")
    )
}

/// Adds a nullable column: the rows already there get NULL, so no default is needed.
pub fn add_column(backend: Backend, table: &Table, column: &Column) -> String {
    debug_assert!(
        column.nullable,
        "{}.{} is NOT NULL",
        table.name, column.name
    );
    format!(
        "ALTER TABLE {} ADD COLUMN {} {}",
        table.name,
        column.name,
        column_type(backend, column.kind)
    )
}

/// A trigram index over a search column, so that a search term of three characters or more is
/// answered without scanning the table; shorter terms, which a trigram cannot narrow, still
/// scan. SQLite: an FTS5 table kept in step by triggers. PostgreSQL: a GIN index of `pg_trgm`,
/// which serves the `LIKE` filter as it is.
pub struct SearchIndex {
    pub name: String,
    /// The table whose column it indexes.
    pub table: String,
    /// The index (and its triggers), each `IF NOT EXISTS`.
    pub create: Vec<String>,
    /// Reindexes every row; run when an index that does not index existing rows by itself is
    /// first created on a table that has rows, or when its table is created again.
    pub rebuild: Option<String>,
}

/// The search index's name for `table.column`.
pub fn search_index_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_trgm")
}

/// One search index per searched column (each listed once). PostgreSQL needs `pg_trgm`, named
/// by the schema it is installed in; without it there are none and searches scan.
pub fn search_indexes(
    backend: Backend,
    columns: &[(&str, &str)],
    pg_trgm_schema: Option<&str>,
) -> Vec<SearchIndex> {
    let mut out = Vec::new();
    for &(table, column) in columns {
        let name = search_index_name(table, column);
        let index = match (backend, pg_trgm_schema) {
            (Backend::Sqlite, _) => sqlite_search_index(name, table, column),
            (Backend::Postgres, Some(schema)) => SearchIndex {
                create: vec![postgres_search_index(&name, table, column, schema)],
                name,
                table: table.to_owned(),
                rebuild: None,
            },
            (Backend::Postgres, None) => continue,
        };
        out.push(index);
    }
    out
}

/// PostgreSQL's search index `name` over `table.column`: trigrams of `pg_trgm`, installed in
/// `schema`.
pub fn postgres_search_index(name: &str, table: &str, column: &str, schema: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} \"{}\".gin_trgm_ops)",
        schema.replace('"', "\"\"")
    )
}

fn sqlite_search_index(name: String, table: &str, column: &str) -> SearchIndex {
    // Case-sensitive trigrams over the lower-cased column: a phrase matches exactly the
    // substrings `LIKE` matches there.
    let create = vec![
        format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5({column}, content='{table}', \
             content_rowid='rowid', tokenize='trigram case_sensitive 1')"
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {name}_insert AFTER INSERT ON {table} BEGIN \
             INSERT INTO {name}(rowid, {column}) VALUES (new.rowid, new.{column}); END"
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {name}_delete AFTER DELETE ON {table} BEGIN \
             INSERT INTO {name}({name}, rowid, {column}) VALUES ('delete', old.rowid, old.{column}); END"
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {name}_update AFTER UPDATE ON {table} BEGIN \
             INSERT INTO {name}({name}, rowid, {column}) VALUES ('delete', old.rowid, old.{column}); \
             INSERT INTO {name}(rowid, {column}) VALUES (new.rowid, new.{column}); END"
        ),
    ];
    let rebuild = Some(format!("INSERT INTO {name}({name}) VALUES ('rebuild')"));
    SearchIndex {
        name,
        table: table.to_owned(),
        create,
        rebuild,
    }
}
