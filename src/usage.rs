//! Per-key usage: requests per key per day and the last use, counted in memory on the request
//! path and written to the database in batches, so serving costs no write per request.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query};

use crate::db::{Cell, Db};
use crate::keys::API_KEYS;
use crate::schema::{Kind, Table, col};

pub static API_KEY_USAGE: Table = Table {
    name: "api_key_usage",
    columns: &[
        col("key_id", Kind::Integer, "Key id"),
        col("day", Kind::Date, "UTC day"),
        col("requests", Kind::Integer, "Authenticated requests that day"),
    ],
    primary_key: &["key_id", "day"],
    indexes: &[],
};

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    counts: HashMap<(i64, NaiveDate), i64>,
    last_used: HashMap<i64, DateTime<Utc>>,
}

/// One row of `keys usage`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageRow {
    pub prefix: String,
    pub name: String,
    pub day: NaiveDate,
    pub requests: i64,
}

impl UsageRecorder {
    pub fn record(&self, key_id: i64, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().expect("usage lock poisoned");
        *pending.counts.entry((key_id, at.date_naive())).or_default() += 1;
        pending.last_used.insert(key_id, at);
    }

    /// Writes what was counted since the last flush. On failure the counts are kept for the next.
    pub async fn flush(&self, db: &Db) -> Result<(), sqlx::Error> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("usage lock poisoned"));
        if pending.counts.is_empty() {
            return Ok(());
        }
        match write(db, &pending).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let mut current = self.pending.lock().expect("usage lock poisoned");
                for (k, n) in pending.counts {
                    *current.counts.entry(k).or_default() += n;
                }
                for (k, t) in pending.last_used {
                    let entry = current.last_used.entry(k).or_insert(t);
                    *entry = Ord::max(*entry, t);
                }
                Err(e)
            }
        }
    }
}

async fn write(db: &Db, pending: &Pending) -> Result<(), sqlx::Error> {
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(API_KEY_USAGE.name))
        .columns(["key_id", "day", "requests"].map(Alias::new));
    for ((key_id, day), n) in &pending.counts {
        insert.values_panic([(*key_id).into(), (*day).into(), (*n).into()]);
    }
    insert.on_conflict(
        OnConflict::columns(["key_id", "day"].map(Alias::new))
            .value(
                Alias::new("requests"),
                Expr::cust("api_key_usage.requests + excluded.requests"),
            )
            .to_owned(),
    );
    db.insert(&insert).await?;
    for (key_id, at) in &pending.last_used {
        let mut update = Query::update();
        update
            .table(Alias::new(API_KEYS.name))
            .value(Alias::new("last_used_at"), *at)
            .and_where(Expr::col(Alias::new("id")).eq(*key_id));
        db.update(&update).await?;
    }
    Ok(())
}

/// Requests per key per day, newest day first; only the key with `prefix` when given.
pub async fn usage(db: &Db, prefix: Option<&str>) -> Result<Vec<UsageRow>, sqlx::Error> {
    let mut select = Query::select();
    select
        .column((Alias::new("k"), Alias::new("prefix")))
        .column((Alias::new("k"), Alias::new("name")))
        .column((Alias::new("u"), Alias::new("day")))
        .column((Alias::new("u"), Alias::new("requests")))
        .from_as(Alias::new(API_KEY_USAGE.name), Alias::new("u"))
        .join_as(
            sea_query::JoinType::InnerJoin,
            Alias::new(API_KEYS.name),
            Alias::new("k"),
            Expr::col((Alias::new("k"), Alias::new("id")))
                .equals((Alias::new("u"), Alias::new("key_id"))),
        )
        .order_by((Alias::new("u"), Alias::new("day")), Order::Desc)
        .order_by((Alias::new("k"), Alias::new("prefix")), Order::Asc);
    if let Some(prefix) = prefix {
        select.and_where(Expr::col((Alias::new("k"), Alias::new("prefix"))).eq(prefix));
    }
    let rows = db
        .fetch_cells(
            &select,
            &[Kind::Text, Kind::Text, Kind::Date, Kind::Integer],
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [
                Cell::Text(prefix),
                Cell::Text(name),
                Cell::Date(day),
                Cell::Int(requests),
            ] => Some(UsageRow {
                prefix: prefix.clone(),
                name: name.clone(),
                day: *day,
                requests: *requests,
            }),
            _ => None,
        })
        .collect())
}
