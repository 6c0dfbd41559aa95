//! Requests built to hurt the server (huge searches, NUL bytes, forged `X-Forwarded-For`) get
//! DRF's error answers and leave no lasting cost behind, on every backend.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, TestResponse};
use haresign::api::app::Settings;
use haresign::catalogue;
use haresign::schema::{Endpoint, FilterKind};
use haresign::throttle::{Clock, MemoryStore};

crate::trials! {
    each_backend: [
        search_is_bounded_in_length_and_terms,
        null_characters_in_code_filters_and_path_parameters_are_refused,
        forged_forwarded_for_headers_cost_one_throttle_key,
        forged_forwarded_for_headers_neither_dodge_nor_aim_the_throttle,
    ],
}

async fn loaded(app: &TestApp) {
    app.import_ods().await;
}

fn status_and_body(response: &TestResponse) -> (u16, Value) {
    (response.status.as_u16(), response.json())
}

/// `n` copies of `term` joined by URL-encoded commas.
fn comma_terms(term: &str, n: usize) -> String {
    vec![term; n].join("%2C")
}

async fn search_is_bounded_in_length_and_terms(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let search = |value: String| {
            let app = &app;
            async move { app.get(&format!("/api/v1/practices/?search={value}")).await }
        };

        // Once enough to overflow a worker's stack while the SQL was built.
        let huge = search(comma_terms("a", 14_500)).await;
        assert_eq!(
            status_and_body(&huge),
            (
                400,
                json!(["Ensure this value has at most 256 characters (it has 28999)."])
            ),
            "{:?}",
            app.backend
        );

        let sixteen = search(comma_terms("elm", 16)).await;
        assert_eq!(sixteen.status, 200, "{:?}: {}", app.backend, sixteen.text());
        assert_eq!(sixteen.json()["count"], 5, "{:?}", app.backend);

        let seventeen = search(comma_terms("elm", 17)).await;
        assert_eq!(
            status_and_body(&seventeen),
            (
                400,
                json!(["Ensure this search has at most 16 terms (it has 17)."])
            ),
            "{:?}",
            app.backend
        );

        let longest = search("e".repeat(256)).await;
        assert_eq!(longest.status, 200, "{:?}", app.backend);
        assert_eq!(longest.json()["count"], 0);
        let too_long = search("e".repeat(257)).await;
        assert_eq!(
            status_and_body(&too_long),
            (
                400,
                json!(["Ensure this value has at most 256 characters (it has 257)."])
            ),
            "{:?}",
            app.backend
        );
        // Python's len: characters, not bytes.
        let accented = search("%C3%A9".repeat(256)).await;
        assert_eq!(accented.status, 200, "{:?}", app.backend);

        // The NUL check comes first, as before the bounds existed.
        let null = search(format!("%00{}", "e".repeat(300))).await;
        assert_eq!(
            status_and_body(&null),
            (400, json!(["Null characters are not allowed."]))
        );
    });
}

/// A value that satisfies filter `name` of `endpoint` without raising an error.
fn valid_value(endpoint: &Endpoint, name: &str) -> &'static str {
    let filter = endpoint
        .filters
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{}: no filter {name}", endpoint.path));
    match filter.kind {
        FilterKind::Code(_)
        | FilterKind::CodeInList(_)
        | FilterKind::LowerCode(_)
        | FilterKind::Label(_)
        | FilterKind::Search { .. } => "x",
        FilterKind::Date(_) | FilterKind::Month(_) => "2025-04-01",
        FilterKind::FinancialYear(_) => "2025/26",
        FilterKind::Year(_) => "2025",
        FilterKind::Boolean(_) => "true",
    }
}

/// The endpoint's path with every path parameter set to `value` (already URL-encoded).
fn path_with(endpoint: &Endpoint, value: &str) -> String {
    let path = endpoint
        .path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                value
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    format!("/api/v1/{path}")
}

async fn null_characters_in_code_filters_and_path_parameters_are_refused(backend: Backend) {
    let endpoints = catalogue::endpoints();
    let code_filters = endpoints
        .iter()
        .flat_map(|e| e.filters)
        .filter(|f| {
            matches!(
                f.kind,
                FilterKind::Code(_) | FilterKind::LowerCode(_) | FilterKind::Label(_)
            )
        })
        .count();
    assert!(code_filters > 0);
    assert!(endpoints.iter().any(|e| e.lookup.is_some()));

    with_app!(backend, |app| {
        for endpoint in endpoints {
            let path = path_with(endpoint, "A81001");
            for filter in endpoint.filters {
                if !matches!(
                    filter.kind,
                    FilterKind::Code(_) | FilterKind::LowerCode(_) | FilterKind::Label(_)
                ) {
                    continue;
                }
                let mut query = format!("{}=A%00", filter.name);
                if let Some(core) = endpoint.core.iter().find(|&&c| c != filter.name) {
                    query.push_str(&format!("&{core}={}", valid_value(endpoint, core)));
                }
                let uri = format!("{path}?{query}");
                assert_eq!(
                    status_and_body(&app.get(&uri).await),
                    (
                        400,
                        json!({ filter.name: ["Null characters are not allowed."] })
                    ),
                    "{uri} on {:?}",
                    app.backend
                );
            }
            if let Some(lookup) = &endpoint.lookup {
                let uri = path_with(endpoint, "A81%0001");
                let response = app.get(&uri).await;
                assert_eq!(
                    status_and_body(&response),
                    (
                        404,
                        json!({
                            "detail": format!("No {} matches the given query.", lookup.parent_model)
                        })
                    ),
                    "{uri} on {:?}",
                    app.backend
                );
            }
        }
    });
}

fn anonymous(peer: SocketAddr, forwarded: &str) -> Request<Body> {
    Request::builder()
        .uri("/api/v1/")
        .header("host", "testserver")
        .header("x-forwarded-for", forwarded)
        .extension(ConnectInfo(peer))
        .body(Body::empty())
        .expect("request")
}

/// 4 KB, different for every `i`.
fn forged_forwarded_for(i: usize) -> String {
    let mut value = format!("10.{}.{}.{}", i / 65_536 % 256, i / 256 % 256, i % 256);
    while value.len() < 4096 {
        value.push_str(&format!(", 192.0.2.{}", value.len() % 256));
    }
    value.truncate(4096);
    value
}

async fn forged_forwarded_for_headers_cost_one_throttle_key(backend: Backend) {
    let store = Arc::new(MemoryStore::new());
    let app = TestApp::build(
        backend,
        Settings::default(),
        store.clone(),
        Clock::manual(1000.0),
    )
    .await;
    let peer: SocketAddr = "198.51.100.7:50000".parse().unwrap();
    let mut allowed = 0;
    for i in 0..2_000 {
        let response = app.send(anonymous(peer, &forged_forwarded_for(i))).await;
        match response.status.as_u16() {
            200 => allowed += 1,
            429 => {}
            other => panic!("request {i} answered {other} on {backend:?}"),
        }
    }
    assert_eq!(store.key_count(), 1, "{backend:?}");
    // The default anonymous rate, 1000/hour, for the one peer.
    assert_eq!(allowed, 1000, "{backend:?}");
    app.finish().await;
}

async fn forged_forwarded_for_headers_neither_dodge_nor_aim_the_throttle(backend: Backend) {
    let settings = Settings {
        anon_rate: "3/minute".parse().unwrap(),
        ..Settings::default()
    };
    let app = TestApp::build(
        backend,
        settings,
        Arc::new(MemoryStore::new()),
        Clock::manual(1000.0),
    )
    .await;
    let attacker: SocketAddr = "198.51.100.7:50000".parse().unwrap();
    let victim: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    for forwarded in ["203.0.113.9", "192.0.2.1", "192.0.2.2, 203.0.113.9"] {
        let response = app.send(anonymous(attacker, forwarded)).await;
        assert_eq!(response.status, 200, "{forwarded} on {backend:?}");
    }
    let fourth = app.send(anonymous(attacker, "192.0.2.99")).await;
    assert_eq!(fourth.status, 429, "{backend:?}");
    assert_eq!(fourth.header("retry-after"), Some("60"), "{backend:?}");
    let victims = app.send(anonymous(victim, "198.51.100.7")).await;
    assert_eq!(victims.status, 200, "{backend:?}");
    app.finish().await;
}
