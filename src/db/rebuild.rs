//! Replacing every row of a derived table inside an import's transaction.
//!
//! In place, on either backend: the rows are deleted and the new ones inserted. Readers keep
//! the committed rows meanwhile (SQLite under write-ahead logging, PostgreSQL under MVCC).
//!
//! Beside, on PostgreSQL: the new rows go into a table of their own, which is indexed once they
//! are in and put in place of the served table just before the commit. Inserting into a table
//! with its indexes updates every index row by row: `list_sizes` (178k rows, seven indexes) took
//! 2.2-3.3 s that way, 1.8 s with each index built by one sort afterwards. It also leaves no
//! dead rows behind for `VACUUM`. Readers of the served table wait from the moment it is put in
//! place to the commit, not longer.
//!
//! A table is only built beside when that changes nothing else: the importing role owns it and
//! may create tables in its schema, nothing depends on it (a view, a foreign key, a
//! publication), and it has no index but those the catalogue declares, which the new table is
//! given under the same names. Otherwise it is rewritten in place.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Postgres, Transaction};

use super::Tx;
use super::ddl;
use crate::schema::Table;

/// SQLSTATE of a lock not granted within `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// How long putting the new tables in place waits for their readers' locks at each try. A
/// reader that holds one of them while it waits for another (one statement reading two
/// tables) would deadlock with a wait without limit; a short one lets it through.
const LOCK_WAIT: Duration = Duration::from_millis(200);
/// Tries before an import gives up taking its tables.
const LOCK_TRIES: u32 = 25;
/// The savepoint each try is made under.
const SAVEPOINT: &str = "haresign_swap";

/// A table built beside the one it replaces, waiting to be put in its place.
#[derive(Debug)]
pub struct Beside {
    table: &'static Table,
    /// Each index of the new table, under its name there and the name it takes in place.
    indexes: Vec<(String, String)>,
}

impl Beside {
    /// The table it replaces.
    pub fn table(&self) -> &'static Table {
        self.table
    }
}

/// The name the new rows of `table` are built under.
fn beside_name(table: &Table) -> String {
    format!("haresign_next_{}", table.name)
}

/// Renders `INSERT INTO into (…) select`, for rows with every column of `table` in order.
fn insert(into: &str, table: &Table, select: &str) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    format!("INSERT INTO {into} ({})\n{select}", columns.join(", "))
}

impl Tx {
    /// Replaces every row of `table` with those `select` returns (every column, in order).
    pub async fn replace_rows(&mut self, table: &Table, select: &str) -> Result<(), sqlx::Error> {
        self.execute_raw(&format!("DELETE FROM {}", table.name))
            .await?;
        self.execute_raw(&insert(table.name, table, select)).await?;
        Ok(())
    }

    /// As `replace_rows`, but on PostgreSQL the rows go into a new table, returned to be put in
    /// place by `put_in_place`, when `table` may be replaced whole (see the module's comment).
    /// `searched` are its columns with a search index.
    pub async fn replace_rows_beside(
        &mut self,
        table: &'static Table,
        select: &str,
        searched: &[&str],
    ) -> Result<Option<Beside>, sqlx::Error> {
        let Tx::Postgres(tx) = self else {
            self.replace_rows(table, select).await?;
            return Ok(None);
        };
        let Some(indexes) = replaceable(tx, table, searched).await? else {
            self.replace_rows(table, select).await?;
            return Ok(None);
        };
        let next = beside_name(table);
        let mut script = format!(
            "CREATE TABLE {next} (LIKE {});\n{};\n",
            table.name,
            insert(&next, table, select)
        );
        let mut built = Vec::new();
        for (i, index) in indexes.iter().enumerate() {
            let name = format!("{next}_{i}");
            script.push_str(&match index {
                Index::PrimaryKey => format!(
                    "ALTER TABLE {next} ADD CONSTRAINT {name} PRIMARY KEY ({});\n",
                    table.primary_key.join(", ")
                ),
                Index::Declared(columns) => {
                    format!("CREATE INDEX {name} ON {next} ({});\n", columns.join(", "))
                }
                Index::Search { column, schema } => {
                    format!(
                        "{};\n",
                        ddl::postgres_search_index(&name, &next, column, schema)
                    )
                }
            });
            built.push((name, index.name(table)));
        }
        sqlx::raw_sql(AssertSqlSafe(script))
            .execute(&mut **tx)
            .await?;
        copy_grants(tx, table, &next).await?;
        Ok(Some(Beside {
            table,
            indexes: built,
        }))
    }

    /// Puts the tables built by `replace_rows_beside` in place of those they replace.
    pub async fn put_in_place(&mut self, beside: &[Beside]) -> Result<(), sqlx::Error> {
        let Tx::Postgres(tx) = self else {
            debug_assert!(beside.is_empty(), "only PostgreSQL builds beside");
            return Ok(());
        };
        if beside.is_empty() {
            return Ok(());
        }
        let tables: Vec<&str> = beside.iter().map(|b| b.table.name).collect();
        lock(tx, &tables).await?;
        let mut script = String::new();
        for built in beside {
            let name = built.table.name;
            script.push_str(&format!(
                "DROP TABLE {name};\nALTER TABLE {} RENAME TO {name};\n",
                beside_name(built.table)
            ));
            for (from, to) in &built.indexes {
                script.push_str(&format!("ALTER INDEX {from} RENAME TO {to};\n"));
            }
        }
        sqlx::raw_sql(AssertSqlSafe(script))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// An index a table built beside is given.
enum Index {
    PrimaryKey,
    Declared(&'static [&'static str]),
    Search { column: String, schema: String },
}

impl Index {
    /// The name it has on the served table.
    fn name(&self, table: &Table) -> String {
        match self {
            Index::PrimaryKey => format!("{}_pkey", table.name),
            Index::Declared(columns) => ddl::index_name(table, columns),
            Index::Search { column, .. } => ddl::search_index_name(table.name, column),
        }
    }
}

/// The indexes a new `table` is given when it may be replaced whole; `None` when it may not.
async fn replaceable(
    tx: &mut Transaction<'static, Postgres>,
    table: &Table,
    searched: &[&str],
) -> Result<Option<Vec<Index>>, sqlx::Error> {
    if table.numbers_its_rows() {
        // Its numbering continues across imports, through a sequence the table owns.
        return Ok(None);
    }
    let free: Option<bool> = sqlx::query_scalar(
        "SELECT c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) \
             AND has_schema_privilege(c.relnamespace, 'CREATE') \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d \
                 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid \
                     AND d.deptype = 'n') \
             AND NOT EXISTS (SELECT 1 FROM pg_publication_rel p WHERE p.prrelid = c.oid) \
         FROM pg_class c WHERE c.oid = to_regclass($1)",
    )
    .bind(table.name)
    .fetch_optional(&mut **tx)
    .await?;
    if free != Some(true) {
        return Ok(None);
    }
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         WHERE x.indrelid = to_regclass($1)",
    )
    .bind(table.name)
    .fetch_all(&mut **tx)
    .await?;
    let schema = super::installed_pg_trgm_schema(&mut **tx).await?;
    let mut indexes = Vec::new();
    if !table.primary_key.is_empty() {
        indexes.push(Index::PrimaryKey);
    }
    indexes.extend(table.indexes.iter().map(|columns| Index::Declared(columns)));
    // A search index exists only where `pg_trgm` did when the table was migrated.
    for column in searched {
        let name = ddl::search_index_name(table.name, column);
        if let (true, Some(schema)) = (existing.contains(&name), &schema) {
            indexes.push(Index::Search {
                column: (*column).to_owned(),
                schema: schema.clone(),
            });
        }
    }
    let expected: Vec<String> = indexes.iter().map(|index| index.name(table)).collect();
    if existing.iter().any(|name| !expected.contains(name)) {
        return Ok(None);
    }
    Ok(Some(indexes))
}

/// Grants on `table` to roles other than its owner, granted again on `next`.
async fn copy_grants(
    tx: &mut Transaction<'static, Postgres>,
    table: &Table,
    next: &str,
) -> Result<(), sqlx::Error> {
    let grants: Vec<String> = sqlx::query_scalar(
        "SELECT format('GRANT %s ON %I TO %s%s', a.privilege_type, $2::text, \
             CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, \
             CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) \
         FROM pg_class c, aclexplode(c.relacl) a \
         WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner",
    )
    .bind(table.name)
    .bind(next)
    .fetch_all(&mut **tx)
    .await?;
    if !grants.is_empty() {
        sqlx::raw_sql(AssertSqlSafe(grants.join(";\n")))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Takes `tables` for the rest of the transaction, waiting `LOCK_WAIT` at a time.
async fn lock(tx: &mut Transaction<'static, Postgres>, tables: &[&str]) -> Result<(), sqlx::Error> {
    let run = |sql: String| sqlx::raw_sql(AssertSqlSafe(sql));
    run(format!(
        "SET LOCAL lock_timeout = {}",
        LOCK_WAIT.as_millis()
    ))
    .execute(&mut **tx)
    .await?;
    let mut tries = 0;
    loop {
        tries += 1;
        run(format!("SAVEPOINT {SAVEPOINT}"))
            .execute(&mut **tx)
            .await?;
        let locked = run(format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            tables.join(", ")
        ))
        .execute(&mut **tx)
        .await;
        match locked {
            Ok(_) => break,
            Err(sqlx::Error::Database(error))
                if error.code().as_deref() == Some(LOCK_NOT_AVAILABLE) && tries < LOCK_TRIES =>
            {
                // Gives back whichever of them it had taken.
                run(format!(
                    "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
                ))
                .execute(&mut **tx)
                .await?;
            }
            Err(error) => return Err(error),
        }
    }
    run(format!(
        "RELEASE SAVEPOINT {SAVEPOINT}; SET LOCAL lock_timeout TO DEFAULT"
    ))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
