//! DDL rendered from table declarations, so both backends' schemas come from one source.

use super::Backend;
use crate::catalogue::declare::{Kind, Table};

fn column_type(backend: Backend, kind: Kind) -> &'static str {
    match (backend, kind) {
        (_, Kind::Text) => "TEXT",
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

/// `CREATE TABLE/INDEX IF NOT EXISTS` statements for every table. A table whose primary key is
/// a single `id` integer gets an auto-assigned key.
pub fn create_statements(backend: Backend, tables: &[&Table]) -> Vec<String> {
    let mut out = Vec::new();
    for table in tables {
        let serial = table.primary_key == ["id"];
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
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {} (\n  {}\n)",
            table.name,
            defs.join(",\n  ")
        ));
        for columns in table.indexes {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS {}_{}_idx ON {} ({})",
                table.name,
                columns.join("_"),
                table.name,
                columns.join(", ")
            ));
        }
    }
    out
}
