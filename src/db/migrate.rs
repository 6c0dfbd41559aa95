//! Brings a database to its declared tables. The database is introspected and compared with the
//! declarations: what can be added without touching a row that exists (a table, a nullable
//! column, an index) is added; any other difference stops migrate before it changes anything,
//! since changing a column in place could lose or misread the rows it holds.

use std::fmt;

use chrono::Utc;
use sea_query::{Alias, Expr, ExprTrait, Query};
use sqlx::Row;

use super::ddl::{self, search_indexes};
use super::{Backend, Db, Tx, pg_trgm_schema};
use crate::schema::{Column, Kind, Table, col};

/// Which declarations a database was brought to, so that a binary older than the database
/// refuses it instead of reading tables it does not know.
pub static SCHEMA_VERSIONS: Table = Table {
    name: "schema_version",
    columns: &[
        col(
            "version",
            Kind::Integer,
            "Schema version migrate brought the database to",
        ),
        col("applied_at", Kind::Timestamp, "When migrate recorded it"),
    ],
    primary_key: &["version"],
    indexes: &[],
};

/// A table as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundTable {
    pub name: String,
    pub columns: Vec<FoundColumn>,
    /// Key columns in key order; empty when the table has no primary key.
    pub primary_key: Vec<String>,
    /// Column lists of the table's plain b-tree indexes, its primary key's included.
    pub indexes: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundColumn {
    pub name: String,
    /// Spelt as `ddl::column_type` spells the declared kinds.
    pub stored_type: String,
    pub nullable: bool,
}

/// What introspection found of the declared tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub tables: Vec<FoundTable>,
    /// The newest schema version recorded; `None` for a database that has none.
    pub version: Option<i64>,
}

/// One change migrate makes.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// The table with its indexes.
    CreateTable(&'static Table),
    /// A nullable column, NULL in the rows that exist.
    AddColumn(&'static Table, &'static Column),
    CreateIndex(&'static Table, &'static [&'static str]),
    RecordVersion(i64),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateTable(table) => write!(f, "added table {}", table.name),
            Step::AddColumn(table, column) => {
                write!(f, "added column {}.{}", table.name, column.name)
            }
            Step::CreateIndex(table, columns) => write!(
                f,
                "added index {} on {} ({})",
                ddl::index_name(table, columns),
                table.name,
                columns.join(", ")
            ),
            Step::RecordVersion(version) => write!(f, "recorded schema version {version}"),
        }
    }
}

/// A difference migrate does not resolve by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub table: &'static str,
    /// `None` when the difference is the table's primary key.
    pub column: Option<String>,
    pub difference: Difference,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A declared NOT NULL column the table lacks: the rows it holds would have no value for it.
    MissingNotNull,
    Type {
        stored: String,
        declared: &'static str,
    },
    Nullability {
        declared_nullable: bool,
    },
    PrimaryKey {
        stored: Vec<String>,
        declared: &'static [&'static str],
    },
    /// A column the table holds that no declaration names.
    Undeclared,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}", self.table)?;
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        let null = |nullable: bool| if nullable { "nullable" } else { "NOT NULL" };
        match &self.difference {
            Difference::MissingNotNull => write!(
                f,
                ": declared NOT NULL but missing from the table, and a NOT NULL column cannot be \
                 added to the rows it holds"
            ),
            Difference::Type { stored, declared } => {
                write!(f, ": stored as {stored}, declared as {declared}")
            }
            Difference::Nullability { declared_nullable } => write!(
                f,
                ": stored {}, declared {}",
                null(!declared_nullable),
                null(*declared_nullable)
            ),
            Difference::PrimaryKey { stored, declared } => write!(
                f,
                ": primary key stored as ({}), declared as ({})",
                stored.join(", "),
                declared.join(", ")
            ),
            Difference::Undeclared => write!(f, ": in the database but not declared"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(
        "the database is at schema version {recorded}, written by a newer haresign: this one \
         knows versions up to {known}. Run the newer haresign against it (migrate changed nothing)"
    )]
    Newer { recorded: i64, known: i64 },
    #[error("{}", differs(.mismatches, .sources))]
    Differs {
        mismatches: Vec<Mismatch>,
        /// The import sources whose files refill the tables to rebuild, when the caller knows
        /// them (see `naming_sources`).
        sources: Vec<&'static str>,
    },
}

impl MigrateError {
    /// Names the import sources that refill each table the message tells the user to rebuild.
    pub fn naming_sources(self, sources_of: impl Fn(&str) -> Vec<&'static str>) -> Self {
        match self {
            MigrateError::Differs { mismatches, .. } => {
                let mut sources: Vec<&'static str> = mismatches
                    .iter()
                    .filter(|m| rebuilds(&mismatches, m))
                    .flat_map(|m| sources_of(m.table))
                    .collect();
                sources.sort_unstable();
                sources.dedup();
                MigrateError::Differs {
                    mismatches,
                    sources,
                }
            }
            other => other,
        }
    }
}

/// Whether the table of `mismatch` must be rebuilt rather than lose one column.
fn rebuilds(mismatches: &[Mismatch], mismatch: &Mismatch) -> bool {
    mismatch.column.is_none()
        || mismatches
            .iter()
            .any(|m| m.table == mismatch.table && m.difference != Difference::Undeclared)
}

/// The differences, then what to run: a column no declaration names can be dropped on its own;
/// any other difference needs its table rebuilt.
fn differs(mismatches: &[Mismatch], sources: &[&str]) -> String {
    let mut out = String::from(
        "the database differs from the tables this haresign declares, in ways migrate does not \
         change by itself (it only adds tables, nullable columns and indexes), so it changed \
         nothing:\n",
    );
    for mismatch in mismatches {
        out.push_str(&format!("  {mismatch}\n"));
    }
    out.push_str("To bring the database to the declarations, run with sqlite3 or psql on it:\n");
    let mut rebuilt: Vec<&str> = Vec::new();
    for mismatch in mismatches {
        match (&mismatch.column, rebuilds(mismatches, mismatch)) {
            (Some(column), false) => out.push_str(&format!(
                "  ALTER TABLE {} DROP COLUMN {column};\n",
                mismatch.table
            )),
            _ if !rebuilt.contains(&mismatch.table) => {
                out.push_str(&format!("  DROP TABLE {};\n", mismatch.table));
                rebuilt.push(mismatch.table);
            }
            _ => {}
        }
    }
    out.push_str("and then `haresign migrate`, which creates a dropped table as declared.");
    if rebuilt.is_empty() {
        return out;
    }
    out.push_str(" A dropped table's rows are lost: import again the files they came from");
    if sources.is_empty() {
        out.push_str(
            " (`haresign import <source> <files>`). Import skips a file it has imported before, \
             so first forget those imports: DELETE FROM imports WHERE source = '<source>';",
        );
    } else {
        let commands: Vec<String> = sources
            .iter()
            .map(|s| format!("`haresign import {s} <files>`"))
            .collect();
        let quoted: Vec<String> = sources.iter().map(|s| format!("'{s}'")).collect();
        out.push_str(&format!(
            " ({}). Import skips a file it has imported before, so first forget those imports: \
             DELETE FROM imports WHERE source IN ({});",
            commands.join(", "),
            quoted.join(", ")
        ));
    }
    out
}

/// What migrate must do to bring `found` to `declared` at `version`, or why it must not.
pub fn plan(
    backend: Backend,
    declared: &[&'static Table],
    version: i64,
    found: &Found,
) -> Result<Vec<Step>, MigrateError> {
    if let Some(recorded) = found.version.filter(|&recorded| recorded > version) {
        return Err(MigrateError::Newer {
            recorded,
            known: version,
        });
    }
    let mut steps = Vec::new();
    let mut mismatches = Vec::new();
    for &table in declared {
        match found.tables.iter().find(|t| t.name == table.name) {
            None => steps.push(Step::CreateTable(table)),
            Some(stored) => compare(backend, table, stored, &mut steps, &mut mismatches),
        }
    }
    if !mismatches.is_empty() {
        return Err(MigrateError::Differs {
            mismatches,
            sources: Vec::new(),
        });
    }
    if found.version.is_none_or(|recorded| recorded < version) {
        steps.push(Step::RecordVersion(version));
    }
    Ok(steps)
}

fn compare(
    backend: Backend,
    table: &'static Table,
    stored: &FoundTable,
    steps: &mut Vec<Step>,
    mismatches: &mut Vec<Mismatch>,
) {
    let mut mismatch = |column: Option<&str>, difference| {
        mismatches.push(Mismatch {
            table: table.name,
            column: column.map(str::to_owned),
            difference,
        });
    };
    for column in table.columns {
        let Some(found) = stored.columns.iter().find(|c| c.name == column.name) else {
            if column.nullable {
                steps.push(Step::AddColumn(table, column));
            } else {
                mismatch(Some(column.name), Difference::MissingNotNull);
            }
            continue;
        };
        let declared = ddl::column_type(backend, column.kind);
        // Both backends hold key columns NOT NULL, whatever the declaration says.
        let nullable = column.nullable && !table.primary_key.contains(&column.name);
        if !found.stored_type.eq_ignore_ascii_case(declared) {
            let stored = found.stored_type.clone();
            mismatch(Some(column.name), Difference::Type { stored, declared });
        } else if found.nullable != nullable {
            let difference = Difference::Nullability {
                declared_nullable: nullable,
            };
            mismatch(Some(column.name), difference);
        }
    }
    for found in &stored.columns {
        if table.column(&found.name).is_none() {
            mismatch(Some(&found.name), Difference::Undeclared);
        }
    }
    if stored.primary_key != table.primary_key {
        let difference = Difference::PrimaryKey {
            stored: stored.primary_key.clone(),
            declared: table.primary_key,
        };
        mismatch(None, difference);
    }
    for &columns in table.indexes {
        if !stored.indexes.iter().any(|index| index == columns) {
            steps.push(Step::CreateIndex(table, columns));
        }
    }
}

impl Db {
    /// Brings the database to `tables` and the storage's own `schema_version` table, records
    /// `version`, and keeps the substring indexes of the `searched` `(table, column)` pairs.
    /// Returns what it changed: nothing for a database already there.
    pub async fn migrate(
        &self,
        tables: &[&'static Table],
        searched: &[(&'static str, &'static str)],
        version: i64,
    ) -> Result<Vec<Step>, MigrateError> {
        let declared: Vec<&'static Table> = std::iter::once(&SCHEMA_VERSIONS)
            .chain(tables.iter().copied())
            .collect();
        let pg_trgm = match self {
            Db::Postgres(pool) => pg_trgm_schema(pool).await,
            Db::Sqlite { .. } => None,
        };
        let searches = search_indexes(self.backend(), searched, pg_trgm.as_deref());
        let mut missing = Vec::new();
        for index in searches.iter().filter(|index| index.rebuild.is_some()) {
            let mut exists = Query::select();
            exists
                .expr(Expr::val(1i64))
                .from(Alias::new("sqlite_master"))
                .and_where(Expr::col(Alias::new("name")).eq(index.name.as_str()));
            if self.fetch_i64(&exists).await?.is_none() {
                missing.push(index.name.as_str());
            }
        }
        let mut tx = self.begin().await?;
        if let Tx::Postgres(tx) = &mut tx {
            // Servers sharing a database may start together: the second to migrate waits and
            // then finds the first's changes, rather than adding the same column again.
            sqlx::query(
                "SELECT pg_advisory_xact_lock(hashtext('haresign migrate ' || current_schema()))",
            )
            .execute(&mut **tx)
            .await?;
        }
        let found = introspect(&mut tx, &declared).await?;
        let steps = plan(self.backend(), &declared, version, &found)?;
        for step in &steps {
            apply(&mut tx, step).await?;
        }
        for sql in searches.iter().flat_map(|index| &index.create) {
            tx.execute_raw(sql).await?;
        }
        // A database that had rows before its search index existed gets them indexed. A table
        // dropped and created again finds its search index still holding the dropped rows.
        for index in &searches {
            let created = steps
                .iter()
                .any(|step| matches!(step, Step::CreateTable(t) if t.name == index.table));
            if let Some(rebuild) = &index.rebuild
                && (created || missing.contains(&index.name.as_str()))
            {
                tx.execute_raw(rebuild).await?;
            }
        }
        tx.commit().await?;
        if found.tables.is_empty() {
            let names: Vec<&str> = declared.iter().map(|t| t.name).collect();
            tracing::info!(tables = %names.join(", "), version, "created the database's tables");
        } else {
            for step in &steps {
                tracing::info!("migrate {step}");
            }
        }
        Ok(steps)
    }
}

async fn apply(tx: &mut Tx, step: &Step) -> Result<(), sqlx::Error> {
    let backend = tx.backend();
    match *step {
        Step::CreateTable(table) => {
            tx.execute_raw(&ddl::create_table(backend, table)).await?;
            for columns in table.indexes {
                tx.execute_raw(&ddl::create_index(table, columns)).await?;
            }
        }
        Step::AddColumn(table, column) => {
            tx.execute_raw(&ddl::add_column(backend, table, column))
                .await?;
        }
        Step::CreateIndex(table, columns) => {
            tx.execute_raw(&ddl::create_index(table, columns)).await?;
        }
        Step::RecordVersion(version) => {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(SCHEMA_VERSIONS.name))
                .columns([Alias::new("version"), Alias::new("applied_at")])
                .values_panic([version.into(), Utc::now().into()]);
            tx.insert(&insert).await?;
        }
    }
    Ok(())
}

/// The declared tables the database holds, as it holds them, and the version it records. The
/// search indexes are left out: SQLite's are virtual tables, which no declaration names, and
/// PostgreSQL's are GIN indexes, where declared indexes are b-trees.
async fn introspect(tx: &mut Tx, declared: &[&'static Table]) -> Result<Found, sqlx::Error> {
    let mut tables = match tx {
        Tx::Sqlite(tx) => {
            let names: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&mut **tx)
                    .await?;
            let mut tables = Vec::new();
            for table in declared
                .iter()
                .filter(|t| names.iter().any(|n| n == t.name))
            {
                tables.push(sqlite_table(tx, table.name).await?);
            }
            tables
        }
        Tx::Postgres(tx) => postgres_tables(tx).await?,
    };
    tables.retain(|t| declared.iter().any(|d| d.name == t.name));
    let version = if tables.iter().any(|t| t.name == SCHEMA_VERSIONS.name) {
        let sql = format!("SELECT MAX(version) FROM {}", SCHEMA_VERSIONS.name);
        match tx {
            Tx::Sqlite(tx) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut **tx)
                    .await?
            }
            Tx::Postgres(tx) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut **tx)
                    .await?
            }
        }
    } else {
        None
    };
    Ok(Found { tables, version })
}

async fn sqlite_table(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    name: &str,
) -> Result<FoundTable, sqlx::Error> {
    let rows =
        sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid")
            .bind(name)
            .fetch_all(&mut **tx)
            .await?;
    let mut columns = Vec::new();
    let mut key: Vec<(i64, String)> = Vec::new();
    for row in rows {
        let column: String = row.try_get(0)?;
        let stored_type: String = row.try_get(1)?;
        let not_null: bool = row.try_get(2)?;
        let pk: i64 = row.try_get(3)?;
        if pk > 0 {
            key.push((pk, column.clone()));
        }
        columns.push(FoundColumn {
            name: column,
            stored_type: stored_type.to_ascii_uppercase(),
            // An `INTEGER PRIMARY KEY` is the rowid, never NULL, though not declared NOT NULL.
            nullable: !not_null && pk == 0,
        });
    }
    key.sort_unstable();
    let index_names: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_list(?1)")
        .bind(name)
        .fetch_all(&mut **tx)
        .await?;
    let mut indexes = Vec::new();
    for index in index_names {
        let columns: Vec<Option<String>> =
            sqlx::query_scalar("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .bind(index)
                .fetch_all(&mut **tx)
                .await?;
        // An index over expressions has unnamed entries; no declaration makes one.
        if let Some(columns) = columns.into_iter().collect() {
            indexes.push(columns);
        }
    }
    Ok(FoundTable {
        name: name.to_owned(),
        columns,
        primary_key: key.into_iter().map(|(_, column)| column).collect(),
        indexes,
    })
}

/// Every table of the connection's current schema (the first of its `search_path`, where
/// `CREATE TABLE` puts tables).
async fn postgres_tables(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<Vec<FoundTable>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                NOT a.attnotnull \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') \
           AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY c.relname, a.attnum",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut tables: Vec<FoundTable> = Vec::new();
    for row in rows {
        let table: String = row.try_get(0)?;
        let column = FoundColumn {
            name: row.try_get(1)?,
            stored_type: postgres_type(row.try_get(2)?),
            nullable: row.try_get(3)?,
        };
        match tables.last_mut() {
            Some(last) if last.name == table => last.columns.push(column),
            _ => tables.push(FoundTable {
                name: table,
                columns: vec![column],
                primary_key: Vec::new(),
                indexes: Vec::new(),
            }),
        }
    }
    let indexes = sqlx::query(
        "SELECT t.relname::text, i.indisprimary, \
                ARRAY(SELECT a.attname::text \
                      FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                      ORDER BY k.n) \
         FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_am am ON am.oid = c.relam \
         WHERE t.relnamespace = current_schema()::regnamespace AND am.amname = 'btree' \
           AND i.indexprs IS NULL AND i.indpred IS NULL",
    )
    .fetch_all(&mut **tx)
    .await?;
    for row in indexes {
        let name: String = row.try_get(0)?;
        let primary: bool = row.try_get(1)?;
        let columns: Vec<String> = row.try_get(2)?;
        if let Some(table) = tables.iter_mut().find(|t| t.name == name) {
            if primary {
                table.primary_key = columns.clone();
            }
            table.indexes.push(columns);
        }
    }
    Ok(tables)
}

/// PostgreSQL's name of a type, as the DDL spells it.
fn postgres_type(name: String) -> String {
    match name.as_str() {
        "timestamp with time zone" => "TIMESTAMPTZ".to_owned(),
        _ => name.to_ascii_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::opt;

    static PEOPLE: Table = Table {
        name: "people",
        columns: &[
            col("code", Kind::Text, "Code"),
            col("born", Kind::Date, "Birth date"),
            opt("note", Kind::Text, "Note"),
        ],
        primary_key: &["code"],
        indexes: &[&["born"]],
    };

    static VISITS: Table = Table {
        name: "visits",
        columns: &[
            col("id", Kind::Integer, "Id"),
            opt("code", Kind::Text, "Person"),
        ],
        primary_key: &["id"],
        indexes: &[&["code"]],
    };

    fn column(name: &str, stored_type: &str, nullable: bool) -> FoundColumn {
        FoundColumn {
            name: name.to_owned(),
            stored_type: stored_type.to_owned(),
            nullable,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// `people` as the PostgreSQL DDL creates it.
    fn people() -> FoundTable {
        FoundTable {
            name: "people".to_owned(),
            columns: vec![
                column("code", "TEXT", false),
                column("born", "DATE", false),
                column("note", "TEXT", true),
            ],
            primary_key: strings(&["code"]),
            indexes: vec![strings(&["code"]), strings(&["born"])],
        }
    }

    fn visits() -> FoundTable {
        FoundTable {
            name: "visits".to_owned(),
            columns: vec![column("id", "BIGINT", false), column("code", "TEXT", true)],
            primary_key: strings(&["id"]),
            indexes: vec![strings(&["id"]), strings(&["code"])],
        }
    }

    fn found(tables: Vec<FoundTable>, version: Option<i64>) -> Found {
        Found { tables, version }
    }

    fn steps(found: &Found) -> Vec<String> {
        plan(Backend::Postgres, &[&PEOPLE, &VISITS], 2, found)
            .expect("a plan")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn mismatches(found: &Found) -> Vec<Mismatch> {
        match plan(Backend::Postgres, &[&PEOPLE, &VISITS], 2, found) {
            Err(MigrateError::Differs { mismatches, .. }) => mismatches,
            other => panic!("expected differences, got {other:?}"),
        }
    }

    #[test]
    fn a_database_as_declared_needs_nothing() {
        assert!(steps(&found(vec![people(), visits()], Some(2))).is_empty());
    }

    #[test]
    fn an_empty_database_gets_every_table_and_the_version() {
        assert_eq!(
            steps(&Found::default()),
            [
                "added table people",
                "added table visits",
                "recorded schema version 2"
            ]
        );
    }

    #[test]
    fn an_older_version_is_recorded_as_the_new_one() {
        assert_eq!(
            steps(&found(vec![people(), visits()], Some(1))),
            ["recorded schema version 2"]
        );
    }

    #[test]
    fn a_newer_version_is_refused() {
        let error = plan(
            Backend::Postgres,
            &[&PEOPLE, &VISITS],
            2,
            &found(vec![people(), visits()], Some(3)),
        )
        .expect_err("refused");
        assert!(matches!(
            error,
            MigrateError::Newer {
                recorded: 3,
                known: 2
            }
        ));
        let message = error.to_string();
        assert!(message.contains("schema version 3"), "{message}");
        assert!(message.contains("newer haresign"), "{message}");
    }

    #[test]
    fn a_missing_table_is_created() {
        assert_eq!(
            steps(&found(vec![people()], Some(2))),
            ["added table visits"]
        );
    }

    #[test]
    fn a_missing_nullable_column_and_index_are_added() {
        let mut people = people();
        people.columns.retain(|c| c.name != "note");
        people.indexes.retain(|i| i != &["born"]);
        assert_eq!(
            steps(&found(vec![people, visits()], Some(2))),
            [
                "added column people.note",
                "added index people_born_idx on people (born)"
            ]
        );
    }

    /// An index counts by its columns in order, whatever its name.
    #[test]
    fn an_index_on_other_columns_does_not_count() {
        let mut visits = visits();
        visits.indexes = vec![strings(&["id"]), strings(&["id", "code"])];
        assert_eq!(
            steps(&found(vec![people(), visits], Some(2))),
            ["added index visits_code_idx on visits (code)"]
        );
    }

    #[test]
    fn a_missing_not_null_column_is_refused() {
        let mut people = people();
        people.columns.retain(|c| c.name != "born");
        people.indexes.retain(|i| i != &["born"]);
        assert_eq!(
            mismatches(&found(vec![people, visits()], Some(2))),
            [Mismatch {
                table: "people",
                column: Some("born".to_owned()),
                difference: Difference::MissingNotNull,
            }]
        );
    }

    #[test]
    fn a_different_type_is_refused() {
        let mut people = people();
        people.columns[1].stored_type = "TEXT".to_owned();
        assert_eq!(
            mismatches(&found(vec![people, visits()], Some(2))),
            [Mismatch {
                table: "people",
                column: Some("born".to_owned()),
                difference: Difference::Type {
                    stored: "TEXT".to_owned(),
                    declared: "DATE",
                },
            }]
        );
    }

    #[test]
    fn types_are_compared_per_backend() {
        let sqlite_people = FoundTable {
            columns: vec![
                column("code", "TEXT", false),
                column("born", "TEXT", false),
                column("note", "TEXT", true),
            ],
            ..people()
        };
        let sqlite_visits = FoundTable {
            columns: vec![column("id", "INTEGER", false), column("code", "TEXT", true)],
            ..visits()
        };
        let found = found(vec![sqlite_people, sqlite_visits], Some(2));
        let plan = plan(Backend::Sqlite, &[&PEOPLE, &VISITS], 2, &found).expect("a plan");
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn a_different_nullability_is_refused() {
        let mut people = people();
        people.columns[1].nullable = true;
        people.columns[2].nullable = false;
        assert_eq!(
            mismatches(&found(vec![people, visits()], Some(2))),
            [
                Mismatch {
                    table: "people",
                    column: Some("born".to_owned()),
                    difference: Difference::Nullability {
                        declared_nullable: false
                    },
                },
                Mismatch {
                    table: "people",
                    column: Some("note".to_owned()),
                    difference: Difference::Nullability {
                        declared_nullable: true
                    },
                }
            ]
        );
    }

    #[test]
    fn a_different_primary_key_is_refused() {
        let mut people = people();
        people.primary_key = strings(&["code", "born"]);
        assert_eq!(
            mismatches(&found(vec![people, visits()], Some(2))),
            [Mismatch {
                table: "people",
                column: None,
                difference: Difference::PrimaryKey {
                    stored: strings(&["code", "born"]),
                    declared: &["code"],
                },
            }]
        );
    }

    #[test]
    fn an_undeclared_column_is_refused() {
        let mut visits = visits();
        visits.columns.push(column("legacy", "TEXT", true));
        assert_eq!(
            mismatches(&found(vec![people(), visits], Some(2))),
            [Mismatch {
                table: "visits",
                column: Some("legacy".to_owned()),
                difference: Difference::Undeclared,
            }]
        );
    }

    /// One difference anywhere means nothing is applied, not even what could be.
    #[test]
    fn a_difference_stops_the_additions_too() {
        let mut people = people();
        people.columns.retain(|c| c.name != "note");
        people.columns[1].stored_type = "TEXT".to_owned();
        let mismatches = mismatches(&found(vec![people], None));
        assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    }

    /// A column no declaration names is dropped on its own, keeping the table's rows.
    #[test]
    fn an_undeclared_column_alone_is_dropped_not_its_table() {
        let mut visits = visits();
        visits.columns.push(column("legacy", "TEXT", true));
        let message = plan(
            Backend::Postgres,
            &[&PEOPLE, &VISITS],
            2,
            &found(vec![people(), visits], Some(2)),
        )
        .expect_err("refused")
        .to_string();
        assert!(
            message.contains("  ALTER TABLE visits DROP COLUMN legacy;\n"),
            "{message}"
        );
        assert!(!message.contains("DROP TABLE"), "{message}");
        assert!(!message.contains("DELETE FROM imports"), "{message}");
    }

    #[test]
    fn the_message_names_table_column_difference_and_remedy() {
        let mut people = people();
        people.columns[1].stored_type = "TEXT".to_owned();
        let mut visits = visits();
        visits.columns.push(column("legacy", "TEXT", true));
        let message = plan(
            Backend::Postgres,
            &[&PEOPLE, &VISITS],
            2,
            &found(vec![people, visits], Some(2)),
        )
        .expect_err("refused")
        .to_string();
        for expected in [
            "  table people, column born: stored as TEXT, declared as DATE\n",
            "  table visits, column legacy: in the database but not declared\n",
            "  DROP TABLE people;\n  ALTER TABLE visits DROP COLUMN legacy;\n",
            "`haresign migrate`",
            "(`haresign import <source> <files>`)",
            "DELETE FROM imports WHERE source = '<source>';",
        ] {
            assert!(message.contains(expected), "{expected:?} in:\n{message}");
        }
    }
}
