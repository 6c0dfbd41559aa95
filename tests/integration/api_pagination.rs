//! DRF `PageNumberPagination`: page and page_size parsing, links and their encoding.

use serde_json::Value;

use crate::common::{Backend, TestApp};

crate::trials! {
    each_backend: [
        links_keep_every_parameter_sorted_and_encoded,
        host_header_and_port_make_the_link_base,
        trusted_forwarded_proto_gives_https_links,
        only_allowed_hosts_are_answered,
        page_numbers_follow_django_paginator,
        page_size_falls_back_and_clamps_silently,
        empty_results_have_one_page,
        page_size_is_clamped_to_the_maximum,
        first_page_count_is_exact_for_every_page_size,
        every_page_size_cuts_the_same_order,
        a_new_import_recounts,
    ],
}

async fn loaded(app: &TestApp) {
    app.import("epraccur", &["api/epraccur.csv"])
        .await
        .expect("epraccur");
}

async fn links_keep_every_parameter_sorted_and_encoded(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get("/api/v1/practices/?page_size=3").await.json();
        assert_eq!(body["count"], 8);
        assert_eq!(
            body["next"],
            "http://testserver/api/v1/practices/?page=2&page_size=3"
        );
        assert_eq!(body["previous"], Value::Null);
        assert_eq!(body["results"].as_array().unwrap().len(), 3);

        let body = app
            .get("/api/v1/practices/?page=2&page_size=3")
            .await
            .json();
        assert_eq!(
            body["next"],
            "http://testserver/api/v1/practices/?page=3&page_size=3"
        );
        assert_eq!(
            body["previous"],
            "http://testserver/api/v1/practices/?page_size=3"
        );
        assert_eq!(body["results"][0]["ods_code"], "A81004");

        let body = app
            .get("/api/v1/practices/?page=3&page_size=3")
            .await
            .json();
        assert_eq!(body["next"], Value::Null);
        assert_eq!(
            body["previous"],
            "http://testserver/api/v1/practices/?page=2&page_size=3"
        );
        assert_eq!(body["results"].as_array().unwrap().len(), 2);

        let body = app
            .get("/api/v1/practices/?page_size=3&page=2&zeta=1&alpha=x%20y&c=a,b/c")
            .await
            .json();
        assert_eq!(
            body["next"],
            "http://testserver/api/v1/practices/?alpha=x+y&c=a%2Cb%2Fc&page=3&page_size=3&zeta=1"
        );
        assert_eq!(
            body["previous"],
            "http://testserver/api/v1/practices/?alpha=x+y&c=a%2Cb%2Fc&page_size=3&zeta=1"
        );

        // Blank and repeated parameters are kept; the suffix route keeps its path.
        let body = app
            .get("/api/v1/practices.json?page_size=3&pcn=&b=2&b=1")
            .await
            .json();
        assert_eq!(
            body["next"],
            "http://testserver/api/v1/practices.json?b=2&b=1&page=2&page_size=3&pcn="
        );
    });
}

async fn host_header_and_port_make_the_link_base(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let request = axum::http::Request::builder()
            .uri("/api/v1/practices/?page_size=5")
            .header("host", "api.example.com:8443")
            .header("authorization", format!("Bearer {}", app.key))
            .body(axum::body::Body::empty())
            .unwrap();
        let body = app.send(request).await.json();
        assert_eq!(
            body["next"],
            "http://api.example.com:8443/api/v1/practices/?page=2&page_size=5"
        );
        // X-Forwarded-Proto is ignored unless trusted.
        let request = axum::http::Request::builder()
            .uri("/api/v1/practices/?page_size=5")
            .header("host", "api.example.com")
            .header("x-forwarded-proto", "https")
            .header("authorization", format!("Bearer {}", app.key))
            .body(axum::body::Body::empty())
            .unwrap();
        let body = app.send(request).await.json();
        assert_eq!(
            body["next"],
            "http://api.example.com/api/v1/practices/?page=2&page_size=5"
        );
    });
}

async fn trusted_forwarded_proto_gives_https_links(backend: Backend) {
    let settings = haresign::api::app::Settings {
        trust_forwarded_proto: true,
        ..Default::default()
    };
    let app = TestApp::with_settings(backend, settings).await;
    loaded(&app).await;
    let request = axum::http::Request::builder()
        .uri("/api/v1/practices/?page_size=5")
        .header("host", "api.example.com")
        .header("x-forwarded-proto", "https")
        .header("authorization", format!("Bearer {}", app.key))
        .body(axum::body::Body::empty())
        .unwrap();
    let body = app.send(request).await.json();
    assert_eq!(
        body["next"],
        "https://api.example.com/api/v1/practices/?page=2&page_size=5"
    );
    app.finish().await;
}

/// With `allowed_hosts` set, a request naming another host gets Django's 400 page before any
/// view runs, so a forged host never reaches a link; the health check answers any host.
async fn only_allowed_hosts_are_answered(backend: Backend) {
    let settings = haresign::api::app::Settings {
        allowed_hosts: vec!["api.example.com".to_owned(), ".nhs.test".to_owned()],
        ..Default::default()
    };
    let app = TestApp::with_settings(backend, settings).await;
    loaded(&app).await;
    let get = |host: &str, uri: &str| {
        axum::http::Request::builder()
            .uri(uri)
            .header("host", host)
            .header("authorization", format!("Bearer {}", app.key))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let page = "/api/v1/practices/?page_size=5";
    let refused = app.send(get("evil.example", page)).await;
    assert_eq!(refused.status, 400);
    assert!(
        String::from_utf8_lossy(&refused.body).contains("<h1>Bad Request (400)</h1>"),
        "{:?}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(app.send(get("evil.example", "/api/v1/")).await.status, 400);
    let body = app.send(get("api.example.com:8443", page)).await.json();
    assert_eq!(
        body["next"],
        "http://api.example.com:8443/api/v1/practices/?page=2&page_size=5"
    );
    assert_eq!(app.send(get("data.nhs.test", page)).await.status, 200);
    assert_eq!(app.send(get("10.0.0.7", "/healthz")).await.status, 200);
    app.finish().await;
}

async fn page_numbers_follow_django_paginator(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let first_of = |body: &Value| body["results"][0]["ods_code"].as_str().unwrap().to_owned();
        for (page, first) in [
            ("1", "A81001"),
            ("", "A81001"),
            ("2", "A81004"),
            ("last", "W91001"),
            ("%202", "A81004"),
            ("+2", "A81004"),
            ("0_2", "A81004"),
            ("1&page=3", "W91001"),
        ] {
            let response = app
                .get(&format!("/api/v1/practices/?page_size=3&page={page}"))
                .await;
            assert_eq!(response.status, 200, "page={page}");
            assert_eq!(first_of(&response.json()), first, "page={page}");
        }
        for page in [
            "0",
            "-1",
            "abc",
            "1.0",
            "LAST",
            "4",
            "99999999999999999999999",
            "%20",
            "3&page=x",
        ] {
            let response = app
                .get(&format!("/api/v1/practices/?page_size=3&page={page}"))
                .await;
            assert_eq!(response.status, 404, "page={page}");
            assert_eq!(
                response.text(),
                r#"{"detail":"Invalid page."}"#,
                "page={page}"
            );
        }
    });
}

async fn page_size_falls_back_and_clamps_silently(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for size in ["abc", "0", "-5", "1.5", ""] {
            let body = app
                .get(&format!("/api/v1/practices/?page_size={size}"))
                .await
                .json();
            assert_eq!(
                body["results"].as_array().unwrap().len(),
                8,
                "page_size={size}"
            );
            assert_eq!(body["next"], Value::Null);
        }
        let body = app.get("/api/v1/practices/?page_size=1_0").await.json();
        assert_eq!(body["results"].as_array().unwrap().len(), 8);
        let body = app
            .get("/api/v1/practices/?page_size=%202&page=2")
            .await
            .json();
        assert_eq!(body["results"].as_array().unwrap().len(), 2);
        assert_eq!(
            body["next"],
            "http://testserver/api/v1/practices/?page=3&page_size=+2"
        );
        // Above the maximum the size is clamped and the raw value is echoed in links.
        let body = app.get("/api/v1/practices/?page_size=1000").await.json();
        assert_eq!(body["results"].as_array().unwrap().len(), 8);
    });
}

async fn empty_results_have_one_page(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/practices/?search=nothing-matches").await;
        assert_eq!(
            response.text(),
            r#"{"count":0,"next":null,"previous":null,"results":[]}"#
        );
        let response = app
            .get("/api/v1/practices/?search=nothing-matches&page=last")
            .await;
        assert_eq!(response.status, 200);
        let response = app
            .get("/api/v1/practices/?search=nothing-matches&page=2")
            .await;
        assert_eq!(
            (response.status.as_u16(), response.text().as_str()),
            (404, r#"{"detail":"Invalid page."}"#)
        );
    });
}

async fn page_size_is_clamped_to_the_maximum(backend: Backend) {
    let settings = haresign::api::app::Settings {
        page_size: 2,
        max_page_size: 3,
        ..Default::default()
    };
    let app = TestApp::with_settings(backend, settings).await;
    loaded(&app).await;
    let body = app.get("/api/v1/practices/").await.json();
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(body["next"], "http://testserver/api/v1/practices/?page=2");
    let body = app.get("/api/v1/practices/?page_size=1000").await.json();
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
    assert_eq!(
        body["next"],
        "http://testserver/api/v1/practices/?page=2&page_size=1000"
    );
    app.finish().await;
}

async fn first_page_count_is_exact_for_every_page_size(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        // 8 practices: smaller sizes fill the first page, 8 fills it exactly, 9 leaves room.
        for size in 1..=9usize {
            let body = app
                .get(&format!("/api/v1/practices/?page_size={size}"))
                .await
                .json();
            assert_eq!(body["count"], 8, "page_size={size}");
            assert_eq!(
                body["results"].as_array().unwrap().len(),
                size.min(8),
                "page_size={size}"
            );
            assert_eq!(body["next"].is_null(), size >= 8, "page_size={size}");
        }
        let body = app
            .get("/api/v1/practices/?search=A81001&page_size=1")
            .await
            .json();
        assert_eq!(
            (body["count"].as_u64(), body["next"].is_null()),
            (Some(1), true)
        );
    });
}

/// Pages past the middle are read backwards from the end: whatever the page size, the pages
/// laid end to end are the one full listing.
async fn every_page_size_cuts_the_same_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let codes = |body: &Value| -> Vec<String> {
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["ods_code"].as_str().unwrap().to_owned())
                .collect()
        };
        let all = codes(&app.get("/api/v1/practices/?page_size=100").await.json());
        assert_eq!(all.len(), 8);
        for size in 1..=8 {
            let mut laid = Vec::new();
            for page in 1..=all.len().div_ceil(size) {
                let url = format!("/api/v1/practices/?page={page}&page_size={size}");
                laid.extend(codes(&app.get(&url).await.json()));
            }
            assert_eq!(laid, all, "page_size={size}");
        }
    });
}

/// Counts are kept per data generation: a new import is counted afresh.
async fn a_new_import_recounts(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get("/api/v1/practices/?page=2&page_size=3")
            .await
            .json();
        assert_eq!(body["count"], 8);
        let fewer = tempfile::tempdir().unwrap();
        let csv = std::fs::read_to_string(crate::common::fixture("api/epraccur.csv")).unwrap();
        let kept: Vec<&str> = csv.lines().take(6).collect();
        let path = fewer.path().join("epraccur.csv");
        std::fs::write(&path, kept.join("\n") + "\n").unwrap();
        app.import("epraccur", &[path.to_str().unwrap()])
            .await
            .expect("epraccur");
        let body = app
            .get("/api/v1/practices/?page=2&page_size=3")
            .await
            .json();
        assert_eq!(
            body["count"], 5,
            "the first six rows hold five practices the endpoint serves"
        );
    });
}
