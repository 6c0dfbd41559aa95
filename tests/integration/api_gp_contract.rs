//! `/gp-contract/practices/`, `/gp-contract/indicators/`, `/gp-contract/values/` and
//! `/gp-contract/carers/` over the real router, with the GP Contract fixtures imported through
//! the real importer: the 2023-24 year's zip (Q1 with MEASURE_TYPE and DD/MM/YYYY dates, Q2
//! without MEASURE_TYPE and with ISO dates), the Q2 reissue (YYYYMMDD dates) and the 2025-26
//! unpaid carers file in the assumed layout; ODS fixtures give the practices their geography.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, keys, results};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        values_of_a_date_in_order_with_suppressed_values_null,
        every_values_filter_narrows_the_rows,
        the_measure_type_is_read_or_taken_from_the_measure,
        values_and_carers_require_a_core_filter,
        values_pages_follow_the_order,
        practices_carry_their_ods_geography,
        practices_follow_a_later_ods_import,
        indicators_list_their_measures_per_quality_service,
        carers_totals_are_all_and_every_filter_narrows,
        a_reissue_replaces_the_dates_it_holds,
        a_broken_file_changes_nothing_and_says_where,
    ],
}

const YEAR_ZIP: &str = "gp_contract/Core_GP_Contract_2324_csv_files.zip";
const Q2_REISSUE: &str = "gp_contract/Core GP Contract Q2 2023-24 v2.csv";
const CARERS: &str = "gp_contract/CGPCMI01 Unpaid Carers Q1 2025-26.csv";
const BROKEN: &str = "gp_contract/broken/Core GP Contract Q3 2023-24.csv";

async fn ods(app: &TestApp) {
    app.import_ods().await;
    app.import_registrations(false).await;
}

async fn loaded(app: &TestApp) {
    ods(app).await;
    app.import("gp-contract", &[YEAR_ZIP, CARERS])
        .await
        .expect("gp contract");
}

/// A query value with its spaces, colons and brackets encoded.
fn encode(value: &str) -> String {
    value
        .replace(' ', "%20")
        .replace(':', "%3A")
        .replace('(', "%28")
        .replace(')', "%29")
}

const PCA: &str = "PCA Count (Rule 3: FRAILASSDEC_DAT)";

async fn values_of_a_date_in_order_with_suppressed_values_null(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get_ok("/api/v1/gp-contract/values/?date=2023-06-30")
            .await;
        assert_eq!(body["count"], 6);
        assert_eq!(
            keys(&body, &["practice_code", "indicator", "measure", "value"]),
            [
                "A81001|CCDCMI32|Denominator|42".to_owned(),
                "A81001|CCDCMI32|Numerator|22".to_owned(),
                format!("A81001|CCDCMI32|{PCA}|null"),
                "A81001|CGPCMI01|Numerator|52".to_owned(),
                "F83001|CGPCMI01|Numerator|0".to_owned(),
                "Z99999|CGPCMI01|Numerator|7".to_owned(),
            ]
        );
        assert_eq!(
            body["results"][3],
            json!({
                "date": "2023-06-30",
                "practice_code": "A81001",
                "indicator": "CGPCMI01",
                "quality_service": "Core GP Contract 2023-24",
                "measure": "Numerator",
                "measure_type": "Numerator",
                "value": 52
            })
        );
        // `*` is null, never 0; a published 0 stays 0.
        let body = app
            .get_ok("/api/v1/gp-contract/values/?practice=F83001&indicator=CGPCMI01")
            .await;
        assert_eq!(
            keys(&body, &["date", "value"]),
            ["2023-04-30|null", "2023-05-31|0", "2023-06-30|0"]
        );
    });
}

async fn every_values_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let pca = encode(&PCA.to_lowercase());
        for (query, count) in [
            ("practice=a81001".to_owned(), 21),
            ("practice=A81001&date=2023-07-31".to_owned(), 3),
            ("date=2023-06-30&indicator=cgpcmi01".to_owned(), 3),
            (
                "practice=A81001&quality_service=core%20gp%20contract%202023-24".to_owned(),
                21,
            ),
            (
                "practice=A81001&quality_service=CoreGPContract2023-24".to_owned(),
                21,
            ),
            (
                "practice=A81001&quality_service=Core%20GP%20Contract%202024-25".to_owned(),
                0,
            ),
            (format!("practice=A81001&measure={pca}"), 3),
            ("practice=A81001&measure=%20DENOMINATOR%20".to_owned(), 6),
            ("date=2023-01-31".to_owned(), 0),
            ("practice=B99999".to_owned(), 0),
        ] {
            let body = app
                .get_ok(&format!("/api/v1/gp-contract/values/?{query}"))
                .await;
            assert_eq!(body["count"], count, "{query}");
        }
        let body = app
            .get_ok("/api/v1/gp-contract/values/?date=2023-07-31&measure=numerator")
            .await;
        assert_eq!(
            keys(&body, &["practice_code", "indicator", "value"]),
            [
                "A81001|ALCMI30|10",
                "A81001|CGPCMI01|60",
                "A81003|CGPCMI01|30"
            ]
        );
        let response = app
            .get("/api/v1/gp-contract/values/?date=30/06/2023x")
            .await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"date":["Enter a valid date."]}"#);
        let response = app
            .get("/api/v1/gp-contract/values/?date=2023-06-30&measure=%00")
            .await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.text(),
            r#"{"measure":["Null characters are not allowed."]}"#
        );
    });
}

async fn the_measure_type_is_read_or_taken_from_the_measure(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        // Q1 publishes MEASURE_TYPE (PCA); Q2 has no such column, so the type is the
        // measure's first word. The three ACH_DATE forms (DD/MM/YYYY, ISO, YYYYMMDD) are all
        // served as ISO dates.
        let body = app
            .get_ok(&format!(
                "/api/v1/gp-contract/values/?practice=A81001&measure={}",
                encode(PCA)
            ))
            .await;
        assert_eq!(
            keys(&body, &["date", "measure_type"]),
            ["2023-04-30|PCA", "2023-05-31|PCA", "2023-06-30|PCA"]
        );
        app.import("gp-contract", &[Q2_REISSUE])
            .await
            .expect("reissue");
        let body = app
            .get_ok("/api/v1/gp-contract/values/?practice=A81001&indicator=ALCMI30")
            .await;
        assert_eq!(
            keys(&body, &["date", "measure", "measure_type"]),
            [
                "2023-07-31|Denominator|Denominator",
                "2023-07-31|Numerator|Numerator",
                "2023-08-31|Denominator|Denominator",
                "2023-08-31|Numerator|Numerator",
                "2023-09-30|Denominator|Denominator",
                "2023-09-30|Numerator|Numerator",
            ]
        );
    });
}

async fn values_and_carers_require_a_core_filter(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for query in [
            "",
            "?indicator=CGPCMI01&measure=Numerator",
            "?date=&practice=",
        ] {
            let response = app
                .get(&format!("/api/v1/gp-contract/values/{query}"))
                .await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.text(),
                r#"{"detail":"At least one of these filters is required: date, practice."}"#
            );
        }
        for query in ["", "?sex=All&age=All&ethnicity=All", "?date=&sub_icb="] {
            let response = app
                .get(&format!("/api/v1/gp-contract/carers/{query}"))
                .await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.text(),
                r#"{"detail":"At least one of these filters is required: date, sub_icb."}"#
            );
        }
        // The lists without a core rule answer without a filter.
        for path in ["practices", "indicators"] {
            app.get_ok(&format!("/api/v1/gp-contract/{path}/")).await;
        }
    });
}

async fn values_pages_follow_the_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let all = app
            .get_ok("/api/v1/gp-contract/values/?practice=A81001")
            .await;
        assert_eq!(all["count"], 21);
        let mut paged = Vec::new();
        for page in 1..=5 {
            let body = app
                .get_ok(&format!(
                    "/api/v1/gp-contract/values/?practice=A81001&page_size=5&page={page}"
                ))
                .await;
            assert_eq!(body["next"].is_null(), page == 5, "page {page}");
            paged.extend(results(&body).iter().cloned());
        }
        assert_eq!(&paged, results(&all));
        let order: Vec<(String, String, String)> = paged
            .iter()
            .map(|r| {
                let text = |f: &str| r[f].as_str().unwrap().to_owned();
                (text("date"), text("indicator"), text("measure"))
            })
            .collect();
        assert!(order.is_sorted(), "{order:?}");
    });
}

async fn practices_carry_their_ods_geography(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get_ok("/api/v1/gp-contract/practices/").await;
        assert_eq!(
            keys(&body, &["practice_code"]),
            ["A81001", "A81003", "F83001", "Z99999"]
        );
        let ods = app.get_ok("/api/v1/practices/?search=A81001").await;
        let ods = &ods["results"][0];
        assert_eq!(
            body["results"][0],
            json!({
                "practice_code": "A81001",
                "practice_name": ods["name"],
                "pcn_code": "U22222",
                "pcn_name": ods["pcn_name"],
                "sub_icb_code": "00L",
                "sub_icb_name": ods["sub_icb_name"],
                "icb_code": "QHM",
                "icb_name": ods["icb_name"],
                "region_code": "Y63",
                "region_name": ods["region_name"],
                "first_date": "2023-04-30",
                "last_date": "2023-09-30"
            })
        );
        assert_eq!(body["results"][0]["practice_name"], "ELM TREE SURGERY");
        assert_eq!(
            body["results"][0]["region_name"],
            "NORTH EAST AND YORKSHIRE"
        );
        // A practice ODS does not list keeps the publication's name and has no geography.
        assert_eq!(
            body["results"][3],
            json!({
                "practice_code": "Z99999",
                "practice_name": "CLOSED BEFORE ODS SURGERY",
                "pcn_code": null,
                "pcn_name": null,
                "sub_icb_code": null,
                "sub_icb_name": null,
                "icb_code": null,
                "icb_name": null,
                "region_code": null,
                "region_name": null,
                "first_date": "2023-06-30",
                "last_date": "2023-06-30"
            })
        );
        for (query, expected) in [
            ("practice=a81003", vec!["A81003"]),
            ("pcn=u22222", vec!["A81001"]),
            ("sub_icb=00p", vec!["A81003"]),
            ("icb=QHM", vec!["A81001", "A81003"]),
            ("region=y56", vec!["F83001"]),
            ("search=elm", vec!["A81001", "A81003"]),
            ("search=z999", vec!["Z99999"]),
            ("search=surgery,camden", vec!["F83001"]),
            ("search=elm&icb=QMJ", vec![]),
        ] {
            let body = app
                .get_ok(&format!("/api/v1/gp-contract/practices/?{query}"))
                .await;
            assert_eq!(keys(&body, &["practice_code"]), expected, "{query}");
        }
    });
}

async fn practices_follow_a_later_ods_import(backend: Backend) {
    with_app!(backend, |app| {
        app.import("gp-contract", &[YEAR_ZIP])
            .await
            .expect("gp contract");
        let before = app
            .get_ok("/api/v1/gp-contract/practices/?practice=F83001")
            .await;
        assert_eq!(before["results"][0]["practice_name"], "CAMDEN ROAD SURGERY");
        assert_eq!(before["results"][0]["icb_code"], Value::Null);
        ods(&app).await;
        let after = app.get_ok("/api/v1/gp-contract/practices/?icb=QMJ").await;
        assert_eq!(
            keys(&after, &["practice_code", "pcn_code"]),
            ["F83001|U11111"]
        );
    });
}

async fn indicators_list_their_measures_per_quality_service(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get_ok("/api/v1/gp-contract/indicators/").await;
        assert_eq!(
            keys(&body, &["indicator", "quality_service", "measures"]),
            [
                "ALCMI30|Core GP Contract 2023-24|Denominator; Numerator".to_owned(),
                format!("CCDCMI32|Core GP Contract 2023-24|Denominator; Numerator; {PCA}"),
                "CGPCMI01|Core GP Contract 2023-24|Numerator".to_owned(),
                "CGPCMI01|Core GP Contract 2025-26|Numerator".to_owned(),
            ]
        );
        assert_eq!(
            body["results"][0],
            json!({
                "indicator": "ALCMI30",
                "description": null,
                "quality_service": "Core GP Contract 2023-24",
                "measures": "Denominator; Numerator"
            })
        );
        for (query, expected) in [
            ("indicator=cgpcmi01", vec!["CGPCMI01", "CGPCMI01"]),
            (
                "quality_service=core%20gp%20contract%202025-26",
                vec!["CGPCMI01"],
            ),
            ("search=cmi3", vec!["ALCMI30", "CCDCMI32"]),
            ("search=cmi3%20ccd", vec!["CCDCMI32"]),
            ("search=carers", vec![]),
        ] {
            let body = app
                .get_ok(&format!("/api/v1/gp-contract/indicators/?{query}"))
                .await;
            assert_eq!(keys(&body, &["indicator"]), expected, "{query}");
        }
    });
}

async fn carers_totals_are_all_and_every_filter_narrows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get_ok("/api/v1/gp-contract/carers/?date=2025-06-30&sub_icb=00l")
            .await;
        assert_eq!(
            keys(&body, &["sex", "age", "ethnicity", "value"]),
            [
                "All|18-24|All|62",
                "All|All|All|1202",
                "All|All|Mixed|null",
                "All|All|White|1002",
                "Female|All|All|702",
                "Male|All|All|502",
            ]
        );
        // The total was published with blank breakdowns.
        assert_eq!(
            body["results"][1],
            json!({
                "date": "2025-06-30",
                "sub_icb_code": "00L",
                "sub_icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L",
                "indicator": "CGPCMI01",
                "quality_service": "Core GP Contract 2025-26",
                "measure": "Numerator",
                "sex": "All",
                "age": "All",
                "ethnicity": "All",
                "value": 1202
            })
        );
        for (query, count) in [
            // 93C's June total is published twice; both rows are served.
            ("date=2025-06-30&sex=all&age=ALL&ethnicity=All", 3),
            ("sub_icb=93C", 4),
            ("sub_icb=00L&sex=female", 3),
            ("date=2025-04-30&age=18-24", 1),
            ("date=2025-04-30&ethnicity=%20white%20", 1),
            ("sub_icb=00L&indicator=cgpcmi01", 18),
            (
                "date=2025-05-31&quality_service=Core%20GP%20Contract%202025-26",
                7,
            ),
            (
                "date=2025-05-31&quality_service=Core%20GP%20Contract%202023-24",
                0,
            ),
            ("date=2025-05-31&sub_icb=00L&sex=Male&age=All", 1),
        ] {
            let body = app
                .get_ok(&format!("/api/v1/gp-contract/carers/?{query}"))
                .await;
            assert_eq!(body["count"], count, "{query}");
        }
        let response = app.get("/api/v1/gp-contract/carers/?date=June").await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"date":["Enter a valid date."]}"#);
    });
}

async fn a_reissue_replaces_the_dates_it_holds(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let august = "/api/v1/gp-contract/values/?date=2023-08-31&indicator=CGPCMI01";
        let september = "/api/v1/gp-contract/values/?date=2023-09-30&indicator=CGPCMI01";
        assert_eq!(
            keys(&app.get_ok(august).await, &["practice_code", "value"]),
            ["A81001|61", "A81003|31"]
        );
        // A later import of the reissue replaces Q2's months whole (A81003 is gone from
        // August) and leaves Q1 as it was.
        app.import("gp-contract", &[Q2_REISSUE])
            .await
            .expect("reissue");
        assert_eq!(
            keys(&app.get_ok(august).await, &["practice_code", "value"]),
            ["A81001|61"]
        );
        assert_eq!(
            keys(&app.get_ok(september).await, &["practice_code", "value"]),
            ["A81001|65", "A81003|32"]
        );
        let june = app
            .get_ok("/api/v1/gp-contract/values/?date=2023-06-30")
            .await;
        assert_eq!(june["count"], 6);
        // The original and its reissue in one import: the later file given is loaded, once.
        let Outcome::Imported { notes, .. } = app
            .import("gp-contract", &[Q2_REISSUE, YEAR_ZIP])
            .await
            .expect("reissue, then the year's zip")
        else {
            panic!("nothing imported");
        };
        assert!(
            notes
                .iter()
                .any(|n| n.contains("gp_contract_values") && n.contains("2023-08-31")),
            "{notes:?}"
        );
        assert_eq!(
            keys(&app.get_ok(august).await, &["practice_code", "value"]),
            ["A81001|61", "A81003|31"]
        );
        assert_eq!(
            keys(&app.get_ok(september).await, &["practice_code", "value"]),
            ["A81001|62", "A81003|32"]
        );
        let all = app
            .get_ok("/api/v1/gp-contract/values/?practice=A81001")
            .await;
        assert_eq!(all["count"], 21);
        assert!(matches!(
            app.import("gp-contract", &[YEAR_ZIP])
                .await
                .expect("same zip"),
            Outcome::Unchanged
        ));
        // The carers file again replaces its own dates only.
        app.import("gp-contract", &[CARERS]).await.expect("carers");
        let carers = app.get_ok("/api/v1/gp-contract/carers/?sub_icb=00L").await;
        assert_eq!(carers["count"], 18);
    });
}

async fn a_broken_file_changes_nothing_and_says_where(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app
            .get_ok("/api/v1/gp-contract/values/?practice=A81001")
            .await;
        let indicators = app.get_ok("/api/v1/gp-contract/indicators/").await;
        let error = app
            .import("gp-contract", &[Q2_REISSUE, BROKEN])
            .await
            .expect_err("broken value");
        assert_eq!(
            error.to_string(),
            "Core GP Contract Q3 2023-24.csv, line 4: column VALUE: invalid value \"n/a\" \
             (expected a whole count, or * where suppressed)"
        );
        let error = app
            .import(
                "gp-contract",
                &["online_consultations/Submissions via OC Systems By Day and Time - November 2025.csv"],
            )
            .await
            .expect_err("another publication");
        assert!(
            error
                .to_string()
                .contains("unrecognised file: expected a GP Contract file"),
            "{error}"
        );
        assert_eq!(
            app.get_ok("/api/v1/gp-contract/values/?practice=A81001")
                .await,
            before
        );
        assert_eq!(
            app.get_ok("/api/v1/gp-contract/indicators/").await,
            indicators
        );
    });
}
