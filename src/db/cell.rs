//! Typed values read back from either backend.

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

macro_rules! decode_row {
    ($row:expr, $kinds:expr) => {{
        let row = $row;
        $kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                Ok(match kind {
                    Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Cell::Text),
                    Kind::Object(_) => row.try_get::<Option<String>, _>(i)?.map(Cell::Object),
                    Kind::Integer => row.try_get::<Option<i64>, _>(i)?.map(Cell::Int),
                    Kind::Decimal(p) => row
                        .try_get::<Option<i64>, _>(i)?
                        .map(|v| Cell::Decimal(v, *p)),
                    Kind::Float => row.try_get::<Option<f64>, _>(i)?.map(Cell::Float),
                    Kind::Boolean => row.try_get::<Option<bool>, _>(i)?.map(Cell::Bool),
                    Kind::Date => row.try_get::<Option<NaiveDate>, _>(i)?.map(Cell::Date),
                    Kind::Timestamp => row
                        .try_get::<Option<DateTime<Utc>>, _>(i)?
                        .map(Cell::Timestamp),
                }
                .unwrap_or(Cell::Null))
            })
            .collect()
    }};
}

pub fn decode_sqlite(row: &SqliteRow, kinds: &[Kind]) -> Result<Vec<Cell>, sqlx::Error> {
    decode_row!(row, kinds)
}

pub fn decode_postgres(row: &PgRow, kinds: &[Kind]) -> Result<Vec<Cell>, sqlx::Error> {
    decode_row!(row, kinds)
}
