//! SQLite reads through rusqlite, run on the calling task's thread: prepared statements are
//! cached per connection and rows are decoded with no thread hop at all. Served queries are
//! index lookups and bounded pages, CPU work like rendering their JSON, so running them in
//! place is both the fastest path and the leanest: the serving benchmark measured +10% req/s and
//! less than half the memory against a hop to the blocking pool, whose threads multiplied under
//! load. Writes (imports, keys, usage) stay on sqlx.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::config::DbConfig;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sea_query::{SelectStatement, SqliteQueryBuilder, Value};
use tokio::sync::mpsc;

use super::cell::CellRef;
use super::stream::{missing_column, next_capacity};
use super::{BATCH_ROWS, Batch, Cell, RowWriter};
use crate::schema::Kind;

/// Read-only connections, opened on demand and reused: a query holds one only while it runs,
/// without yielding, so there are never more than the runtime's worker threads.
#[derive(Debug)]
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<ReadConnection>>,
    /// A query running longer is interrupted: it runs on a serving thread, where no async
    /// time limit can stop it.
    query_timeout: Option<Duration>,
    epoch: Instant,
}

/// A connection and the deadline its progress handler enforces, in nanoseconds since the
/// pool's epoch (`u64::MAX`: none).
#[derive(Debug)]
struct ReadConnection {
    conn: Connection,
    deadline: Arc<AtomicU64>,
}

/// SQLite calls the progress handler every this many virtual-machine steps: often enough to
/// stop a runaway scan within milliseconds, rarely enough to cost nothing measurable.
const PROGRESS_STEPS: i32 = 10_000;

/// How long a read waits for a lock. WAL readers wait only in rare cases (recovery of a WAL
/// left by a crash), and a waiting read holds a runtime worker, so it gives up early.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

impl ReadPool {
    pub fn new(path: PathBuf, query_timeout: Option<Duration>) -> Arc<Self> {
        Arc::new(ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
            query_timeout,
            epoch: Instant::now(),
        })
    }

    fn connection(&self) -> rusqlite::Result<ReadConnection> {
        if let Some(conn) = self.idle.lock().expect("read pool poisoned").pop() {
            return Ok(conn);
        }
        // Read-write flags with `query_only`: a read-only connection cannot open a WAL database
        // whose shared-memory file is missing, and this one must never write anyway.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.pragma_update(None, "query_only", true)?;
        // Without it SQLite re-prepares a statement whenever a parameter its plan read is bound
        // again, and a page's `LIMIT ? OFFSET ?` is bound on every request.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(256);
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        if self.query_timeout.is_some() {
            let (deadline, epoch) = (deadline.clone(), self.epoch);
            conn.progress_handler(
                PROGRESS_STEPS,
                Some(move || nanos_since(epoch) > deadline.load(Ordering::Relaxed)),
            )?;
        }
        Ok(ReadConnection { conn, deadline })
    }

    fn give_back(&self, conn: ReadConnection) {
        self.idle.lock().expect("read pool poisoned").push(conn);
    }

    /// Runs a select and decodes each row by `kinds`.
    pub fn fetch(
        &self,
        select: &SelectStatement,
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Cell>>, sqlx::Error> {
        let (sql, values) = select.build(SqliteQueryBuilder);
        let params = values
            .into_iter()
            .map(to_sqlite)
            .collect::<Result<Vec<_>, _>>()?;
        let conn = self.connection().map_err(decode_error)?;
        self.arm(&conn);
        let result = query(&conn.conn, &sql, &params, kinds);
        self.give_back(conn);
        result
    }

    /// Sends a select's rows in batches of `BATCH_ROWS`, written by `writer`, from a blocking
    /// thread, holding one connection until the last is taken or the receiver is dropped. The
    /// time limit applies to each batch, not to the whole read: an export of any size may take as
    /// long as its reader does, and a query that spends the limit without producing a batch is
    /// still stopped.
    pub fn stream<W: RowWriter>(
        self: &Arc<Self>,
        select: &SelectStatement,
        kinds: Vec<Kind>,
        mut writer: W,
        sender: mpsc::Sender<Batch>,
    ) {
        let (sql, values) = select.build(SqliteQueryBuilder);
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let result = values
                .into_iter()
                .map(to_sqlite)
                .collect::<Result<Vec<_>, _>>()
                .and_then(|params| {
                    let conn = pool.connection().map_err(decode_error)?;
                    let result =
                        pool.send_batches(&conn, &sql, &params, &kinds, &mut writer, &sender);
                    pool.give_back(conn);
                    result
                });
            if let Err(error) = result {
                let _ = sender.blocking_send(Err(error));
            }
        });
    }

    fn send_batches<W: RowWriter>(
        &self,
        conn: &ReadConnection,
        sql: &str,
        params: &[SqlValue],
        kinds: &[Kind],
        writer: &mut W,
        sender: &mpsc::Sender<Batch>,
    ) -> Result<(), sqlx::Error> {
        let mut statement = conn.conn.prepare_cached(sql).map_err(decode_error)?;
        self.arm(conn);
        let mut rows = statement
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(decode_error)?;
        let mut batch = Vec::new();
        let mut batch_rows = 0;
        while let Some(row) = rows.next().map_err(decode_error)? {
            writer.write_row(
                |i| {
                    let kind = kinds.get(i).ok_or_else(|| missing_column(i, kinds.len()))?;
                    value(row, i, *kind)
                },
                &mut batch,
            )?;
            batch_rows += 1;
            if batch_rows == BATCH_ROWS {
                let capacity = next_capacity(batch.len());
                let full = std::mem::replace(&mut batch, Vec::with_capacity(capacity));
                if sender.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
                batch_rows = 0;
                self.arm(conn);
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(Ok(batch));
        }
        Ok(())
    }

    /// Starts the time limit of the statement step about to run on `conn`.
    fn arm(&self, conn: &ReadConnection) {
        if let Some(limit) = self.query_timeout {
            let deadline = nanos_since(self.epoch).saturating_add(nanos(limit));
            conn.deadline.store(deadline, Ordering::Relaxed);
        }
    }
}

fn query(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    kinds: &[Kind],
) -> Result<Vec<Vec<Cell>>, sqlx::Error> {
    let mut statement = conn.prepare_cached(sql).map_err(decode_error)?;
    let mut rows = statement
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(decode_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(decode_error)? {
        out.push(decode(row, kinds)?);
    }
    Ok(out)
}

fn decode(row: &rusqlite::Row<'_>, kinds: &[Kind]) -> Result<Vec<Cell>, sqlx::Error> {
    (kinds.iter().enumerate())
        .map(|(i, kind)| value(row, i, *kind).map(CellRef::to_cell))
        .collect()
}

/// Column `i` of a row, read as `kind`. Inlined into a streamed read's loop: called once per
/// value, with its result (as large as sqlx's error) passed through memory, it cost about 8% of
/// a download.
#[inline(always)]
fn value<'r>(row: &'r rusqlite::Row<'_>, i: usize, kind: Kind) -> Result<CellRef<'r>, sqlx::Error> {
    let value = row.get_ref(i).map_err(decode_error)?;
    cell(value, kind)
        .ok_or_else(|| sqlx::Error::Decode(format!("column {i} does not hold a {kind:?}").into()))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn nanos_since(epoch: Instant) -> u64 {
    nanos(epoch.elapsed())
}

/// A query stopped at its time limit or by a lock is the database being unavailable for now,
/// as sqlx reports a connection that cannot be had; anything else is a fault.
fn decode_error(e: rusqlite::Error) -> sqlx::Error {
    let unavailable = matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::OperationInterrupted
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
        )
    );
    if unavailable {
        sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, e))
    } else {
        sqlx::Error::Protocol(e.to_string())
    }
}

/// Converts a stored SQLite value to a cell of the declared kind (`None` when it cannot be).
#[inline(always)]
fn cell(value: ValueRef<'_>, kind: Kind) -> Option<CellRef<'_>> {
    if let ValueRef::Null = value {
        return Some(CellRef::Null);
    }
    let text = || match value {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    };
    Some(match kind {
        Kind::Text => CellRef::Text(text()?),
        Kind::Object(_) => CellRef::Object(text()?),
        Kind::Integer => CellRef::Int(value.as_i64().ok()?),
        Kind::Decimal(places) => CellRef::Decimal(value.as_i64().ok()?, places),
        Kind::Float => CellRef::Float(match value {
            ValueRef::Integer(i) => i as f64,
            _ => value.as_f64().ok()?,
        }),
        Kind::Boolean => CellRef::Bool(value.as_i64().ok()? != 0),
        Kind::Date => CellRef::Date(iso_date(text()?)?),
        Kind::Timestamp => CellRef::Timestamp(parse_timestamp(text()?)?),
    })
}

/// A date as the loaders store it (`YYYY-MM-DD`), read without chrono's format parser, which
/// costs more than the rest of a row on a page of dates.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let fast = || {
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year = i32::try_from(digits(0..4)?).ok()?;
        NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
    };
    fast().or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
}

/// Timestamps as sqlx writes them (RFC 3339) or as SQLite's own functions do.
fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

fn to_sqlite(value: Value) -> Result<SqlValue, sqlx::Error> {
    Ok(match value {
        Value::Bool(v) => v.map_or(SqlValue::Null, |b| SqlValue::Integer(i64::from(b))),
        Value::TinyInt(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::SmallInt(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::Int(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::BigInt(v) => v.map_or(SqlValue::Null, SqlValue::Integer),
        Value::TinyUnsigned(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::SmallUnsigned(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::Unsigned(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::BigUnsigned(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n as i64)),
        Value::Float(v) => v.map_or(SqlValue::Null, |n| SqlValue::Real(n.into())),
        Value::Double(v) => v.map_or(SqlValue::Null, SqlValue::Real),
        Value::String(v) => v.map_or(SqlValue::Null, SqlValue::Text),
        Value::Char(v) => v.map_or(SqlValue::Null, |c| SqlValue::Text(c.to_string())),
        Value::Bytes(v) => v.map_or(SqlValue::Null, SqlValue::Blob),
        Value::ChronoDate(v) => v.map_or(SqlValue::Null, |d| SqlValue::Text(d.to_string())),
        Value::ChronoDateTimeUtc(v) => v.map_or(SqlValue::Null, |t| {
            SqlValue::Text(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
        }),
        other => {
            return Err(sqlx::Error::Encode(
                format!("no SQLite encoding for {other:?}").into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sea_query::{Expr, Query};

    proptest! {
        /// Every date chrono can write reads back the same, through the fast path or not.
        #[test]
        fn dates_read_back_as_written(days in -100_000i64..3_000_000) {
            let date = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assert_eq!(iso_date(&date.to_string()), Some(date));
        }

        /// Any other text is refused or read as chrono reads it, never panics.
        #[test]
        fn other_text_is_read_as_chrono_reads_it(text in "[+-]?[0-9]{0,5}-?[0-9]{0,3}-?[0-9]{0,3}") {
            prop_assert_eq!(
                iso_date(&text),
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()
            );
        }
    }

    /// A query of some millions of steps: far beyond any limit below, instant without one.
    fn long_count() -> SelectStatement {
        Query::select()
            .expr(Expr::cust(
                "(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) \
                 SELECT count(*) FROM n)",
            ))
            .to_owned()
    }

    fn pool(query_timeout: Option<Duration>) -> (tempfile::TempDir, Arc<ReadPool>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        (dir, ReadPool::new(path, query_timeout))
    }

    #[test]
    fn a_query_past_its_time_limit_is_interrupted_as_unavailable() {
        let (_dir, reads) = pool(Some(Duration::ZERO));
        match reads.fetch(&long_count(), &[Kind::Integer]) {
            Err(sqlx::Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
            other => panic!("expected an interrupted query, got {other:?}"),
        }
        // With room for it, the same query completes.
        let (_dir, reads) = pool(Some(Duration::from_secs(600)));
        let rows = reads.fetch(&long_count(), &[Kind::Integer]).unwrap();
        assert!(matches!(rows[0][0], Cell::Int(300_000)));
    }

    #[test]
    fn without_a_limit_nothing_is_interrupted() {
        let (_dir, reads) = pool(None);
        let rows = reads.fetch(&long_count(), &[Kind::Integer]).unwrap();
        assert!(matches!(rows[0][0], Cell::Int(300_000)));
    }

    #[test]
    fn other_failures_are_faults_not_unavailability() {
        let (_dir, reads) = pool(None);
        let select = Query::select()
            .expr(Expr::cust("no_such_function()"))
            .to_owned();
        assert!(matches!(
            reads.fetch(&select, &[Kind::Integer]),
            Err(sqlx::Error::Protocol(_))
        ));
    }
}
