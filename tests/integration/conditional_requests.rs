//! Conditional GET over the real router: entity tags on the lists, the index and the schema,
//! `If-None-Match` answered with 304, throttled like any request, and tags that change with
//! the imports that change an endpoint's rows and with nothing else.

use std::sync::Arc;

use axum::http::Method;

use crate::common::{Backend, TestApp, TestResponse, fixture};
use haresign::api::app::Settings;
use haresign::keys::{self, NewKey};
use haresign::throttle::{Clock, MemoryStore};

crate::trials! {
    each_backend: [
        tags_are_stable_and_differ_by_format_query_host_and_indent,
        a_matching_if_none_match_is_a_304_without_a_body,
        the_index_the_schema_and_the_docs_are_tagged_too,
        a_304_counts_against_the_throttle,
        an_import_changes_the_tags_of_the_endpoints_it_refills_only,
    ],
}

const CACHE_CONTROL: &str = "private, max-age=0, must-revalidate";
const PRACTICES: &str = "/api/v1/practices/?icb=QHM";
const PCN_DES: &str = "/api/v1/pcn-des/?date=2024-06-30";

async fn ods(app: &TestApp) {
    for (source, file) in [
        ("epraccur", "api/epraccur.csv"),
        ("epcn", "api/epcncorepartnerdetails.csv"),
        ("registrations", "api/gp-reg-pat-prac-map.csv"),
    ] {
        app.import(source, &[file]).await.expect(source);
    }
}

fn etag(response: &TestResponse) -> String {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("cache-control"), Some(CACHE_CONTROL));
    let tag = response.header("etag").expect("an ETag").to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    tag
}

async fn tag_of(app: &TestApp, uri: &str, headers: &[(&str, &str)]) -> String {
    etag(&app.request(Method::GET, uri, headers).await)
}

/// The tag of a GET naming another host.
async fn tag_at(app: &TestApp, uri: &str, host: &str) -> String {
    let request = axum::http::Request::get(uri)
        .header("host", host)
        .header("authorization", format!("Bearer {}", app.key))
        .body(axum::body::Body::empty())
        .unwrap();
    etag(&app.send(request).await)
}

async fn tags_are_stable_and_differ_by_format_query_host_and_indent(backend: Backend) {
    with_app!(backend, |app| {
        ods(&app).await;
        let first = tag_of(&app, PRACTICES, &[]).await;
        // The second answer comes from the response cache; its tag is the same.
        assert_eq!(tag_of(&app, PRACTICES, &[]).await, first);
        assert_eq!(tag_of(&app, PRACTICES, &[]).await, first);
        let others = [
            tag_of(&app, &format!("{PRACTICES}&format=csv"), &[]).await,
            tag_of(&app, "/api/v1/practices/?icb=QHM&page_size=1", &[]).await,
            tag_at(&app, PRACTICES, "other.example").await,
            tag_of(&app, PRACTICES, &[("accept", "application/json; indent=2")]).await,
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(other, &first, "variant {i}");
            for later in &others[i + 1..] {
                assert_ne!(other, later);
            }
        }
        assert_eq!(
            tag_of(&app, &format!("{PRACTICES}&format=csv"), &[]).await,
            others[0]
        );
    });
}

async fn a_matching_if_none_match_is_a_304_without_a_body(backend: Backend) {
    with_app!(backend, |app| {
        ods(&app).await;
        for uri in [PRACTICES.to_owned(), format!("{PRACTICES}&format=csv")] {
            let tag = tag_of(&app, &uri, &[]).await;
            let weak = format!("W/{tag}");
            let listed = format!("\"stale\", {tag}");
            for condition in [tag.as_str(), weak.as_str(), listed.as_str(), "*"] {
                let response = app
                    .request(Method::GET, &uri, &[("if-none-match", condition)])
                    .await;
                assert_eq!(response.status, 304, "{uri} {condition}");
                assert!(response.body.is_empty());
                assert_eq!(response.header("etag"), Some(tag.as_str()));
                assert_eq!(response.header("cache-control"), Some(CACHE_CONTROL));
                assert_eq!(response.header("vary"), Some("Accept"));
            }
            let stale = app
                .request(Method::GET, &uri, &[("if-none-match", "\"stale\"")])
                .await;
            assert_eq!(etag(&stale), tag);
            assert!(!stale.body.is_empty());
        }
        // The request is validated before its tag is compared.
        let invalid = app
            .request(
                Method::GET,
                "/api/v1/practices/?icb=QHM&page=x",
                &[("if-none-match", "*")],
            )
            .await;
        assert_eq!(invalid.status, 404);
        let missing_core = app
            .request(
                Method::GET,
                "/api/v1/gp-appointments/",
                &[("if-none-match", "*")],
            )
            .await;
        assert_eq!(missing_core.status, 400);
    });
}

async fn the_index_the_schema_and_the_docs_are_tagged_too(backend: Backend) {
    with_app!(backend, |app| {
        for uri in [
            "/api/v1/",
            "/api/schema/",
            "/api/schema/?format=json",
            "/api/docs/",
            "/api/redoc/",
        ] {
            let tag = tag_of(&app, uri, &[]).await;
            assert_eq!(tag_of(&app, uri, &[]).await, tag, "{uri}");
            let response = app
                .request(Method::GET, uri, &[("if-none-match", &tag)])
                .await;
            assert_eq!(response.status, 304, "{uri}");
            assert!(response.body.is_empty());
            assert_eq!(response.header("etag"), Some(tag.as_str()));
        }
        assert_ne!(
            tag_of(&app, "/api/v1/", &[]).await,
            tag_at(&app, "/api/v1/", "other.example").await,
            "the index's links name the host"
        );
        assert_ne!(
            tag_of(&app, "/api/schema/", &[]).await,
            tag_of(&app, "/api/schema/?format=json", &[]).await
        );
    });
}

async fn a_304_counts_against_the_throttle(backend: Backend) {
    let app = TestApp::build(
        backend,
        Settings::default(),
        Arc::new(MemoryStore::new()),
        Clock::manual(1000.0),
    )
    .await;
    ods(&app).await;
    let key = keys::create(
        &app.db,
        &NewKey {
            rate: Some("3/min".parse().unwrap()),
            ..NewKey::named("three a minute")
        },
    )
    .await
    .unwrap();
    let get = |condition: Option<String>| {
        let mut request = axum::http::Request::get(PRACTICES)
            .header("host", "testserver")
            .header("authorization", format!("Bearer {key}"));
        if let Some(tag) = condition {
            request = request.header("if-none-match", tag);
        }
        app.send(request.body(axum::body::Body::empty()).unwrap())
    };
    let tag = etag(&get(None).await);
    assert_eq!(get(Some(tag.clone())).await.status, 304);
    assert_eq!(get(Some(tag.clone())).await.status, 304);
    assert_eq!(get(Some(tag)).await.status, 429);
    app.finish().await;
}

async fn an_import_changes_the_tags_of_the_endpoints_it_refills_only(backend: Backend) {
    with_app!(backend, |app| {
        ods(&app).await;
        app.import("pcn-des", &["pcn_des/NCDesJune24.csv"])
            .await
            .expect("pcn des");
        let practices = tag_of(&app, PRACTICES, &[]).await;
        let pcn_des = tag_of(&app, PCN_DES, &[]).await;
        let index = tag_of(&app, "/api/v1/", &[]).await;
        app.import(
            "pcn-des",
            &["pcn_des/IIF_indicators_annual_pub_2023_24.csv"],
        )
        .await
        .expect("pcn des");
        assert_ne!(tag_of(&app, PCN_DES, &[]).await, pcn_des);
        assert_eq!(tag_of(&app, PRACTICES, &[]).await, practices);
        assert_eq!(tag_of(&app, "/api/v1/", &[]).await, index);
        let stale = app
            .request(Method::GET, PCN_DES, &[("if-none-match", &pcn_des)])
            .await;
        assert_eq!(stale.status, 200);
        // epraccur refills the practices, and pcn-des through its geography.
        let pcn_des = tag_of(&app, PCN_DES, &[]).await;
        let dir = tempfile::tempdir().unwrap();
        let renamed = dir.path().join("epraccur.csv");
        let original = std::fs::read_to_string(fixture("api/epraccur.csv")).unwrap();
        std::fs::write(
            &renamed,
            original.replace("ELM TREE SURGERY", "ELM TREE PRACTICE"),
        )
        .unwrap();
        app.import_paths("epraccur", &[renamed])
            .await
            .expect("epraccur");
        assert_ne!(tag_of(&app, PRACTICES, &[]).await, practices);
        assert_ne!(tag_of(&app, PCN_DES, &[]).await, pcn_des);
    });
}
