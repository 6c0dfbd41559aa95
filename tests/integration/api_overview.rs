//! `/api/v1/datasets/` and `/api/v1/practices/{ods_code}/` over the real router, with the small
//! fixtures the dataset tests import.

use axum::http::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use haresign::api::app::Settings;
use haresign::api::overview::period::StaleAfter;
use haresign::catalogue;
use haresign::keys::{self, NewKey};
use haresign::throttle::{Clock, MemoryStore};

use crate::common::{self, Backend, TestApp, results};

crate::trials! {
    each_backend: [
        datasets_give_periods_rows_and_the_last_import_run,
        stale_follows_the_clock_and_the_configured_allowance,
        keys_limited_to_scopes_see_only_their_datasets,
        datasets_are_paginated_and_answer_like_every_view,
        a_practice_profile_links_the_latest_period_of_every_dataset,
        practice_profiles_resolve_like_drf_detail_routes,
        datasets_and_practice_profiles_answer_if_none_match,
    ],
}

const APPOINTMENTS: &str = "appointments/Practice_Level_Crosstab_Nov_25.zip";
const QOF_2324: &str = "qof/QOF2324.zip";
const QOF_2425: [&str; 3] = [
    "qof/2425/ACHIEVEMENT_LONDON_2425.csv",
    "qof/2425/MAPPING_INDICATORS_2425.csv",
    "qof/2425/PREVALENCE_2425.csv",
];
const PAYMENTS: &str = "payments/nhspaymentsgp-24-25-prac-csv.csv";

async fn organisations(app: &TestApp) {
    app.import_ods().await;
    app.import_registrations(true).await;
}

async fn loaded(app: &TestApp) {
    organisations(app).await;
    app.import("appointments", &[APPOINTMENTS])
        .await
        .expect("appointments");
    app.import("qof", &[QOF_2324]).await.expect("qof 2023-24");
    app.import("qof", &QOF_2425).await.expect("qof 2024-25");
    app.import("payments", &[PAYMENTS]).await.expect("payments");
}

fn sha256(fixture: &str) -> String {
    let bytes = std::fs::read(common::fixture(fixture)).expect("fixture");
    hex::encode(Sha256::digest(bytes))
}

fn dataset<'a>(body: &'a Value, name: &str) -> &'a Value {
    results(body)
        .iter()
        .find(|row| row["dataset"] == name)
        .unwrap_or_else(|| panic!("no dataset {name} in {body}"))
}

/// The rows a list request selects: its page's `count`, or the length of a bare array.
async fn count(app: &TestApp, uri: &str) -> i64 {
    let body = app.get_ok(uri).await;
    match body.as_array() {
        Some(rows) => rows.len() as i64,
        None => body["count"].as_i64().expect("count"),
    }
}

/// The clock's seconds at midnight UTC of `date`.
fn midnight(date: &str) -> f64 {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp() as f64
}

async fn datasets_give_periods_rows_and_the_last_import_run(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get_ok("/api/v1/datasets/").await;
        assert_eq!(body["count"], catalogue::DATASETS.len());
        let names: Vec<&str> = results(&body)
            .iter()
            .map(|row| row["dataset"].as_str().unwrap())
            .collect();
        let declared: Vec<&str> = catalogue::DATASETS.iter().map(|d| d.name).collect();
        assert_eq!(names, declared, "in the catalogue's order");

        let appointments = dataset(&body, "appointments");
        let served = count(&app, "/api/v1/gp-appointments/?month=2025-10").await
            + count(&app, "/api/v1/gp-appointments/?month=2025-11").await;
        assert_eq!(
            *appointments,
            json!({
                "dataset": "appointments",
                "scope": "appointments",
                "endpoints": ["http://testserver/api/v1/gp-appointments/"],
                "publication": "Appointments in General Practice",
                "publication_url": "https://digital.nhs.uk/data-and-information/publications/statistical/appointments-in-general-practice",
                "cadence": "monthly",
                "latest_period": "2025-11",
                "earliest_period": "2025-10",
                "periods": 2,
                "rows": served,
                "last_import": appointments["last_import"].clone(),
                "stale": false,
            })
        );
        let files = appointments["last_import"]["files"].as_array().unwrap();
        assert!(!files.is_empty());
        for file in files {
            assert!(
                file["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("Practice_Level_Crosstab_Nov_25.zip"),
                "{file}"
            );
            assert_eq!(file["sha256"], sha256(APPOINTMENTS));
        }
        assert!(
            appointments["last_import"]["time"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );

        let qof = dataset(&body, "qof");
        assert_eq!(
            (
                &qof["latest_period"],
                &qof["earliest_period"],
                &qof["periods"]
            ),
            (&json!("2024/25"), &json!("2023/24"), &json!(2))
        );
        let run: Vec<(String, String)> = qof["last_import"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_owned(),
                    f["sha256"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = QOF_2425
            .iter()
            .map(|f| (f.rsplit('/').next().unwrap().to_owned(), sha256(f)))
            .collect();
        assert_eq!(run, expected, "the files of the latest run, in order");
        assert_eq!(qof["endpoints"].as_array().unwrap().len(), 5);
        let qof_rows = count(&app, "/api/v1/qof/achievement/?year=2023/24").await
            + count(&app, "/api/v1/qof/achievement/?year=2024/25").await
            + count(&app, "/api/v1/qof/prevalence/?year=2023/24").await
            + count(&app, "/api/v1/qof/prevalence/?year=2024/25").await
            + count(&app, "/api/v1/qof/indicators/").await
            + count(&app, "/api/v1/qof/prevalence/national/").await
            + count(&app, "/api/v1/qof/years/").await;
        assert_eq!(qof["rows"], qof_rows);

        let practices = dataset(&body, "practices");
        assert_eq!(practices["cadence"], Value::Null);
        assert_eq!(practices["stale"], Value::Null, "a snapshot is never stale");
        assert_eq!(practices["latest_period"], Value::Null);
        assert_eq!(practices["periods"], 0);
        assert_eq!(practices["rows"], count(&app, "/api/v1/practices/").await);
        assert_eq!(
            practices["last_import"]["files"],
            json!([{"name": "epraccur.csv", "sha256": sha256("api/epraccur.csv")}])
        );

        let list_sizes = dataset(&body, "list-sizes");
        assert_eq!(list_sizes["latest_period"], "2025-05");
        assert_eq!(
            list_sizes["last_import"]["files"].as_array().unwrap().len(),
            4,
            "derived from the registrations run"
        );

        let gpps = dataset(&body, "gpps");
        assert_eq!(
            (
                &gpps["latest_period"],
                &gpps["periods"],
                &gpps["rows"],
                &gpps["last_import"],
                &gpps["stale"]
            ),
            (
                &Value::Null,
                &json!(0),
                &json!(0),
                &Value::Null,
                &Value::Null
            ),
            "never imported"
        );
    });
}

async fn stale_follows_the_clock_and_the_configured_allowance(backend: Backend) {
    let settings = Settings {
        stale_after: "quarterly=1".parse::<StaleAfter>().unwrap(),
        ..Settings::default()
    };
    let clock = Clock::manual(midnight("2025-12-01"));
    let app = TestApp::build(
        backend,
        settings,
        std::sync::Arc::new(MemoryStore::new()),
        clock.clone(),
    )
    .await;
    app.import("appointments", &[APPOINTMENTS])
        .await
        .expect("appointments");
    app.import("qof", &QOF_2425).await.expect("qof");
    let stale = |body: Value, name: &str| dataset(&body, name)["stale"].clone();
    // November ends on the 30th; monthly allows 70 days, so 8 February is the last fresh day.
    for (day, appointments, qof) in [
        ("2025-12-01", false, false),
        ("2026-02-08", false, false),
        ("2026-02-09", true, false),
        // 2024/25 ends on 31 March 2025; annual allows 400 days.
        ("2026-05-05", true, false),
        ("2026-05-06", true, true),
    ] {
        clock.set(midnight(day) + 3600.0);
        let body = app.get_ok("/api/v1/datasets/").await;
        assert_eq!(stale(body.clone(), "appointments"), appointments, "{day}");
        assert_eq!(stale(body, "qof"), qof, "{day}");
    }
    app.finish().await;
}

async fn keys_limited_to_scopes_see_only_their_datasets(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let key = |scopes: &[&str]| NewKey {
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..NewKey::named("scoped")
        };
        let qof = keys::create(&app.db, &key(&["qof"])).await.unwrap();
        let body = app.get_with_key("/api/v1/datasets/", &qof).await.json();
        assert_eq!(body["count"], 1);
        assert_eq!(results(&body)[0]["dataset"], "qof");

        let response = app.get_with_key("/api/v1/practices/A81001/", &qof).await;
        assert_eq!(
            (response.status.as_u16(), response.text()),
            (
                403,
                r#"{"detail":"You do not have permission to perform this action."}"#.to_owned()
            ),
            "the practice itself is the organisations scope's"
        );

        let both = keys::create(&app.db, &key(&["organisations", "qof"]))
            .await
            .unwrap();
        let response = app.get_with_key("/api/v1/practices/A81001/", &both).await;
        assert_eq!(response.status, 200);
        let profile = response.json();
        let shown: Vec<&str> = profile["datasets"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(shown, ["qof_prevalence", "qof_achievement"]);
        let body = app.get_with_key("/api/v1/datasets/", &both).await.json();
        assert_eq!(
            body["count"], 5,
            "practices, population, PCNs, list sizes and QOF"
        );
    });
}

async fn datasets_are_paginated_and_answer_like_every_view(backend: Backend) {
    with_app!(backend, |app| {
        let total = catalogue::DATASETS.len();
        let first = app.get_ok("/api/v1/datasets/?page_size=5").await;
        assert_eq!(first["count"], total);
        assert_eq!(results(&first).len(), 5);
        assert_eq!(first["previous"], Value::Null);
        assert_eq!(
            first["next"],
            "http://testserver/api/v1/datasets/?page=2&page_size=5"
        );
        let last = app.get_ok("/api/v1/datasets/?page_size=5&page=last").await;
        assert_eq!(results(&last).len(), total - 10);
        assert_eq!(last["next"], Value::Null);
        assert_eq!(
            last["previous"],
            "http://testserver/api/v1/datasets/?page=2&page_size=5"
        );
        let past = app.get("/api/v1/datasets/?page=9").await;
        assert_eq!(
            (past.status.as_u16(), past.text().as_str()),
            (404, r#"{"detail":"Invalid page."}"#)
        );
        assert_eq!(app.get_ok("/api/v1/datasets.json").await["count"], total);
        assert_eq!(app.get("/api/v1/datasets/?format=xml").await.status, 404);
        let anonymous = app.get_anonymous("/api/v1/datasets/", &[]).await;
        assert_eq!(anonymous.status, 401);
        let options = app.request(Method::OPTIONS, "/api/v1/datasets/", &[]).await;
        assert_eq!(options.json()["name"], "Dataset List");
        assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS"));
        let head = app.request(Method::HEAD, "/api/v1/datasets/", &[]).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        let post = app.request(Method::POST, "/api/v1/datasets/", &[]).await;
        assert_eq!(post.status, 405);
        assert_eq!(
            app.get_anonymous("/api/v1/datasets", &[])
                .await
                .header("location"),
            Some("/api/v1/datasets/")
        );
        let index = app.get_ok("/api/v1/").await;
        assert!(
            index["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["url"] == "http://testserver/api/v1/datasets/"),
            "listed in the index"
        );
    });
}

async fn a_practice_profile_links_the_latest_period_of_every_dataset(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let listed = app.get_ok("/api/v1/practices/?search=A81001").await;
        let practice = &results(&listed)[0];
        let body = app.get_ok("/api/v1/practices/a81001/").await;
        for (field, value) in practice.as_object().unwrap() {
            assert_eq!(&body[field], value, "{field} as practices/ serves it");
        }
        assert_eq!(body["pcn_code"], "U22222");
        assert!(body["region_code"].is_string() && body["icb_name"].is_string());
        assert_eq!(
            body["latest_list_size"],
            json!({"month": "2025-05", "patients": practice["list_size"]})
        );
        let datasets = &body["datasets"];
        assert_eq!(
            datasets["gp_appointments"],
            json!({
                "period": "2025-11",
                "url": "http://testserver/api/v1/gp-appointments/?practice=A81001&month=2025-11",
            })
        );
        assert_eq!(
            datasets["qof_achievement"],
            json!({
                "period": "2024/25",
                "url": "http://testserver/api/v1/qof/achievement/?practice=A81001&year=2024/25",
            })
        );
        assert_eq!(datasets["nhs_payments_practices"]["period"], "2024/25");
        assert_eq!(datasets["gp_patient_survey"], Value::Null, "not imported");
        let names: Vec<String> = catalogue::by_practice()
            .iter()
            .map(|b| b.endpoint.name())
            .collect();
        let shown: Vec<String> = datasets.as_object().unwrap().keys().cloned().collect();
        assert_eq!(shown, names, "every endpoint by practice and period");

        let link = datasets["qof_achievement"]["url"].as_str().unwrap();
        let followed = app
            .get_ok(link.strip_prefix("http://testserver").unwrap())
            .await;
        assert!(!results(&followed).is_empty());
        for row in results(&followed) {
            assert_eq!(
                (&row["practice_code"], &row["year"]),
                (&json!("A81001"), &json!("2024/25"))
            );
        }
    });
}

async fn practice_profiles_resolve_like_drf_detail_routes(backend: Backend) {
    with_app!(backend, |app| {
        organisations(&app).await;
        let plain = app.get_ok("/api/v1/practices/A81001/").await;
        assert_eq!(plain["ods_code"], "A81001");
        assert_eq!(app.get_ok("/api/v1/practices/%20a81001%20/").await, plain);
        assert_eq!(app.get_ok("/api/v1/practices/A81001.json").await, plain);
        assert!(
            plain["datasets"]
                .as_object()
                .unwrap()
                .values()
                .all(Value::is_null),
            "no dataset imported beyond ODS and registrations"
        );
        for unknown in ["/api/v1/practices/ZZZ999/", "/api/v1/practices/%00/"] {
            let response = app.get(unknown).await;
            assert_eq!(
                (response.status.as_u16(), response.text().as_str()),
                (404, r#"{"detail":"No Practice matches the given query."}"#),
                "{unknown}"
            );
        }
        let redirect = app.get_anonymous("/api/v1/practices/A81001", &[]).await;
        assert_eq!(redirect.status, 301);
        assert_eq!(
            redirect.header("location"),
            Some("/api/v1/practices/A81001/")
        );
        let options = app
            .request(Method::OPTIONS, "/api/v1/practices/A81001/", &[])
            .await;
        assert_eq!(options.json()["name"], "Practice Instance");
        let anonymous = app.get_anonymous("/api/v1/practices/A81001/", &[]).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(count(&app, "/api/v1/practices/").await, 8);
        assert_eq!(
            app.get("/api/v1/practices/A81001/population/").await.status,
            200
        );
        let nested = app.get("/api/v1/practices/A81001/nope/").await;
        assert_eq!(
            (nested.status.as_u16(), nested.text().as_str()),
            (404, r#"{"detail":"Not found."}"#)
        );
        let django = app.get("/practices/A81001/").await;
        assert_eq!(
            django.header("content-type"),
            Some("text/html; charset=utf-8")
        );
    });
}

async fn datasets_and_practice_profiles_answer_if_none_match(backend: Backend) {
    with_app!(backend, |app| {
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        for uri in ["/api/v1/datasets/", "/api/v1/practices/A81001/"] {
            let first = app.get(uri).await;
            assert_eq!(first.status, 200, "{uri}: {}", first.text());
            let tag = first.header("etag").expect("an ETag").to_owned();
            assert_eq!(
                first.header("cache-control"),
                Some("private, max-age=0, must-revalidate")
            );
            let again = app
                .request(Method::GET, uri, &[("if-none-match", tag.as_str())])
                .await;
            assert_eq!(again.status, 304, "{uri}");
            assert!(again.body.is_empty());
            assert_eq!(again.header("etag"), Some(tag.as_str()));
            let other = app
                .request(Method::GET, uri, &[("if-none-match", "\"other\"")])
                .await;
            assert_eq!(other.status, 200, "{uri}");
        }
        let before = app.get("/api/v1/datasets/").await;
        app.import("epcn", &["api/epcncorepartnerdetails.csv"])
            .await
            .unwrap();
        let after = app.get("/api/v1/datasets/").await;
        assert_ne!(
            before.header("etag"),
            after.header("etag"),
            "an import changes what datasets/ says"
        );
    });
}
