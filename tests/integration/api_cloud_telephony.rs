//! `/cloud-telephony/` and `/cloud-telephony/time/` over the real router, with the Cloud Based
//! Telephony fixtures (`tests/fixtures/cloud_telephony/`) imported through the real importer.
//!
//! August 2026 by day and time: F81001 takes 10 + 5 + 6 = 21 inbound calls (CBT001) over three
//! bands and two days (one `Date` with a time of day) and answers 8 + 4 = 12 (CBT003); F81002
//! 2 and 2; J82001 (region Y58) 3 and 3; X99999 (the `Unmapped` member, no geography) 1; and
//! two shared accounts (`Unassigned`): 7 calls at PCN U00001 and 4 at ICB QHM. The `_v2`
//! reissue has 11 where the original has 10. The durations file's CBT003 TOTAL for F81002 is 3
//! where the day-and-time file has 2.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        monthly_totals_sum_days_and_bands_in_order,
        every_filter_narrows_the_rows,
        shared_accounts_keep_their_geography_and_match_no_practice,
        one_of_the_core_filters_is_required,
        pages_cut_a_total_order,
        bands_keep_their_published_labels_and_match_any_spacing,
        durations_and_wait_bands_are_served_by_kind,
        a_disagreement_between_kinds_is_noted,
        a_reissue_in_the_same_import_is_loaded_once,
        reimporting_a_month_replaces_it,
        a_broken_file_changes_nothing_and_says_why,
    ],
}

const DAY_AND_TIME: &str = "cloud_telephony/CBT_By_Day_and_Time_August_2026.zip";
const DAY_AND_TIME_V2: &str = "cloud_telephony/CBT_By_Day_and_Time_August_2026_v2.zip";
const DURATIONS: &str = "cloud_telephony/CBT_By_Durations_August_2026.zip";
const WAIT: &str = "cloud_telephony/CBT_Calls_Answered_Metric_August_2026_Y56.csv";
const SEPTEMBER: &str = "cloud_telephony/CBT_By_Day_and_Time_September_2026_Y56.csv";
const SEPTEMBER_0526: &str = "cloud_telephony/CBT_By_Day_and_Time_September_2026_Y56_0526.csv";
const BROKEN: &str = "cloud_telephony/CBT_By_Day_and_Time_October_2026_Y56.csv";

async fn loaded(app: &TestApp) -> Outcome {
    app.import(
        "cloud-telephony",
        &[DAY_AND_TIME, DURATIONS, WAIT, SEPTEMBER],
    )
    .await
    .expect("cloud telephony")
}

/// `(month, practice_code, pcn_code, indicator, value)` of every row on the page.
fn monthly(body: &Value) -> Vec<(String, Value, Value, String, i64)> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["month"].as_str().unwrap().to_owned(),
                r["practice_code"].clone(),
                r["pcn_code"].clone(),
                r["indicator"].as_str().unwrap().to_owned(),
                r["value"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// `(practice_code, indicator, dimension_type, dimension, core_category, value)`.
fn bands(body: &Value) -> Vec<(Value, String, String, String, Value, i64)> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["practice_code"].clone(),
                r["indicator"].as_str().unwrap().to_owned(),
                r["dimension_type"].as_str().unwrap().to_owned(),
                r["dimension"].as_str().unwrap().to_owned(),
                r["core_category"].clone(),
                r["value"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn row(
    practice: Option<&str>,
    pcn: Option<&str>,
    indicator: &str,
    value: i64,
) -> (String, Value, Value, String, i64) {
    (
        "2026-08-01".to_owned(),
        json!(practice),
        json!(pcn),
        indicator.to_owned(),
        value,
    )
}

fn august(f81001_calls: i64) -> Vec<(String, Value, Value, String, i64)> {
    vec![
        row(Some("F81001"), Some("U00001"), "CBT001", f81001_calls),
        row(Some("F81001"), Some("U00001"), "CBT003", 12),
        row(Some("F81002"), Some("U00001"), "CBT001", 2),
        row(Some("F81002"), Some("U00001"), "CBT003", 2),
        row(Some("J82001"), Some("U00002"), "CBT001", 3),
        row(Some("J82001"), Some("U00002"), "CBT003", 3),
        row(Some("X99999"), None, "CBT001", 1),
        row(None, Some("U00001"), "CBT001", 7),
        row(None, None, "CBT001", 4),
    ]
}

async fn monthly_totals_sum_days_and_bands_in_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get("/api/v1/cloud-telephony/?month=2026-08")
            .await
            .json();
        assert_eq!(body["count"], 9);
        assert_eq!(monthly(&body), august(21));
        assert_eq!(
            body["results"][0],
            json!({
                "month": "2026-08-01",
                "practice_code": "F81001",
                "unassigned": false,
                "pcn_code": "U00001",
                "sub_icb_code": "93C",
                "icb_code": "QMJ",
                "region_code": "Y56",
                "indicator": "CBT001",
                "value": 21,
            })
        );
        let september = app
            .get("/api/v1/cloud-telephony/?month=2026-09-15")
            .await
            .json();
        assert_eq!(
            monthly(&september),
            [(
                "2026-09-01".to_owned(),
                json!("F81001"),
                json!("U00001"),
                "CBT001".to_owned(),
                10
            )]
        );
    });
}

async fn every_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let count = |body: Value| body["count"].as_i64().unwrap();
        let cases = [
            ("practice=f81001", 3),
            ("practice=F81001&month=2026-09", 1),
            ("pcn=U00001", 6),
            ("pcn=U00001&month=2026-08", 5),
            ("icb=QHM", 3),
            ("icb=qmj&indicator=cbt003", 2),
            ("month=2026-08&indicator=CBT003", 3),
            ("month=2026-07", 0),
        ];
        for (query, expected) in cases {
            let body = app.get(&format!("/api/v1/cloud-telephony/?{query}")).await;
            assert_eq!(body.status, 200, "{query}");
            assert_eq!(count(body.json()), expected, "{query}");
        }
        let time_cases = [
            ("practice=F81001&month=2026-08&indicator=CBT001", 2),
            ("icb=QHM&dimension=12:00-13:59", 1),
            ("pcn=U00002", 4),
        ];
        for (query, expected) in time_cases {
            let body = app
                .get(&format!("/api/v1/cloud-telephony/time/?{query}"))
                .await;
            assert_eq!(body.status, 200, "{query}");
            assert_eq!(count(body.json()), expected, "{query}");
        }
    });
}

async fn shared_accounts_keep_their_geography_and_match_no_practice(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get("/api/v1/cloud-telephony/?icb=QHM").await.json();
        let shared = &body["results"][2];
        assert_eq!(shared["practice_code"], Value::Null);
        assert_eq!(shared["unassigned"], true);
        assert_eq!(shared["icb_code"], "QHM");
        assert_eq!(shared["region_code"], "Y58");
        assert_eq!(shared["pcn_code"], Value::Null);
        assert_eq!(shared["value"], 4);
        for practice in ["Unassigned", "UNASSIGNED"] {
            let body = app
                .get(&format!("/api/v1/cloud-telephony/?practice={practice}"))
                .await
                .json();
            assert_eq!(body["count"], 0, "{practice}");
        }
    });
}

async fn one_of_the_core_filters_is_required(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for path in ["cloud-telephony/", "cloud-telephony/time/"] {
            for query in ["", "?indicator=CBT001", "?month=", "?dimension=TOTAL"] {
                let response = app.get(&format!("/api/v1/{path}{query}")).await;
                assert_eq!(response.status, 400, "{path}{query}");
                assert_eq!(
                    response.text(),
                    r#"{"detail":"At least one of these filters is required: month, practice, pcn, icb."}"#
                );
            }
        }
        let bad = app.get("/api/v1/cloud-telephony/?month=2026-13").await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.json(), json!({"month": ["Enter a valid date."]}));
    });
}

async fn pages_cut_a_total_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let mut seen = Vec::new();
        let mut url = "/api/v1/cloud-telephony/?month=2026-08&page_size=4".to_owned();
        let mut pages = 0;
        loop {
            let body = app.get(&url).await.json();
            assert_eq!(body["count"], 9);
            seen.extend(monthly(&body));
            pages += 1;
            match body["next"].as_str() {
                Some(next) => url = next.trim_start_matches("http://testserver").to_owned(),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, august(21));
        let time = app
            .get("/api/v1/cloud-telephony/time/?month=2026-08&page_size=500")
            .await
            .json();
        let all = bands(&time);
        let mut paged = Vec::new();
        for page in 1..=all.len().div_ceil(3) {
            let body = app
                .get(&format!(
                    "/api/v1/cloud-telephony/time/?month=2026-08&page_size=3&page={page}"
                ))
                .await
                .json();
            paged.extend(bands(&body));
        }
        assert_eq!(paged, all);
    });
}

async fn bands_keep_their_published_labels_and_match_any_spacing(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let expected = vec![(
            json!("F81001"),
            "CBT001".to_owned(),
            "time".to_owned(),
            "08:00 - 09:59".to_owned(),
            Value::Null,
            16,
        )];
        for dimension in ["08:00%20-%2009:59", "08:00-09:59", "%2008:00%20-09:59%20"] {
            let body = app
                .get(&format!(
                    "/api/v1/cloud-telephony/time/?practice=F81001&month=2026-08&indicator=CBT001&dimension={dimension}"
                ))
                .await
                .json();
            assert_eq!(bands(&body), expected, "{dimension}");
        }
        // September's first row wrote the band without spaces: that spelling is kept, and the
        // spaced spelling of the next day adds to it.
        let september = app
            .get("/api/v1/cloud-telephony/time/?month=2026-09&dimension=08:00+-+09:59")
            .await
            .json();
        assert_eq!(
            bands(&september),
            [(
                json!("F81001"),
                "CBT001".to_owned(),
                "time".to_owned(),
                "08:00-09:59".to_owned(),
                Value::Null,
                10
            )]
        );
    });
}

async fn durations_and_wait_bands_are_served_by_kind(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get("/api/v1/cloud-telephony/time/?practice=F81001&month=2026-08&indicator=CBT003")
            .await
            .json();
        let band = |kind: &str, label: &str, core: Value, value| {
            (
                json!("F81001"),
                "CBT003".to_owned(),
                kind.to_owned(),
                label.to_owned(),
                core,
                value,
            )
        };
        assert_eq!(
            bands(&body),
            [
                band("duration", "0", Value::Null, 3),
                band("duration", "121_180", Value::Null, 5),
                band("duration", ">300", Value::Null, 4),
                band("duration", "TOTAL", Value::Null, 12),
                band("time", "08:00 - 09:59", Value::Null, 12),
                band("wait", "0", json!("Core_8_10"), 8),
                band("wait", "1_30", json!("Core_10_1830"), 4),
                band("wait", "TOTAL", json!("Core_10_1830"), 4),
                band("wait", "TOTAL", json!("Core_8_10"), 8),
            ]
        );
    });
}

async fn a_disagreement_between_kinds_is_noted(backend: Backend) {
    let expected = "cloud telephony 2026-08 CBT003: the By Durations TOTAL differs from the By Day \
        and Time total for 1 practice";
    with_app!(backend, |app| {
        let Outcome::Imported { notes, .. } = loaded(&app).await else {
            panic!("imported");
        };
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with(expected), "{notes:?}");
        assert!(notes[0].ends_with("e.g. F81002: 3 against 2"), "{notes:?}");
        assert!(
            notes[0].contains("CBT_By_Durations_August_2026_Y56.csv"),
            "{notes:?}"
        );
    });
    // The same disagreement is found whichever kind comes first, in another import.
    with_app!(backend, |app| {
        app.import("cloud-telephony", &[DURATIONS])
            .await
            .expect("durations");
        let Outcome::Imported { notes, .. } = app
            .import("cloud-telephony", &[DAY_AND_TIME])
            .await
            .expect("day and time")
        else {
            panic!("imported");
        };
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with(expected), "{notes:?}");
        assert!(notes[0].ends_with("e.g. F81002: 3 against 2"), "{notes:?}");
    });
}

async fn a_reissue_in_the_same_import_is_loaded_once(backend: Backend) {
    with_app!(backend, |app| {
        let Outcome::Imported { notes, .. } = app
            .import("cloud-telephony", &[DAY_AND_TIME, DAY_AND_TIME_V2])
            .await
            .expect("both")
        else {
            panic!("imported");
        };
        assert!(
            notes
                .iter()
                .any(|n| n.contains("held by more than one file")),
            "{notes:?}"
        );
        let body = app
            .get("/api/v1/cloud-telephony/?month=2026-08")
            .await
            .json();
        assert_eq!(monthly(&body), august(22));
        let time = app
            .get("/api/v1/cloud-telephony/time/?month=2026-08&practice=F81001&indicator=CBT001")
            .await
            .json();
        assert_eq!(time["count"], 2);
    });
}

async fn reimporting_a_month_replaces_it(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        app.import("cloud-telephony", &[SEPTEMBER_0526])
            .await
            .expect("corrected september");
        let body = app
            .get("/api/v1/cloud-telephony/?month=2026-09")
            .await
            .json();
        assert_eq!(body["count"], 1);
        assert_eq!(body["results"][0]["value"], 20);
        let time = app
            .get("/api/v1/cloud-telephony/time/?month=2026-09")
            .await
            .json();
        assert_eq!(time["count"], 1);
        assert_eq!(time["results"][0]["value"], 20);
        // August was not in the corrected file: it stays as loaded.
        let august_body = app
            .get("/api/v1/cloud-telephony/?month=2026-08")
            .await
            .json();
        assert_eq!(monthly(&august_body), august(21));
        // Importing the August day-and-time zip again replaces its month, and only its kind.
        app.import("cloud-telephony", &[DAY_AND_TIME_V2])
            .await
            .expect("reissue");
        let again = app
            .get("/api/v1/cloud-telephony/?month=2026-08")
            .await
            .json();
        assert_eq!(monthly(&again), august(22));
        let durations = app
            .get("/api/v1/cloud-telephony/time/?month=2026-08&dimension=TOTAL&practice=F81002")
            .await
            .json();
        assert_eq!(durations["count"], 1);
    });
}

async fn a_broken_file_changes_nothing_and_says_why(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app
            .get("/api/v1/cloud-telephony/time/?pcn=U00001&page_size=500")
            .await
            .text();
        let error = app
            .import("cloud-telephony", &[SEPTEMBER_0526, BROKEN])
            .await
            .expect_err("a fractional count");
        assert_eq!(
            error.to_string(),
            "CBT_By_Day_and_Time_October_2026_Y56.csv, line 3: column Value: invalid value \
             \"1.5\" (expected a whole count such as 12 or 12.0)"
        );
        let after = app
            .get("/api/v1/cloud-telephony/time/?pcn=U00001&page_size=500")
            .await
            .text();
        assert_eq!(after, before);
        let september = app
            .get("/api/v1/cloud-telephony/?month=2026-09")
            .await
            .json();
        assert_eq!(september["results"][0]["value"], 10);
        let october = app
            .get("/api/v1/cloud-telephony/?month=2026-10")
            .await
            .json();
        assert_eq!(october["count"], 0);
    });
}
