//! `migrate` over a database made by older declarations: it adds missing tables, nullable
//! columns and indexes, keeping the rows there; it refuses any other difference, and a database
//! recorded by a newer version, changing nothing; run again, it changes nothing.

use std::process::Command;

use crate::common::{Backend, TestApp, TestDb};
use haresign::db::{Cell, Db, MigrateError, Step};
use haresign::import::run::Outcome;
use haresign::schema::{Kind, Table, col, opt};
use sea_query::{Alias, Expr, ExprTrait, Order, Query};

crate::trials! {
    each_backend: [
        missing_tables_columns_and_indexes_are_added_and_rows_kept,
        migrating_an_up_to_date_database_changes_nothing,
        the_service_tables_migrate_once,
        a_database_without_a_version_gets_one,
        a_not_null_addition_is_refused,
        a_type_change_is_refused,
        an_undeclared_column_is_refused,
        a_newer_recorded_version_is_refused,
        a_dropped_table_is_rebuilt_as_the_message_says,
    ],
    current_thread: [
        serve_refuses_a_database_that_differs,
        a_refusal_names_the_imports_that_refill_a_rebuilt_table,
    ],
}

/// `people` as an older haresign declared it.
static PEOPLE_V1: Table = Table {
    name: "people",
    columns: &[
        col("code", Kind::Text, "Code"),
        col("name", Kind::Text, "Name"),
    ],
    primary_key: &["code"],
    indexes: &[],
};

/// `people` with two nullable columns and two indexes more.
static PEOPLE_V2: Table = Table {
    name: "people",
    columns: &[
        col("code", Kind::Text, "Code"),
        col("name", Kind::Text, "Name"),
        opt("nickname", Kind::Text, "Nickname"),
        opt("born", Kind::Date, "Birth date"),
    ],
    primary_key: &["code"],
    indexes: &[&["name"], &["born"]],
};

/// A table the older declarations lacked.
static VISITS: Table = Table {
    name: "visits",
    columns: &[
        col("id", Kind::Integer, "Id"),
        col("code", Kind::Text, "Person"),
        opt("note", Kind::Text, "Note"),
    ],
    primary_key: &["id"],
    indexes: &[&["code"]],
};

/// `people` with a NOT NULL column more, which its rows would have no value for.
static PEOPLE_NOT_NULL: Table = Table {
    name: "people",
    columns: &[
        col("code", Kind::Text, "Code"),
        col("name", Kind::Text, "Name"),
        col("age", Kind::Integer, "Age"),
    ],
    primary_key: &["code"],
    indexes: &[],
};

/// `people` whose `name` became a number.
static PEOPLE_RETYPED: Table = Table {
    name: "people",
    columns: &[
        col("code", Kind::Text, "Code"),
        col("name", Kind::Integer, "Name"),
    ],
    primary_key: &["code"],
    indexes: &[],
};

async fn migrate(db: &Db, tables: &[&'static Table], version: i64) -> Vec<String> {
    db.migrate(tables, &[], version)
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"))
        .iter()
        .map(Step::to_string)
        .collect()
}

async fn refusal(db: &Db, tables: &[&'static Table], version: i64) -> MigrateError {
    match db.migrate(tables, &[], version).await {
        Ok(steps) => panic!("migrate was expected to refuse, but applied {steps:?}"),
        Err(error) => error,
    }
}

/// An older database: `people` at version 1, with two rows.
async fn older(backend: Backend) -> TestDb {
    let test = TestDb::new(backend).await;
    assert_eq!(
        migrate(&test.db, &[&PEOPLE_V1], 1).await,
        [
            "added table schema_version",
            "added table people",
            "recorded schema version 1"
        ]
    );
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("people"))
        .columns([Alias::new("code"), Alias::new("name")])
        .values_panic(["A1".into(), "Ada".into()])
        .values_panic(["B2".into(), "Bo".into()]);
    test.db.insert(&insert).await.expect("insert");
    test
}

async fn people(db: &Db) -> Vec<Vec<Cell>> {
    let mut select = Query::select();
    select
        .columns([
            Alias::new("code"),
            Alias::new("name"),
            Alias::new("nickname"),
            Alias::new("born"),
        ])
        .from(Alias::new("people"))
        .order_by(Alias::new("code"), Order::Asc);
    db.fetch_cells(&select, &[Kind::Text, Kind::Text, Kind::Text, Kind::Date])
        .await
        .expect("select people")
}

async fn versions(db: &Db) -> Vec<Vec<Cell>> {
    let mut select = Query::select();
    select
        .column(Alias::new("version"))
        .from(Alias::new("schema_version"))
        .order_by(Alias::new("version"), Order::Asc);
    db.fetch_cells(&select, &[Kind::Integer])
        .await
        .expect("select versions")
}

/// Whether the database holds an index of this name, asked of its catalogue directly.
async fn has_index(db: &Db, name: &str) -> bool {
    let mut select = Query::select();
    match db {
        Db::Sqlite { .. } => select
            .expr(Expr::val(1i64))
            .from(Alias::new("sqlite_master"))
            .and_where(Expr::col(Alias::new("type")).eq("index"))
            .and_where(Expr::col(Alias::new("name")).eq(name)),
        Db::Postgres(_) => select
            .expr(Expr::val(1i64))
            .from(Alias::new("pg_indexes"))
            .and_where(Expr::col(Alias::new("schemaname")).eq(Expr::cust("current_schema()")))
            .and_where(Expr::col(Alias::new("indexname")).eq(name)),
    };
    db.fetch_i64(&select).await.expect("index lookup").is_some()
}

async fn has_table(db: &Db, name: &str) -> bool {
    let mut select = Query::select();
    select.expr(Expr::val(1i64)).from(Alias::new(name)).limit(1);
    db.fetch_i64(&select).await.is_ok()
}

async fn missing_tables_columns_and_indexes_are_added_and_rows_kept(backend: Backend) {
    let test = older(backend).await;
    let db = &test.db;
    assert_eq!(
        migrate(db, &[&PEOPLE_V2, &VISITS], 2).await,
        [
            "added column people.nickname",
            "added column people.born",
            "added index people_name_idx on people (name)",
            "added index people_born_idx on people (born)",
            "added table visits",
            "recorded schema version 2",
        ],
        "{backend:?}"
    );
    let text = |s: &str| Cell::Text(s.to_owned());
    assert_eq!(
        people(db).await,
        [
            [text("A1"), text("Ada"), Cell::Null, Cell::Null],
            [text("B2"), text("Bo"), Cell::Null, Cell::Null],
        ],
        "{backend:?}"
    );
    for index in ["people_name_idx", "people_born_idx", "visits_code_idx"] {
        assert!(has_index(db, index).await, "{backend:?}: {index}");
    }
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("visits"))
        .columns([Alias::new("code"), Alias::new("note")])
        .values_panic(["A1".into(), "first".into()])
        .returning_col(Alias::new("id"));
    assert_eq!(db.insert_returning_id(&insert).await.expect("insert"), 1);
    assert_eq!(
        versions(db).await,
        [[Cell::Int(1)], [Cell::Int(2)]],
        "{backend:?}"
    );
    test.finish().await;
}

async fn migrating_an_up_to_date_database_changes_nothing(backend: Backend) {
    let test = older(backend).await;
    migrate(&test.db, &[&PEOPLE_V2, &VISITS], 2).await;
    let before = people(&test.db).await;
    assert!(
        migrate(&test.db, &[&PEOPLE_V2, &VISITS], 2)
            .await
            .is_empty(),
        "{backend:?}"
    );
    assert_eq!(people(&test.db).await, before, "{backend:?}");
    assert_eq!(versions(&test.db).await.len(), 2, "{backend:?}");
    test.finish().await;
}

/// The service's own declarations, search indexes included, migrate once and then never again:
/// SQLite's search tables and triggers and PostgreSQL's trigram indexes are no difference.
async fn the_service_tables_migrate_once(backend: Backend) {
    let app = TestApp::new(backend).await;
    let steps = haresign::migrate(&app.db).await.expect("migrate again");
    assert!(steps.is_empty(), "{backend:?}: {steps:?}");
    assert_eq!(
        versions(&app.db).await,
        [[Cell::Int(haresign::SCHEMA_VERSION)]]
    );
    app.finish().await;
}

/// A database made before versions were recorded gets its version recorded, nothing else.
async fn a_database_without_a_version_gets_one(backend: Backend) {
    let test = older(backend).await;
    let mut tx = test.db.begin().await.expect("begin");
    tx.execute_raw("DROP TABLE schema_version")
        .await
        .expect("drop");
    tx.commit().await.expect("commit");
    assert_eq!(
        migrate(&test.db, &[&PEOPLE_V1], 1).await,
        ["added table schema_version", "recorded schema version 1"],
        "{backend:?}"
    );
    test.finish().await;
}

/// A NOT NULL column cannot be added to rows that exist: refused, naming table and column, and
/// the additions that could be made are not made either.
async fn a_not_null_addition_is_refused(backend: Backend) {
    let test = older(backend).await;
    let error = refusal(&test.db, &[&PEOPLE_NOT_NULL, &VISITS], 2).await;
    let MigrateError::Differs { mismatches, .. } = &error else {
        panic!("{backend:?}: {error:?}");
    };
    assert_eq!(mismatches.len(), 1, "{backend:?}: {mismatches:?}");
    let message = error.to_string();
    assert!(
        message.contains("table people, column age: declared NOT NULL but missing from the table"),
        "{backend:?}: {message}"
    );
    assert!(message.contains("DROP TABLE people;"), "{message}");
    assert!(!has_table(&test.db, "visits").await, "{backend:?}");
    assert_eq!(versions(&test.db).await, [[Cell::Int(1)]], "{backend:?}");
    test.finish().await;
}

async fn a_type_change_is_refused(backend: Backend) {
    let test = older(backend).await;
    let message = refusal(&test.db, &[&PEOPLE_RETYPED], 2).await.to_string();
    let declared = match backend {
        Backend::Sqlite => "INTEGER",
        Backend::Postgres => "BIGINT",
    };
    let expected = format!("table people, column name: stored as TEXT, declared as {declared}");
    assert!(message.contains(&expected), "{backend:?}: {message}");
    let mut select = Query::select();
    select.column(Alias::new("name")).from(Alias::new("people"));
    let names = test.db.fetch_cells(&select, &[Kind::Text]).await;
    assert_eq!(names.expect("names").len(), 2, "{backend:?}");
    test.finish().await;
}

async fn an_undeclared_column_is_refused(backend: Backend) {
    let test = older(backend).await;
    migrate(&test.db, &[&PEOPLE_V2], 2).await;
    let message = refusal(&test.db, &[&PEOPLE_V1], 2).await.to_string();
    for expected in [
        "table people, column nickname: in the database but not declared",
        "table people, column born: in the database but not declared",
        "ALTER TABLE people DROP COLUMN nickname;",
    ] {
        assert!(message.contains(expected), "{backend:?}: {message}");
    }
    test.finish().await;
}

/// A database a newer haresign recorded is refused before anything is compared or changed.
async fn a_newer_recorded_version_is_refused(backend: Backend) {
    let test = older(backend).await;
    let error = refusal(&test.db, &[&PEOPLE_V2, &VISITS], 0).await;
    assert!(
        matches!(
            error,
            MigrateError::Newer {
                recorded: 1,
                known: 0
            }
        ),
        "{backend:?}: {error:?}"
    );
    assert!(
        error.to_string().contains("written by a newer haresign"),
        "{error}"
    );
    assert!(!has_table(&test.db, "visits").await, "{backend:?}");
    test.finish().await;

    let app = TestApp::new(backend).await;
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("schema_version"))
        .columns([Alias::new("version"), Alias::new("applied_at")])
        .values_panic([
            (haresign::SCHEMA_VERSION + 1).into(),
            chrono::Utc::now().into(),
        ]);
    app.db.insert(&insert).await.expect("insert");
    let error = haresign::migrate(&app.db).await.expect_err("refused");
    assert!(
        matches!(error, MigrateError::Newer { .. }),
        "{backend:?}: {error:?}"
    );
    app.finish().await;
}

/// `serve` migrates first: against a database that differs it exits with the message, without
/// serving and without a panic.
async fn serve_refuses_a_database_that_differs() {
    let test = TestDb::new(Backend::Sqlite).await;
    haresign::migrate(&test.db).await.expect("migrate");
    let mut tx = test.db.begin().await.expect("begin");
    tx.execute_raw("ALTER TABLE practices ADD COLUMN legacy TEXT")
        .await
        .expect("alter");
    tx.commit().await.expect("commit");
    let url = format!("sqlite://{}", test.dir.path().join("test.db").display());
    let output = Command::new(env!("CARGO_BIN_EXE_haresign"))
        .args(["--db", &url, "serve", "--bind", "127.0.0.1:0"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run haresign serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("table practices, column legacy: in the database but not declared"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ALTER TABLE practices DROP COLUMN legacy;"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    test.finish().await;
}

/// A table to rebuild is refilled by importing its sources again: the message names them.
async fn a_refusal_names_the_imports_that_refill_a_rebuilt_table() {
    let test = TestDb::new(Backend::Sqlite).await;
    haresign::migrate(&test.db).await.expect("migrate");
    let mut tx = test.db.begin().await.expect("begin");
    tx.execute_raw(
        "DROP TABLE nwrs_snapshots; \
         CREATE TABLE nwrs_snapshots (snapshot TEXT NOT NULL, practice_count BIGINT NOT NULL)",
    )
    .await
    .expect("recreate without its key");
    tx.commit().await.expect("commit");
    let message = haresign::migrate(&test.db)
        .await
        .expect_err("refused")
        .to_string();
    for expected in [
        "DROP TABLE nwrs_snapshots;",
        "(`haresign import nwrs <files>`)",
        "DELETE FROM imports WHERE source IN ('nwrs');",
    ] {
        assert!(message.contains(expected), "{expected:?} in:\n{message}");
    }
    test.finish().await;
}

/// The rebuild the refusal message describes, followed to the letter: the dropped table is
/// created again with its search index emptied, and a new import of its source fills both.
async fn a_dropped_table_is_rebuilt_as_the_message_says(backend: Backend) {
    let app = TestApp::new(backend).await;
    app.import("epraccur", &["api/epraccur.csv"])
        .await
        .expect("epraccur");
    let before = app.get("/api/v1/practices/?search=elm").await.json();
    assert!(before["count"].as_u64() > Some(0), "{before}");

    let mut tx = app.db.begin().await.expect("begin");
    tx.execute_raw("DROP TABLE practices").await.expect("drop");
    tx.commit().await.expect("commit");
    let steps = haresign::migrate(&app.db).await.expect("migrate");
    let steps: Vec<String> = steps.iter().map(Step::to_string).collect();
    assert_eq!(steps, ["added table practices"], "{backend:?}");
    if backend == Backend::Sqlite {
        // With a rank of 1, FTS5 checks its index against the table it indexes.
        let mut tx = app.db.begin().await.expect("begin");
        tx.execute_raw(
            "INSERT INTO practices_search_text_trgm(practices_search_text_trgm, rank) \
             VALUES ('integrity-check', 1)",
        )
        .await
        .expect("the search index matches the empty table");
        tx.commit().await.expect("commit");
    }

    assert!(matches!(
        app.import("epraccur", &["api/epraccur.csv"]).await,
        Ok(Outcome::Unchanged)
    ));
    let mut tx = app.db.begin().await.expect("begin");
    tx.execute_raw("DELETE FROM imports WHERE source = 'epraccur'")
        .await
        .expect("forget imports");
    tx.commit().await.expect("commit");
    assert!(matches!(
        app.import("epraccur", &["api/epraccur.csv"]).await,
        Ok(Outcome::Imported { .. })
    ));
    let after = app.get("/api/v1/practices/?search=elm").await.json();
    assert_eq!(after, before, "{backend:?}");
    app.finish().await;
}
