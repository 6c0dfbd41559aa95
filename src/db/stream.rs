//! Reads too large to hold at once, sent in batches through a bounded channel, so that memory
//! stays bounded whatever the number of rows: the producer waits while the reader is behind.
//! Each batch holds its rows already written as bytes by a `RowWriter`, on the thread or task
//! that reads them: no value is copied out of the database's buffers to be written later.

use sea_query_sqlx::SqlxValues;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;

use super::cell::{self, Cell, CellRef};
use crate::schema::Kind;

/// Rows per batch: large enough that the per-batch costs vanish, small enough that the batches
/// in flight stay well under a megabyte.
pub const BATCH_ROWS: usize = 1000;

/// Batches produced ahead of the reader.
pub(super) const BATCHES_AHEAD: usize = 2;

/// Rows as a `RowWriter` wrote them.
pub type Batch = Result<Vec<u8>, sqlx::Error>;

/// Writes the rows of a streamed read as bytes.
pub trait RowWriter: Send + 'static {
    /// Appends one row to `out`, taking each of its values, in column order, from `value`
    /// (which fails when a column cannot be read as its declared kind).
    fn write_row<'r>(
        &mut self,
        value: impl FnMut(usize) -> Result<CellRef<'r>, sqlx::Error>,
        out: &mut Vec<u8>,
    ) -> Result<(), sqlx::Error>;

    /// Appends a row read already.
    fn write_cells(&mut self, cells: &[Cell], out: &mut Vec<u8>) -> Result<(), sqlx::Error> {
        self.write_row(
            |i| {
                cells
                    .get(i)
                    .map(Cell::as_cell_ref)
                    .ok_or_else(|| missing_column(i, cells.len()))
            },
            out,
        )
    }
}

/// A row has fewer columns than its writer was made for.
pub(super) fn missing_column(index: usize, len: usize) -> sqlx::Error {
    sqlx::Error::ColumnIndexOutOfBounds { index, len }
}

/// The capacity to give the next batch: that of the last, with room to spare, so a batch is
/// rarely grown while it is written.
pub(super) fn next_capacity(last: usize) -> usize {
    last + last / 8
}

/// The batches of a streamed read, in order; an error ends them.
pub struct Batches(pub(super) mpsc::Receiver<Batch>);

impl Batches {
    /// The next batch, or `None` after the last.
    pub async fn next(&mut self) -> Option<Batch> {
        self.0.recv().await
    }
}

/// PostgreSQL: a cursor in a read-only transaction, fetched a batch at a time. Each `FETCH` is
/// a statement of its own, so `statement_timeout` limits each batch rather than the whole read,
/// and the rows are one snapshot however long the reader takes.
pub(super) async fn postgres_batches<W: RowWriter>(
    pool: PgPool,
    sql: String,
    values: SqlxValues,
    kinds: Vec<Kind>,
    mut writer: W,
    sender: mpsc::Sender<Batch>,
) {
    let sent = send_postgres_batches(&pool, sql, values, &kinds, &mut writer, &sender).await;
    if let Err(error) = sent {
        let _ = sender.send(Err(error)).await;
    }
}

async fn send_postgres_batches<W: RowWriter>(
    pool: &PgPool,
    sql: String,
    values: SqlxValues,
    kinds: &[Kind],
    writer: &mut W,
    sender: &mpsc::Sender<Batch>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::raw_sql("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await?;
    // Each read's statement differs, so it is not kept among the connection's prepared ones.
    sqlx::query_with(
        AssertSqlSafe(format!("DECLARE batches NO SCROLL CURSOR FOR {sql}")),
        values,
    )
    .persistent(false)
    .execute(&mut *tx)
    .await?;
    let fetch = format!("FETCH FORWARD {BATCH_ROWS} FROM batches");
    let mut capacity = 0;
    loop {
        // Not kept either: the text is the same for every read, but its columns are those of
        // this read's cursor, and a kept statement's columns would be those of the first read
        // the connection ran, decoding another endpoint's rows by the wrong types.
        let rows = sqlx::query(AssertSqlSafe(fetch.clone()))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
        let last = rows.len() < BATCH_ROWS;
        let mut batch = Vec::with_capacity(capacity);
        for row in &rows {
            writer.write_row(
                |i| {
                    let kind = kinds.get(i).ok_or_else(|| missing_column(i, kinds.len()))?;
                    cell::postgres_value(row, i, *kind)
                },
                &mut batch,
            )?;
        }
        capacity = next_capacity(batch.len());
        if !batch.is_empty() && sender.send(Ok(batch)).await.is_err() {
            break;
        }
        if last {
            break;
        }
    }
    tx.rollback().await
}
