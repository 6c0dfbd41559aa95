//! Derived tables replaced whole by an import: on PostgreSQL built beside the served table and
//! put in its place at the commit, unless something else depends on the table as it is.

use std::sync::atomic::{AtomicBool, Ordering};

use sea_query::{Expr, Query};

use crate::common::{self, Backend, TestApp, TestRole};
use haresign::db::{Cell, Db};
use haresign::schema::Kind;

crate::trials! {
    each_backend: [
        a_rebuilt_table_serves_its_new_rows_to_a_running_app,
    ],
    postgres: [
        a_table_built_beside_keeps_its_indexes_grants_and_names,
        a_searched_table_built_beside_keeps_its_search_index,
        a_table_something_depends_on_is_rewritten_in_place,
        an_import_waits_for_a_reader_of_a_table_it_replaces,
    ],
}

/// The ODS practices and the registrations map with one month of list sizes.
async fn first_month(app: &TestApp) {
    app.import("epraccur", &["api/epraccur.csv"])
        .await
        .expect("epraccur");
    app.import(
        "registrations",
        &[
            "api/gp-reg-pat-prac-map.csv",
            "api/gp-reg-pat-prac-quin-age-2025-03.csv",
        ],
    )
    .await
    .expect("registrations");
}

async fn next_month(app: &TestApp) {
    app.import(
        "registrations",
        &["api/gp-reg-pat-prac-quin-age-2025-04.csv"],
    )
    .await
    .expect("registrations");
}

/// The one value `expression` selects, through `db`.
async fn scalar(db: &Db, expression: &str, kind: Kind) -> Cell {
    let mut select = Query::select();
    select.expr(Expr::cust(expression.to_owned()));
    db.fetch_cells(&select, &[kind]).await.expect("select")[0][0].clone()
}

async fn table_oid(app: &TestApp) -> Cell {
    scalar(
        &app.db,
        "CAST(CAST(to_regclass('list_sizes') AS oid) AS BIGINT)",
        Kind::Integer,
    )
    .await
}

/// The months the served list sizes hold.
async fn months(app: &TestApp) -> Vec<String> {
    let mut months = Vec::new();
    for month in ["2025-03", "2025-04"] {
        let body = app
            .get_ok(&format!(
                "/api/v1/list-sizes/?month={month}&org_type=national"
            ))
            .await;
        if body["count"] == 1 {
            months.push(month.to_owned());
        }
    }
    months
}

/// The app has asked for list sizes (and so prepared its statements) before the import
/// replaces the table; it answers from the new table afterwards.
async fn a_rebuilt_table_serves_its_new_rows_to_a_running_app(backend: Backend) {
    with_app!(backend, |app| {
        first_month(&app).await;
        assert_eq!(months(&app).await, ["2025-03"]);
        next_month(&app).await;
        assert_eq!(months(&app).await, ["2025-03", "2025-04"]);
        let practices = app
            .get_ok("/api/v1/list-sizes/?month=2025-04&org_type=practice")
            .await;
        assert_eq!(practices["count"], 6, "{practices}");
    });
}

async fn a_table_built_beside_keeps_its_indexes_grants_and_names() {
    let app = TestApp::new(Backend::Postgres).await;
    first_month(&app).await;
    let role = TestRole::create(&format!("{}_reader", app.schema().expect("schema"))).await;
    let role = &role.name;
    let mut tx = app.db.begin().await.unwrap();
    tx.execute_raw(&format!("GRANT SELECT ON list_sizes TO {role}"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let indexes = "(SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
                   WHERE schemaname = current_schema() AND tablename = 'list_sizes')";
    let before = (
        table_oid(&app).await,
        scalar(&app.db, indexes, Kind::Text).await,
    );

    next_month(&app).await;

    let after = (
        table_oid(&app).await,
        scalar(&app.db, indexes, Kind::Text).await,
    );
    assert_ne!(after.0, before.0, "the table was not built anew");
    assert_eq!(after.1, before.1);
    assert_eq!(
        after.1,
        Cell::Text(
            "list_sizes_icb_code_month_idx,list_sizes_org_code_month_idx,\
             list_sizes_org_type_month_idx,list_sizes_pcn_code_month_idx,list_sizes_pkey,\
             list_sizes_region_code_month_idx,list_sizes_sub_icb_code_month_idx"
                .into()
        )
    );
    let granted = format!("has_table_privilege('{role}', to_regclass('list_sizes'), 'SELECT')");
    assert_eq!(
        scalar(&app.db, &granted, Kind::Boolean).await,
        Cell::Bool(true)
    );
    let primary_key = "(SELECT conname::text FROM pg_constraint \
                       WHERE conrelid = to_regclass('list_sizes') AND contype = 'p')";
    assert_eq!(
        scalar(&app.db, primary_key, Kind::Text).await,
        Cell::Text("list_sizes_pkey".into())
    );
    let leftovers = "(SELECT count(*) FROM pg_class \
                     WHERE relnamespace = current_schema()::regnamespace \
                       AND relname LIKE 'haresign_next%')";
    assert_eq!(
        scalar(&app.db, leftovers, Kind::Integer).await,
        Cell::Int(0)
    );
    assert!(
        haresign::migrate(&app.db).await.unwrap().is_empty(),
        "the new table is as declared"
    );
    assert_eq!(months(&app).await, ["2025-03", "2025-04"]);
    app.finish().await;
}

/// `gp_contract_practices` is searched: its new table gets the trigram index under the same name,
/// and a search still finds a practice through it.
async fn a_searched_table_built_beside_keeps_its_search_index() {
    let app = TestApp::new(Backend::Postgres).await;
    app.import_ods().await;
    let oid = "CAST(CAST(to_regclass('gp_contract_practices') AS oid) AS BIGINT)";
    let indexes = "(SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
                   WHERE schemaname = current_schema() AND tablename = 'gp_contract_practices')";
    app.import(
        "gp-contract",
        &["gp_contract/Core_GP_Contract_2324_csv_files.zip"],
    )
    .await
    .expect("gp contract");
    let before = (
        scalar(&app.db, oid, Kind::Integer).await,
        scalar(&app.db, indexes, Kind::Text).await,
    );
    app.import(
        "gp-contract",
        &["gp_contract/Core GP Contract Q2 2023-24 v2.csv"],
    )
    .await
    .expect("reissue");
    assert_ne!(scalar(&app.db, oid, Kind::Integer).await, before.0);
    let after = scalar(&app.db, indexes, Kind::Text).await;
    assert_eq!(after, before.1);
    let Cell::Text(names) = after else {
        panic!("{after:?}")
    };
    assert!(
        names.contains("gp_contract_practices_search_text_trgm"),
        "{names}"
    );
    let found = app
        .get_ok("/api/v1/gp-contract/practices/?search=a81001")
        .await;
    assert_eq!(found["count"], 1, "{found}");
    app.finish().await;
}

/// A view over the table and an index of the operator's own would be lost with the table: the
/// rows are replaced in it instead.
async fn a_table_something_depends_on_is_rewritten_in_place() {
    let app = TestApp::new(Backend::Postgres).await;
    first_month(&app).await;
    let mut tx = app.db.begin().await.unwrap();
    tx.execute_raw(
        "CREATE VIEW national_sizes AS SELECT month, total FROM list_sizes \
         WHERE org_type = 'national'",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let before = table_oid(&app).await;
    next_month(&app).await;
    assert_eq!(table_oid(&app).await, before);
    let national = "(SELECT count(*) FROM national_sizes)";
    assert_eq!(scalar(&app.db, national, Kind::Integer).await, Cell::Int(2));

    let mut tx = app.db.begin().await.unwrap();
    tx.execute_raw("DROP VIEW national_sizes; CREATE INDEX my_totals ON list_sizes (total)")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.import(
        "registrations",
        &["api/gp-reg-pat-prac-quin-age-2025-05.csv"],
    )
    .await
    .expect("registrations");
    assert_eq!(table_oid(&app).await, before);
    let mine = "(SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() \
                AND indexname = 'my_totals')";
    assert_eq!(scalar(&app.db, mine, Kind::Integer).await, Cell::Int(1));
    app.finish().await;
}

/// A reader in the middle of a transaction on `list_sizes` holds the table: the import waits
/// for it, giving up its own wait and trying again while the reader holds on, rather than
/// failing or taking the table from under it.
async fn an_import_waits_for_a_reader_of_a_table_it_replaces() {
    let app = TestApp::new(Backend::Postgres).await;
    first_month(&app).await;
    let reader_db = Db::connect_in_schema(
        &std::env::var(common::PG_ENV).unwrap(),
        Some(app.schema().unwrap()),
    )
    .await
    .unwrap();
    let mut reader = reader_db.begin().await.unwrap();
    reader
        .execute_raw("SELECT count(*) FROM list_sizes")
        .await
        .unwrap();
    let finished = AtomicBool::new(false);
    let importing = async {
        let source = haresign::catalogue::source("registrations").unwrap();
        let paths = [common::fixture("api/gp-reg-pat-prac-quin-age-2025-04.csv")];
        let imported = haresign::import::run::import(&app.db, source, &paths, false).await;
        finished.store(true, Ordering::SeqCst);
        imported
    };
    // When the statement waiting for this test's `list_sizes` started: each try is a statement.
    let waiting_since = "(SELECT CAST(EXTRACT(EPOCH FROM a.query_start) * 1000000 AS BIGINT) \
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                         WHERE l.relation = to_regclass('list_sizes') \
                           AND l.mode = 'AccessExclusiveLock' AND NOT l.granted LIMIT 1)";
    let releasing = async {
        let mut tries = std::collections::BTreeSet::new();
        while tries.len() < 2 {
            assert!(
                !finished.load(Ordering::SeqCst),
                "the import finished without waiting for the reader"
            );
            if let Cell::Int(started) = scalar(&app.db, waiting_since, Kind::Integer).await {
                tries.insert(started);
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        reader.commit().await.unwrap();
    };
    let (imported, ()) = tokio::join!(importing, releasing);
    imported.expect("the import, once the reader is done");
    assert_eq!(months(&app).await, ["2025-03", "2025-04"]);
    reader_db.close().await;
    app.finish().await;
}
