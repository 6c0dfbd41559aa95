//! The configured test services are really there: when CI sets the URL, the PostgreSQL half of
//! the suite must run, not quietly skip.

use crate::common;

crate::trials! {
    postgres: [
        postgres_is_reachable_when_configured,
    ],
}

async fn postgres_is_reachable_when_configured() {
    let app = common::TestApp::new(common::Backend::Postgres).await;
    assert_eq!(app.db.backend(), haresign::db::Backend::Postgres);
    assert_eq!(app.get("/api/v1/practices/").await.status, 200);
    app.finish().await;
}
