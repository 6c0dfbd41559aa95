//! The `imports` table: one row per file per import run, kept whatever the outcome.

use chrono::Utc;
use sea_query::{Alias, Expr, ExprTrait, Order, Query, UpdateStatement};

use super::runner;
use crate::db::{Cell, Db, Tx};
use crate::schema::{Kind, Table, col, opt};

pub static IMPORTS: Table = Table {
    name: "imports",
    columns: &[
        col(
            "id",
            Kind::Integer,
            "Import id, referenced by every loaded row",
        ),
        col(
            "source",
            Kind::Text,
            "Publication name (`haresign import <source>`)",
        ),
        col(
            "file_name",
            Kind::Text,
            "File as given, with the member name for zips",
        ),
        col(
            "sha256",
            Kind::Text,
            "SHA-256 of the file as given; empty while the run is still hashing it, and for a \
             file whose run failed before it was hashed",
        ),
        opt(
            "periods",
            Kind::Text,
            "Reporting periods the file held, comma-separated",
        ),
        opt("row_count", Kind::Integer, "Rows loaded"),
        col("status", Kind::Text, "running, succeeded or failed"),
        opt("error", Kind::Text, "Why the import failed"),
        col("started_at", Kind::Timestamp, "Start of the run"),
        opt("finished_at", Kind::Timestamp, "End of the run"),
        opt(
            "runner",
            Kind::Text,
            "The process running the import: the machine's boot id and the process id, so a \
             later run on the same machine can tell whether it is still alive",
        ),
        opt(
            "run_id",
            Kind::Integer,
            "The id of the first file of the run that loaded this one, set when the run \
             succeeds: the files of one command share it",
        ),
    ],
    primary_key: &["id"],
    indexes: &[&["source", "sha256"]],
};

pub async fn start(
    db: &Db,
    source: &str,
    file_name: &str,
    sha256: &str,
) -> Result<i64, sqlx::Error> {
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(IMPORTS.name))
        .columns(
            [
                "source",
                "file_name",
                "sha256",
                "status",
                "started_at",
                "runner",
            ]
            .map(Alias::new),
        )
        .values_panic([
            source.into(),
            file_name.into(),
            sha256.into(),
            "running".into(),
            Utc::now().into(),
            runner::this().into(),
        ])
        .returning_col(Alias::new("id"));
    db.insert_returning_id(&insert).await
}

/// The digest a running file is recorded with until it is known: a run that loads hashes its
/// files while they load (see `run::import`).
pub const PENDING_DIGEST: &str = "";

/// What a file's successful run loaded.
pub struct Success<'a> {
    /// The id of the run's first file.
    pub run_id: i64,
    pub sha256: &'a str,
    pub rows: u64,
    pub periods: &'a str,
}

/// Marks a file's run succeeded inside the transaction that loaded it, so the data and its
/// record commit together: the response cache, which counts succeeded imports, can never see
/// new data recorded as running, nor a success whose data did not commit.
pub async fn succeeded(tx: &mut Tx, id: i64, success: &Success<'_>) -> Result<(), sqlx::Error> {
    let mut update = finished(id);
    update
        .value(Alias::new("status"), "succeeded")
        .value(Alias::new("run_id"), success.run_id)
        .value(Alias::new("sha256"), success.sha256)
        .value(Alias::new("row_count"), success.rows as i64)
        .value(Alias::new("periods"), success.periods);
    tx.update(&update).await.map(|_| ())
}

/// Marks a file's run failed, after its transaction was rolled back.
pub async fn failed(db: &Db, id: i64, error: &str) -> Result<(), sqlx::Error> {
    let mut update = finished(id);
    update
        .value(Alias::new("status"), "failed")
        .value(Alias::new("error"), error);
    db.update(&update).await.map(|_| ())
}

/// Marks failed every run recorded as running whose process has ended (killed, or its machine
/// restarted) on this machine; runs of other machines are left as they are, since this one
/// cannot see their processes. Returns how many were marked.
pub async fn abandoned(db: &Db) -> Result<u64, sqlx::Error> {
    let mut running = Query::select();
    running
        .columns([Alias::new("id"), Alias::new("runner")])
        .from(Alias::new(IMPORTS.name))
        .and_where(Expr::col(Alias::new("status")).eq("running"));
    let mut marked = 0;
    for row in db
        .fetch_cells(&running, &[Kind::Integer, Kind::Text])
        .await?
    {
        let (Cell::Int(id), Cell::Text(recorded)) = (&row[0], &row[1]) else {
            continue;
        };
        let Some(ended) = runner::ended(recorded) else {
            continue;
        };
        let mut update = finished(*id);
        update
            .value(Alias::new("status"), "failed")
            .value(
                Alias::new("error"),
                format!(
                    "abandoned: {ended} before the import finished; nothing it loaded was kept"
                ),
            )
            .and_where(Expr::col(Alias::new("status")).eq("running"));
        marked += db.update(&update).await?;
    }
    Ok(marked)
}

fn finished(id: i64) -> UpdateStatement {
    let mut update = Query::update();
    update
        .table(Alias::new(IMPORTS.name))
        .value(Alias::new("finished_at"), Utc::now())
        .and_where(Expr::col(Alias::new("id")).eq(id));
    update
}

/// Whether the file with this digest is what `source` serves now: it was imported
/// successfully, and no later successful import of `source` loaded any period it holds (for a
/// snapshot, no later import at all). A file that was replaced and is given again is not
/// unchanged. A later file of the same run does not count when it is `given_after` this one
/// again: a run's files often hold the same months in different tables (a month's practice map
/// and its populations), and loading them again in that order would leave what they hold now.
pub async fn still_served(
    db: &Db,
    source: &str,
    sha256: &str,
    given_after: &[&str],
) -> Result<bool, sqlx::Error> {
    let succeeded = || {
        let mut select = Query::select();
        select
            .columns([
                Alias::new("id"),
                Alias::new("periods"),
                Alias::new("run_id"),
                Alias::new("sha256"),
            ])
            .from(Alias::new(IMPORTS.name))
            .and_where(Expr::col(Alias::new("source")).eq(source))
            .and_where(Expr::col(Alias::new("status")).eq("succeeded"));
        select
    };
    let mut latest = succeeded();
    latest
        .and_where(Expr::col(Alias::new("sha256")).eq(sha256))
        .order_by(Alias::new("id"), Order::Desc)
        .limit(1);
    let kinds = [Kind::Integer, Kind::Text, Kind::Integer, Kind::Text];
    let Some(row) = db.fetch_cells(&latest, &kinds).await?.into_iter().next() else {
        return Ok(false);
    };
    let (Cell::Int(id), periods) = (&row[0], periods_of(&row[1])) else {
        return Ok(false);
    };
    let given_again = |sha256: &Cell| match sha256 {
        Cell::Text(sha256) => given_after.contains(&sha256.as_str()),
        _ => false,
    };
    let mut later = succeeded();
    later.and_where(Expr::col(Alias::new("id")).gt(*id));
    let later = db.fetch_cells(&later, &kinds).await?;
    Ok(later.iter().all(|other| {
        (same_run(&other[2], &row[2]) && given_again(&other[3]))
            || (!periods.is_empty() && periods_of(&other[1]).iter().all(|p| !periods.contains(p)))
    }))
}

fn same_run(a: &Cell, b: &Cell) -> bool {
    matches!((a, b), (Cell::Int(a), Cell::Int(b)) if a == b)
}

fn periods_of(cell: &Cell) -> Vec<String> {
    match cell {
        Cell::Text(list) => list
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
