//! Rows per reporting period of every table a period filter reads, kept by the imports that
//! change those tables. DRF's page count for a period alone (`gp-appointments/?month=…`, a
//! million rows) is then one lookup rather than a count over the period's index entries, so the
//! first request after an import is as quick as the ones the count cache answers.

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::catalogue;
use crate::db::{Db, Tx};
use crate::schema::{Kind, Table, col};

pub static ROW_TALLIES: Table = Table {
    name: "row_tallies",
    columns: &[
        col("table_name", Kind::Text, "Table counted"),
        col(
            "column_name",
            Kind::Text,
            "Period column the rows are grouped by",
        ),
        col(
            "value",
            Kind::Text,
            "The period, as text (ISO date or financial year)",
        ),
        col(
            "row_count",
            Kind::Integer,
            "Rows of the table holding that period",
        ),
    ],
    primary_key: &["table_name", "column_name", "value"],
    indexes: &[],
};

/// Recounts, inside an import's transaction, the periods of each table in `changed` that a
/// period filter reads.
pub async fn refresh<'t>(
    tx: &mut Tx,
    changed: impl IntoIterator<Item = &'t Table>,
) -> Result<(), sqlx::Error> {
    let tallied = catalogue::tallied_columns();
    for table in changed {
        for (_, column) in tallied.iter().filter(|(t, _)| *t == table.name) {
            // Both names come from the catalogue's declarations, never from input.
            let (name, tallies) = (table.name, ROW_TALLIES.name);
            tx.execute_raw(&format!(
                "DELETE FROM {tallies} WHERE table_name = '{name}' AND column_name = '{column}';
                 INSERT INTO {tallies} (table_name, column_name, value, row_count)
                 SELECT '{name}', '{column}', CAST({column} AS TEXT), COUNT(*)
                 FROM {name} GROUP BY {column}"
            ))
            .await?;
        }
    }
    Ok(())
}

/// The rows of `table` whose `column` is `value`, when an import has tallied that column;
/// `None` when it has not (a database from before tallies), and the caller must count.
pub async fn rows(
    db: &Db,
    table: &str,
    column: &str,
    value: &str,
) -> Result<Option<u64>, sqlx::Error> {
    let mut tallied = Query::select();
    tallied
        .expr(Expr::val(1i64))
        .from(Alias::new(ROW_TALLIES.name))
        .and_where(Expr::col(Alias::new("table_name")).eq(table))
        .and_where(Expr::col(Alias::new("column_name")).eq(column))
        .limit(1);
    if db.fetch_i64(&tallied).await?.is_none() {
        return Ok(None);
    }
    let mut count = Query::select();
    count
        .column(Alias::new("row_count"))
        .from(Alias::new(ROW_TALLIES.name))
        .and_where(Expr::col(Alias::new("table_name")).eq(table))
        .and_where(Expr::col(Alias::new("column_name")).eq(column))
        .and_where(Expr::col(Alias::new("value")).eq(value));
    Ok(Some(
        db.fetch_i64(&count)
            .await?
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
    ))
}
