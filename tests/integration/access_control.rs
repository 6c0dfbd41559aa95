//! Key lifecycle, scopes, throttling (DRF's algorithm and messages, atomic, shared through
//! Redis) and usage, over the real router.

use std::sync::Arc;

use axum::http::Method;
use chrono::{Duration, Utc};

use crate::common::{Backend, TestApp};
use haresign::api::app::Settings;
use haresign::keys::{self, NewKey};
use haresign::throttle::{Clock, MemoryStore, Rate, RedisStore, RedisStoreConfig, ThrottleStore};

crate::trials! {
    each_backend: [
        every_key_state_has_its_status_and_body,
        a_key_outside_its_scope_is_forbidden,
        the_throttle_trace_of_the_contract_step_by_step,
        throttling_sits_where_drf_puts_it_in_the_pipeline,
        usage_is_counted_per_key_per_day,
        readiness_needs_the_database_this_schema_and_data,
    ],
    current_thread: [
        redis_down_keeps_serving_and_counts_it,
        anonymous_callers_of_public_endpoints_are_throttled_per_address,
        health_reports_the_database_and_throttle_fail_opens,
    ],
    multi_thread: [
        concurrent_requests_admit_exactly_the_limit_in_memory,
    ],
    redis_multi_thread: [
        two_nodes_on_one_redis_share_one_budget_exactly,
    ],
}

const INACTIVE: &str = r#"{"detail":"User inactive or deleted."}"#;

fn rate(s: &str) -> Rate {
    s.parse().unwrap()
}

async fn key_with(app: &TestApp, new: NewKey) -> String {
    keys::create(&app.db, &new).await.unwrap()
}

async fn every_key_state_has_its_status_and_body(backend: Backend) {
    with_app!(backend, |app| {
        let expired = key_with(
            &app,
            NewKey {
                expires_at: Some(Utc::now() - Duration::seconds(1)),
                ..NewKey::named("expired")
            },
        )
        .await;
        let response = app.get_with_key("/api/v1/practices/", &expired).await;
        assert_eq!(
            (response.status.as_u16(), response.text().as_str()),
            (401, INACTIVE)
        );

        let current = key_with(
            &app,
            NewKey {
                expires_at: Some(Utc::now() + Duration::days(1)),
                email: Some("team@example.nhs.uk".to_owned()),
                ..NewKey::named("current")
            },
        )
        .await;
        assert_eq!(
            app.get_with_key("/api/v1/practices/", &current)
                .await
                .status,
            200
        );

        let revoked = key_with(&app, NewKey::named("revoked")).await;
        let prefix = &revoked[..keys::DISPLAY_PREFIX_LEN];
        assert!(keys::set_active(&app.db, prefix, false).await.unwrap());
        let response = app.get_with_key("/api/v1/practices/", &revoked).await;
        assert_eq!(
            (response.status.as_u16(), response.text().as_str()),
            (401, INACTIVE)
        );
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));

        let record = keys::show(&app.db, prefix).await.unwrap().unwrap();
        assert!(!record.is_active);
        assert_eq!(record.name, "revoked");

        // Reactivation and rotation are seen by a server that has not cached the key.
        assert!(keys::set_active(&app.db, prefix, true).await.unwrap());
        let fresh = TestApp::new(app.backend).await;
        let rotated_from = key_with(&fresh, NewKey::named("rotating")).await;
        let rotated = keys::rotate(&fresh.db, &rotated_from[..keys::DISPLAY_PREFIX_LEN])
            .await
            .unwrap()
            .unwrap();
        assert_ne!(rotated, rotated_from);
        let response = fresh
            .get_with_key("/api/v1/practices/", &rotated_from)
            .await;
        assert_eq!(response.text(), r#"{"detail":"Invalid token."}"#);
        assert_eq!(
            fresh
                .get_with_key("/api/v1/practices/", &rotated)
                .await
                .status,
            200
        );
        let records = keys::list(&fresh.db).await.unwrap();
        assert_eq!(records.iter().filter(|r| r.name == "rotating").count(), 1);
        fresh.finish().await;

        let other = TestApp::new(app.backend).await;
        let reactivated = keys::create(&other.db, &NewKey::named("back"))
            .await
            .unwrap();
        let p = &reactivated[..keys::DISPLAY_PREFIX_LEN];
        keys::set_active(&other.db, p, false).await.unwrap();
        keys::set_active(&other.db, p, true).await.unwrap();
        assert_eq!(
            other
                .get_with_key("/api/v1/practices/", &reactivated)
                .await
                .status,
            200
        );
        other.finish().await;
    });
}

async fn a_key_outside_its_scope_is_forbidden(backend: Backend) {
    with_app!(backend, |app| {
        let scoped = key_with(
            &app,
            NewKey {
                scopes: vec!["workforce".to_owned()],
                ..NewKey::named("workforce only")
            },
        )
        .await;
        let response = app.get_with_key("/api/v1/practices/", &scoped).await;
        assert_eq!(response.status, 403);
        assert_eq!(
            response.text(),
            r#"{"detail":"You do not have permission to perform this action."}"#
        );
        assert_eq!(response.header("www-authenticate"), None);
        let allowed = key_with(
            &app,
            NewKey {
                scopes: vec!["workforce".to_owned(), "organisations".to_owned()],
                ..NewKey::named("both")
            },
        )
        .await;
        assert_eq!(
            app.get_with_key("/api/v1/pcns/", &allowed).await.status,
            200
        );
    });
}

async fn the_throttle_trace_of_the_contract_step_by_step(backend: Backend) {
    let clock = Clock::manual(1000.0);
    let app = TestApp::build(
        backend,
        Settings::default(),
        Arc::new(MemoryStore::new()),
        clock.clone(),
    )
    .await;
    let key = key_with(
        &app,
        NewKey {
            rate: Some(rate("3/min")),
            ..NewKey::named("three a minute")
        },
    )
    .await;
    for t in [1000.0, 1010.0, 1020.0] {
        clock.set(t);
        assert_eq!(
            app.get_with_key("/api/v1/practices/", &key).await.status,
            200,
            "t={t}"
        );
    }
    clock.set(1030.0);
    let response = app.get_with_key("/api/v1/practices/", &key).await;
    assert_eq!(response.status, 429);
    assert_eq!(
        response.text(),
        r#"{"detail":"Request was throttled. Expected available in 30 seconds."}"#
    );
    assert_eq!(response.header("retry-after"), Some("30"));
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    clock.set(1059.5);
    let response = app.get_with_key("/api/v1/practices/", &key).await;
    assert_eq!(
        response.text(),
        r#"{"detail":"Request was throttled. Expected available in 1 second."}"#
    );
    assert_eq!(response.header("retry-after"), Some("1"));
    clock.set(1060.0);
    assert_eq!(
        app.get_with_key("/api/v1/practices/", &key).await.status,
        200
    );
    app.finish().await;
}

async fn throttling_sits_where_drf_puts_it_in_the_pipeline(backend: Backend) {
    let clock = Clock::manual(5000.0);
    let app = TestApp::build(
        backend,
        Settings::default(),
        Arc::new(MemoryStore::new()),
        clock.clone(),
    )
    .await;
    let key = key_with(
        &app,
        NewKey {
            rate: Some(rate("2/hour")),
            ..NewKey::named("two an hour")
        },
    )
    .await;
    // Rejected before throttling (content negotiation, bad credentials): not counted.
    let response = app
        .get_anonymous(
            "/api/v1/practices/",
            &[
                ("authorization", format!("Bearer {key}").as_bytes()),
                ("accept", b"text/html"),
            ],
        )
        .await;
    assert_eq!(response.status, 406);
    // A 405 and a 404 Invalid page are counted, like DRF.
    let request = axum::http::Request::builder()
        .method(Method::DELETE)
        .uri("/api/v1/practices/")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, 405);
    assert_eq!(
        app.get_with_key("/api/v1/practices/?page=9", &key)
            .await
            .status,
        404
    );
    let response = app.get_with_key("/api/v1/practices/", &key).await;
    assert_eq!(response.status, 429);
    assert_eq!(response.header("retry-after"), Some("3600"));
    // The test key has the default rate and its own budget.
    assert_eq!(app.get("/api/v1/practices/").await.status, 200);
    app.finish().await;
}

/// Fires `n` concurrent requests and counts the 200s and 429s.
async fn burst(routers: &[axum::Router], key: &str, n: usize) -> (usize, usize) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let router = routers[i % routers.len()].clone();
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let request = axum::http::Request::builder()
                .uri("/api/v1/pcns/")
                .header("host", "testserver")
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(request).await.unwrap().status().as_u16()
        }));
    }
    let mut ok = 0;
    let mut throttled = 0;
    for task in tasks {
        match task.await.unwrap() {
            200 => ok += 1,
            429 => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    (ok, throttled)
}

async fn concurrent_requests_admit_exactly_the_limit_in_memory() {
    let app = TestApp::new(Backend::Sqlite).await;
    let key = key_with(
        &app,
        NewKey {
            rate: Some(rate("25/hour")),
            ..NewKey::named("burst")
        },
    )
    .await;
    assert_eq!(
        burst(std::slice::from_ref(&app.router), &key, 100).await,
        (25, 75)
    );
    app.finish().await;
}

fn redis_store(url: &str, namespace: &str) -> Arc<dyn ThrottleStore> {
    Arc::new(
        RedisStore::with_config(
            url,
            RedisStoreConfig {
                key_prefix: format!("haresign-test:{namespace}:"),
                ..Default::default()
            },
        )
        .unwrap(),
    )
}

fn namespace() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

async fn two_nodes_on_one_redis_share_one_budget_exactly(url: String) {
    let ns = namespace();
    let first = TestApp::build(
        Backend::Sqlite,
        Settings::default(),
        redis_store(&url, &ns),
        Clock::manual(1000.0),
    )
    .await;
    // The second node serves the same database with its own process state.
    let second = first.another_node(redis_store(&url, &ns));
    let key = key_with(
        &first,
        NewKey {
            rate: Some(rate("30/hour")),
            ..NewKey::named("shared")
        },
    )
    .await;
    assert_eq!(
        burst(&[first.router.clone(), second], &key, 120).await,
        (30, 90)
    );
    first.finish().await;
}

async fn redis_down_keeps_serving_and_counts_it() {
    let store: Arc<dyn ThrottleStore> = Arc::new(RedisStore::new("redis://127.0.0.1:1").unwrap());
    let app = TestApp::build(Backend::Sqlite, Settings::default(), store, Clock::system()).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/practices/").await.status, 200);
    }
    assert_eq!(app.state.throttle.fail_open_count(), 3);
    app.finish().await;
}

async fn usage_is_counted_per_key_per_day(backend: Backend) {
    with_app!(backend, |app| {
        for _ in 0..3 {
            app.get("/api/v1/practices/").await;
        }
        app.get("/api/v1/nope/").await;
        app.state.usage.flush(&app.db).await.unwrap();
        app.get("/api/v1/pcns/").await;
        app.state.usage.flush(&app.db).await.unwrap();
        let rows = haresign::usage::usage(&app.db, Some(&app.key[..keys::DISPLAY_PREFIX_LEN]))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].requests, 4);
        assert_eq!(rows[0].day, Utc::now().date_naive());
        assert_eq!(rows[0].name, "test");
        let record = keys::show(&app.db, &app.key[..keys::DISPLAY_PREFIX_LEN])
            .await
            .unwrap()
            .unwrap();
        assert!(record.last_used_at.is_some());
        assert!(
            haresign::usage::usage(&app.db, Some("hs_nothing"))
                .await
                .unwrap()
                .is_empty()
        );
    });
}

async fn anonymous_callers_of_public_endpoints_are_throttled_per_address() {
    let settings = Settings {
        anon_rate: rate("2/minute"),
        num_proxies: 1,
        ..Settings::default()
    };
    let app = TestApp::build(
        Backend::Sqlite,
        settings,
        Arc::new(MemoryStore::new()),
        Clock::manual(100.0),
    )
    .await;
    let from = |xff: &'static str| {
        let app = &app;
        async move {
            app.get_anonymous("/api/v1/", &[("x-forwarded-for", xff.as_bytes())])
                .await
        }
    };
    assert_eq!(from("203.0.113.9").await.status, 200);
    assert_eq!(from("203.0.113.9").await.status, 200);
    let third = from("203.0.113.9").await;
    assert_eq!(third.status, 429);
    assert_eq!(third.header("retry-after"), Some("60"));
    // Behind one proxy the address it appended is the client's; what the client sent is not.
    assert_eq!(from("198.51.100.1, 203.0.113.9").await.status, 429);
    assert_eq!(from("198.51.100.1").await.status, 200);
    assert_eq!(from("203.0.113.9 , 198.51.100.1").await.status, 200);
    assert_eq!(from("198.51.100.1").await.status, 429);
    // A key is throttled on its own budget, not its address's.
    assert_eq!(app.get("/api/v1/").await.status, 200);
    app.finish().await;
}

async fn health_reports_the_database_and_throttle_fail_opens() {
    let store: Arc<dyn ThrottleStore> = Arc::new(RedisStore::new("redis://127.0.0.1:1").unwrap());
    let app = TestApp::build(Backend::Sqlite, Settings::default(), store, Clock::system()).await;
    let health = app.get_anonymous("/healthz", &[]).await;
    assert_eq!(health.status, 200);
    assert_eq!(
        health.json(),
        serde_json::json!({"status": "ok", "database": "ok", "throttle_fail_open_total": 0})
    );
    app.get("/api/v1/pcns/").await;
    assert_eq!(
        app.get_anonymous("/healthz", &[]).await.json()["throttle_fail_open_total"],
        1
    );
    let head = app.request(Method::HEAD, "/healthz", &[]).await;
    assert_eq!(head.status, 200);
    let post = app.request(Method::POST, "/healthz", &[]).await;
    assert_eq!(post.status, 405);
    assert_eq!(post.headers["allow"], "GET, HEAD");
    assert_eq!(
        post.json(),
        serde_json::json!({"detail": "Method \"POST\" not allowed."})
    );
    app.finish().await;
}

async fn readiness_needs_the_database_this_schema_and_data(backend: Backend) {
    with_app!(backend, |app| {
        let ready = app.get_anonymous("/readyz", &[]).await;
        assert_eq!(ready.status, 503);
        assert_eq!(
            ready.json(),
            serde_json::json!({"status": "not ready", "database": "ok", "schema": "ok",
                               "data": "none imported"})
        );
        app.import("epraccur", &["api/epraccur.csv"])
            .await
            .expect("epraccur");
        let ready = app.get_anonymous("/readyz", &[]).await;
        assert_eq!(ready.status, 200, "{}", ready.text());
        assert_eq!(
            ready.json(),
            serde_json::json!({"status": "ready", "database": "ok", "schema": "ok", "data": "ok"})
        );
        assert_eq!(app.request(Method::HEAD, "/readyz", &[]).await.status, 200);
        assert_eq!(app.request(Method::POST, "/readyz", &[]).await.status, 405);
        // A newer build's migrate moved the database on: this node should take no traffic.
        let mut tx = app.db.begin().await.unwrap();
        tx.execute_raw(
            "INSERT INTO schema_version (version, applied_at) VALUES (999, '2026-01-01T00:00:00Z')",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let ready = app.get_anonymous("/readyz", &[]).await;
        assert_eq!(ready.status, 503);
        assert_eq!(ready.json()["schema"], "differs");
    });
}
