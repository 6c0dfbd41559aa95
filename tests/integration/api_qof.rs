//! The five `/qof/` endpoints over the real router, with the QOF fixtures imported through the
//! real importer: 2023-24 as the publication's zip (old mapping layout), 2024-25 as bare CSVs
//! (extra leading achievement columns, published mapping layout).

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, keys, results};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        years_list_latest_first_with_settings_and_counts,
        indicators_from_both_mapping_layouts_with_filters,
        prevalence_by_practice_and_group,
        national_prevalence_sums_the_practices,
        achievement_pivots_measures_per_practice_and_indicator,
        importing_a_year_twice_leaves_one_copy,
        a_broken_regional_file_aborts_the_year,
        a_revised_mapping_updates_points_and_descriptions,
    ],
}

const ZIP_2324: &str = "qof/QOF2324.zip";
const FILES_2425: [&str; 3] = [
    "qof/2425/ACHIEVEMENT_LONDON_2425.csv",
    "qof/2425/MAPPING_INDICATORS_2425.csv",
    "qof/2425/PREVALENCE_2425.csv",
];

async fn loaded(app: &TestApp) {
    app.import("qof", &[ZIP_2324]).await.expect("2023-24");
    app.import("qof", &FILES_2425).await.expect("2024-25");
}

const CORE_ERROR: &str =
    r#"{"detail":"At least one of these filters is required: year, practice."}"#;

async fn years_list_latest_first_with_settings_and_counts(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/qof/years/").await;
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(
            response.json(),
            json!({
                "count": 2,
                "next": null,
                "previous": null,
                "results": [
                    {
                        "year": "2024/25",
                        "start_date": "2024-04-01",
                        "end_date": "2025-03-31",
                        "is_current": true,
                        "indicator_count": 2,
                        // Not configured: the sum of the indicators' points.
                        "max_points": "67.50",
                        "pound_per_point": "225.49"
                    },
                    {
                        "year": "2023/24",
                        "start_date": "2023-04-01",
                        "end_date": "2024-03-31",
                        "is_current": false,
                        "indicator_count": 3,
                        "max_points": "635.00",
                        "pound_per_point": "213.43"
                    }
                ]
            })
        );
    });
}

async fn indicators_from_both_mapping_layouts_with_filters(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get("/api/v1/qof/indicators/").await.json();
        assert_eq!(
            keys(&body, &["year", "indicator_code", "active"]),
            [
                "2024/25|AF001|true",
                "2024/25|CHOL003|true",
                "2023/24|AF001|true",
                "2023/24|CHOL003|true",
                "2023/24|SMOK002|false",
            ]
        );
        assert_eq!(
            results(&body)[0],
            json!({
                "year": "2024/25",
                "indicator_code": "AF001",
                "description": "The percentage of patients with atrial fibrillation, on the register",
                "points": "29.50",
                "group_code": "AF",
                "group_description": "Atrial fibrillation",
                "domain_code": "CL",
                "domain_description": "Clinical",
                "patient_list_type": "TOTAL",
                "active": true
            })
        );
        assert_eq!(
            results(&body)[4],
            json!({
                "year": "2023/24",
                "indicator_code": "SMOK002",
                "description": null,
                "points": "25.00",
                "group_code": "SMOK",
                "group_description": "Smoking, all patients",
                "domain_code": "PH",
                "domain_description": "Public health",
                "patient_list_type": "15OV",
                "active": false
            })
        );
        let cases: &[(&str, &[&str])] = &[
            (
                "?year=2023-24",
                &["2023/24|AF001", "2023/24|CHOL003", "2023/24|SMOK002"],
            ),
            ("?year=202425", &["2024/25|AF001", "2024/25|CHOL003"]),
            ("?domain=%20ph%20", &["2023/24|SMOK002"]),
            (
                "?indicator=chol003",
                &["2024/25|CHOL003", "2023/24|CHOL003"],
            ),
            ("?active=FALSE", &["2023/24|SMOK002"]),
            (
                "?active=1&year=2023/24",
                &["2023/24|AF001", "2023/24|CHOL003"],
            ),
            (
                "?active=maybe&year=2024/25",
                &["2024/25|AF001", "2024/25|CHOL003"],
            ),
            ("?year=2022/23", &[]),
        ];
        for (query, expected) in cases {
            let response = app.get(&format!("/api/v1/qof/indicators/{query}")).await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            assert_eq!(
                keys(&response.json(), &["year", "indicator_code"]),
                *expected,
                "{query}"
            );
        }
        let response = app.get("/api/v1/qof/indicators/?year=2023").await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.text(),
            r#"{"year":["Enter a valid financial year, such as 2025/26."]}"#
        );
    });
}

async fn prevalence_by_practice_and_group(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get("/api/v1/qof/prevalence/?year=2023/24").await.json();
        assert_eq!(
            keys(&body, &["practice_code", "group_code"]),
            [
                "A81001|AF",
                "A81001|CHOL",
                "A81002|AF",
                "A81002|CHOL",
                "B82001|AF"
            ]
        );
        assert_eq!(
            results(&body)[0],
            json!({
                "year": "2023/24",
                "practice_code": "A81001",
                "group_code": "AF",
                "group_description": "Atrial fibrillation",
                "patient_list_type": "TOTAL",
                "register": 210,
                "list_size": 10000,
                "prevalence": 2.1
            })
        );
        // A blank register and an empty list: no percentage.
        assert_eq!(
            results(&body)[3],
            json!({
                "year": "2023/24",
                "practice_code": "A81002",
                "group_code": "CHOL",
                "group_description": "Cholesterol",
                "patient_list_type": "18OV",
                "register": null,
                "list_size": 0,
                "prevalence": null
            })
        );
        let cases: &[(&str, &[&str])] = &[
            (
                "?practice=a81001",
                &[
                    "2023/24|A81001|AF",
                    "2023/24|A81001|CHOL",
                    "2024/25|A81001|AF",
                ],
            ),
            ("?practice=A81001&year=2024-25", &["2024/25|A81001|AF"]),
            (
                "?year=2023/24&indicator=chol",
                &["2023/24|A81001|CHOL", "2023/24|A81002|CHOL"],
            ),
            (
                "?year=2023/24&practice=B82001&indicator=AF",
                &["2023/24|B82001|AF"],
            ),
            ("?practice=Z99999", &[]),
        ];
        for (query, expected) in cases {
            let response = app.get(&format!("/api/v1/qof/prevalence/{query}")).await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            assert_eq!(
                keys(&response.json(), &["year", "practice_code", "group_code"]),
                *expected,
                "{query}"
            );
        }
        for query in ["", "?indicator=AF", "?year=&practice="] {
            let response = app.get(&format!("/api/v1/qof/prevalence/{query}")).await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(response.text(), CORE_ERROR, "{query}");
        }
    });
}

async fn national_prevalence_sums_the_practices(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get("/api/v1/qof/prevalence/national/").await.json();
        assert_eq!(
            results(&body),
            &vec![
                json!({
                    "year": "2023/24",
                    "group_code": "AF",
                    "group_description": "Atrial fibrillation",
                    "patient_list_type": "TOTAL",
                    "register": 350,
                    "list_size": 20000,
                    "prevalence": 1.75,
                    "practice_count": 3
                }),
                json!({
                    "year": "2023/24",
                    "group_code": "CHOL",
                    "group_description": "Cholesterol",
                    "patient_list_type": "18OV",
                    "register": 500,
                    "list_size": 10000,
                    "prevalence": 5.0,
                    "practice_count": 2
                }),
                json!({
                    "year": "2024/25",
                    "group_code": "AF",
                    "group_description": "Atrial fibrillation",
                    "patient_list_type": "TOTAL",
                    "register": 215,
                    "list_size": 10000,
                    "prevalence": 2.15,
                    "practice_count": 1
                }),
            ]
        );
        let cases: &[(&str, &[&str])] = &[
            ("?year=2024-25", &["2024/25|AF"]),
            ("?indicator=af", &["2023/24|AF", "2024/25|AF"]),
            ("?year=2023/24&indicator=CHOL", &["2023/24|CHOL"]),
        ];
        for (query, expected) in cases {
            let response = app
                .get(&format!("/api/v1/qof/prevalence/national/{query}"))
                .await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            assert_eq!(
                keys(&response.json(), &["year", "group_code"]),
                *expected,
                "{query}"
            );
        }
    });
}

async fn achievement_pivots_measures_per_practice_and_indicator(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get("/api/v1/qof/achievement/?year=2023-24")
            .await
            .json();
        assert_eq!(
            keys(&body, &["practice_code", "indicator_code"]),
            [
                "A81001|AF001",
                "A81001|CHOL003",
                "A81002|AF001",
                "A81002|CHOL003",
                "B82001|AF001",
                "B82001|CHOL003",
            ]
        );
        let row = |practice: &str, indicator: &str, values: Value| {
            let mut row = json!({
                "year": "2023/24",
                "practice_code": practice,
                "indicator_code": indicator,
            });
            row.as_object_mut()
                .unwrap()
                .extend(values.as_object().unwrap().clone());
            row
        };
        let expected = [
            row(
                "A81001",
                "AF001",
                json!({
                    "achieved_points": "29.00", "max_points": "29.00", "numerator": null,
                    "denominator": null, "pcas": null, "register": 210, "achievement": null
                }),
            ),
            // A blank PCAS cell stays null.
            row(
                "A81001",
                "CHOL003",
                json!({
                    "achieved_points": "18.75", "max_points": "38.00", "numerator": 150,
                    "denominator": 200, "pcas": null, "register": null, "achievement": 75.0
                }),
            ),
            row(
                "A81002",
                "AF001",
                json!({
                    "achieved_points": "27.50", "max_points": "29.00", "numerator": null,
                    "denominator": null, "pcas": null, "register": 100, "achievement": null
                }),
            ),
            // A zero denominator: no percentage.
            row(
                "A81002",
                "CHOL003",
                json!({
                    "achieved_points": "0.00", "max_points": "38.00", "numerator": 0,
                    "denominator": 0, "pcas": 3, "register": null, "achievement": null
                }),
            ),
            row(
                "B82001",
                "AF001",
                json!({
                    "achieved_points": "29.00", "max_points": "29.00", "numerator": null,
                    "denominator": null, "pcas": null, "register": 40, "achievement": null
                }),
            ),
            row(
                "B82001",
                "CHOL003",
                json!({
                    "achieved_points": "20.50", "max_points": "38.00", "numerator": 41,
                    "denominator": 50, "pcas": 2, "register": null, "achievement": 82.0
                }),
            ),
        ];
        assert_eq!(results(&body), &expected.to_vec());
        let cases: &[(&str, &[&str])] = &[
            (
                "?practice=%20a81001",
                &[
                    "2023/24|A81001|AF001",
                    "2023/24|A81001|CHOL003",
                    "2024/25|A81001|AF001",
                ],
            ),
            ("?practice=A81002&year=2024/25", &["2024/25|A81002|CHOL003"]),
            (
                "?year=2023/24&indicator=af001",
                &[
                    "2023/24|A81001|AF001",
                    "2023/24|A81002|AF001",
                    "2023/24|B82001|AF001",
                ],
            ),
            (
                "?practice=A81001&indicator=CHOL003",
                &["2023/24|A81001|CHOL003"],
            ),
            ("?year=2022-23", &[]),
        ];
        for (query, expected) in cases {
            let response = app.get(&format!("/api/v1/qof/achievement/{query}")).await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            assert_eq!(
                keys(
                    &response.json(),
                    &["year", "practice_code", "indicator_code"]
                ),
                *expected,
                "{query}"
            );
        }
        for query in ["", "?indicator=AF001", "?year=", "?practice="] {
            let response = app.get(&format!("/api/v1/qof/achievement/{query}")).await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(response.text(), CORE_ERROR, "{query}");
        }
        let response = app.get("/api/v1/qof/achievement/?year=last").await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.text(),
            r#"{"year":["Enter a valid financial year, such as 2025/26."]}"#
        );
    });
}

async fn importing_a_year_twice_leaves_one_copy(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app
            .get("/api/v1/qof/achievement/?year=2023/24")
            .await
            .json();
        assert!(matches!(
            app.import("qof", &[ZIP_2324]).await.expect("same zip"),
            Outcome::Unchanged
        ));
        // The same year again from the bare CSVs, in another order: one copy, the same rows.
        app.import(
            "qof",
            &[
                "qof/2324/MAPPING_INDICATORS_2324.csv",
                "qof/2324/ACHIEVEMENT_NORTH_EAST_AND_YORKSHIRE_2324.csv",
                "qof/2324/ACHIEVEMENT_LONDON_2324.csv",
                "qof/2324/PREVALENCE_2324.csv",
            ],
        )
        .await
        .expect("bare files");
        app.import("qof", &["qof/2324/ACHIEVEMENT_LONDON_2324.csv"])
            .await
            .expect("one region again");
        let after = app
            .get("/api/v1/qof/achievement/?year=2023/24")
            .await
            .json();
        assert_eq!(after, before);
        assert_eq!(app.get("/api/v1/qof/years/").await.json()["count"], 2);
        let national = app
            .get("/api/v1/qof/prevalence/national/?year=2023/24")
            .await
            .json();
        assert_eq!(results(&national)[0]["register"], 350);
        assert_eq!(results(&national)[0]["practice_count"], 3);
    });
}

async fn a_broken_regional_file_aborts_the_year(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app
            .get("/api/v1/qof/achievement/?year=2023/24")
            .await
            .json();
        // The zip's London file (loaded first) changes A81001's points; the North West file
        // lacks MEASURE, so none of it may land.
        let error = app
            .import("qof", &["qof/broken/QOF2324.zip"])
            .await
            .expect_err("missing column");
        assert_eq!(
            error.to_string(),
            "ACHIEVEMENT_NORTH_WEST_2324.csv (in QOF2324.zip): missing column(s): MEASURE"
        );
        let after = app
            .get("/api/v1/qof/achievement/?year=2023/24")
            .await
            .json();
        assert_eq!(after, before);
        assert_eq!(results(&after)[0]["achieved_points"], "29.00");
        let error = app
            .import(
                "qof",
                &[
                    "qof/2324/PREVALENCE_2324.csv",
                    "qof/broken/ACHIEVEMENT_NORTH_WEST_2324.csv",
                ],
            )
            .await
            .expect_err("missing column");
        assert!(error.to_string().contains("MEASURE"), "{error}");
        assert_eq!(
            app.get("/api/v1/qof/prevalence/?year=2023/24").await.json()["count"],
            5
        );
    });
}

async fn a_revised_mapping_updates_points_and_descriptions(backend: Backend) {
    with_app!(backend, |app| {
        app.import("qof", &[ZIP_2324]).await.expect("2023-24");
        app.import("qof", &["qof/revised/MAPPING_INDICATORS_2324.csv"])
            .await
            .expect("revised mapping");
        let body = app
            .get("/api/v1/qof/achievement/?practice=A81001")
            .await
            .json();
        assert_eq!(
            keys(&body, &["indicator_code", "max_points"]),
            ["AF001|30.00", "CHOL003|null"]
        );
        let body = app
            .get("/api/v1/qof/prevalence/?practice=A81001")
            .await
            .json();
        assert_eq!(
            keys(&body, &["group_code", "group_description"]),
            ["AF|Atrial fibrillation (revised)", "CHOL|null"]
        );
        let years = app.get("/api/v1/qof/years/").await.json();
        assert_eq!(results(&years)[0]["indicator_count"], 1);
        assert_eq!(results(&years)[0]["max_points"], "635.00");
    });
}
