//! `/nwrs/snapshots/` and `/nwrs/` over the real router, with the General Practice Workforce
//! fixtures imported through the real importer.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        snapshots_list_latest_first_with_practice_counts,
        a_snapshot_lists_practices_groups_and_roles_in_order,
        every_filter_narrows_the_rows,
        a_snapshot_is_required,
        the_high_level_file_wins_whichever_is_imported_first,
        reimporting_a_snapshot_replaces_it,
        a_broken_file_changes_nothing_and_says_why,
    ],
}

const ZIP: &str = "nwrs/GPWPracticeCSV.092023.zip";
const SEPTEMBER: &str = "nwrs/1 General Practice – September 2023 Practice Level - Detailed.csv";
const SEPTEMBER_HIGH: &str =
    "nwrs/3 General Practice – September 2023 Practice Level - High level.csv";
const OCTOBER: &str = "nwrs/1 General Practice – October 2023 Practice Level - Detailed.csv";

async fn loaded(app: &TestApp) {
    app.import("nwrs", &[ZIP, OCTOBER]).await.expect("nwrs");
}

/// `(practice_code, staff_group, staff_role, headcount, fte)`.
type Row = (String, String, String, Value, Value);

/// Every row on the page.
fn rows(body: &Value) -> Vec<Row> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["practice_code"].as_str().unwrap().to_owned(),
                r["staff_group"].as_str().unwrap().to_owned(),
                r["staff_role"].as_str().unwrap().to_owned(),
                r["headcount"].clone(),
                r["fte"].clone(),
            )
        })
        .collect()
}

fn practices(body: &Value) -> Vec<String> {
    let mut codes: Vec<String> = rows(body).into_iter().map(|r| r.0).collect();
    codes.dedup();
    codes
}

/// A81001 at September 2023: the high-level file's rows win where it has them (GP Total,
/// Partner/Provider, Practice Nurse) and add the role only it has (Salaried By Practice).
fn a81001_september() -> Vec<Row> {
    [
        (
            "Admin/Non-Clinical",
            "Receptionist",
            json!(6),
            json!("4.01"),
        ),
        ("Admin/Non-Clinical", "Total", json!(9), json!("6.25")),
        ("Direct Patient Care", "Pharmacist", json!(1), json!("0.80")),
        ("Direct Patient Care", "Total", json!(1), json!("0.80")),
        ("GP", "Partner/Provider", json!(3), json!("2.50")),
        ("GP", "Salaried By Practice", json!(2), json!("1.25")),
        ("GP", "Total", json!(5), json!("3.75")),
        (
            "GP",
            "Total excluding GPs in Training Grade",
            json!(4),
            json!("3.10"),
        ),
        ("Nurses", "Practice Nurse", Value::Null, Value::Null),
        ("Nurses", "Total", json!(2), json!("1.50")),
    ]
    .into_iter()
    .map(|(group, role, headcount, fte)| {
        (
            "A81001".to_owned(),
            group.to_owned(),
            role.to_owned(),
            headcount,
            fte,
        )
    })
    .collect()
}

async fn snapshots_list_latest_first_with_practice_counts(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/nwrs/snapshots/").await;
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(
            response.text(),
            r#"[{"snapshot":"2023-10-31","practice_count":2},{"snapshot":"2023-09-30","practice_count":3}]"#
        );
    });
}

async fn a_snapshot_lists_practices_groups_and_roles_in_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/nwrs/?snapshot=2023-09-30").await;
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        assert_eq!(body["count"], 28, "{:?}", app.backend);
        assert_eq!(practices(&body), ["A81001", "A81002", "F83001"]);
        assert_eq!(rows(&body)[..10], a81001_september()[..]);
        assert_eq!(
            body["results"][4],
            json!({
                "snapshot": "2023-09-30",
                "practice_code": "A81001",
                "practice_name": "ELM TREE SURGERY",
                "pcn_code": "U22222",
                "pcn_name": "RIVERSIDE NORTH PCN",
                "sub_icb_code": "00L",
                "sub_icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L",
                "icb_code": "QHM",
                "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD",
                "region_code": "Y63",
                "region_name": "NORTH EAST AND YORKSHIRE",
                "staff_group": "GP",
                "staff_role": "Partner/Provider",
                "headcount": 3,
                "fte": "2.50"
            })
        );
        // NA (from February 2023) and ND (before) are null, never 0; a published 0 stays 0.
        let all = rows(&body);
        let find = |practice: &str, group: &str, role: &str| {
            all.iter()
                .find(|r| r.0 == practice && r.1 == group && r.2 == role)
                .map(|r| (r.3.clone(), r.4.clone()))
                .unwrap_or_else(|| panic!("{practice} {group} {role}"))
        };
        assert_eq!(
            find("A81002", "Direct Patient Care", "Total"),
            (Value::Null, Value::Null)
        );
        assert_eq!(
            find("F83001", "Nurses", "Practice Nurse"),
            (Value::Null, Value::Null)
        );
        assert_eq!(
            find("F83001", "Direct Patient Care", "Pharmacist"),
            (json!(0), json!("0.00"))
        );
        assert_eq!(
            find("F83001", "Admin/Non-Clinical", "Receptionist"),
            (json!(7), json!("5.01"))
        );
    });
}

async fn every_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let cases: &[(&str, usize, &[&str])] = &[
            ("?snapshot=2023-09-30&practice=%20a81002%20", 9, &["A81002"]),
            ("?snapshot=2023-09-30&pcn=u22222", 19, &["A81001", "A81002"]),
            ("?snapshot=2023-09-30&icb=QMJ", 9, &["F83001"]),
            ("?snapshot=2023-09-30&region=y63", 19, &["A81001", "A81002"]),
            ("?snapshot=2023-10-31", 18, &["A81001", "Y01063"]),
            ("?snapshot=2023-10-31&icb=QMJ", 9, &["Y01063"]),
            ("?snapshot=2023-10-31&pcn=U22222", 9, &["A81001"]),
            ("?snapshot=2023-10-31&pcn=", 18, &["A81001", "Y01063"]),
            ("?snapshot=2023-10-30", 0, &[]),
        ];
        for (query, count, expected) in cases {
            let response = app.get(&format!("/api/v1/nwrs/{query}")).await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            let body = response.json();
            assert_eq!(body["count"], *count, "{query}");
            assert_eq!(practices(&body), *expected, "{query}");
        }
        // A practice in no PCN is published as `U` / `Unallocated`.
        let body = app
            .get("/api/v1/nwrs/?snapshot=2023-10-31&practice=Y01063")
            .await
            .json();
        assert_eq!(body["results"][0]["pcn_code"], Value::Null);
        assert_eq!(body["results"][0]["pcn_name"], Value::Null);
        assert_eq!(body["results"][0]["icb_code"], "QMJ");
        let response = app.get("/api/v1/nwrs/?snapshot=September").await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"snapshot":["Enter a valid date."]}"#);
    });
}

async fn a_snapshot_is_required(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for query in ["", "?practice=A81001", "?snapshot=", "?pcn=U22222&icb=QHM"] {
            let response = app.get(&format!("/api/v1/nwrs/{query}")).await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.text(),
                r#"{"detail":"At least one of these filters is required: snapshot."}"#
            );
        }
    });
}

async fn the_high_level_file_wins_whichever_is_imported_first(backend: Backend) {
    with_app!(backend, |app| {
        app.import("nwrs", &[SEPTEMBER_HIGH]).await.expect("high");
        app.import("nwrs", &[SEPTEMBER]).await.expect("detailed");
        let body = app
            .get("/api/v1/nwrs/?snapshot=2023-09-30&practice=A81001")
            .await
            .json();
        assert_eq!(rows(&body), a81001_september());
    });
}

async fn reimporting_a_snapshot_replaces_it(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app.get("/api/v1/nwrs/?snapshot=2023-09-30").await.json();
        assert!(matches!(
            app.import("nwrs", &[ZIP]).await.expect("same zip"),
            Outcome::Unchanged
        ));
        // The same snapshot again from the bare files: one copy, the same rows.
        app.import("nwrs", &[SEPTEMBER, SEPTEMBER_HIGH])
            .await
            .expect("bare files");
        app.import("nwrs", &[SEPTEMBER])
            .await
            .expect("detailed again");
        let after = app.get("/api/v1/nwrs/?snapshot=2023-09-30").await.json();
        assert_eq!(after["count"], 28);
        assert_eq!(rows(&after), rows(&before));
        assert_eq!(
            app.get("/api/v1/nwrs/snapshots/").await.json(),
            json!([
                {"snapshot": "2023-10-31", "practice_count": 2},
                {"snapshot": "2023-09-30", "practice_count": 3}
            ])
        );
    });
}

async fn a_broken_file_changes_nothing_and_says_why(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let name =
            "3 General Practice – September 2023 Practice Level - High level (no MEASURE).csv";
        let error = app
            .import("nwrs", &[&format!("nwrs/{name}")])
            .await
            .expect_err("missing column");
        assert_eq!(
            error.to_string(),
            format!("{name}: missing column(s): MEASURE")
        );
        let error = app
            .import(
                "nwrs",
                &["nwrs/General Practice Practice Level - Detailed.csv"],
            )
            .await
            .expect_err("no month");
        assert!(
            error
                .to_string()
                .contains("no snapshot month in the file name"),
            "{error}"
        );
        let body = app.get("/api/v1/nwrs/?snapshot=2023-09-30").await.json();
        assert_eq!(body["count"], 28);
    });
}
