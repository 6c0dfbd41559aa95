//! CSV downloads of the list endpoints over the real router: the same rows as the JSON pages,
//! chosen by `?format=csv`, the `.csv` suffix or `Accept: text/csv`, with the API's usual
//! errors and paging.

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{Backend, TestApp, TestResponse, results};

const PAYMENTS: &str = "payments/nhspaymentsgp-24-25-prac-csv.csv";

crate::trials! {
    each_backend: [
        a_download_holds_every_row_the_json_pages_hold,
        csv_is_chosen_by_format_suffix_or_accept_and_json_stays_the_default,
        errors_of_a_download_stay_drf_json,
        page_and_page_size_cut_a_download_as_they_cut_json,
        object_fields_spread_over_one_column_per_key,
        head_of_a_download_runs_no_query_and_sends_no_body,
    ],
    postgres: [
        both_backends_write_the_same_bytes,
    ],
    current_thread: [
        an_error_after_the_first_batch_cuts_the_body_short,
    ],
}

const APPOINTMENTS: &str = "appointments/Practice_Level_Crosstab_Nov_25.zip";
const MONTH: &str = "/api/v1/gp-appointments/?month=2025-11-01";

async fn appointments(app: &TestApp) {
    app.import("appointments", &[APPOINTMENTS])
        .await
        .expect("appointments");
}

/// The imported month and 600 copies of each of its rows under other practice codes: several
/// batches of a streamed read. One copy's name needs quoting.
async fn many_appointments(app: &TestApp) {
    appointments(app).await;
    let mut tx = app.db.begin().await.unwrap();
    tx.execute_raw(
        "INSERT INTO gp_appointments (month, practice_code, practice_name, supplier, pcn_code, \
             sub_icb_code, icb_code, region_code, hcp_type, appt_mode, national_category, \
             time_between_book_and_appt, appt_status, count, import_id) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) \
         SELECT month, practice_code || '-' || n.i, \
             CASE WHEN n.i = 7 THEN 'THE \"ELM\", TREE' ELSE practice_name END, supplier, \
             pcn_code, sub_icb_code, icb_code, region_code, hcp_type, appt_mode, \
             national_category, time_between_book_and_appt, appt_status, count + n.i, import_id \
         FROM gp_appointments, n",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn pcn_des(app: &TestApp) {
    for (source, file) in [
        ("epraccur", "api/epraccur.csv"),
        ("epcn", "api/epcncorepartnerdetails.csv"),
        ("registrations", "api/gp-reg-pat-prac-map.csv"),
        ("pcn-des", "pcn_des/NCDesJune24.csv"),
    ] {
        app.import(source, &[file]).await.expect(source);
    }
}

fn records(response: &TestResponse) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(response.body.as_slice());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// A JSON value as a CSV field holds it.
fn as_field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every row of a JSON list, all pages of it.
async fn every_json_row(app: &TestApp, uri: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut next = Some(format!("{uri}&page_size=500"));
    while let Some(page) = next {
        let body = app
            .get_ok(page.trim_start_matches("http://testserver"))
            .await;
        rows.extend(results(&body).iter().cloned());
        next = body["next"].as_str().map(str::to_owned);
    }
    rows
}

async fn a_download_holds_every_row_the_json_pages_hold(backend: Backend) {
    with_app!(backend, |app| {
        many_appointments(&app).await;
        let response = app.get(&format!("{MONTH}&format=csv")).await;
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("text/csv; charset=utf-8")
        );
        assert_eq!(
            response.header("content-disposition"),
            Some("attachment; filename=\"gp-appointments-month-2025-11-01.csv\"")
        );
        assert_eq!(response.header("vary"), Some("Accept"));
        assert!(response.header("etag").is_some());
        assert!(!response.body.starts_with(b"\xEF\xBB\xBF"), "no BOM");
        let text = response.text();
        assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'));

        assert!(
            text.contains(r#","THE ""ELM"", TREE","#),
            "quoted as RFC 4180 says"
        );
        // The month alone is counted from the import's tally, which the copies are not in.
        let sub_icb = app.get_ok(MONTH).await["results"][0]["sub_icb_code"].clone();
        let uri = format!(
            "/api/v1/gp-appointments/?sub_icb={}",
            sub_icb.as_str().unwrap()
        );
        let json = every_json_row(&app, &uri).await;
        assert!(json.len() > 2000, "{} rows: several batches", json.len());
        let response = app.get(&format!("{uri}&format=csv")).await;
        let (header, rows) = records(&response);
        let names: Vec<String> = json[0].as_object().unwrap().keys().cloned().collect();
        assert_eq!(header, names);
        assert_eq!(rows.len(), json.len());
        for (row, object) in rows.iter().zip(&json) {
            let expected: Vec<String> = names.iter().map(|n| as_field(&object[n])).collect();
            assert_eq!(row, &expected);
        }
    });
}

async fn csv_is_chosen_by_format_suffix_or_accept_and_json_stays_the_default(backend: Backend) {
    with_app!(backend, |app| {
        appointments(&app).await;
        let csv = app.get(&format!("{MONTH}&format=csv")).await;
        let by_suffix = app
            .get("/api/v1/gp-appointments.csv?month=2025-11-01")
            .await;
        assert_eq!(by_suffix.status, 200);
        assert_eq!(by_suffix.body, csv.body);
        let by_accept = app
            .request(Method::GET, MONTH, &[("accept", "text/csv")])
            .await;
        assert_eq!(by_accept.status, 200);
        assert_eq!(by_accept.body, csv.body);
        for accept in [None, Some("*/*"), Some("application/json, text/csv")] {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
            let response = app.request(Method::GET, MONTH, &headers).await;
            assert_eq!(response.status, 200);
            assert_eq!(response.header("content-type"), Some("application/json"));
            assert_eq!(response.header("vary"), Some("Accept"));
        }
        assert_eq!(app.get(&format!("{MONTH}&format=api")).await.status, 404);
        let html = app
            .request(Method::GET, MONTH, &[("accept", "text/html")])
            .await;
        assert_eq!(html.status, 406);
        let crossed = app
            .request(
                Method::GET,
                &format!("{MONTH}&format=csv"),
                &[("accept", "application/json")],
            )
            .await;
        assert_eq!(crossed.status, 406);
        let options = app
            .request(Method::OPTIONS, "/api/v1/gp-appointments/", &[])
            .await;
        assert_eq!(
            options.json()["renders"],
            serde_json::json!(["application/json", "text/csv"])
        );
    });
}

async fn errors_of_a_download_stay_drf_json(backend: Backend) {
    with_app!(backend, |app| {
        appointments(&app).await;
        let missing = app.get("/api/v1/gp-appointments/?format=csv").await;
        assert_eq!(missing.status, 400);
        assert_eq!(missing.header("content-type"), Some("application/json"));
        assert!(missing.json()["detail"].is_string());
        let invalid = app
            .get("/api/v1/gp-appointments/?format=csv&month=soon")
            .await;
        assert_eq!(invalid.status, 400);
        assert!(invalid.json()["month"].is_array());
        let anonymous = app.get_anonymous(&format!("{MONTH}&format=csv"), &[]).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(
            anonymous.text(),
            r#"{"detail":"Authentication credentials were not provided."}"#
        );
        let unknown = app
            .get("/api/v1/practices/Z99999/population/?format=csv")
            .await;
        assert_eq!(unknown.status, 404);
        assert_eq!(
            unknown.text(),
            r#"{"detail":"No Practice matches the given query."}"#
        );
    });
}

async fn page_and_page_size_cut_a_download_as_they_cut_json(backend: Backend) {
    with_app!(backend, |app| {
        appointments(&app).await;
        let page = app.get_ok(&format!("{MONTH}&page_size=3&page=2")).await;
        let response = app
            .get(&format!("{MONTH}&page_size=3&page=2&format=csv"))
            .await;
        assert_eq!(response.status, 200);
        assert_eq!(
            response.header("content-disposition"),
            Some(
                "attachment; filename=\"gp-appointments-month-2025-11-01-page-2-page_size-3.csv\""
            )
        );
        let (header, rows) = records(&response);
        let expected: Vec<Vec<String>> = results(&page)
            .iter()
            .map(|o| header.iter().map(|n| as_field(&o[n])).collect())
            .collect();
        assert_eq!(rows, expected);
        let first = app.get(&format!("{MONTH}&page_size=3&format=csv")).await;
        assert_eq!(records(&first).1.len(), 3);
        let past = app.get(&format!("{MONTH}&page=100000&format=csv")).await;
        assert_eq!(past.status, 404);
        assert_eq!(past.text(), r#"{"detail":"Invalid page."}"#);
    });
}

async fn object_fields_spread_over_one_column_per_key(backend: Backend) {
    with_app!(backend, |app| {
        pcn_des(&app).await;
        let uri = "/api/v1/pcn-des/?date=2024-06-30";
        let json = app.get_ok(&format!("{uri}&page_size=500")).await;
        let json = results(&json);
        let response = app.get(&format!("{uri}&format=csv")).await;
        assert_eq!(response.status, 200, "{}", response.text());
        let (header, rows) = records(&response);
        let mut keys: Vec<String> = json
            .iter()
            .flat_map(|r| r["measures"].as_object().unwrap().keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        assert!(keys.len() >= 3, "{keys:?}");
        let plain: Vec<String> = json[0]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "measures")
            .cloned()
            .collect();
        let expected_header: Vec<String> = plain
            .iter()
            .cloned()
            .chain(keys.iter().map(|k| format!("measures.{k}")))
            .collect();
        assert_eq!(header, expected_header);
        assert_eq!(rows.len(), json.len());
        for (row, object) in rows.iter().zip(json) {
            let expected: Vec<String> = plain
                .iter()
                .map(|n| as_field(&object[n]))
                .chain(keys.iter().map(|k| as_field(&object["measures"][k])))
                .collect();
            assert_eq!(row, &expected);
        }
    });
}

async fn head_of_a_download_runs_no_query_and_sends_no_body(backend: Backend) {
    with_app!(backend, |app| {
        appointments(&app).await;
        let uri = format!("{MONTH}&format=csv");
        let get = app.get(&uri).await;
        // Without its table, any query for the rows would fail.
        let mut tx = app.db.begin().await.unwrap();
        tx.execute_raw("DROP TABLE gp_appointments").await.unwrap();
        tx.commit().await.unwrap();
        let head = app.request(Method::HEAD, &uri, &[]).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(head.header("content-length"), None);
        for name in [
            "content-type",
            "content-disposition",
            "etag",
            "cache-control",
            "vary",
        ] {
            assert_eq!(head.header(name), get.header(name), "{name}");
        }
    });
}

/// The same imports downloaded from each backend are the same bytes: text needing quotes,
/// integers, dates, floats, decimals and object columns, over several batches.
async fn both_backends_write_the_same_bytes() {
    let uris = [
        format!("{MONTH}&format=csv"),
        "/api/v1/pcn-des/?date=2024-06-30&format=csv".to_owned(),
        "/api/v1/nhs-payments/practices/?year=2024/25&format=csv".to_owned(),
    ];
    let mut downloads = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::new(backend).await;
        many_appointments(&app).await;
        pcn_des(&app).await;
        app.import("payments", &[PAYMENTS]).await.expect("payments");
        let mut bodies = Vec::new();
        for uri in &uris {
            let response = app.get(uri).await;
            assert_eq!(response.status, 200, "{uri}: {}", response.text());
            bodies.push(response.body);
        }
        app.finish().await;
        downloads.push(bodies);
    }
    for ((uri, sqlite), postgres) in uris.iter().zip(&downloads[0]).zip(&downloads[1]) {
        let differs = sqlite.iter().zip(postgres).position(|(a, b)| a != b);
        assert!(
            sqlite == postgres,
            "{uri}: {} bytes from SQLite, {} from PostgreSQL, first differing at {differs:?}",
            sqlite.len(),
            postgres.len()
        );
    }
}

/// A row that cannot be read once the first batch is sent cannot change the status: the body
/// stops short with an error, which the client sees as an incomplete transfer, rather than
/// ending as if every row had been sent.
async fn an_error_after_the_first_batch_cuts_the_body_short() {
    let app = TestApp::new(Backend::Sqlite).await;
    many_appointments(&app).await;
    // Text that is not UTF-8, in the last row of the download.
    let mut tx = app.db.begin().await.unwrap();
    tx.execute_raw(
        "UPDATE gp_appointments SET practice_name = CAST(X'FF' AS TEXT) WHERE rowid = \
         (SELECT rowid FROM gp_appointments ORDER BY month DESC, practice_code DESC, \
          hcp_type DESC, appt_mode DESC, national_category DESC, \
          time_between_book_and_appt DESC, appt_status DESC LIMIT 1)",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let request = Request::builder()
        .uri(format!("{MONTH}&format=csv"))
        .header("host", "testserver")
        .header("authorization", format!("Bearer {}", app.key))
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = Vec::new();
    let error = loop {
        match body.frame().await {
            Some(Ok(frame)) => received.extend_from_slice(frame.data_ref().unwrap()),
            Some(Err(error)) => break error,
            None => panic!(
                "the body ended as if complete after {} bytes",
                received.len()
            ),
        }
    };
    let text = String::from_utf8(received).unwrap();
    assert!(text.starts_with("month,practice_code,"), "{error}");
    assert!(
        text.lines().count() > 1000,
        "at least the first batch arrived"
    );
    assert!(text.ends_with("\r\n"), "whole batches arrived");
    app.finish().await;
}
