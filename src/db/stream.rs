//! Reads too large to hold at once, sent in batches through a bounded channel, so that memory
//! stays bounded whatever the number of rows: the producer waits while the reader is behind.

use sea_query_sqlx::SqlxValues;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;

use super::Cell;
use super::cell;
use crate::schema::Kind;

/// Rows per batch: large enough that the per-batch costs vanish, small enough that the batches
/// in flight stay well under a megabyte.
pub const BATCH_ROWS: usize = 1000;

/// Batches produced ahead of the reader.
pub(super) const BATCHES_AHEAD: usize = 2;

pub type Batch = Result<Vec<Vec<Cell>>, sqlx::Error>;

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
pub(super) async fn postgres_batches(
    pool: PgPool,
    sql: String,
    values: SqlxValues,
    kinds: Vec<Kind>,
    sender: mpsc::Sender<Batch>,
) {
    if let Err(error) = send_postgres_batches(&pool, sql, values, &kinds, &sender).await {
        let _ = sender.send(Err(error)).await;
    }
}

async fn send_postgres_batches(
    pool: &PgPool,
    sql: String,
    values: SqlxValues,
    kinds: &[Kind],
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
    loop {
        // Not kept either: the text is the same for every read, but its columns are those of
        // this read's cursor, and a kept statement's columns would be those of the first read
        // the connection ran, decoding another endpoint's rows by the wrong types.
        let rows = sqlx::query(AssertSqlSafe(fetch.clone()))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
        let last = rows.len() < BATCH_ROWS;
        let batch = rows
            .iter()
            .map(|row| cell::decode_postgres(row, kinds))
            .collect::<Result<Vec<_>, _>>()?;
        if !batch.is_empty() && sender.send(Ok(batch)).await.is_err() {
            break;
        }
        if last {
            break;
        }
    }
    tx.rollback().await
}
