//! `/gp-appointments/` over the real router, with GPAD practice-level fixtures (a release zip
//! with a whole month, a month in two regional halves and Mapping.csv; bare CSVs of an old and
//! a revised release) imported through the real importer.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        a_release_zip_loads_each_month_once,
        rows_come_in_month_practice_and_label_order_across_pages,
        every_filter_narrows_the_rows,
        one_of_month_practice_pcn_or_sub_icb_is_required,
        a_later_import_of_a_month_replaces_it,
        a_month_alone_is_counted_from_the_imports_tally,
        a_month_in_two_files_of_one_import_is_loaded_once,
        geography_comes_from_mapping_then_ods,
        an_old_release_without_status_folds_its_spellings,
        a_broken_file_changes_nothing_and_says_why,
    ],
}

const ZIP: &str = "appointments/Practice_Level_Crosstab_Nov_25.zip";
const DEC_22: &str = "appointments/Practice_Level_Crosstab_Dec_22.csv";
const OCT_V2: &str = "appointments/Practice_Level_Crosstab_Oct_25_v2.csv";
const BROKEN: &str = "appointments/Practice_Level_Crosstab_Sep_25.csv";
const COVERAGE: &str = "appointments/APPOINTMENTS_GP_COVERAGE.csv";

/// `(practice, hcp_type, appt_mode, national_category, lead time, status, count)`.
type Row = (String, String, String, String, String, String, i64);

fn rows(body: &Value) -> Vec<Row> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let text = |name: &str| {
                r[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}"))
                    .to_owned()
            };
            (
                text("practice_code"),
                text("hcp_type"),
                text("appt_mode"),
                text("national_category"),
                text("time_between_book_and_appt"),
                text("appt_status"),
                r["count"].as_i64().expect("count"),
            )
        })
        .collect()
}

fn row(practice: &str, labels: [&str; 5], count: i64) -> Row {
    let [hcp, mode, category, lead, status] = labels.map(str::to_owned);
    (
        practice.to_owned(),
        hcp,
        mode,
        category,
        lead,
        status,
        count,
    )
}

/// October from the two regional halves of the zip, in served order.
fn october_halves() -> Vec<Row> {
    vec![
        row(
            "A81001",
            [
                "GP",
                "Face-to-Face",
                "General Consultation Routine",
                "15  to 21 Days",
                "Attended",
            ],
            5,
        ),
        row(
            "A81001",
            [
                "Other Practice staff",
                "Video Conference/Online",
                "Structured Medication Review",
                "More than 28 Days",
                "Attended",
            ],
            2,
        ),
        row(
            "A81002",
            ["GP", "Telephone", "Clinical Triage", "Same Day", "Attended"],
            9,
        ),
        row(
            "F83001",
            [
                "GP",
                "Face-to-Face",
                "Planned Clinics",
                "2 to 7 Days",
                "Attended",
            ],
            4,
        ),
        row(
            "F83001",
            [
                "GP",
                "Face-to-Face",
                "Planned Clinics",
                "2 to 7 Days",
                "DNA",
            ],
            1,
        ),
        row(
            "Y01063",
            [
                "Unknown",
                "Unknown",
                "Unmapped",
                "Unknown / Data Quality",
                "Unknown",
            ],
            2,
        ),
    ]
}

/// The revised October: one row, its single-spaced lead time in the published spelling.
fn october_v2() -> Vec<Row> {
    vec![row(
        "A81001",
        [
            "GP",
            "Face-to-Face",
            "General Consultation Routine",
            "15  to 21 Days",
            "Attended",
        ],
        6,
    )]
}

async fn month(app: &TestApp, month: &str) -> Vec<Row> {
    let response = app
        .get(&format!(
            "/api/v1/gp-appointments/?month={month}&page_size=500"
        ))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    rows(&response.json())
}

fn notes(outcome: &Outcome) -> &[String] {
    match outcome {
        Outcome::Imported { notes, .. } => notes,
        Outcome::Unchanged => panic!("expected an import"),
    }
}

async fn a_release_zip_loads_each_month_once(backend: Backend) {
    with_app!(backend, |app| {
        let outcome = app.import("appointments", &[ZIP]).await.expect("zip");
        match &outcome {
            Outcome::Imported { rows, periods, .. } => {
                assert_eq!(*rows, 11);
                assert_eq!(periods, &["2025-10-01", "2025-11-01"]);
            }
            Outcome::Unchanged => panic!("imported before"),
        }
        assert_eq!(month(&app, "2025-10").await, october_halves());
        let body = app
            .get("/api/v1/gp-appointments/?month=2025-11-01")
            .await
            .json();
        assert_eq!(body["count"], 5);
        assert_eq!(
            body["results"][0],
            json!({
                "month": "2025-11-01",
                "practice_code": "A81001",
                "practice_name": "ELM TREE SURGERY",
                "supplier": "EMIS",
                "pcn_code": "U22222",
                "sub_icb_code": "00L",
                "icb_code": "QHM",
                "region_code": "Y63",
                "hcp_type": "GP",
                "appt_mode": "Face-to-Face",
                "national_category": "General Consultation Routine",
                "time_between_book_and_appt": "8  to 14 Days",
                "appt_status": "DNA",
                "count": 3
            })
        );
        assert!(matches!(
            app.import("appointments", &[ZIP]).await.expect("again"),
            Outcome::Unchanged
        ));
        // A practice in no PCN has a null PCN.
        let body = app
            .get("/api/v1/gp-appointments/?practice=Y01063")
            .await
            .json();
        assert_eq!(body["results"][0]["pcn_code"], Value::Null);
    });
}

async fn rows_come_in_month_practice_and_label_order_across_pages(backend: Backend) {
    with_app!(backend, |app| {
        app.import("appointments", &[ZIP]).await.expect("zip");
        let mut paged = Vec::new();
        for page in 1..=3 {
            let body = app
                .get(&format!(
                    "/api/v1/gp-appointments/?sub_icb=00L&page_size=2&page={page}"
                ))
                .await
                .json();
            assert_eq!(body["count"], 6);
            assert_eq!(body["next"].is_null(), page == 3, "page {page}");
            paged.extend(rows(&body));
        }
        let months: Vec<Value> = {
            let body = app
                .get("/api/v1/gp-appointments/?sub_icb=00L&page_size=10")
                .await
                .json();
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["month"].clone())
                .collect()
        };
        assert_eq!(
            months,
            [
                "2025-10-01",
                "2025-10-01",
                "2025-10-01",
                "2025-11-01",
                "2025-11-01",
                "2025-11-01"
            ]
        );
        let mut expected: Vec<Row> = october_halves()[..3].to_vec();
        expected.extend([
            row(
                "A81001",
                [
                    "GP",
                    "Face-to-Face",
                    "General Consultation Routine",
                    "8  to 14 Days",
                    "DNA",
                ],
                3,
            ),
            row(
                "A81001",
                [
                    "GP",
                    "Face-to-Face",
                    "General Consultation Routine",
                    "Same Day",
                    "Attended",
                ],
                12,
            ),
            row(
                "A81001",
                [
                    "Other Practice staff",
                    "Telephone",
                    "Clinical Triage",
                    "1 Day",
                    "Attended",
                ],
                7,
            ),
        ]);
        assert_eq!(paged, expected);
    });
}

async fn every_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        app.import("appointments", &[ZIP]).await.expect("zip");
        let cases: &[(&str, usize, &[&str])] = &[
            (
                "?month=2025-10-15",
                6,
                &["A81001", "A81002", "F83001", "Y01063"],
            ),
            ("?month=2025-11", 5, &["A81001", "F83001"]),
            ("?practice=%20a81001%20", 5, &["A81001"]),
            ("?practice=A81001&month=2025-10", 2, &["A81001"]),
            ("?pcn=u22222", 6, &["A81001", "A81002"]),
            ("?pcn=U11111&month=2025-11", 2, &["F83001"]),
            ("?sub_icb=93c", 5, &["F83001", "Y01063"]),
            ("?month=2025-10&supplier=tpp", 3, &["A81002", "F83001"]),
            ("?sub_icb=93C&supplier=EMIS", 1, &["Y01063"]),
            (
                "?month=2025-10&supplier=",
                6,
                &["A81001", "A81002", "F83001", "Y01063"],
            ),
            ("?month=2025-09", 0, &[]),
        ];
        for (query, count, expected) in cases {
            let response = app.get(&format!("/api/v1/gp-appointments/{query}")).await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            let body = response.json();
            assert_eq!(body["count"], *count, "{query}");
            let mut practices: Vec<String> = rows(&body).into_iter().map(|r| r.0).collect();
            practices.sort();
            practices.dedup();
            assert_eq!(practices, *expected, "{query}");
        }
        let response = app.get("/api/v1/gp-appointments/?month=Oct-25").await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"month":["Enter a valid date."]}"#);
    });
}

async fn one_of_month_practice_pcn_or_sub_icb_is_required(backend: Backend) {
    with_app!(backend, |app| {
        app.import("appointments", &[ZIP]).await.expect("zip");
        for query in ["", "?supplier=EMIS", "?month=&practice=", "?icb=QHM"] {
            let response = app.get(&format!("/api/v1/gp-appointments/{query}")).await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.text(),
                r#"{"detail":"At least one of these filters is required: month, practice, pcn, sub_icb."}"#
            );
        }
    });
}

async fn a_later_import_of_a_month_replaces_it(backend: Backend) {
    with_app!(backend, |app| {
        app.import("appointments", &[ZIP]).await.expect("zip");
        // A whole revised month replaces both regional halves.
        app.import("appointments", &[OCT_V2])
            .await
            .expect("revised");
        assert_eq!(month(&app, "2025-10").await, october_v2());
        assert_eq!(month(&app, "2025-11").await.len(), 5);
    });
}

/// The count of a first page too short to hold every row, so that it is counted, not measured.
async fn count(app: &TestApp, query: &str) -> i64 {
    let response = app
        .get(&format!("/api/v1/gp-appointments/?{query}&page_size=1"))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["count"].as_i64().expect("count")
}

async fn a_month_alone_is_counted_from_the_imports_tally(backend: Backend) {
    with_app!(backend, |app| {
        app.import("appointments", &[ZIP]).await.expect("zip");
        // A tally the page count demonstrably reads: skewed by hand, before any request has
        // counted the month.
        let mut tx = app.db.begin().await.unwrap();
        tx.execute_raw(
            "UPDATE row_tallies SET row_count = row_count + 1000 \
             WHERE table_name = 'gp_appointments' AND column_name = 'month' \
             AND value = '2025-11-01'",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&app, "month=2025-11").await, 1005);
        assert_eq!(count(&app, "month=2025-10-17").await, 6);
        // Any other filter beside the month is counted over the rows.
        let of_practice = |rows: Vec<Row>| rows.iter().filter(|r| r.0 == "A81001").count() as i64;
        let november = of_practice(month(&app, "2025-11").await);
        let october = of_practice(month(&app, "2025-10").await);
        assert!(november > 0 && october > 0);
        assert_eq!(count(&app, "month=2025-11&practice=A81001").await, november);
        assert_eq!(count(&app, "practice=A81001").await, november + october);
        // The next import recounts every month of the table, so no skew or stale count stays.
        app.import("appointments", &[OCT_V2])
            .await
            .expect("revised");
        assert_eq!(count(&app, "month=2025-11").await, 5);
        assert_eq!(
            count(&app, "month=2025-10").await,
            october_v2().len() as i64
        );
        assert_eq!(count(&app, "month=2024-01").await, 0);
    });
}

async fn a_month_in_two_files_of_one_import_is_loaded_once(backend: Backend) {
    with_app!(backend, |app| {
        // The later file of the command wins, whole month over halves or halves over whole.
        let outcome = app
            .import("appointments", &[ZIP, OCT_V2])
            .await
            .expect("zip, then revised");
        assert_eq!(month(&app, "2025-10").await, october_v2());
        assert!(
            notes(&outcome).iter().any(|n| n
                .contains("gp_appointments month '2025-10-01' (LONDON)")
                && n.contains("the later file's rows were kept")),
            "{:?}",
            notes(&outcome)
        );
        // Files imported before are loaded again when the command has a new one too.
        app.import("appointments", &[OCT_V2, ZIP, DEC_22])
            .await
            .expect("revised, then zip");
        assert_eq!(month(&app, "2025-10").await, october_halves());
        assert_eq!(month(&app, "2025-11").await.len(), 5);
    });
}

async fn geography_comes_from_mapping_then_ods(backend: Backend) {
    with_app!(backend, |app| {
        // Without ODS, a bare crosstab has no ICB or region.
        app.import("appointments", &[DEC_22]).await.expect("bare");
        let body = app
            .get("/api/v1/gp-appointments/?month=2022-12")
            .await
            .json();
        assert_eq!(body["results"][0]["icb_code"], Value::Null);
        assert_eq!(body["results"][0]["region_code"], Value::Null);
        app.import("epraccur", &["api/epraccur.csv"])
            .await
            .expect("epraccur");
        let outcome = app.import("appointments", &[ZIP]).await.expect("zip");
        let differs = |member: &str| {
            format!(
                "{member} (in Practice_Level_Crosstab_Nov_25.zip): Mapping.csv gives 1 practice(s) \
                 another ICB or region than ODS; Mapping.csv's were kept"
            )
        };
        assert_eq!(
            notes(&outcome),
            [
                differs("Practice_Level_Crosstab_Nov_25.csv"),
                differs("Practice_Level_Crosstab_London_East_South_Oct_25.csv"),
            ]
        );
        let geography = |body: &Value| -> Vec<(String, Value, Value)> {
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["practice_code"].as_str().unwrap().to_owned(),
                        r["icb_code"].clone(),
                        r["region_code"].clone(),
                    )
                })
                .collect()
        };
        let body = app
            .get("/api/v1/gp-appointments/?month=2025-10")
            .await
            .json();
        let mut found = geography(&body);
        found.dedup();
        assert_eq!(
            found,
            [
                ("A81001".to_owned(), json!("QHM"), json!("Y63")),
                ("A81002".to_owned(), json!("QHM"), json!("Y63")),
                // Mapping.csv wins over ODS (QMJ).
                ("F83001".to_owned(), json!("QRV"), json!("Y56")),
                // Not in Mapping.csv: from ODS.
                ("Y01063".to_owned(), json!("QMJ"), json!("Y56")),
            ]
        );
        // A bare crosstab imported once ODS is in takes its geography.
        app.import("appointments", &[DEC_22, OCT_V2])
            .await
            .expect("bare again");
        let body = app
            .get("/api/v1/gp-appointments/?month=2022-12")
            .await
            .json();
        let mut found = geography(&body);
        found.dedup();
        assert_eq!(
            found,
            [
                ("A81001".to_owned(), json!("QHM"), json!("Y63")),
                ("A81002".to_owned(), json!("QHM"), json!("Y63")),
            ]
        );
    });
}

async fn an_old_release_without_status_folds_its_spellings(backend: Backend) {
    with_app!(backend, |app| {
        app.import("appointments", &[DEC_22]).await.expect("dec 22");
        assert_eq!(
            month(&app, "2022-12").await,
            [
                row(
                    "A81001",
                    [
                        "GP",
                        "Face-to-Face",
                        "General Consultation Routine",
                        "8  to 14 Days",
                        "Unknown"
                    ],
                    6,
                ),
                row(
                    "A81001",
                    [
                        "GP",
                        "Face-to-Face",
                        "General Consultation Routine",
                        "Unknown / Data Quality",
                        "Unknown",
                    ],
                    1,
                ),
                row(
                    "A81002",
                    [
                        "Other Practice staff",
                        "Telephone",
                        "Clinical Triage",
                        "2 to 7 Days",
                        "Unknown"
                    ],
                    4,
                ),
            ]
        );
    });
}

async fn a_broken_file_changes_nothing_and_says_why(backend: Backend) {
    with_app!(backend, |app| {
        app.import("appointments", &[ZIP]).await.expect("zip");
        let error = app
            .import("appointments", &[OCT_V2, BROKEN])
            .await
            .expect_err("bad count");
        assert_eq!(
            error.to_string(),
            "Practice_Level_Crosstab_Sep_25.csv, line 3: column COUNT_OF_APPOINTMENTS: \
             invalid value \"12a\" (expected a count of appointments)"
        );
        let error = app
            .import("appointments", &[COVERAGE])
            .await
            .expect_err("not a crosstab");
        assert!(
            error.to_string().starts_with(
                "APPOINTMENTS_GP_COVERAGE.csv: unrecognised file: not a GP appointments practice-level crosstab"
            ),
            "{error}"
        );
        // The revised October given with the broken file did not replace the halves.
        assert_eq!(month(&app, "2025-10").await, october_halves());
        assert_eq!(month(&app, "2025-09").await, []);
    });
}
