//! SQLite's bulk path: one prepared `INSERT` bound and stepped once per row, on the import
//! transaction's own connection. Going through sqlx would cost a round trip to its worker
//! thread per statement; instead the connection is locked for the length of a loader and driven
//! directly through rusqlite, which links the same SQLite library, from a thread of the
//! loader's own (`Writer`).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::ptr::NonNull;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use indicatif::ProgressBar;
use rusqlite::ffi::sqlite3;
use rusqlite::types::{ToSqlOutput, ValueRef};
use sea_query::{Alias, Expr, OnConflict, Query, SqliteQueryBuilder};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::{LockedSqliteHandle, SqliteConnection};

use super::Encoder;
use crate::schema::Table;

const NULL: u8 = 0;
const INTEGER: u8 = 1;
const FLOAT: u8 = 2;
const TEXT: u8 = 3;

/// Rows encoded as tagged values, each stored as sqlx stores it (so rows read back the same
/// whichever path wrote them): booleans as 0 or 1, dates as `YYYY-MM-DD` and timestamps as
/// RFC 3339 text.
#[derive(Default)]
pub struct Rows {
    bytes: Vec<u8>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    fn text_bytes(&mut self, text: &[u8]) {
        let len = u32::try_from(text.len()).expect("a text value is shorter than 4 GB");
        self.bytes.push(TEXT);
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(text);
    }
}

impl Encoder for Rows {
    fn null(&mut self) {
        self.bytes.push(NULL);
    }

    fn integer(&mut self, value: i64) {
        self.bytes.push(INTEGER);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    fn float(&mut self, value: f64) {
        self.bytes.push(FLOAT);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    fn boolean(&mut self, value: bool) {
        self.integer(i64::from(value));
    }

    fn text(&mut self, value: &str) {
        self.text_bytes(value.as_bytes());
    }

    fn date(&mut self, value: NaiveDate) {
        use std::io::Write;
        let mut text = [0u8; 16];
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        write!(cursor, "{value}").expect("a date fits 16 bytes");
        let len = cursor.position() as usize;
        self.text_bytes(&text[..len]);
    }

    fn timestamp(&mut self, value: DateTime<Utc>) {
        self.text(&value.to_rfc3339_opts(SecondsFormat::AutoSi, false));
    }
}

/// Reads back the values `Rows` holds, in order.
struct Values<'r> {
    bytes: &'r [u8],
}

impl<'r> Iterator for Values<'r> {
    type Item = ValueRef<'r>;

    fn next(&mut self) -> Option<ValueRef<'r>> {
        let (&tag, rest) = self.bytes.split_first()?;
        let word = |rest: &[u8]| -> [u8; 8] { rest[..8].try_into().expect("8 bytes") };
        let (value, rest) = match tag {
            NULL => (ValueRef::Null, rest),
            INTEGER => (
                ValueRef::Integer(i64::from_le_bytes(word(rest))),
                &rest[8..],
            ),
            FLOAT => (ValueRef::Real(f64::from_le_bytes(word(rest))), &rest[8..]),
            _ => {
                let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                (ValueRef::Text(&rest[4..4 + len]), &rest[4 + len..])
            }
        };
        self.bytes = rest;
        Some(value)
    }
}

/// `INSERT INTO table (columns) VALUES (?, …)`, with `on_conflict`'s clause.
pub fn insert_sql(table: &Table, columns: &[&str], on_conflict: Option<&OnConflict>) -> String {
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(table.name))
        .columns(columns.iter().map(|c| Alias::new(*c)))
        .values_panic(columns.iter().map(|_| Expr::cust("?")));
    if let Some(on_conflict) = on_conflict {
        insert.on_conflict(on_conflict.clone());
    }
    insert.build(SqliteQueryBuilder).0
}

/// A raw connection handle sent to the writer thread.
struct RawConnection(NonNull<sqlite3>);

// SAFETY: SQLite connections may be used from any thread as long as one thread at a time uses
// them; `Writer` guarantees that (see `Writer::start`).
unsafe impl Send for RawConnection {}

/// A full chunk and the number of rows in it.
type Chunk = (Rows, u64);

/// Inserts a loader's chunks on a thread of its own, so that the next chunk is read and encoded
/// while SQLite inserts this one: a 2-core machine spends both cores on an import. At most two
/// chunks exist at once, the one being inserted and the one being filled.
pub struct Writer<'c> {
    /// Held for the writer's whole life, so that sqlx's worker thread stays off the connection.
    _lock: LockedSqliteHandle<'c>,
    chunks: Option<SyncSender<Chunk>>,
    /// Buffers the thread has emptied, for the loader to fill again.
    spare: Receiver<Rows>,
    thread: Option<JoinHandle<rusqlite::Result<u64>>>,
}

impl<'c> Writer<'c> {
    /// Locks `connection` and starts the thread that steps `insert` (`width` values a row)
    /// over every chunk it is given, advancing `progress` by each chunk's rows.
    pub async fn start(
        connection: &'c mut SqliteConnection,
        insert: String,
        width: usize,
        progress: Option<ProgressBar>,
    ) -> Result<Writer<'c>, sqlx::Error> {
        let mut lock = connection.lock_handle().await?;
        let raw = RawConnection(lock.as_raw_handle());
        // A rendezvous channel: handing over a chunk waits until the thread has finished the
        // one before, which bounds memory to two chunks.
        let (chunks, incoming) = sync_channel::<Chunk>(0);
        let (give_back, spare) = channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let raw = raw;
                // SAFETY: the handle is a live connection of the same SQLite library rusqlite
                // links (sqlx and rusqlite share one `libsqlite3-sys`). The writer holds sqlx's
                // lock on it for as long as this thread runs (it joins the thread before the
                // lock is released, in `finish` or on drop), and the loader that owns the
                // writer never touches the connection meanwhile, so this thread is its only
                // user. The borrowed `Connection` never closes the handle, and finalizes its
                // statement when dropped at the end of this closure.
                let connection = unsafe { rusqlite::Connection::from_handle(raw.0.as_ptr()) }?;
                let mut statement = connection.prepare(&insert)?;
                let mut changed = 0;
                for (mut rows, count) in incoming {
                    let mut values = Values { bytes: &rows.bytes };
                    while !values.bytes.is_empty() {
                        for (index, value) in values.by_ref().take(width).enumerate() {
                            statement
                                .raw_bind_parameter(index + 1, ToSqlOutput::Borrowed(value))?;
                        }
                        changed += statement.raw_execute()? as u64;
                    }
                    if let Some(progress) = &progress {
                        progress.inc(count);
                    }
                    rows.clear();
                    // The loader may have stopped taking buffers back; then this one is freed.
                    let _ = give_back.send(rows);
                }
                Ok(changed)
            })
            .map_err(sqlx::Error::Io)?;
        Ok(Writer {
            _lock: lock,
            chunks: Some(chunks),
            spare,
            thread: Some(thread),
        })
    }

    /// Hands `rows` (`count` of them) to the thread, waiting while it inserts the chunk before,
    /// and returns an empty buffer to fill next. The wait blocks the calling thread: an import
    /// has nothing else to do until SQLite has taken the chunk.
    pub fn write(&mut self, rows: Rows, count: u64) -> Result<Rows, sqlx::Error> {
        let sent = self
            .chunks
            .as_ref()
            .expect("a writer takes chunks until it finishes")
            .send((rows, count));
        if sent.is_err() {
            // The thread stopped on an error; `finish` reports it.
            self.finish()?;
            return Err(sqlx::Error::WorkerCrashed);
        }
        Ok(self.spare.try_recv().unwrap_or_default())
    }

    /// Waits for every chunk to be inserted; returns the rows they changed.
    pub fn finish(&mut self) -> Result<u64, sqlx::Error> {
        self.chunks = None;
        let Some(thread) = self.thread.take() else {
            return Ok(0);
        };
        match thread.join() {
            Ok(result) => result.map_err(|error| sqlx::Error::Database(Box::new(Failure(error)))),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Writer<'_> {
    /// A loader dropped on an error stops its thread before the connection is unlocked.
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A failed bulk insert, reported as sqlx reports database errors.
#[derive(Debug)]
struct Failure(rusqlite::Error);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

impl DatabaseError for Failure {
    fn message(&self) -> &str {
        match &self.0 {
            rusqlite::Error::SqliteFailure(_, Some(message)) => message,
            _ => "bulk insert failed",
        }
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.0
            .sqlite_error()
            .map(|e| Cow::Owned(e.extended_code.to_string()))
    }

    fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.0.sqlite_error().map(|e| e.extended_code) {
            Some(
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            ) => ErrorKind::UniqueViolation,
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}
