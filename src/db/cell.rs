//! Typed values read back from either backend.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::schema::Kind;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    /// Scaled integer and its number of decimal places.
    Decimal(i64, u32),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    /// A JSON object's text, as stored.
    Object(String),
}

/// A value borrowed from the row it was read from, as `Cell` owns it: a streamed read writes
/// each value of a row without copying its text out first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a str),
    /// Scaled integer and its number of decimal places.
    Decimal(i64, u32),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    /// A JSON object's text, as stored.
    Object(&'a str),
}

impl Cell {
    pub fn as_cell_ref(&self) -> CellRef<'_> {
        match self {
            Cell::Null => CellRef::Null,
            Cell::Int(v) => CellRef::Int(*v),
            Cell::Float(v) => CellRef::Float(*v),
            Cell::Text(v) => CellRef::Text(v),
            Cell::Decimal(v, places) => CellRef::Decimal(*v, *places),
            Cell::Bool(v) => CellRef::Bool(*v),
            Cell::Date(d) => CellRef::Date(*d),
            Cell::Timestamp(t) => CellRef::Timestamp(*t),
            Cell::Object(text) => CellRef::Object(text),
        }
    }
}

impl CellRef<'_> {
    pub fn to_cell(self) -> Cell {
        match self {
            CellRef::Null => Cell::Null,
            CellRef::Int(v) => Cell::Int(v),
            CellRef::Float(v) => Cell::Float(v),
            CellRef::Text(v) => Cell::Text(v.to_owned()),
            CellRef::Decimal(v, places) => Cell::Decimal(v, places),
            CellRef::Bool(v) => Cell::Bool(v),
            CellRef::Date(d) => Cell::Date(d),
            CellRef::Timestamp(t) => Cell::Timestamp(t),
            CellRef::Object(text) => Cell::Object(text.to_owned()),
        }
    }
}

macro_rules! decode_value {
    ($row:expr, $i:expr, $kind:expr) => {{
        let (row, i) = ($row, $i);
        Ok(match $kind {
            Kind::Text => row.try_get::<Option<&str>, _>(i)?.map(CellRef::Text),
            Kind::Object(_) => row.try_get::<Option<&str>, _>(i)?.map(CellRef::Object),
            Kind::Integer => row.try_get::<Option<i64>, _>(i)?.map(CellRef::Int),
            Kind::Decimal(p) => row
                .try_get::<Option<i64>, _>(i)?
                .map(|v| CellRef::Decimal(v, p)),
            Kind::Float => row.try_get::<Option<f64>, _>(i)?.map(CellRef::Float),
            Kind::Boolean => row.try_get::<Option<bool>, _>(i)?.map(CellRef::Bool),
            Kind::Date => row.try_get::<Option<NaiveDate>, _>(i)?.map(CellRef::Date),
            Kind::Timestamp => row
                .try_get::<Option<DateTime<Utc>>, _>(i)?
                .map(CellRef::Timestamp),
        }
        .unwrap_or(CellRef::Null))
    }};
}

fn sqlite_value(row: &SqliteRow, i: usize, kind: Kind) -> Result<CellRef<'_>, sqlx::Error> {
    decode_value!(row, i, kind)
}

/// Column `i` of a PostgreSQL row, read as `kind`.
pub fn postgres_value(row: &PgRow, i: usize, kind: Kind) -> Result<CellRef<'_>, sqlx::Error> {
    decode_value!(row, i, kind)
}

pub fn decode_sqlite(row: &SqliteRow, kinds: &[Kind]) -> Result<Vec<Cell>, sqlx::Error> {
    (kinds.iter().enumerate())
        .map(|(i, kind)| sqlite_value(row, i, *kind).map(CellRef::to_cell))
        .collect()
}

pub fn decode_postgres(row: &PgRow, kinds: &[Kind]) -> Result<Vec<Cell>, sqlx::Error> {
    (kinds.iter().enumerate())
        .map(|(i, kind)| postgres_value(row, i, *kind).map(CellRef::to_cell))
        .collect()
}

/// A DRF `DecimalField` value (rendered as a JSON string by the caller) from a fixed-point
/// integer: `scaled` is the value times `10^places`. `1250, 2` → `"12.50"`, `-5, 2` →
/// `"-0.05"`, `7, 0` → `"7"`.
pub fn format_decimal(scaled: i64, places: u32) -> String {
    let magnitude = scaled.unsigned_abs();
    let mut out = String::with_capacity(24);
    if scaled < 0 {
        out.push('-');
    }
    // Past 19 places the divisor overflows, and every i64 is then a fraction of one.
    let (whole, fraction) = match 10u64.checked_pow(places) {
        Some(divisor) => (magnitude / divisor, magnitude % divisor),
        None => (0, magnitude),
    };
    let _ = write!(out, "{whole}");
    if places > 0 {
        let _ = write!(out, ".{fraction:0width$}", width = places as usize);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(format_decimal(1250, 2), "12.50");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(0, 2), "0.00");
        assert_eq!(format_decimal(100_000, 2), "1000.00");
        assert_eq!(format_decimal(-1250, 2), "-12.50");
        assert_eq!(format_decimal(7, 0), "7");
        assert_eq!(format_decimal(-7, 0), "-7");
        assert_eq!(format_decimal(5, 4), "0.0005");
        assert_eq!(format_decimal(12345, 4), "1.2345");
        assert_eq!(format_decimal(i64::MIN, 2), "-92233720368547758.08");
        assert_eq!(format_decimal(i64::MAX, 0), "9223372036854775807");
        assert_eq!(format_decimal(-15, 20), "-0.00000000000000000015");
        assert_eq!(format_decimal(i64::MIN, 2), "-92233720368547758.08");
        assert_eq!(format_decimal(i64::MAX, 0), "9223372036854775807");
    }
}
