//! `/online-consultations/` and `/online-consultations/time/` over the real router, with the
//! online consultation fixtures imported through the real importer: the May 2024 edition's
//! zip (north and south halves, ISO months), the June 2024 edition's north half (DD/MM/YYYY
//! months, May revised), and the day-and-time file in both layouts.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, keys, results};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        a_month_lists_practices_suppliers_and_metrics_in_order,
        every_practice_filter_narrows_the_rows,
        the_supplier_filter_finds_a_supplier_inside_a_list,
        both_endpoints_require_a_core_filter,
        pages_follow_the_order,
        both_time_layouts_are_served_from_one_table,
        every_time_filter_narrows_the_rows,
        a_month_in_two_editions_of_one_import_is_loaded_once,
        reimporting_replaces_the_months_a_file_holds,
        a_broken_file_changes_nothing_and_says_where,
    ],
}

const MAY_2024: &str =
    "online_consultations/Submissions via OC Systems in General Practice - May 2024.zip";
const JUNE_2024_NORTH: &str = "online_consultations/Submissions via OC Systems in General Practice - June 2024_north_regions.csv";
const WEEKDAYS: &str =
    "online_consultations/Submissions via OC Systems By Day and Time - November 2025.csv";
const DATED: &str =
    "online_consultations/Submissions via OC Systems By Day and Time - December 2025.zip";
const BROKEN: &str = "online_consultations/broken/Submissions via OC Systems in General Practice - June 2024_north_regions.csv";

async fn loaded(app: &TestApp) -> Outcome {
    app.import(
        "online-consultations",
        &[MAY_2024, JUNE_2024_NORTH, WEEKDAYS, DATED],
    )
    .await
    .expect("online consultations")
}

/// A query value with its spaces and percent signs encoded.
fn encode(value: &str) -> String {
    value.replace('%', "%25").replace(' ', "%20")
}

const BOTH: &str = "ACCURX LIMITED, ECONSULT HEALTH LIMITED";

async fn a_month_lists_practices_suppliers_and_metrics_in_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/online-consultations/?month=2024-05").await;
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        assert_eq!(body["count"], 9);
        assert_eq!(
            keys(&body, &["practice_code", "supplier", "metric", "value"]),
            [
                format!("A81001|{BOTH}|OC_CAPABILITY|1.0"),
                format!("A81001|{BOTH}|OC_RATE_PER_1000_REGISTERED_PATIENTS|21.56"),
                format!("A81001|{BOTH}|OC_TOTAL_SUBMISSIONS|131.0"),
                "A81002|No data|OC_CAPABILITY|0.0".to_owned(),
                "A81002|No data|OC_RATE_PER_1000_REGISTERED_PATIENTS|null".to_owned(),
                "A81002|No data|OC_TOTAL_SUBMISSIONS|null".to_owned(),
                "F83001|ECONSULT HEALTH LIMITED|OC_CAPABILITY|1.0".to_owned(),
                "F83001|ECONSULT HEALTH LIMITED|OC_RATE_PER_1000_REGISTERED_PATIENTS|5.5"
                    .to_owned(),
                "F83001|ECONSULT HEALTH LIMITED|OC_TOTAL_SUBMISSIONS|45.0".to_owned(),
            ]
        );
        assert_eq!(
            body["results"][2],
            json!({
                "month": "2024-05-01",
                "practice_code": "A81001",
                "practice_name": "ELM TREE SURGERY, STOCKTON",
                "pcn_code": "U22222",
                "pcn_name": "RIVERSIDE NORTH PCN",
                "sub_icb_code": "00L",
                "sub_icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L",
                "icb_code": "QHM",
                "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB",
                "region_code": "Y63",
                "region_name": "NORTH EAST AND YORKSHIRE",
                "supplier": BOTH,
                "metric": "OC_TOTAL_SUBMISSIONS",
                "value": 131.0
            })
        );
        // Floats are served with every digit published.
        let april = app
            .get("/api/v1/online-consultations/?month=2024-04-01&practice=A81001&metric=OC_RATE_PER_1000_REGISTERED_PATIENTS")
            .await;
        assert!(
            april.text().contains(r#""value":19.768934531450576"#),
            "{}",
            april.text()
        );
        // An observed zero stays zero; an empty cell is null.
        let body = app
            .get("/api/v1/online-consultations/?month=2024-04&practice=F83001&metric=OC_TOTAL_SUBMISSIONS")
            .await
            .json();
        assert_eq!(body["results"][0]["value"], json!(0.0));
    });
}

async fn every_practice_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for (query, count, practices) in [
            ("month=2024-05-01&practice=a81002", 3, vec!["A81002"]),
            ("month=2024-05&pcn=u33333", 3, vec!["F83001"]),
            ("icb=QMJ", 6, vec!["F83001"]),
            ("icb=QHM&month=2024-06", 6, vec!["A81001", "A81002"]),
            (
                "practice=A81001&metric=oc_total_submissions",
                3,
                vec!["A81001"],
            ),
            (
                "pcn=U22222&metric=OC_CAPABILITY&month=2024-04",
                2,
                vec!["A81001", "A81002"],
            ),
            ("month=2023-01", 0, vec![]),
        ] {
            let response = app
                .get(&format!("/api/v1/online-consultations/?{query}"))
                .await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            let body = response.json();
            assert_eq!(body["count"], count, "{query}");
            let mut codes = keys(&body, &["practice_code"]);
            codes.dedup();
            assert_eq!(codes, practices, "{query}");
        }
        let body = app
            .get("/api/v1/online-consultations/?practice=A81001&metric=OC_TOTAL_SUBMISSIONS")
            .await
            .json();
        assert_eq!(
            keys(&body, &["month", "supplier", "value"]),
            [
                format!("2024-04-01|{BOTH}|120.0"),
                format!("2024-05-01|{BOTH}|131.0"),
                "2024-06-01|ACCURX LIMITED|140.0".to_owned(),
            ]
        );
        let response = app.get("/api/v1/online-consultations/?month=May").await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"month":["Enter a valid date."]}"#);
    });
}

async fn the_supplier_filter_finds_a_supplier_inside_a_list(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for (supplier, practices) in [
            ("econsult health limited", vec!["A81001", "F83001"]),
            (" ACCURX LIMITED ", vec!["A81001"]),
            ("Accurx Limited,eConsult Health Limited", vec!["A81001"]),
            (BOTH, vec!["A81001"]),
            ("accurx limited, patchs health ltd", vec![]),
            ("ACCURX", vec![]),
            ("no data", vec!["A81002"]),
            ("%", vec![]),
            ("_", vec![]),
        ] {
            let query = format!(
                "/api/v1/online-consultations/?month=2024-05&metric=OC_CAPABILITY&supplier={}",
                encode(supplier)
            );
            let response = app.get(&query).await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            let codes = keys(&response.json(), &["practice_code"]);
            assert_eq!(codes, practices, "{supplier:?}");
        }
        // The placeholder is matched in both the publisher's spellings.
        let body = app
            .get("/api/v1/online-consultations/?practice=A81002&metric=OC_CAPABILITY&supplier=NO%20DATA")
            .await
            .json();
        assert_eq!(
            keys(&body, &["month", "supplier"]),
            [
                "2024-04-01|No Data",
                "2024-05-01|No data",
                "2024-06-01|No data"
            ]
        );
        let response = app
            .get("/api/v1/online-consultations/?month=2024-05&supplier=%00")
            .await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.text(),
            r#"{"supplier":["Null characters are not allowed."]}"#
        );
    });
}

async fn both_endpoints_require_a_core_filter(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for query in [
            "",
            "?supplier=ACCURX%20LIMITED&metric=OC_CAPABILITY",
            "?month=&icb=",
        ] {
            let response = app
                .get(&format!("/api/v1/online-consultations/{query}"))
                .await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.text(),
                r#"{"detail":"At least one of these filters is required: month, practice, pcn, icb."}"#
            );
        }
        for query in ["", "?supplier=ACCURX%20LIMITED", "?date=&practice="] {
            let response = app
                .get(&format!("/api/v1/online-consultations/time/{query}"))
                .await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.text(),
                r#"{"detail":"At least one of these filters is required: date, practice, pcn."}"#
            );
        }
    });
}

async fn pages_follow_the_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let all = app
            .get("/api/v1/online-consultations/?practice=A81001")
            .await
            .json();
        assert_eq!(all["count"], 9);
        let mut paged = Vec::new();
        for page in 1..=3 {
            let body = app
                .get(&format!(
                    "/api/v1/online-consultations/?practice=A81001&page_size=4&page={page}"
                ))
                .await
                .json();
            assert_eq!(body["count"], 9);
            assert_eq!(body["next"].is_null(), page == 3, "page {page}");
            assert_eq!(body["previous"].is_null(), page == 1, "page {page}");
            paged.extend(results(&body).iter().cloned());
        }
        assert_eq!(&paged, results(&all));
        let months: Vec<&str> = paged.iter().map(|r| r["month"].as_str().unwrap()).collect();
        assert!(months.is_sorted(), "{months:?}");
        let response = app
            .get("/api/v1/online-consultations/?practice=A81001&page_size=4&page=4")
            .await;
        assert_eq!(response.status, 404);
        assert_eq!(response.text(), r#"{"detail":"Invalid page."}"#);
    });
}

async fn both_time_layouts_are_served_from_one_table(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app
            .get("/api/v1/online-consultations/time/?practice=A81001")
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        assert_eq!(
            keys(
                &body,
                &[
                    "date",
                    "date_type",
                    "weekday",
                    "submission_time",
                    "clinical",
                    "total"
                ]
            ),
            [
                "2025-11-01|month|Monday|08:00 - 09:59|null|5.0",
                "2025-11-01|month|Monday|Unknown|null|1.0",
                "2025-11-01|month|Tuesday|08:00 - 09:59|null|3.0",
                "2025-12-03|day|Wednesday|08:00 - 09:59|4.0|7.0",
                "2025-12-03|day|Wednesday|10:00 - 11:59|1.0|1.0",
                "2025-12-04|day|Thursday|08:00 - 09:59|2.0|3.0",
            ]
        );
        assert_eq!(
            body["results"][0],
            json!({
                "date": "2025-11-01",
                "date_type": "month",
                "weekday": "Monday",
                "practice_code": "A81001",
                "practice_name": "ELM TREE SURGERY, STOCKTON",
                "pcn_code": "U22222",
                "pcn_name": "RIVERSIDE NORTH PCN",
                "sub_icb_code": "00L",
                "sub_icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L",
                "icb_code": "QHM",
                "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB",
                "region_code": "Y63",
                "region_name": "NORTH EAST AND YORKSHIRE",
                "supplier": BOTH,
                "submission_time": "08:00 - 09:59",
                "clinical": null,
                "admin": null,
                "unknown_other": null,
                "total": 5.0
            })
        );
        assert_eq!(
            body["results"][3],
            json!({
                "date": "2025-12-03",
                "date_type": "day",
                "weekday": "Wednesday",
                "practice_code": "A81001",
                "practice_name": "ELM TREE SURGERY, STOCKTON",
                "pcn_code": "U22222",
                "pcn_name": "RIVERSIDE NORTH PCN",
                "sub_icb_code": "00L",
                "sub_icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L",
                "icb_code": "QHM",
                "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB",
                "region_code": "Y63",
                "region_name": "NORTH EAST AND YORKSHIRE",
                "supplier": BOTH,
                "submission_time": "08:00 - 09:59",
                "clinical": 4.0,
                "admin": 2.0,
                "unknown_other": 1.0,
                "total": 7.0
            })
        );
    });
}

async fn every_time_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for (query, expected) in [
            (
                "date=2025-11-01",
                vec![
                    "A81001|Monday|08:00 - 09:59",
                    "A81001|Monday|Unknown",
                    "A81001|Tuesday|08:00 - 09:59",
                    "F83001|Sunday|18:00 - 23:59",
                ],
            ),
            (
                "date=2025-12-03",
                vec![
                    "A81001|Wednesday|08:00 - 09:59",
                    "A81001|Wednesday|10:00 - 11:59",
                    "F83001|Wednesday|08:00 - 09:59",
                ],
            ),
            ("date=2025-11-02", vec![]),
            (
                "pcn=u33333",
                vec![
                    "F83001|Sunday|18:00 - 23:59",
                    "F83001|Wednesday|08:00 - 09:59",
                ],
            ),
            (
                "date=2025-12-03&supplier=accurx%20limited",
                vec![
                    "A81001|Wednesday|08:00 - 09:59",
                    "A81001|Wednesday|10:00 - 11:59",
                ],
            ),
            (
                "date=2025-12-03&supplier=ECONSULT%20HEALTH%20LIMITED&practice=F83001",
                vec!["F83001|Wednesday|08:00 - 09:59"],
            ),
        ] {
            let response = app
                .get(&format!("/api/v1/online-consultations/time/?{query}"))
                .await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            let body = response.json();
            assert_eq!(
                keys(&body, &["practice_code", "weekday", "submission_time"]),
                expected,
                "{query}"
            );
        }
        // A weekday-aggregated cell left empty is null, never 0.
        let body = app
            .get("/api/v1/online-consultations/time/?practice=F83001&date=2025-11-01")
            .await
            .json();
        assert_eq!(body["results"][0]["total"], Value::Null);
        let response = app
            .get("/api/v1/online-consultations/time/?date=03/12/2025x")
            .await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"date":["Enter a valid date."]}"#);
    });
}

async fn a_month_in_two_editions_of_one_import_is_loaded_once(backend: Backend) {
    with_app!(backend, |app| {
        let may = "/api/v1/online-consultations/?month=2024-05&metric=OC_TOTAL_SUBMISSIONS";
        // May's north half is in both editions: the later file given wins, the south half
        // (only in the May edition) stays.
        app.import("online-consultations", &[JUNE_2024_NORTH, MAY_2024])
            .await
            .expect("June edition, then May");
        assert_eq!(
            keys(&app.get(may).await.json(), &["practice_code", "value"]),
            ["A81001|130.0", "A81002|null", "F83001|45.0"]
        );
        let Outcome::Imported { notes, .. } = loaded(&app).await else {
            panic!("nothing imported");
        };
        assert!(
            notes.iter().any(|n| n.contains("online_consultations")
                && n.contains("2024-05-01")
                && n.contains("Y63")),
            "{notes:?}"
        );
        assert_eq!(
            keys(&app.get(may).await.json(), &["practice_code", "value"]),
            ["A81001|131.0", "A81002|null", "F83001|45.0"]
        );
        let all = app
            .get("/api/v1/online-consultations/?icb=QHM")
            .await
            .json();
        assert_eq!(all["count"], 18);
    });
}

async fn reimporting_replaces_the_months_a_file_holds(backend: Backend) {
    with_app!(backend, |app| {
        app.import("online-consultations", &[MAY_2024])
            .await
            .expect("May edition");
        let total = |body: Value| keys(&body, &["practice_code", "value"]);
        let may = "/api/v1/online-consultations/?month=2024-05&metric=OC_TOTAL_SUBMISSIONS";
        assert_eq!(
            total(app.get(may).await.json()),
            ["A81001|130.0", "A81002|null", "F83001|45.0"]
        );
        // The June edition's north half replaces May in the north only and adds June.
        app.import("online-consultations", &[JUNE_2024_NORTH])
            .await
            .expect("June north");
        assert_eq!(
            total(app.get(may).await.json()),
            ["A81001|131.0", "A81002|null", "F83001|45.0"]
        );
        let april = app
            .get("/api/v1/online-consultations/?month=2024-04")
            .await
            .json();
        assert_eq!(april["count"], 9);
        let june = app
            .get("/api/v1/online-consultations/?month=2024-06")
            .await
            .json();
        assert_eq!(june["count"], 6);
        // The May edition again: June's north half replaced part of what it held, so it is
        // loaded again and May's north is its own again; a second time, nothing changes.
        assert!(matches!(
            app.import("online-consultations", &[MAY_2024])
                .await
                .expect("May edition again"),
            Outcome::Imported { .. }
        ));
        assert_eq!(
            total(app.get(may).await.json()),
            ["A81001|130.0", "A81002|null", "F83001|45.0"]
        );
        assert!(matches!(
            app.import("online-consultations", &[MAY_2024])
                .await
                .expect("same zip"),
            Outcome::Unchanged
        ));
        // The day-and-time files twice over: each month once.
        app.import("online-consultations", &[WEEKDAYS, DATED])
            .await
            .expect("time");
        app.import("online-consultations", &[DATED, WEEKDAYS, DATED])
            .await
            .expect("time again");
        let body = app
            .get("/api/v1/online-consultations/time/?practice=A81001")
            .await
            .json();
        assert_eq!(body["count"], 6);
    });
}

async fn a_broken_file_changes_nothing_and_says_where(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app
            .get("/api/v1/online-consultations/?icb=QHM")
            .await
            .json();
        let error = app
            .import("online-consultations", &[DATED, MAY_2024, BROKEN])
            .await
            .expect_err("broken value");
        assert_eq!(
            error.to_string(),
            "Submissions via OC Systems in General Practice - June 2024_north_regions.csv, \
             line 4: column VALUE: invalid value \"n/a\" (expected a number)"
        );
        let error = app
            .import(
                "online-consultations",
                &["nwrs/1 General Practice – October 2023 Practice Level - Detailed.csv"],
            )
            .await
            .expect_err("another publication");
        assert!(
            error
                .to_string()
                .contains("unrecognised file: expected an online consultations file"),
            "{error}"
        );
        let after = app
            .get("/api/v1/online-consultations/?icb=QHM")
            .await
            .json();
        assert_eq!(after, before);
        let body = app
            .get("/api/v1/online-consultations/time/?date=2025-12-03")
            .await
            .json();
        assert_eq!(body["count"], 3);
    });
}
