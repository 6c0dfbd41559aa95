//! `/nhs-payments/practices/` and `/nhs-payments/pcns/` over the real router, with the payments
//! fixtures imported through the real importer: the 2024-25 practice file (BOM, a header cell
//! broken over two lines, a trailing space and a footnote digit, `£`, thousands commas, `-`,
//! negatives, a practice on two contract rows), the 2016-17 file (CamelCase with `_£`,
//! ISO-8859-1), a 2019-20-style file whose name has no year, and the 2024-25 PCN file.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, fixture, keys};
use haresign::catalogue;
use haresign::import::run::{self, Outcome};

crate::trials! {
    each_backend: [
        a_year_lists_practices_in_order_with_their_components,
        every_practice_filter_narrows_the_rows,
        older_camel_case_files_load_under_the_same_names,
        a_file_without_a_year_in_its_name_takes_the_year_option,
        pcns_are_served_with_their_components_and_filters,
        both_endpoints_require_a_core_filter,
        reimporting_replaces_a_year_of_one_file_kind,
        a_broken_file_changes_nothing_and_says_where,
    ],
}

const PRACTICES_2425: &str = "payments/nhspaymentsgp-24-25-prac-csv.csv";
const PRACTICES_1617: &str = "payments/nhspaymentsgp-16-17-csv.csv";
const NO_YEAR: &str = "payments/payments-practice.csv";
const PCNS_2425: &str = "payments/nhspaymentsgp-24-25-pcn-csv.csv";
const REISSUE_2425: &str = "payments/reissue/nhspaymentsgp-24-25-prac-csv-v2.csv";
const BAD_VALUE: &str = "payments/broken/nhspaymentsgp-24-25-prac-csv.csv";
const MISSING_COLUMNS: &str = "payments/broken/nhspaymentsgp-23-24-prac-csv.csv";

async fn loaded(app: &TestApp) -> Outcome {
    app.import("payments", &[PRACTICES_2425, PRACTICES_1617, PCNS_2425])
        .await
        .expect("payments")
}

async fn a_year_lists_practices_in_order_with_their_components(backend: Backend) {
    with_app!(backend, |app| {
        let outcome = loaded(&app).await;
        let Outcome::Imported { rows, periods, .. } = outcome else {
            panic!("nothing imported");
        };
        assert_eq!(
            rows, 8,
            "4 + 2 practice rows and 2 PCN rows; the blank line is skipped"
        );
        assert_eq!(periods, ["2016/17", "2024/25"]);
        let response = app
            .get("/api/v1/nhs-payments/practices/?year=2024/25")
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        assert_eq!(body["count"], 4);
        assert_eq!(
            keys(&body, &["practice_code", "contract_type", "total_payments"]),
            [
                "A81001|GMS|709429.94",
                "A81002|PMS|1433005.82",
                "A81002|APMS|5000.00",
                "F83001|GMS|966000.70",
            ],
            "a practice's contract rows in file order"
        );
        assert_eq!(
            body["results"][1],
            json!({
                "year": "2024/25",
                "practice_code": "A81002",
                "practice_name": "BRIDGE MEDICAL CENTRE",
                "region_code": "Y63",
                "region_name": "NORTH EAST AND YORKSHIRE",
                "icb_code": "QHM",
                "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB",
                "sub_icb_code": "00L",
                "sub_icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L",
                "pcn_code": "U11111",
                "pcn_name": "RIVERSIDE PCN",
                "contract_type": "PMS",
                "dispensing": "Yes",
                "rurality": "Rural",
                "registered_patients": "12000.00",
                "weighted_patients": "12500.75",
                "total_payments": "1433005.82",
                "total_payments_minus_deductions": "1363005.82",
                "payment_per_registered_patient": "119.42",
                "payment_per_weighted_patient": "114.63",
                "components": {
                    "Global Sum": "1200000.00",
                    "Total QOF Payments": "210000.50",
                    "PCN Participation": "21505.32",
                    "Appraisal Costs": "1500.00",
                    "Other Payments": null,
                    "Deductions for Pensions, Levies and Prescription Charge Income": "70000.00"
                }
            })
        );
        assert_eq!(
            body["results"][0]["components"]["Other Payments"], "-250.50",
            "negative amounts are kept"
        );
        assert_eq!(
            body["results"][0]["components"]["Appraisal Costs"],
            Value::Null
        );
        // The order of the components is the file's.
        let text = response.text();
        let global = text.find("\"Global Sum\"").unwrap();
        let deductions = text.find("\"Deductions for").unwrap();
        assert!(global < deductions);
    });
}

async fn every_practice_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let codes = |body: Value| -> Vec<String> { keys(&body, &["year", "practice_code"]) };
        for (query, expected) in [
            ("practice=a81001", vec!["2016/17|A81001", "2024/25|A81001"]),
            (
                "practice=A81002&year=2024-25",
                vec!["2024/25|A81002", "2024/25|A81002"],
            ),
            ("pcn=u22222", vec!["2024/25|F83001"]),
            ("sub_icb=00K", vec!["2016/17|A81001"]),
            (
                "sub_icb=00l",
                vec!["2024/25|A81001", "2024/25|A81002", "2024/25|A81002"],
            ),
            ("region=Y56", vec!["2024/25|F83001"]),
            ("region=Y63&contract_type=apms", vec!["2024/25|A81002"]),
            (
                "year=202425&contract_type=GMS",
                vec!["2024/25|A81001", "2024/25|F83001"],
            ),
            ("year=2016/17&contract_type=PMS", vec!["2016/17|F83001"]),
            ("year=2023/24", vec![]),
        ] {
            let response = app
                .get(&format!("/api/v1/nhs-payments/practices/?{query}"))
                .await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            assert_eq!(codes(response.json()), expected, "{query}");
        }
        let bad = app.get("/api/v1/nhs-payments/practices/?year=2024").await;
        assert_eq!(bad.status, 400);
        assert_eq!(
            bad.json(),
            json!({"year": ["Enter a valid financial year, such as 2025/26."]})
        );
    });
}

async fn older_camel_case_files_load_under_the_same_names(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get("/api/v1/nhs-payments/practices/?year=2016-17&practice=F83001")
            .await
            .json();
        assert_eq!(body["count"], 1);
        let row = &body["results"][0];
        assert_eq!(row["region_code"], "Q71");
        assert_eq!(row["sub_icb_code"], "08H");
        assert_eq!(row["sub_icb_name"], Value::Null);
        assert_eq!(row["pcn_code"], Value::Null, "no PCN before 2019");
        assert_eq!(row["practice_name"], "ISLINGTON CENTRAL MEDICAL CENTRE");
        assert_eq!(row["dispensing"], "No");
        assert_eq!(row["registered_patients"], "7700.00");
        assert_eq!(row["weighted_patients"], "7300.25");
        assert_eq!(row["total_payments"], "899900.00");
        assert_eq!(row["total_payments_minus_deductions"], Value::Null);
        assert_eq!(
            row["components"],
            json!({
                "Global Sum": "760000.10",
                "Total QOF Payments": "140000.00",
                "Other Payments": "-100.10"
            })
        );
    });
}

async fn a_file_without_a_year_in_its_name_takes_the_year_option(backend: Backend) {
    with_app!(backend, |app| {
        let error = app
            .import_with_options("payments", &[NO_YEAR], &[])
            .await
            .expect_err("no year");
        assert!(
            error
                .to_string()
                .starts_with("payments-practice.csv: unrecognised file: the file name does not say its financial year"),
            "{error}"
        );
        let error = app
            .import_with_options("payments", &[PRACTICES_2425], &[("year", "2023-24")])
            .await
            .expect_err("disagrees with the name");
        assert!(
            error
                .to_string()
                .contains("the file name says 2024/25, but --option year says 2023/24"),
            "{error}"
        );
        let error = app
            .import_with_options("payments", &[NO_YEAR], &[("year", "2019")])
            .await
            .expect_err("not a year");
        assert!(error.to_string().contains("--option year=2019"), "{error}");

        app.import_with_options("payments", &[NO_YEAR], &[("year", "2019-20")])
            .await
            .expect("with the option");
        let body = app
            .get("/api/v1/nhs-payments/practices/?year=2019/20")
            .await
            .json();
        assert_eq!(
            keys(
                &body,
                &[
                    "practice_code",
                    "region_code",
                    "sub_icb_code",
                    "registered_patients",
                    "weighted_patients",
                    "rurality"
                ]
            ),
            ["A81001|Y63|00L|4900.00|5400.00|Urban"]
        );
        assert_eq!(
            body["results"][0]["components"],
            json!({"Global Sum": "580000.00", "Other Payments": null}),
            "the footnote digit is not part of the name"
        );

        // An option no file of the run reads fails the run.
        let source = catalogue::source("payments").unwrap();
        let unused = run::import_with_options(
            &app.db,
            source,
            &[fixture(PCNS_2425)],
            &[
                ("year".to_owned(), "2024-25".to_owned()),
                ("yaer".to_owned(), "x".to_owned()),
            ],
            false,
        )
        .await
        .expect_err("a mistyped option");
        assert_eq!(
            unused.to_string(),
            "payments: no file used the option(s) yaer"
        );
        let body = app
            .get("/api/v1/nhs-payments/pcns/?year=2024/25")
            .await
            .json();
        assert_eq!(body["count"], 0, "the failed run loaded nothing");
    });
}

async fn pcns_are_served_with_their_components_and_filters(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get("/api/v1/nhs-payments/pcns/?year=2024/25")
            .await
            .json();
        assert_eq!(body["count"], 2);
        assert_eq!(
            body["results"][0],
            json!({
                "year": "2024/25",
                "pcn_code": "U11111",
                "pcn_name": "RIVERSIDE PCN",
                "icb_code": "QHM",
                "icb_name": null,
                "region_code": "Y63",
                "region_name": null,
                "registered_patients": "17300.50",
                "weighted_patients": "18010.99",
                "total_payments": "1000000.00",
                "components": {
                    "Additional Roles Reimbursement Scheme": "900000.00",
                    "Investment and Impact Fund": "100000.00"
                }
            })
        );
        for (query, expected) in [
            ("pcn=u22222", vec!["U22222"]),
            ("icb=qhm", vec!["U11111"]),
            ("icb=QMJ&year=2024-25", vec!["U22222"]),
            ("year=2016/17", vec![]),
        ] {
            let body = app
                .get(&format!("/api/v1/nhs-payments/pcns/?{query}"))
                .await
                .json();
            assert_eq!(keys(&body, &["pcn_code"]), expected, "{query}");
        }
        let body = app
            .get("/api/v1/nhs-payments/pcns/?pcn=U22222")
            .await
            .json();
        assert_eq!(
            body["results"][0]["components"],
            json!({"Additional Roles Reimbursement Scheme": "400000.50", "Investment and Impact Fund": null})
        );
    });
}

async fn both_endpoints_require_a_core_filter(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for (path, names) in [
            (
                "nhs-payments/practices/",
                "year, practice, pcn, sub_icb, region",
            ),
            ("nhs-payments/pcns/", "year, pcn, icb"),
        ] {
            for query in ["", "?contract_type=GMS&year=", "?page=2"] {
                let response = app.get(&format!("/api/v1/{path}{query}")).await;
                if path == "nhs-payments/pcns/" && query.contains("contract_type") {
                    continue;
                }
                assert_eq!(response.status, 400, "{path}{query}");
                assert_eq!(
                    response.json(),
                    json!({"detail": format!("At least one of these filters is required: {names}.")})
                );
            }
        }
    });
}

async fn reimporting_replaces_a_year_of_one_file_kind(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        app.import("payments", &[REISSUE_2425])
            .await
            .expect("reissue");
        let body = app
            .get("/api/v1/nhs-payments/practices/?year=2024/25")
            .await
            .json();
        assert_eq!(
            keys(&body, &["practice_code", "total_payments"]),
            ["F83001|800000.00"],
            "the reissue replaced the whole year"
        );
        let older = app
            .get("/api/v1/nhs-payments/practices/?year=2016/17")
            .await
            .json();
        assert_eq!(older["count"], 2, "other years stay");
        let pcns = app
            .get("/api/v1/nhs-payments/pcns/?year=2024/25")
            .await
            .json();
        assert_eq!(pcns["count"], 2, "the PCN file's rows of the year stay");

        // Two files of one year and kind in one run: the later file's rows are kept.
        let outcome = app
            .import("payments", &[PRACTICES_2425, REISSUE_2425])
            .await
            .expect("both editions");
        let Outcome::Imported { notes, .. } = outcome else {
            panic!("nothing imported");
        };
        assert_eq!(notes.len(), 1, "{notes:?}");
        let body = app
            .get("/api/v1/nhs-payments/practices/?year=2024/25")
            .await
            .json();
        assert_eq!(keys(&body, &["practice_code"]), ["F83001"]);
    });
}

async fn a_broken_file_changes_nothing_and_says_where(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app
            .get("/api/v1/nhs-payments/practices/?year=2024/25")
            .await
            .text();
        let error = app
            .import("payments", &[REISSUE_2425, BAD_VALUE])
            .await
            .expect_err("bad value");
        assert_eq!(
            error.to_string(),
            "nhspaymentsgp-24-25-prac-csv.csv, line 3: column Global Sum: invalid value \
             \"12.3x\" (expected an amount)"
        );
        let error = app
            .import("payments", &[MISSING_COLUMNS])
            .await
            .expect_err("missing columns");
        assert_eq!(
            error.to_string(),
            "nhspaymentsgp-23-24-prac-csv.csv: missing column(s): practice name, \
             average number of weighted patients"
        );
        let error = app
            .import(
                "payments",
                &["online_consultations/Submissions via OC Systems By Day and Time - November 2025.csv"],
            )
            .await
            .expect_err("another publication");
        assert!(
            error
                .to_string()
                .contains("unrecognised file: expected an NHS Payments to General Practice file"),
            "{error}"
        );
        let after = app
            .get("/api/v1/nhs-payments/practices/?year=2024/25")
            .await
            .text();
        assert_eq!(before, after, "nothing served changed");
    });
}
