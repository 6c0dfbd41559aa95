//! Bulk loading inside an import's transaction, by column name: a row type names its fields as
//! the columns they fill (`table_row!`), and a loader refuses a row type whose names do not fit
//! the table, so a value can never land in another column.

use std::marker::PhantomData;

use indicatif::ProgressBar;
use sea_query::{Alias, OnConflict, Query, SimpleExpr, Value};

use super::{MAX_PARAMS, Tx};
use crate::schema::Table;

/// A row of some table's columns, named by its fields. Declare one with [`table_row!`].
pub trait TableRow {
    /// The columns the row fills, in the order of `into_values`.
    const COLUMNS: &'static [&'static str];
    fn into_values(self) -> Vec<Value>;
}

/// Declares a struct whose fields are named as the columns they fill, and its [`TableRow`].
#[macro_export]
macro_rules! table_row {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        $vis struct $name {
            $(pub $field: $ty,)*
        }

        impl $crate::db::TableRow for $name {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn into_values(self) -> Vec<sea_query::Value> {
                vec![$(self.$field.into()),*]
            }
        }
    };
}

/// Buffers rows and writes them in multi-row statements.
pub struct Loader<'t, R: TableRow> {
    tx: &'t mut Tx,
    table: &'static Table,
    batch: usize,
    pending: Vec<Vec<Value>>,
    loaded: u64,
    on_conflict: Option<OnConflict>,
    progress: Option<ProgressBar>,
    rows: PhantomData<R>,
}

impl Tx {
    /// Loads rows of type `R` into `table`. Refused, in every build, when `R` names a column
    /// `table` does not have or leaves out one that may not be null (a serial `id` excepted).
    pub fn loader<R: TableRow>(
        &mut self,
        table: &'static Table,
    ) -> Result<Loader<'_, R>, sqlx::Error> {
        if let Some(unknown) = R::COLUMNS.iter().find(|c| table.column(c).is_none()) {
            return Err(sqlx::Error::ColumnNotFound(format!(
                "{}.{unknown}: the table has no such column",
                table.name
            )));
        }
        let serial = table.numbers_its_rows();
        let filled = |name: &str| R::COLUMNS.contains(&name) || serial && name == "id";
        if let Some(missing) = table
            .columns
            .iter()
            .find(|c| !(c.nullable || filled(c.name)))
        {
            return Err(sqlx::Error::ColumnNotFound(format!(
                "{}.{}: the column may not be null but the row does not fill it",
                table.name, missing.name
            )));
        }
        let batch = (MAX_PARAMS / R::COLUMNS.len().max(1)).clamp(1, 1000);
        Ok(Loader {
            tx: self,
            table,
            batch,
            pending: Vec::with_capacity(batch),
            loaded: 0,
            on_conflict: None,
            progress: None,
            rows: PhantomData,
        })
    }
}

impl<R: TableRow> Loader<'_, R> {
    /// What to do with a row whose key is already in the table (portable `ON CONFLICT`); rows
    /// skipped by `DO NOTHING` are not counted as loaded.
    pub fn on_conflict(mut self, on_conflict: OnConflict) -> Self {
        self.on_conflict = Some(on_conflict);
        self
    }

    /// Advances `progress` by the rows written.
    pub fn counting(mut self, progress: ProgressBar) -> Self {
        self.progress = Some(progress);
        self
    }

    pub async fn push(&mut self, row: R) -> Result<(), sqlx::Error> {
        self.pending.push(row.into_values());
        if self.pending.len() >= self.batch {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Some(progress) = &self.progress {
            progress.inc(self.pending.len() as u64);
        }
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(self.table.name))
            .columns(R::COLUMNS.iter().map(|c| Alias::new(*c)));
        for row in self.pending.drain(..) {
            // Every row has the row type's width, so this cannot fail.
            insert
                .values(row.into_iter().map(SimpleExpr::from))
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        }
        if let Some(on_conflict) = &self.on_conflict {
            insert.on_conflict(on_conflict.clone());
        }
        self.loaded += self.tx.insert(&insert).await?;
        Ok(())
    }

    /// Writes what is buffered and returns the number of rows loaded.
    pub async fn finish(mut self) -> Result<u64, sqlx::Error> {
        self.flush().await?;
        Ok(self.loaded)
    }
}

#[cfg(test)]
mod tests {
    use sea_query::{Expr, ExprTrait, Func, Query};

    use super::*;
    use crate::db::Db;
    use crate::schema::{Kind, col, opt};

    static PEOPLE: Table = Table {
        name: "people",
        columns: &[
            col("name", Kind::Text, "Name"),
            opt("age", Kind::Integer, "Age"),
        ],
        primary_key: &["name"],
        indexes: &[],
    };

    crate::table_row! {
        struct Person {
            age: Option<i64>,
            name: String,
        }
    }

    crate::table_row! {
        struct Misnamed {
            name: String,
            years: Option<i64>,
        }
    }

    crate::table_row! {
        struct Nameless {
            age: Option<i64>,
        }
    }

    async fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("load.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate(&[&PEOPLE], &[], 1).await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn fields_fill_the_columns_they_are_named_after() {
        let (_dir, db) = database().await;
        let mut tx = db.begin().await.unwrap();
        let mut loader = tx.loader::<Person>(&PEOPLE).unwrap();
        for (name, age) in [("Ada", Some(36)), ("Alan", None)] {
            let name = name.to_owned();
            loader.push(Person { age, name }).await.unwrap();
        }
        assert_eq!(loader.finish().await.unwrap(), 2);
        tx.commit().await.unwrap();
        let mut ages = Query::select();
        ages.expr(Func::sum(Expr::col("age")))
            .from("people")
            .and_where(Expr::col("name").eq("Ada"));
        assert_eq!(db.fetch_i64(&ages).await.unwrap(), Some(36));
    }

    #[tokio::test]
    async fn a_row_type_that_does_not_fit_the_table_is_refused() {
        let (_dir, db) = database().await;
        let mut tx = db.begin().await.unwrap();
        let unknown = tx.loader::<Misnamed>(&PEOPLE).err().unwrap().to_string();
        assert!(unknown.contains("people.years"), "{unknown}");
        let missing = tx.loader::<Nameless>(&PEOPLE).err().unwrap().to_string();
        assert!(missing.contains("people.name"), "{missing}");
    }
}
