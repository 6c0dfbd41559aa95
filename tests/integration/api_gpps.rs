//! `/gp-patient-survey/` over the real router, with the survey fixtures imported through the
//! real importer: the 2025 file (2024+ scheme, BOM, CRLF, a quoted name with a comma, `-97`,
//! `-98`, `-99`, `/` and empty cells, a padded lower-case code, popsize on the band edges, a
//! blank last line), the 2023 file in a zip (the earlier scheme with ICS columns), the 2021
//! file (`Practice_code`, STP, CR and CCG columns, ISO-8859-1), a 2024+ file whose name has no
//! year, a reissue of 2025 and two broken files.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use haresign::import::run::Outcome;

crate::trials! {
    each_backend: [
        a_year_lists_practices_in_order_with_their_measures,
        every_filter_narrows_the_rows,
        the_earlier_scheme_loads_under_its_own_column_names,
        a_file_without_a_year_in_its_name_takes_the_year_option,
        the_endpoint_requires_a_core_filter,
        reimporting_replaces_a_year,
        a_broken_file_changes_nothing_and_says_where,
    ],
}

const Y2025: &str = "gpps/GPPS_2025_Practice_data_(weighted)_(csv)_PUBLIC.csv";
const Y2023_ZIP: &str = "gpps/GPPS_2023_Practice_data_(weighted)_(csv)_PUBLIC.zip";
const Y2021: &str = "gpps/GPPS_2021_Practice_data_(weighted)_(csv)_PUBLIC.csv";
const NO_YEAR: &str = "gpps/gpps-practice-results.csv";
const REISSUE_2025: &str = "gpps/reissue/GPPS_2025_Practice_data_(weighted)_(csv)_PUBLIC.csv";
const BAD_VALUE: &str = "gpps/broken/GPPS_2025_Practice_data_(weighted)_(csv)_PUBLIC.csv";
const MISSING_COLUMNS: &str = "gpps/broken/GPPS_2024_Practice_data_(weighted)_(csv)_PUBLIC.csv";

async fn loaded(app: &TestApp) -> Outcome {
    app.import("gpps", &[Y2025, Y2023_ZIP, Y2021])
        .await
        .expect("survey files")
}

/// The `(field, field, …)` values of every row, joined with `|`.
fn keys(body: &Value, fields: &[&str]) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|row| {
            fields
                .iter()
                .map(|f| match &row[*f] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

async fn a_year_lists_practices_in_order_with_their_measures(backend: Backend) {
    with_app!(backend, |app| {
        let Outcome::Imported { rows, periods, .. } = loaded(&app).await else {
            panic!("nothing imported");
        };
        assert_eq!(rows, 9, "5 + 2 + 2 practices; the blank line is skipped");
        assert_eq!(periods, ["2021", "2023", "2025"]);
        let response = app.get("/api/v1/gp-patient-survey/?year=2025").await;
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        assert_eq!(body["count"], 5);
        assert_eq!(
            keys(&body, &["practice_code", "list_size", "list_band"]),
            [
                "A81001|4999|under_5k",
                "A81002|5000|5k_10k",
                "F83001|20000|20k_plus",
                "F83002|12000|10k_15k",
                "Y01063|null|null",
            ],
            "bands start at their lower edge; -99 is no population"
        );
        assert_eq!(
            body["results"][0],
            json!({
                "year": 2025,
                "practice_code": "A81001",
                "practice_name": "THE DENSHAM SURGERY",
                "pcn_code": "U11111",
                "pcn_name": "RIVERSIDE PCN",
                "ics_code": "QHM",
                "ics_name": "NHS North East and North Cumbria ICB",
                "region_code": "Y63",
                "region_name": "NORTH EAST AND YORKSHIRE",
                "list_band": "under_5k",
                "list_size": 4999,
                "distributed": 300,
                "received": 120,
                "response_rate": 0.4,
                "overall_experience": 0.85,
                "contact_experience": 0.7,
                "phone_ease": 0.6,
                "measures": {
                    "overallexp_1.pct": 0.55,
                    "overallexp_2.pct": 0.3,
                    "overallexp.pcteval": 0.85,
                    "overallexp.baseevalw": 110,
                    "gpcontactoverall.pcteval": 0.7,
                    "localgpservicesphone.pcteval": 0.6,
                    "lastgpapptwhen_1.pct": 0.2
                }
            })
        );
        let suppressed = &body["results"][1];
        assert_eq!(suppressed["practice_name"], "BRIDGE, MEDICAL CENTRE");
        assert_eq!(suppressed["overall_experience"], Value::Null, "-97");
        assert_eq!(suppressed["phone_ease"], Value::Null, "/");
        assert_eq!(suppressed["contact_experience"], 0.5);
        assert_eq!(
            suppressed["measures"],
            json!({
                "overallexp_1.pct": null,
                "overallexp_2.pct": null,
                "overallexp.pcteval": null,
                "overallexp.baseevalw": null,
                "gpcontactoverall.pcteval": 0.5,
                "localgpservicesphone.pcteval": null,
                "lastgpapptwhen_1.pct": 0.1
            })
        );
        assert_eq!(
            body["results"][2]["measures"]["overallexp.baseevalw"],
            190.5
        );
        let empty = &body["results"][4];
        assert_eq!(empty["pcn_code"], "U");
        assert_eq!(empty["measures"]["overallexp.pcteval"], Value::Null);
        assert_eq!(empty["contact_experience"], Value::Null, "-98");
        // The measures keep the file's column order.
        let text = response.text();
        let first = text.find("\"overallexp_1.pct\"").unwrap();
        let last = text.find("\"lastgpapptwhen_1.pct\"").unwrap();
        assert!(first < last);
    });
}

async fn every_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for (query, expected) in [
            (
                "practice=a81001",
                vec!["2021|A81001", "2023|A81001", "2025|A81001"],
            ),
            ("practice=F83002", vec!["2025|F83002"]),
            ("pcn=u22222", vec!["2025|F83001", "2025|F83002"]),
            ("pcn=U11111&list_band=5K_10K", vec!["2025|A81002"]),
            ("ics=qmj&year=2023", vec!["2023|F83001"]),
            (
                "ics=QMJ",
                vec![
                    "2021|F83001",
                    "2023|F83001",
                    "2025|F83001",
                    "2025|F83002",
                    "2025|Y01063",
                ],
            ),
            (
                "region=y63",
                vec!["2021|A81001", "2025|A81001", "2025|A81002"],
            ),
            ("year=2025&list_band=20k_plus", vec!["2025|F83001"]),
            ("year=2025&list_band=%20under_5k%20", vec!["2025|A81001"]),
            ("year=2.021e3", vec!["2021|A81001", "2021|F83001"]),
            ("year=%202023.0%20", vec!["2023|A81001", "2023|F83001"]),
            ("year=2025.5", vec![]),
            ("year=2024", vec![]),
        ] {
            let response = app
                .get(&format!("/api/v1/gp-patient-survey/?{query}"))
                .await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            assert_eq!(
                keys(&response.json(), &["year", "practice_code"]),
                expected,
                "{query}"
            );
        }
        let bad = app
            .get("/api/v1/gp-patient-survey/?year=2025/26&practice=A81001")
            .await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.json(), json!({"year": ["Enter a number."]}));
    });
}

async fn the_earlier_scheme_loads_under_its_own_column_names(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get("/api/v1/gp-patient-survey/?year=2023").await.json();
        assert_eq!(
            body["results"][0],
            json!({
                "year": 2023,
                "practice_code": "A81001",
                "practice_name": "THE DENSHAM SURGERY",
                "pcn_code": null,
                "pcn_name": null,
                "ics_code": "QHM",
                "ics_name": "North East and North Cumbria Integrated Care System",
                "region_code": null,
                "region_name": null,
                "list_band": null,
                "list_size": null,
                "distributed": 290,
                "received": 110,
                "response_rate": 0.37931,
                "overall_experience": 0.85068,
                "contact_experience": 0.62,
                "phone_ease": 0.51,
                "measures": {
                    "Q28base": 108,
                    "Q28_1pct": 0.45,
                    "Q28_12pct": 0.85068,
                    "Q18_12pct": 0.62,
                    "Q3_12pct": 0.51
                }
            })
        );
        assert_eq!(body["results"][1]["contact_experience"], Value::Null, "-97");

        let body = app.get("/api/v1/gp-patient-survey/?year=2021").await.json();
        assert_eq!(
            keys(
                &body,
                &[
                    "practice_code",
                    "practice_name",
                    "ics_code",
                    "ics_name",
                    "region_code",
                    "region_name"
                ]
            ),
            [
                "A81001|THE DENSHAM SURGERY|QHM|Cumbria and North East|Y63|North East and Yorkshire",
                "F83001|CAFÉ CENTRAL MEDICAL CENTRE|QMJ|North London Partners in Health and Care|Y56|London",
            ],
            "Practice_code, STP and CR columns; ISO-8859-1 decoded"
        );
        assert_eq!(
            body["results"][0]["measures"],
            json!({"Q28_12pct": 0.881113, "Q18_12pct": 0.7, "Q3_12pct": 0.562253}),
            "CCG columns are neither fields nor measures"
        );
    });
}

async fn a_file_without_a_year_in_its_name_takes_the_year_option(backend: Backend) {
    with_app!(backend, |app| {
        let error = app
            .import_with_options("gpps", &[NO_YEAR], &[])
            .await
            .expect_err("no year");
        assert!(
            error.to_string().starts_with(
                "gpps-practice-results.csv: unrecognised file: the file name does not say its survey year"
            ),
            "{error}"
        );
        let error = app
            .import_with_options("gpps", &[Y2025], &[("year", "2024")])
            .await
            .expect_err("disagrees with the name");
        assert!(
            error
                .to_string()
                .contains("the file name says 2025, but --option year says 2024"),
            "{error}"
        );
        let error = app
            .import_with_options("gpps", &[NO_YEAR], &[("year", "2023")])
            .await
            .expect_err("before the redesign");
        assert_eq!(
            error.to_string(),
            "gpps-practice-results.csv: unrecognised file: the header is in the 2024 scheme \
             (ad_practicecode), but the year is 2023"
        );
        let error = app
            .import_with_options("gpps", &[NO_YEAR], &[("year", "2024/25")])
            .await
            .expect_err("not a survey year");
        assert!(
            error.to_string().contains("--option year=2024/25"),
            "{error}"
        );

        app.import_with_options("gpps", &[NO_YEAR], &[("year", "2024")])
            .await
            .expect("with the option");
        let body = app.get("/api/v1/gp-patient-survey/?year=2024").await.json();
        assert_eq!(
            keys(&body, &["year", "practice_code", "overall_experience"]),
            ["2024|A81001|0.81"]
        );
    });
}

async fn the_endpoint_requires_a_core_filter(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for query in ["", "?list_band=under_5k", "?year=&practice=", "?page=2"] {
            let response = app.get(&format!("/api/v1/gp-patient-survey/{query}")).await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.json(),
                json!({"detail": "At least one of these filters is required: year, practice, pcn, ics, region."})
            );
        }
    });
}

async fn reimporting_replaces_a_year(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        app.import("gpps", &[REISSUE_2025]).await.expect("reissue");
        let body = app.get("/api/v1/gp-patient-survey/?year=2025").await.json();
        assert_eq!(
            keys(&body, &["practice_code", "overall_experience"]),
            ["F83001|0.9"],
            "the reissue replaced the whole year"
        );
        let older = app
            .get("/api/v1/gp-patient-survey/?practice=A81001")
            .await
            .json();
        assert_eq!(
            keys(&older, &["year"]),
            ["2021", "2023"],
            "other years stay"
        );
    });
}

async fn a_broken_file_changes_nothing_and_says_where(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let before = app.get("/api/v1/gp-patient-survey/?year=2025").await.text();
        let error = app
            .import("gpps", &[REISSUE_2025, BAD_VALUE])
            .await
            .expect_err("bad value");
        assert_eq!(
            error.to_string(),
            "GPPS_2025_Practice_data_(weighted)_(csv)_PUBLIC.csv, line 3: column \
             localgpservicesphone.pcteval: invalid value \"n/a\" (expected a number, / or a \
             negative missing marker)"
        );
        let error = app
            .import("gpps", &[MISSING_COLUMNS])
            .await
            .expect_err("missing columns");
        assert_eq!(
            error.to_string(),
            "GPPS_2024_Practice_data_(weighted)_(csv)_PUBLIC.csv: missing column(s): ad_pcnname, \
             popsize"
        );
        let error = app
            .import("gpps", &["payments/nhspaymentsgp-24-25-prac-csv.csv"])
            .await
            .expect_err("another publication");
        assert!(
            error
                .to_string()
                .contains("unrecognised file: expected a GP Patient Survey practice file"),
            "{error}"
        );
        let after = app.get("/api/v1/gp-patient-survey/?year=2025").await.text();
        assert_eq!(before, after, "nothing served changed");
    });
}
