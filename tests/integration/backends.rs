//! The configured test services are really there: when CI sets the URL, the PostgreSQL half of
//! the suite must run, not quietly skip.

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::common;
use haresign::db::{Cell, Db};
use haresign::schema::Kind;

crate::trials! {
    postgres: [
        postgres_is_reachable_when_configured,
        a_failed_tests_schema_is_dropped,
    ],
}

async fn postgres_is_reachable_when_configured() {
    let app = common::TestApp::new(common::Backend::Postgres).await;
    assert_eq!(app.db.backend(), haresign::db::Backend::Postgres);
    assert_eq!(app.get("/api/v1/practices/").await.status, 200);
    app.finish().await;
}

/// A test that fails part-way, unwinding past its `finish`, still takes its schema with it.
async fn a_failed_tests_schema_is_dropped() {
    let app = common::TestApp::new(common::Backend::Postgres).await;
    let schema = app.schema().expect("a schema of its own").to_owned();
    let schemas = |db: Db, name: String| async move {
        let mut select = Query::select();
        select
            .expr(Expr::cust("count(*)"))
            .from((Alias::new("information_schema"), Alias::new("schemata")))
            .and_where(Expr::col(Alias::new("schema_name")).eq(name));
        let rows = db.fetch_cells(&select, &[Kind::Integer]).await.unwrap();
        rows[0][0].clone()
    };
    assert_eq!(schemas(app.db.clone(), schema.clone()).await, Cell::Int(1));
    let failed = tokio::spawn(async move {
        let _app = app;
        panic!("a failed assertion, on purpose");
    })
    .await;
    assert!(failed.is_err_and(|e| e.is_panic()));
    let admin = Db::connect(&std::env::var(common::PG_ENV).unwrap())
        .await
        .expect("postgres");
    assert_eq!(schemas(admin.clone(), schema).await, Cell::Int(0));
    admin.close().await;
}
