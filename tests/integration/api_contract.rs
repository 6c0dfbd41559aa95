//! DRF wire behaviour shared by every endpoint: authentication messages, routing, methods,
//! content negotiation and default headers.

use axum::body::Body;
use axum::http::{Method, Request};

use crate::common::{self, Backend, TestApp};
use haresign::throttle::{Clock, MemoryStore};

crate::trials! {
    each_backend: [
        every_authentication_failure_has_drfs_status_body_and_header,
        revocation_and_last_use_are_recorded,
        missing_trailing_slash_redirects_before_authentication,
        unknown_urls_get_json_under_api_and_djangos_page_elsewhere,
        more_than_a_thousand_query_fields_get_djangos_400_page,
        methods_head_and_options,
        content_negotiation_accepts_json_only,
        every_response_carries_djangos_security_headers,
        cached_responses_equal_fresh_ones_and_follow_imports,
    ],
    current_thread: [
        responses_to_huge_host_headers_are_answered_but_not_cached,
        the_cache_lags_an_import_by_at_most_its_check_interval,
    ],
}

const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;

async fn every_authentication_failure_has_drfs_status_body_and_header(backend: Backend) {
    with_app!(backend, |app| {
        let revoked = haresign::keys::create(&app.db, &haresign::keys::NewKey::named("old"))
            .await
            .unwrap();
        assert!(
            haresign::keys::set_active(&app.db, &revoked[..11], false)
                .await
                .unwrap()
        );
        let revoked_header = format!("Bearer {revoked}");
        let cases: Vec<(&[u8], &str)> = vec![
            (b"Token abc", NOT_PROVIDED),
            (b"Basic dXNlcjpwYXNz", NOT_PROVIDED),
            (b"Bearerabc", NOT_PROVIDED),
            (
                b"Bearer",
                r#"{"detail":"Invalid token header. No credentials provided."}"#,
            ),
            (
                b"Bearer   ",
                r#"{"detail":"Invalid token header. No credentials provided."}"#,
            ),
            (
                b"Bearer a b",
                r#"{"detail":"Invalid token header. Token string should not contain spaces."}"#,
            ),
            (
                b"Bearer \xc3\x28",
                r#"{"detail":"Invalid token header. Token string should not contain invalid characters."}"#,
            ),
            (b"Bearer hs_unknown", r#"{"detail":"Invalid token."}"#),
            (
                revoked_header.as_bytes(),
                r#"{"detail":"User inactive or deleted."}"#,
            ),
        ];
        for (header, body) in cases {
            let response = app
                .get_anonymous("/api/v1/practices/", &[("authorization", header)])
                .await;
            assert_eq!(response.status, 401, "{}", String::from_utf8_lossy(header));
            assert_eq!(response.text(), body, "{}", String::from_utf8_lossy(header));
            assert_eq!(response.header("www-authenticate"), Some("Bearer"));
            assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
        }
        let response = app.get_anonymous("/api/v1/practices/", &[]).await;
        assert_eq!(
            (response.status.as_u16(), response.text().as_str()),
            (401, NOT_PROVIDED)
        );

        let keyword_forms = [
            format!("bearer {}", app.key),
            format!("BEARER   {}  ", app.key),
            format!("Bearer\t{}", app.key),
        ];
        for header in keyword_forms {
            let response = app
                .get_anonymous(
                    "/api/v1/practices/",
                    &[("authorization", header.as_bytes())],
                )
                .await;
            assert_eq!(response.status, 200, "{header}");
        }
    });
}

async fn revocation_and_last_use_are_recorded(backend: Backend) {
    with_app!(backend, |app| {
        assert_eq!(app.get("/api/v1/practices/").await.status, 200);
        app.state.usage.flush(&app.db).await.unwrap();
        let keys = haresign::keys::list(&app.db).await.unwrap();
        assert!(keys[0].last_used_at.is_some(), "last use is recorded");
        assert!(
            haresign::keys::set_active(&app.db, &app.key[..11], false)
                .await
                .unwrap()
        );
        assert!(
            !haresign::keys::set_active(&app.db, "hs_nope", false)
                .await
                .unwrap()
        );
        // A fresh router has no cached lookup, so the revocation shows at once.
        let fresh = TestApp::new(app.backend).await;
        let revoked = haresign::keys::create(&fresh.db, &haresign::keys::NewKey::named("x"))
            .await
            .unwrap();
        haresign::keys::set_active(&fresh.db, &revoked[..11], false)
            .await
            .unwrap();
        let response = fresh
            .get_anonymous(
                "/api/v1/practices/",
                &[("authorization", format!("Bearer {revoked}").as_bytes())],
            )
            .await;
        assert_eq!(response.text(), r#"{"detail":"User inactive or deleted."}"#);
        fresh.finish().await;
    });
}

async fn missing_trailing_slash_redirects_before_authentication(backend: Backend) {
    with_app!(backend, |app| {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let request = Request::builder()
                .method(method.clone())
                .uri("/api/v1/practices?page=2&search=a%20b")
                .body(Body::empty())
                .unwrap();
            let response = app.send(request).await;
            assert_eq!(response.status, 301, "{method}");
            assert_eq!(
                response.header("location"),
                Some("/api/v1/practices/?page=2&search=a%20b")
            );
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            assert!(response.body.is_empty());
        }
        let response = app
            .get_anonymous("/api/v1/practices/A81001/population", &[])
            .await;
        assert_eq!(
            response.header("location"),
            Some("/api/v1/practices/A81001/population/")
        );
    });
}

async fn unknown_urls_get_json_under_api_and_djangos_page_elsewhere(backend: Backend) {
    with_app!(backend, |app| {
        for path in [
            "/api/v1/nope/",
            "/api/v1/practices/A81001/nope/",
            "/api/v2/practices/",
            "/api/v1/nope",
        ] {
            let response = app.get(path).await;
            assert_eq!(response.status, 404, "{path}");
            assert_eq!(response.text(), r#"{"detail":"Not found."}"#, "{path}");
            assert_eq!(response.header("content-type"), Some("application/json"));
        }
        let response = app.get("/nope").await;
        assert_eq!(response.status, 404);
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(response.body.len(), 179);
        assert!(response.text().contains("<title>Not Found</title>"));
    });
}

/// Django refuses a query of more than 1,000 fields (`DATA_UPLOAD_MAX_NUMBER_FIELDS`) when a view
/// first reads it, during content negotiation: its plain 400 page, before authentication, with
/// the security headers but none of the view's.
async fn more_than_a_thousand_query_fields_get_djangos_400_page(backend: Backend) {
    with_app!(backend, |app| {
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        let fields = |n: usize| vec!["x=1"; n].join("&");
        for path in ["/api/v1/practices/", "/api/v1/", "/api/schema/"] {
            let response = app
                .get_anonymous(&format!("{path}?{}", fields(1001)), &[])
                .await;
            assert_eq!(response.status, 400, "{path}");
            assert_eq!(
                response.text(),
                "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n",
                "{path}"
            );
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(response.header("x-frame-options"), Some("DENY"));
            assert_eq!(response.header("allow"), None);
        }
        // 1,000 fields (999 separators) are still parsed; empty fields count too.
        let response = app
            .get(&format!("/api/v1/practices/?{}", fields(1000)))
            .await;
        assert_eq!(response.status, 200);
        let response = app
            .get(&format!("/api/v1/practices/?{}", "&".repeat(1000)))
            .await;
        assert_eq!(response.status, 400);
        // A path no view serves never reads its query.
        let response = app.get(&format!("/api/v1/nope/?{}", fields(1001))).await;
        assert_eq!(response.status, 404);
    });
}

async fn methods_head_and_options(backend: Backend) {
    with_app!(backend, |app| {
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        for method in ["POST", "PUT", "PATCH", "DELETE", "PURGE"] {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let response = app.request(method.clone(), "/api/v1/practices/", &[]).await;
            assert_eq!(response.status, 405, "{method}");
            assert_eq!(
                response.text(),
                format!(r#"{{"detail":"Method \"{method}\" not allowed."}}"#)
            );
            assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
        }
        // Authentication comes first: no credentials is a 401, not a 405.
        let request = Request::builder()
            .method("POST")
            .uri("/api/v1/practices/")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(request).await.status, 401);

        let get = app.get("/api/v1/practices/").await;
        let head = app.request(Method::HEAD, "/api/v1/practices/", &[]).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(
            head.header("content-length").map(str::to_owned),
            Some(get.body.len().to_string())
        );
        assert_eq!(head.header("content-type"), Some("application/json"));

        let options = app
            .request(Method::OPTIONS, "/api/v1/practices/", &[])
            .await;
        assert_eq!(options.status, 200);
        let body = options.json();
        assert_eq!(body["name"], "Practice List");
        assert_eq!(
            body["renders"],
            serde_json::json!(["application/json", "text/csv"])
        );
        assert_eq!(
            body["parses"],
            serde_json::json!([
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data"
            ])
        );
        let anonymous = Request::builder()
            .method("OPTIONS")
            .uri("/api/v1/practices/")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(anonymous).await.status, 401);
    });
}

async fn content_negotiation_accepts_json_only(backend: Backend) {
    with_app!(backend, |app| {
        for (path, accept, status) in [
            ("/api/v1/practices/", "application/json", 200),
            ("/api/v1/practices/", "*/*", 200),
            (
                "/api/v1/practices/",
                "text/html,application/xhtml+xml,*/*;q=0.8",
                200,
            ),
            ("/api/v1/practices/?format=json", "application/json", 200),
            ("/api/v1/practices.json", "*/*", 200),
            ("/api/v1/practices.json/", "*/*", 200),
            ("/api/v1/practices/", "text/html", 406),
            ("/api/v1/practices/?format=json", "text/html", 406),
            ("/api/v1/practices/?format=api", "*/*", 404),
            ("/api/v1/practices.api", "*/*", 404),
            ("/api/v1/practices.xml/", "*/*", 404),
        ] {
            let response = app.request(Method::GET, path, &[("accept", accept)]).await;
            assert_eq!(response.status, status, "{path} with {accept}");
            match status {
                406 => assert_eq!(
                    response.text(),
                    r#"{"detail":"Could not satisfy the request Accept header."}"#
                ),
                404 => assert_eq!(response.text(), r#"{"detail":"Not found."}"#),
                _ => {}
            }
        }
        // Negotiation comes before authentication.
        let response = app
            .get_anonymous("/api/v1/practices/", &[("accept", b"text/html")])
            .await;
        assert_eq!(response.status, 406);
        let response = app
            .request(
                Method::GET,
                "/api/v1/practices/",
                &[("accept", "application/json; indent=2")],
            )
            .await;
        assert_eq!(
            response.text(),
            "{\n  \"count\": 0,\n  \"next\": null,\n  \"previous\": null,\n  \"results\": []\n}"
        );
    });
}

async fn every_response_carries_djangos_security_headers(backend: Backend) {
    with_app!(backend, |app| {
        for response in [
            app.get("/api/v1/practices/").await,
            app.get_anonymous("/api/v1/practices/", &[]).await,
            app.get("/api/v1/practices").await,
            app.get("/elsewhere").await,
        ] {
            assert_eq!(response.header("x-frame-options"), Some("DENY"));
            assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(response.header("referrer-policy"), Some("same-origin"));
            assert_eq!(
                response.header("cross-origin-opener-policy"),
                Some("same-origin")
            );
        }
    });
}

async fn cached_responses_equal_fresh_ones_and_follow_imports(backend: Backend) {
    with_app!(backend, |app| {
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        let first = app.get("/api/v1/practices/?page_size=3&search=elm").await;
        let again = app.get("/api/v1/practices/?page_size=3&search=elm").await;
        assert_eq!(first.status, 200);
        assert_eq!(first.body, again.body);
        // Another host or rendering is another response.
        let request = Request::builder()
            .uri("/api/v1/practices/?page_size=3&search=elm")
            .header("host", "other.example")
            .header("authorization", format!("Bearer {}", app.key))
            .body(Body::empty())
            .unwrap();
        let other_host = app.send(request).await;
        assert!(
            other_host
                .text()
                .contains("http://other.example/api/v1/practices/")
        );
        let indented = app
            .request(
                Method::GET,
                "/api/v1/practices/?page_size=3&search=elm",
                &[("accept", "application/json; indent=4")],
            )
            .await;
        assert!(indented.text().starts_with("{\n    \"count\": 5,"));
        let head = app
            .request(
                Method::HEAD,
                "/api/v1/practices/?page_size=3&search=elm",
                &[],
            )
            .await;
        assert_eq!(
            head.header("content-length").map(str::to_owned),
            Some(first.body.len().to_string())
        );
        // Authentication still runs for a cached URL.
        let anonymous = app
            .get_anonymous("/api/v1/practices/?page_size=3&search=elm", &[])
            .await;
        assert_eq!(anonymous.status, 401);

        let dir = tempfile::tempdir().unwrap();
        let content = std::fs::read_to_string(common::fixture("api/epraccur.csv")).unwrap();
        let fewer: String = content
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("\"A81001\""))
            .collect();
        let path = dir.path().join("epraccur.csv");
        std::fs::write(&path, fewer).unwrap();
        app.import_paths("epraccur", &[path]).await.unwrap();
        let after = app
            .get("/api/v1/practices/?page_size=3&search=elm")
            .await
            .json();
        assert_eq!(after["count"], 4);
    });
}

async fn responses_to_huge_host_headers_are_answered_but_not_cached() {
    let app = TestApp::new(common::Backend::Sqlite).await;
    let host = format!("{}.example", "h".repeat(100_000));
    for page_size in 1..=20 {
        let request = Request::builder()
            .uri(format!("/api/v1/practices/?page_size={page_size}"))
            .header("host", &host)
            .header("authorization", format!("Bearer {}", app.key))
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(request).await.status, 200);
    }
    assert_eq!(app.state.cache.held_bytes(), 0);
    app.get("/api/v1/practices/").await;
    assert!(
        app.state.cache.held_bytes() > 0,
        "an ordinary URL is cached"
    );
    app.finish().await;
}

async fn the_cache_lags_an_import_by_at_most_its_check_interval() {
    let app = TestApp::new(common::Backend::Sqlite).await;
    let settings = haresign::api::app::Settings {
        cache_check_interval: std::time::Duration::from_millis(250),
        ..Default::default()
    };
    // Readings are exact binary fractions, so they fall exactly inside and on the interval.
    let clock = Clock::manual(1000.0);
    let state = std::sync::Arc::new(haresign::api::app::AppState::with_throttle(
        app.db.clone(),
        settings,
        std::sync::Arc::new(MemoryStore::new()),
        clock.clone(),
    ));
    let slow = haresign::api::app::router(state);
    let get = |router: axum::Router| {
        let key = app.key.clone();
        async move {
            use tower::ServiceExt;
            let request = Request::builder()
                .uri("/api/v1/practices/")
                .header("host", "testserver")
                .header("authorization", format!("Bearer {key}"))
                .body(Body::empty())
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()["count"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(get(slow.clone()).await, 0);
    app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
    clock.set(1000.125);
    assert_eq!(
        get(slow.clone()).await,
        0,
        "within the interval the cached page is served"
    );
    clock.set(1000.25);
    assert_eq!(get(slow).await, 8, "at the interval the import is seen");
    app.finish().await;
}
