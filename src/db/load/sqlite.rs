//! SQLite's bulk path: one prepared `INSERT` bound and stepped once per row, on the import
//! transaction's own connection. Going through sqlx would cost a round trip to its worker
//! thread per statement; instead the connection is locked for the length of a chunk and driven
//! directly through rusqlite, which links the same SQLite library.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
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

/// Inserts the rows of `rows` (each `width` values) with `insert`; returns the rows changed.
pub async fn write(
    connection: &mut SqliteConnection,
    insert: &str,
    width: usize,
    rows: &Rows,
) -> Result<u64, sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    with_rusqlite(&mut handle, |connection| {
        let mut statement = connection.prepare_cached(insert)?;
        let mut values = Values { bytes: &rows.bytes };
        let mut changed = 0;
        while !values.bytes.is_empty() {
            for (index, value) in values.by_ref().take(width).enumerate() {
                statement.raw_bind_parameter(index + 1, ToSqlOutput::Borrowed(value))?;
            }
            changed += statement.raw_execute()? as u64;
        }
        Ok(changed)
    })
    .map_err(|error| sqlx::Error::Database(Box::new(Failure(error))))
}

/// Runs `work` on the locked connection through rusqlite.
fn with_rusqlite<T>(
    handle: &mut LockedSqliteHandle<'_>,
    work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    // SAFETY: the handle is a live connection of the same SQLite library rusqlite links
    // (sqlx and rusqlite share one `libsqlite3-sys`), and holding its lock keeps sqlx's worker
    // thread off it until `work` returns. The borrowed `Connection` never closes the handle
    // (`from_handle` does not own it), finalizes the statements it prepared when dropped at the
    // end of this function, and cannot outlive it: `work` gets only a reference.
    let connection = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }?;
    work(&connection)
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
