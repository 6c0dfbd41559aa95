//! `/pcn-des/` over the real router, with the Network Contract DES fixtures imported through
//! the real importer: a bare monthly extract (June 2024), a zipped one (July 2024), the July
//! By_Ruleset zip and the annual IIF file for 2023-24; ODS fixtures give the geography.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, keys, results};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        rows_of_a_date_gather_their_measures_in_order,
        every_filter_narrows_the_rows,
        a_core_filter_is_required,
        iif_pcn_rows_are_served_at_pcn_level,
        geography_follows_a_later_ods_import,
        national_and_by_ruleset_files_replace_each_other,
        within_one_import_the_later_form_wins,
        a_broken_file_changes_nothing_and_says_where,
    ],
}

const JUNE: &str = "pcn_des/NCDesJune24.csv";
const JULY: &str = "pcn_des/NCDesJuly24.zip";
const JULY_BY_RULESET: &str = "pcn_des/NCDesJuly24_By_Ruleset.zip";
const IIF: &str = "pcn_des/IIF_indicators_annual_pub_2023_24.csv";
const BROKEN: &str = "pcn_des/broken/NCDesAugust24.csv";

const LD_DECLINED: &str = "PCA Count (Rule 1: LDHCDEC_DAT)";
const LD_UNSUITABLE: &str = "PCA Count (Rule 2: LDHCUNS_DAT)";

async fn ods(app: &TestApp) {
    app.import_ods().await;
    app.import_registrations(false).await;
}

async fn loaded(app: &TestApp) {
    ods(app).await;
    app.import("pcn-des", &[JUNE, JULY, IIF])
        .await
        .expect("pcn des");
}

fn notes(outcome: &Outcome) -> &[String] {
    match outcome {
        Outcome::Imported { notes, .. } => notes,
        Outcome::Unchanged => &[],
    }
}

async fn rows_of_a_date_gather_their_measures_in_order(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get_ok("/api/v1/pcn-des/?date=2024-06-30").await;
        assert_eq!(
            keys(
                &body,
                &[
                    "practice_code",
                    "indicator",
                    "numerator",
                    "denominator",
                    "pca",
                    "achievement"
                ]
            ),
            [
                "A81001|CAN04|30|40|3|75.0",
                "A81001|HI21|0|0|null|null",
                "A81002|HI21|4|10|3|40.0",
                "A81002|NCDMI109|null|null|null|null",
                "F83001|ACC08|null|null|null|null",
                "F83001|CAN04|0|null|null|null",
                "Z99999|SMR01A|5|20|null|25.0",
            ]
        );
        assert_eq!(
            body["results"][0],
            json!({
                "date": "2024-06-30",
                "publication": "monthly",
                "organisation_type": "practice",
                "practice_code": "A81001",
                "practice_name": "ELM TREE SURGERY, STOCKTON",
                "pcn_code": "U22222",
                "pcn_name": "RIVERSIDE NORTH PCN",
                "icb_code": "QHM",
                "quality_service": "NCD2425",
                "ruleset": null,
                "indicator": "CAN04",
                "numerator": 30,
                "denominator": 40,
                "pca": 3,
                "achievement": 75.0,
                "measures": {}
            })
        );
        let measures: Vec<&Value> = results(&body).iter().map(|r| &r["measures"]).collect();
        // Several PCA rules: pca is their sum, each is kept; any suppressed makes pca null.
        assert_eq!(
            measures[1],
            &json!({ LD_DECLINED: null, LD_UNSUITABLE: null })
        );
        assert_eq!(measures[2], &json!({ LD_DECLINED: 2, LD_UNSUITABLE: 1 }));
        assert_eq!(measures[3], &json!({ "Management Information": 12.5 }));
        assert_eq!(measures[4], &json!({ "MI Count": 1234 }));
        // One PCA rule is served as pca alone.
        assert_eq!(measures[5], &json!({}));
        // The publisher's filler name is served as published; ODS does not list Z99999.
        assert_eq!(body["results"][6]["practice_name"], "UNALLOCATED");
        assert_eq!(body["results"][6]["pcn_code"], Value::Null);
        assert_eq!(body["results"][6]["icb_code"], Value::Null);
    });
}

async fn every_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for (query, count) in [
            ("practice=a81001", 4),
            ("practice=A81001&date=2024-07-31", 1),
            ("pcn=u22222", 6),
            ("pcn=U11111", 4),
            ("icb=QMJ", 4),
            ("icb=qhm&indicator=hi21", 2),
            ("date=2024-06-30&indicator=can04", 2),
            ("date=2024-06-30&ruleset=can", 0),
            ("date=2024-03-31", 3),
            ("date=2024-07-31&practice=F83001", 1),
            ("date=2024-07-31&pcn=U22222&icb=QMJ", 0),
        ] {
            let body = app.get_ok(&format!("/api/v1/pcn-des/?{query}")).await;
            assert_eq!(body["count"], count, "{query}");
        }
        app.import("pcn-des", &[JULY_BY_RULESET])
            .await
            .expect("by ruleset");
        let body = app
            .get_ok("/api/v1/pcn-des/?date=2024-07-31&ruleset=can")
            .await;
        assert_eq!(keys(&body, &["practice_code", "ruleset"]), ["A81001|CAN"]);
        let body = app
            .get_ok("/api/v1/pcn-des/?practice=F83001&ruleset=ACC")
            .await;
        assert_eq!(
            keys(&body, &["date", "indicator", "measures"]),
            [r#"2024-07-31|ACC08|{"MI Count":2000}"#]
        );
    });
}

async fn a_core_filter_is_required(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app
            .get("/api/v1/pcn-des/?indicator=CAN04&ruleset=CAN")
            .await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.text(),
            r#"{"detail":"At least one of these filters is required: date, practice, pcn, icb."}"#
        );
        let response = app.get("/api/v1/pcn-des/?date=June").await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"date":["Enter a valid date."]}"#);
    });
}

async fn iif_pcn_rows_are_served_at_pcn_level(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get_ok("/api/v1/pcn-des/?date=2024-03-31").await;
        assert_eq!(
            keys(
                &body,
                &["organisation_type", "practice_code", "pcn_code", "icb_code"]
            ),
            [
                "pcn|null|U00070|null",
                "pcn|null|U11111|QMJ",
                "practice|A81001|U22222|QHM",
            ]
        );
        assert_eq!(
            body["results"][0],
            json!({
                "date": "2024-03-31",
                "publication": "iif_annual",
                "organisation_type": "pcn",
                "practice_code": null,
                "practice_name": null,
                "pcn_code": "U00070",
                "pcn_name": "WEST MERTON PCN",
                "icb_code": null,
                "quality_service": "NCD2324",
                "ruleset": null,
                "indicator": "NCDMI191",
                "numerator": null,
                "denominator": null,
                "pca": null,
                "achievement": null,
                "measures": { "ACC-10b baseline non-standardised numerator": 190 }
            })
        );
        assert_eq!(
            body["results"][1]["measures"],
            json!({ "ACC-10b baseline non-standardised numerator": null })
        );
        assert_eq!(body["results"][2]["achievement"], 50.0);
        // A PCN row never matches a practice.
        let body = app
            .get_ok("/api/v1/pcn-des/?pcn=U11111&date=2024-03-31")
            .await;
        assert_eq!(keys(&body, &["organisation_type"]), ["pcn"]);
    });
}

async fn geography_follows_a_later_ods_import(backend: Backend) {
    with_app!(backend, |app| {
        app.import("pcn-des", &[JUNE, IIF]).await.expect("pcn des");
        let before = app.get_ok("/api/v1/pcn-des/?practice=A81001").await;
        assert_eq!(
            keys(&before, &["date", "pcn_code", "pcn_name", "icb_code"]),
            [
                "2024-03-31|null|null|null",
                "2024-06-30|null|null|null",
                "2024-06-30|null|null|null"
            ]
        );
        ods(&app).await;
        let after = app
            .get_ok("/api/v1/pcn-des/?pcn=U22222&indicator=CAN04")
            .await;
        assert_eq!(
            keys(&after, &["practice_code", "pcn_name", "icb_code"]),
            ["A81001|RIVERSIDE NORTH PCN|QHM"]
        );
        let pcn = app.get_ok("/api/v1/pcn-des/?icb=QMJ&date=2024-03-31").await;
        assert_eq!(
            keys(&pcn, &["pcn_code", "pcn_name"]),
            ["U11111|CAMDEN CENTRAL PCN"]
        );
    });
}

async fn national_and_by_ruleset_files_replace_each_other(backend: Backend) {
    with_app!(backend, |app| {
        ods(&app).await;
        let july = "/api/v1/pcn-des/?date=2024-07-31";
        app.import("pcn-des", &[JULY_BY_RULESET])
            .await
            .expect("by ruleset");
        assert_eq!(
            keys(
                &app.get_ok(july).await,
                &["practice_code", "indicator", "ruleset"]
            ),
            ["A81001|CAN04|CAN", "F83001|ACC08|ACC"]
        );
        // A later import of the national extract replaces the month whole.
        app.import("pcn-des", &[JULY]).await.expect("national");
        assert_eq!(
            keys(
                &app.get_ok(july).await,
                &["practice_code", "indicator", "ruleset", "numerator", "pca"]
            ),
            ["A81001|CAN04|null|36|3", "F83001|ACC08|null|null|null"]
        );
        // The IIF file's practice rows are another publication: March stays.
        app.import("pcn-des", &[IIF]).await.expect("iif");
        app.import("pcn-des", &[JUNE]).await.expect("june");
        let all = app.get_ok("/api/v1/pcn-des/?practice=A81001").await;
        assert_eq!(all["count"], 4);
    });
}

async fn within_one_import_the_later_form_wins(backend: Backend) {
    with_app!(backend, |app| {
        let july = "/api/v1/pcn-des/?date=2024-07-31";
        let outcome = app
            .import("pcn-des", &[JULY, JULY_BY_RULESET])
            .await
            .expect("national, then by ruleset");
        assert!(
            notes(&outcome)
                .iter()
                .any(|n| n.contains("2024-07-31") && n.contains("national extract's")),
            "{:?}",
            notes(&outcome)
        );
        assert_eq!(
            keys(&app.get_ok(july).await, &["practice_code", "ruleset"]),
            ["A81001|CAN", "F83001|ACC"]
        );
        let outcome = app
            .import("pcn-des", &[JULY_BY_RULESET, JULY, JUNE])
            .await
            .expect("by ruleset, then national");
        assert!(
            notes(&outcome)
                .iter()
                .any(|n| n.contains("2024-07-31") && n.contains("By_Ruleset files'")),
            "{:?}",
            notes(&outcome)
        );
        assert_eq!(
            keys(&app.get_ok(july).await, &["practice_code", "ruleset"]),
            ["A81001|null", "F83001|null"]
        );
    });
}

async fn a_broken_file_changes_nothing_and_says_where(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app.get_ok("/api/v1/pcn-des/?practice=A81001").await;
        let error = app
            .import("pcn-des", &[JULY_BY_RULESET, BROKEN])
            .await
            .expect_err("broken value");
        assert_eq!(
            error.to_string(),
            "NCDesAugust24.csv, line 4: column VALUE: invalid value \"three\" (expected a \
             whole count, or * where suppressed)"
        );
        let error = app
            .import(
                "pcn-des",
                &["online_consultations/Submissions via OC Systems By Day and Time - November 2025.csv"],
            )
            .await
            .expect_err("another publication");
        assert!(
            error
                .to_string()
                .contains("unrecognised file: expected a Network Contract DES file"),
            "{error}"
        );
        assert_eq!(app.get_ok("/api/v1/pcn-des/?practice=A81001").await, before);
    });
}
