//! Storage: one `Db` over SQLite (embedded default) or PostgreSQL, with statements built once by
//! sea-query and rendered per backend.

mod cell;
mod ddl;
mod load;
mod migrate;
mod nodelay;
mod object;
mod rebuild;
mod sqlite_read;
mod stream;

pub use cell::{Cell, CellRef, format_decimal};
pub use ddl::search_index_name;
pub use load::{Encoder, Field, FieldType, Loader, TableRow};
pub use migrate::{Difference, MigrateError, Mismatch, SCHEMA_VERSIONS, Step};
pub use object::{JsonObject, ObjectBuilder};
pub use rebuild::Beside;
use sqlite_read::ReadPool;
pub use stream::{BATCH_ROWS, Batch, Batches, RowWriter};

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_query::{
    Alias, DeleteStatement, Expr, ExprTrait, Func, InsertStatement, PostgresQueryBuilder, Query,
    SelectStatement, SqliteQueryBuilder, UpdateStatement, Value,
};
use sea_query_sqlx::SqlxBinder;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
// Statements are rendered by sea-query with every value bound as a parameter.
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite, Transaction};
use tokio::sync::mpsc;

use crate::schema::{Kind, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub enum Db {
    /// Writes through sqlx; reads of file databases through `ReadPool`.
    Sqlite {
        pool: SqlitePool,
        reads: Option<Arc<ReadPool>>,
    },
    Postgres(PgPool),
}

/// How a connection pool waits and how long a query may run.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long a query waits for a connection (including connecting) before failing.
    pub acquire_timeout: Duration,
    /// Longest a single query may run: PostgreSQL's `statement_timeout`, and SQLite reads are
    /// interrupted past it. `None` for imports and other long maintenance work.
    pub query_timeout: Option<Duration>,
    /// PostgreSQL `search_path` (used to isolate tests).
    pub schema: Option<String>,
    /// SQLite: the database is being built from nothing by this process alone, and is built
    /// again if that fails (the demo). Transactions then keep a rollback journal and never
    /// sync: each page is written once, into the database file, where the write-ahead log has
    /// it written twice (into the log, then back by a checkpoint), and no commit waits for the
    /// disk. A machine that stops mid-build can leave the file damaged, which the next build
    /// replaces. Connecting without it returns the file to write-ahead logging, under which
    /// readers never wait for an import.
    pub bulk_build: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            acquire_timeout: Duration::from_secs(10),
            query_timeout: None,
            schema: None,
            bulk_build: false,
        }
    }
}

impl Db {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        Self::connect_with(url, &ConnectOptions::default()).await
    }

    /// As `connect`, with PostgreSQL's `search_path` set to `schema` (used to isolate tests).
    pub async fn connect_in_schema(url: &str, schema: Option<&str>) -> Result<Db, sqlx::Error> {
        let options = ConnectOptions {
            schema: schema.map(str::to_owned),
            ..ConnectOptions::default()
        };
        Self::connect_with(url, &options).await
    }

    pub async fn connect_with(url: &str, how: &ConnectOptions) -> Result<Db, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // `CREATE … IF NOT EXISTS` on an up-to-date database would otherwise print a notice
            // per table on every command.
            let mut options =
                PgConnectOptions::from_str(url)?.options([("client_min_messages", "warning")]);
            if let Some(schema) = &how.schema {
                options = options.options([("search_path", schema.as_str())]);
            }
            if let Some(limit) = how.query_timeout {
                // Server-side, so a runaway statement stops using the database as well.
                options = options.options([("statement_timeout", limit.as_millis().to_string())]);
            }
            let pool = PgPoolOptions::new()
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        nodelay::set(connection).await;
                        Ok(())
                    })
                })
                .max_connections(16)
                .acquire_timeout(how.acquire_timeout)
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            let (journal, sync) = if how.bulk_build {
                (SqliteJournalMode::Truncate, SqliteSynchronous::Off)
            } else {
                (SqliteJournalMode::Wal, SqliteSynchronous::Normal)
            };
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(journal)
                .synchronous(sync)
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-16384")
                .pragma("temp_store", "memory");
            let file = options.get_filename().to_path_buf();
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .min_connections(1)
                .acquire_timeout(how.acquire_timeout)
                .connect_with(options)
                .await?;
            let in_memory = file.as_os_str().is_empty() || file.as_os_str() == ":memory:";
            let reads = (!in_memory).then(|| ReadPool::new(file, how.query_timeout));
            Ok(Db::Sqlite { pool, reads })
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { pool, .. } => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Runs a select and decodes each row by the given column kinds.
    pub async fn fetch_cells(
        &self,
        select: &SelectStatement,
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Cell>>, sqlx::Error> {
        match self {
            Db::Sqlite {
                reads: Some(reads), ..
            } => reads.fetch(select, kinds),
            Db::Sqlite { pool, .. } => {
                let (sql, values) = select.build_sqlx(SqliteQueryBuilder);
                let rows = sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(|r| cell::decode_sqlite(r, kinds)).collect()
            }
            Db::Postgres(pool) => {
                let (sql, values) = select.build_sqlx(PostgresQueryBuilder);
                let rows = sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(|r| cell::decode_postgres(r, kinds))
                    .collect()
            }
        }
    }

    /// Runs a select on a thread or task of its own and sends its rows in batches as the reader
    /// takes them, each written by `writer` where it was read, with the time limit applying to
    /// each batch (see `ReadPool::stream` and `stream::postgres_batches`). An error arrives as
    /// the last batch.
    pub fn stream_rows<W: RowWriter>(
        &self,
        select: &SelectStatement,
        kinds: &[Kind],
        mut writer: W,
    ) -> Batches {
        let (sender, receiver) = mpsc::channel(stream::BATCHES_AHEAD);
        match self {
            Db::Sqlite {
                reads: Some(reads), ..
            } => reads.stream(select, kinds.to_vec(), writer, sender),
            // An in-memory database holds every row in memory already.
            Db::Sqlite { .. } => {
                let (db, select, kinds) = (self.clone(), select.clone(), kinds.to_vec());
                tokio::spawn(async move {
                    match db.fetch_cells(&select, &kinds).await {
                        Ok(rows) => {
                            for chunk in rows.chunks(BATCH_ROWS) {
                                let mut batch = Vec::new();
                                let written = chunk
                                    .iter()
                                    .try_for_each(|cells| writer.write_cells(cells, &mut batch));
                                let failed = written.is_err();
                                let sent = sender.send(written.map(|()| batch)).await;
                                if sent.is_err() || failed {
                                    break;
                                }
                            }
                        }
                        Err(error) => {
                            let _ = sender.send(Err(error)).await;
                        }
                    }
                });
            }
            Db::Postgres(pool) => {
                let (sql, values) = select.build_sqlx(PostgresQueryBuilder);
                tokio::spawn(stream::postgres_batches(
                    pool.clone(),
                    sql,
                    values,
                    kinds.to_vec(),
                    writer,
                    sender,
                ));
            }
        }
        Batches(receiver)
    }

    /// The keys of the JSON objects in `column` of the rows `rows` selects (a select of that
    /// column), each once, sorted by their UTF-8 bytes whatever the database's collation.
    pub async fn object_keys(
        &self,
        rows: SelectStatement,
        column: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        let column = Expr::col((Alias::new("s"), Alias::new(column)));
        let (key, keys_of) = match self.backend() {
            Backend::Sqlite => (
                Expr::cust("k.key"),
                Func::cust(Alias::new("json_each")).arg(column),
            ),
            Backend::Postgres => (
                Expr::cust("k"),
                Func::cust(Alias::new("json_object_keys")).arg(column.cast_as(Alias::new("json"))),
            ),
        };
        let mut select = Query::select();
        select
            .distinct()
            .expr(key)
            .from_subquery(rows, Alias::new("s"))
            .from_function(keys_of, Alias::new("k"));
        let rows = self.fetch_cells(&select, &[Kind::Text]).await?;
        let mut keys: Vec<String> = rows
            .into_iter()
            .filter_map(|row| match row.into_iter().next() {
                Some(Cell::Text(key)) => Some(key),
                _ => None,
            })
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// Runs a select whose single column is an integer (a count, an existence check).
    pub async fn fetch_i64(&self, select: &SelectStatement) -> Result<Option<i64>, sqlx::Error> {
        match self {
            Db::Sqlite {
                reads: Some(reads), ..
            } => {
                let rows = reads.fetch(select, &[Kind::Integer])?;
                Ok(rows.into_iter().next().and_then(|row| match row.first() {
                    Some(Cell::Int(n)) => Some(*n),
                    _ => None,
                }))
            }
            Db::Sqlite { pool, .. } => {
                let (sql, values) = select.build_sqlx(SqliteQueryBuilder);
                let row = sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_optional(pool)
                    .await?;
                row.map(|r| r.try_get::<i64, _>(0)).transpose()
            }
            Db::Postgres(pool) => {
                let (sql, values) = select.build_sqlx(PostgresQueryBuilder);
                let row = sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_optional(pool)
                    .await?;
                row.map(|r| r.try_get::<i64, _>(0)).transpose()
            }
        }
    }

    pub async fn update(&self, update: &UpdateStatement) -> Result<u64, sqlx::Error> {
        match self {
            Db::Sqlite { pool, .. } => {
                let (sql, values) = update.build_sqlx(SqliteQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(pool)
                    .await?
                    .rows_affected())
            }
            Db::Postgres(pool) => {
                let (sql, values) = update.build_sqlx(PostgresQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(pool)
                    .await?
                    .rows_affected())
            }
        }
    }

    /// Runs an insert that returns one integer (`RETURNING id`).
    pub async fn insert_returning_id(&self, insert: &InsertStatement) -> Result<i64, sqlx::Error> {
        match self {
            Db::Sqlite { pool, .. } => {
                let (sql, values) = insert.build_sqlx(SqliteQueryBuilder);
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_one(pool)
                    .await?
                    .try_get(0)
            }
            Db::Postgres(pool) => {
                let (sql, values) = insert.build_sqlx(PostgresQueryBuilder);
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_one(pool)
                    .await?
                    .try_get(0)
            }
        }
    }

    pub async fn insert(&self, insert: &InsertStatement) -> Result<u64, sqlx::Error> {
        match self {
            Db::Sqlite { pool, .. } => {
                let (sql, values) = insert.build_sqlx(SqliteQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(pool)
                    .await?
                    .rows_affected())
            }
            Db::Postgres(pool) => {
                let (sql, values) = insert.build_sqlx(PostgresQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(pool)
                    .await?
                    .rows_affected())
            }
        }
    }

    /// After an import, the statistics of the tables it wrote. PostgreSQL: `VACUUM (ANALYZE)`,
    /// so the planner learns their new sizes and the visibility map lets a deep page skip rows
    /// from the index alone (a page 500,000 rows into a month took 2.1 s before, 0.13 s after),
    /// each table on a connection of its own, since every table is a server process's work.
    /// SQLite: `ANALYZE` from a sample of each index, without which the planner prefers an index
    /// that gives the served order to one that narrows to the filter (a practice's month of
    /// cloud telephony read the whole month's 43,000 rows for its 7).
    pub async fn refresh_statistics(&self, tables: &[&Table]) -> Result<(), sqlx::Error> {
        match self {
            Db::Postgres(pool) => {
                let vacuums = tables.iter().map(|table| {
                    // The name comes from the catalogue's declarations, never from input.
                    sqlx::raw_sql(AssertSqlSafe(format!("VACUUM (ANALYZE) {}", table.name)))
                        .execute(pool)
                });
                futures_util::future::try_join_all(vacuums).await?;
            }
            Db::Sqlite { pool, .. } => {
                sqlx::raw_sql(AssertSqlSafe(sqlite_analyze(tables)))
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { pool, .. } => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// The schema `pg_trgm` is installed in, installing it (in the current schema) if it is
/// missing and this role may. Without it searches still work, by scanning.
async fn pg_trgm_schema(pool: &PgPool) -> Option<String> {
    let installed = || installed_pg_trgm_schema(pool);
    if let Ok(Some(schema)) = installed().await {
        return Some(schema);
    }
    let created = sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        .execute(pool)
        .await;
    match (installed().await, created) {
        (Ok(Some(schema)), _) => Some(schema),
        (_, Err(error)) => {
            tracing::warn!(%error, "pg_trgm is not available: searches will scan their column");
            None
        }
        (_, Ok(_)) => None,
    }
}

/// The schema `pg_trgm` is installed in, if it is.
async fn installed_pg_trgm_schema<'e>(
    executor: impl sqlx::PgExecutor<'e>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
    )
    .fetch_optional(executor)
    .await
}

/// Creates `schema` through `admin`, for a test's own tables, with `pg_trgm` installed in
/// `public` first: `migrate` would otherwise install it in the first such schema, and dropping
/// that schema would take the extension, and every other schema's trigram indexes, with it.
#[cfg(test)]
pub(crate) async fn create_test_schema(admin: &Db, schema: &str) {
    let mut tx = admin.begin().await.unwrap();
    // A concurrent test may be installing it at the same moment: its error is not this test's.
    if tx
        .execute_raw("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        .await
        .is_ok()
    {
        tx.commit().await.unwrap();
    }
    let mut tx = admin.begin().await.unwrap();
    tx.execute_raw(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Drops a schema made by `create_test_schema`, with everything in it.
#[cfg(test)]
pub(crate) async fn drop_test_schema(admin: &Db, schema: &str) {
    let mut tx = admin.begin().await.unwrap();
    tx.execute_raw(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// `ANALYZE` of `tables` from about a thousand rows of each index: enough to tell a selective
/// index from one that is not, in milliseconds however large the table. One script, so that the
/// limit is set and reset on the same connection.
fn sqlite_analyze(tables: &[&Table]) -> String {
    let mut script = String::from("PRAGMA analysis_limit = 1000;");
    for table in tables {
        // The name comes from the catalogue's declarations, never from input.
        script.push_str(&format!(" ANALYZE {};", table.name));
    }
    script.push_str(" PRAGMA analysis_limit = 0;");
    script
}

/// A write transaction on either backend.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// Refreshes the planner's statistics of `tables` inside the transaction, for the statements
    /// that follow in it: a derivation planned with the statistics of a table that was empty
    /// before the import (or had none) may scan a table once per row of another (a
    /// registrations import after ePCN's took 31 s in one such statement, under a second with
    /// statistics). `Db::refresh_statistics` still runs after the commit on the served tables.
    pub async fn analyze(&mut self, tables: &[&Table]) -> Result<(), sqlx::Error> {
        if tables.is_empty() {
            return Ok(());
        }
        let script = match self {
            Tx::Sqlite(_) => sqlite_analyze(tables),
            // Only the keyed columns: the later statements' plans turn on the tables' sizes and
            // on those columns, and each further column costs a sort of the sample (a
            // registrations import's analysis took 1.0-1.2 s for all 31 and 17 columns, 0.3 s
            // for the keyed ones). `Db::refresh_statistics` covers every column of the served
            // tables after the commit, autovacuum those of the others.
            Tx::Postgres(_) => {
                let targets: Vec<String> = tables
                    .iter()
                    .map(|t| format!("{} ({})", t.name, t.indexed_columns().join(", ")))
                    .collect();
                format!("ANALYZE {}", targets.join(", "))
            }
        };
        self.execute_raw(&script).await.map(|_| ())
    }

    /// Runs SQL text written to be portable across both backends (derived-table rebuilds, DDL).
    pub async fn execute_raw(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => Ok(sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut **tx)
                .await?
                .rows_affected()),
            Tx::Postgres(tx) => Ok(sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut **tx)
                .await?
                .rows_affected()),
        }
    }

    /// Runs a select inside the transaction and decodes each row by the given column kinds: a
    /// loader's lookup, made once before its rows, sees what the import has written so far.
    pub async fn fetch_cells(
        &mut self,
        select: &SelectStatement,
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Cell>>, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => {
                let (sql, values) = select.build_sqlx(SqliteQueryBuilder);
                let rows = sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_all(&mut **tx)
                    .await?;
                rows.iter().map(|r| cell::decode_sqlite(r, kinds)).collect()
            }
            Tx::Postgres(tx) => {
                let (sql, values) = select.build_sqlx(PostgresQueryBuilder);
                let rows = sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_all(&mut **tx)
                    .await?;
                rows.iter()
                    .map(|r| cell::decode_postgres(r, kinds))
                    .collect()
            }
        }
    }

    pub async fn delete(&mut self, delete: &DeleteStatement) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => {
                let (sql, values) = delete.build_sqlx(SqliteQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
            Tx::Postgres(tx) => {
                let (sql, values) = delete.build_sqlx(PostgresQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
        }
    }

    /// Deletes `table`'s rows whose columns have the values given (all rows when none are).
    pub async fn delete_where(
        &mut self,
        table: &Table,
        columns: &[(&str, Value)],
    ) -> Result<u64, sqlx::Error> {
        let mut delete = Query::delete();
        delete.from_table(Alias::new(table.name));
        for (column, value) in columns {
            delete.and_where(Expr::col(Alias::new(*column)).eq(value.clone()));
        }
        self.delete(&delete).await
    }

    pub async fn update(&mut self, update: &UpdateStatement) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => {
                let (sql, values) = update.build_sqlx(SqliteQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
            Tx::Postgres(tx) => {
                let (sql, values) = update.build_sqlx(PostgresQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
        }
    }

    pub async fn insert(&mut self, insert: &InsertStatement) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => {
                let (sql, values) = insert.build_sqlx(SqliteQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
            Tx::Postgres(tx) => {
                let (sql, values) = insert.build_sqlx(PostgresQueryBuilder);
                Ok(sqlx::query_with(AssertSqlSafe(sql), values)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected())
            }
        }
    }
}
