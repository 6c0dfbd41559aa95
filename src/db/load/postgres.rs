//! PostgreSQL's bulk path: `COPY … FROM STDIN` in binary format, a chunk per `COPY`. Binary
//! values need no escaping and no parsing on the server: text goes as its UTF-8 bytes, floats
//! as their bits, dates and timestamps as offsets from 2000-01-01.
//!
//! Rows that may meet a key already in the table are copied straight in, each chunk under a
//! savepoint, until one chunk meets a key: that chunk and every later one go to a temporary
//! staging table, merged at the end with the loader's `ON CONFLICT` clause in one
//! `INSERT … SELECT`. Rows take effect in push order either way: the rows copied straight in
//! were pushed before every staged row. An import that replaces its periods meets no key, so
//! it pays the staging table's second write of every row only where rows truly collide.

use chrono::{DateTime, NaiveDate, Utc};
use sea_query::{Alias, OnConflict, Order, PostgresQueryBuilder, Query};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnection;

use super::Encoder;
use crate::schema::Table;

/// The binary `COPY` header: signature, flags, header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The binary `COPY` trailer: a tuple of -1 fields.
const TRAILER: &[u8] = &(-1i16).to_be_bytes();
/// The column staged rows carry their push order in.
const SEQ: &str = "haresign_seq";
/// The savepoint a merge is tried under.
const SAVEPOINT: &str = "haresign_merge";
/// The savepoint a chunk is copied straight into its table under.
const COPY_SAVEPOINT: &str = "haresign_copy";
/// SQLSTATE of `ON CONFLICT DO UPDATE` meeting one key twice in a statement.
const CARDINALITY_VIOLATION: &str = "21000";
/// SQLSTATE of a row meeting a key already in the table.
const UNIQUE_VIOLATION: &str = "23505";

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date")
}

/// Rows in `COPY`'s binary format, header included.
pub struct CopyData {
    bytes: Vec<u8>,
}

impl CopyData {
    pub fn new() -> Self {
        CopyData {
            bytes: HEADER.to_vec(),
        }
    }

    /// Bytes of rows held, past the header.
    pub fn len(&self) -> usize {
        self.bytes.len() - HEADER.len()
    }

    pub fn begin_row(&mut self, fields: usize) {
        let fields = i16::try_from(fields).expect("a table has fewer than 32k columns");
        self.bytes.extend_from_slice(&fields.to_be_bytes());
    }

    fn value(&mut self, bytes: &[u8]) {
        let len = i32::try_from(bytes.len()).expect("a value is shorter than 2 GB");
        self.bytes.extend_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(bytes);
    }
}

impl Encoder for CopyData {
    fn null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn integer(&mut self, value: i64) {
        self.value(&value.to_be_bytes());
    }

    fn float(&mut self, value: f64) {
        self.value(&value.to_be_bytes());
    }

    fn boolean(&mut self, value: bool) {
        self.value(&[u8::from(value)]);
    }

    fn text(&mut self, value: &str) {
        self.value(value.as_bytes());
    }

    fn date(&mut self, value: NaiveDate) {
        // Every chrono date is within ±2^31 days of 2000; PostgreSQL refuses those past its
        // own range.
        let days = (value - epoch()).num_days() as i32;
        self.value(&days.to_be_bytes());
    }

    fn timestamp(&mut self, value: DateTime<Utc>) {
        let since = value.naive_utc() - epoch().and_hms_opt(0, 0, 0).expect("midnight");
        // Microseconds, as PostgreSQL keeps them (sqlx's own encoding truncates the same way);
        // chrono's range is well within i64 microseconds.
        let micros = since
            .num_microseconds()
            .expect("within ±292,000 years of 2000");
        self.value(&micros.to_be_bytes());
    }
}

/// The temporary table a loader into `table` stages its rows in.
pub fn staging_name(table: &Table) -> String {
    format!("haresign_staging_{}", table.name)
}

/// Creates the staging table: the loaded columns, typed as `table`'s, and the push order,
/// numbered by the table itself as rows are copied in.
pub async fn create_staging(
    connection: &mut PgConnection,
    table: &Table,
    columns: &[&str],
) -> Result<(), sqlx::Error> {
    let staging = staging_name(table);
    let sql = format!(
        "CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA; \
         ALTER TABLE {staging} ADD COLUMN {SEQ} bigserial",
        columns.join(", "),
        table.name
    );
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(connection)
        .await?;
    Ok(())
}

/// Copies the rows of `data` into `target` and empties `data`; returns the rows copied. On
/// failure `data` keeps its rows.
pub async fn copy(
    connection: &mut PgConnection,
    target: &str,
    columns: &[&str],
    data: &mut CopyData,
) -> Result<u64, sqlx::Error> {
    let statement = format!(
        "COPY {target} ({}) FROM STDIN (FORMAT binary)",
        columns.join(", ")
    );
    let encoded = data.bytes.len();
    data.bytes.extend_from_slice(TRAILER);
    // On failure the dropped `copy` cancels the COPY.
    let copied = async {
        let mut copy = connection.copy_in_raw(&statement).await?;
        copy.send(data.bytes.as_slice()).await?;
        copy.finish().await
    }
    .await;
    data.bytes.truncate(if copied.is_ok() {
        HEADER.len()
    } else {
        encoded
    });
    copied
}

/// Copies the rows of `data` into `table` as `copy` does, unless one of them meets a key
/// already there (or in `data`): then nothing is copied, `data` keeps its rows, and `None`
/// is returned.
pub async fn copy_unless_conflict(
    connection: &mut PgConnection,
    table: &Table,
    columns: &[&str],
    data: &mut CopyData,
) -> Result<Option<u64>, sqlx::Error> {
    let savepoint =
        |command: &str| sqlx::raw_sql(AssertSqlSafe(format!("{command} {COPY_SAVEPOINT}")));
    savepoint("SAVEPOINT").execute(&mut *connection).await?;
    match copy(connection, table.name, columns, data).await {
        Ok(copied) => {
            savepoint("RELEASE SAVEPOINT")
                .execute(&mut *connection)
                .await?;
            Ok(Some(copied))
        }
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(UNIQUE_VIOLATION) => {
            savepoint("ROLLBACK TO SAVEPOINT")
                .execute(&mut *connection)
                .await?;
            savepoint("RELEASE SAVEPOINT")
                .execute(&mut *connection)
                .await?;
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Moves the staged rows into `table` with `on_conflict`, in push order, and drops the staging
/// table; returns the rows loaded, counted as if the staged rows were inserted one by one.
pub async fn merge_staging(
    connection: &mut PgConnection,
    table: &Table,
    columns: &[&str],
    on_conflict: &OnConflict,
) -> Result<u64, sqlx::Error> {
    let staging = staging_name(table);
    let merge = |select: sea_query::SelectStatement| -> Result<String, sqlx::Error> {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(table.name))
            .columns(columns.iter().map(|c| Alias::new(*c)))
            .select_from(select)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
            .on_conflict(on_conflict.clone());
        Ok(insert.to_string(PostgresQueryBuilder))
    };
    // Unsorted: a temporary table is read back in the order it was written (a sequential scan
    // of local buffers is never synchronised with another or run in parallel), so `DO NOTHING`
    // keeps a key's first row, and a sort of every staged row would cost more than the merge.
    let mut in_order = Query::select();
    in_order
        .columns(columns.iter().map(|c| Alias::new(*c)))
        .from(Alias::new(&staging));
    // One round trip when no key repeats. `DO UPDATE` refuses to meet a key twice in one
    // statement; only then is the statement undone and the rows merged again, each key's last
    // row alone.
    let fast = format!(
        "SAVEPOINT {SAVEPOINT}; {}; RELEASE SAVEPOINT {SAVEPOINT}; DROP TABLE {staging}",
        merge(in_order)?
    );
    let result = sqlx::raw_sql(AssertSqlSafe(fast))
        .execute(&mut *connection)
        .await;
    let merged = match result {
        Ok(done) => done.rows_affected(),
        Err(sqlx::Error::Database(error))
            if error.code().as_deref() == Some(CARDINALITY_VIOLATION) =>
        {
            let key = table.primary_key.join(", ");
            let mut ranked = Query::select();
            ranked
                .distinct_on(table.primary_key.iter().map(|c| Alias::new(*c)))
                .columns(columns.iter().map(|c| Alias::new(*c)))
                .from(Alias::new(&staging));
            for column in table.primary_key {
                ranked.order_by(Alias::new(*column), Order::Asc);
            }
            ranked.order_by(Alias::new(SEQ), Order::Desc);
            let mut last = Query::select();
            last.columns(columns.iter().map(|c| Alias::new(*c)))
                .from_subquery(ranked, Alias::new("last"));
            sqlx::raw_sql(AssertSqlSafe(format!(
                "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
            )))
            .execute(&mut *connection)
            .await?;
            let repeats: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COUNT(*) - COUNT(DISTINCT ({key})) FROM {staging}"
            )))
            .fetch_one(&mut *connection)
            .await?;
            let done = sqlx::raw_sql(AssertSqlSafe(format!(
                "{}; DROP TABLE {staging}",
                merge(last)?
            )))
            .execute(&mut *connection)
            .await?;
            done.rows_affected() + repeats as u64
        }
        Err(error) => return Err(error),
    };
    Ok(merged)
}
