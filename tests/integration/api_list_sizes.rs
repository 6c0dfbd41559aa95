//! `/list-sizes/` over the real router: list sizes for every organisation level, derived from the
//! registration fixtures imported through the real importer.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};

crate::trials! {
    each_backend: [
        a_month_lists_every_level_in_order_with_full_rows,
        months_without_their_own_map_take_names_and_parents_from_the_latest,
        age_band_figures_are_preferred_to_practice_totals_of_the_same_month,
        every_filter_narrows_the_rows,
        one_core_filter_is_required,
        pages_do_not_overlap,
    ],
}

async fn loaded(app: &TestApp) {
    app.import("epraccur", &["api/epraccur.csv"])
        .await
        .expect("epraccur");
    app.import_registrations(true).await;
}

/// `(org_type, org_code)` of every row on the page.
fn orgs(body: &Value) -> Vec<(String, String)> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["org_type"].as_str().expect("org_type").to_owned(),
                r["org_code"].as_str().expect("org_code").to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(t, c)| ((*t).to_owned(), (*c).to_owned()))
        .collect()
}

async fn a_month_lists_every_level_in_order_with_full_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/list-sizes/?month=2025-05").await;
        assert_eq!(response.status, 200, "{}", response.text());
        let body = response.json();
        assert_eq!(body["count"], 17, "{:?}", app.backend);
        assert_eq!(
            orgs(&body),
            pairs(&[
                ("icb", "QHM"),
                ("icb", "QMJ"),
                ("national", "E92000001"),
                ("pcn", "U11111"),
                ("pcn", "U22222"),
                ("pcn", "U33333"),
                ("practice", "A81001"),
                ("practice", "A81002"),
                ("practice", "A81003"),
                ("practice", "F83001"),
                ("practice", "F83002"),
                ("practice", "Y01063"),
                ("region", "Y56"),
                ("region", "Y63"),
                ("sub_icb", "00L"),
                ("sub_icb", "00P"),
                ("sub_icb", "93C"),
            ])
        );
        let results = &body["results"];
        assert_eq!(
            results[6],
            json!({
                "month": "2025-05-01",
                "org_type": "practice",
                "org_code": "A81001",
                "org_name": "ELM TREE SURGERY",
                "pcn_code": "U22222",
                "sub_icb_code": "00L",
                "icb_code": "QHM",
                "region_code": "Y63",
                "total": 3216,
                "male": 1588,
                "female": 1628
            })
        );
        assert_eq!(
            results[2],
            json!({
                "month": "2025-05-01",
                "org_type": "national",
                "org_code": "E92000001",
                "org_name": "England",
                "pcn_code": null,
                "sub_icb_code": null,
                "icb_code": null,
                "region_code": null,
                "total": 18568,
                "male": 9164,
                "female": 9404
            })
        );
        assert_eq!(results[3]["org_name"], "CAMDEN CENTRAL PCN");
        assert_eq!(results[3]["pcn_code"], "U11111");
        assert_eq!(results[3]["sub_icb_code"], "93C");
        assert_eq!(results[3]["icb_code"], "QMJ");
        assert_eq!(results[3]["region_code"], "Y56");
        assert_eq!(results[3]["total"], 9748);
        assert_eq!(
            results[16]["org_name"],
            "NHS NORTH CENTRAL LONDON ICB - 93C"
        );
        assert_eq!(results[16]["pcn_code"], Value::Null);
        assert_eq!(results[16]["icb_code"], "QMJ");
        assert_eq!(
            results[0]["org_name"],
            "NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD"
        );
        assert_eq!(results[0]["sub_icb_code"], Value::Null);
        assert_eq!(results[0]["icb_code"], "QHM");
        assert_eq!(results[0]["region_code"], "Y63");
        assert_eq!(results[12]["org_name"], "LONDON");
        assert_eq!(results[12]["region_code"], "Y56");
    });
}

async fn months_without_their_own_map_take_names_and_parents_from_the_latest(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app
            .get("/api/v1/list-sizes/?month=2025-03-17&org=a81001")
            .await
            .json();
        assert_eq!(body["count"], 1);
        let row = &body["results"][0];
        assert_eq!(row["month"], "2025-03-01");
        assert_eq!(row["org_name"], "ELM TREE SURGERY");
        assert_eq!(row["pcn_code"], "U22222");
        assert_eq!(row["total"], 3140);
    });
}

/// A practice-totals file (`gp-reg-pat-prac-all`) beside the age-band file of the same month
/// gives way to it; a month only the totals file has is served from it.
async fn age_band_figures_are_preferred_to_practice_totals_of_the_same_month(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let dir = tempfile::tempdir().unwrap();
        let totals = dir.path().join("gp-reg-pat-prac-all.csv");
        let mut csv = String::from(
            "PUBLICATION,EXTRACT_DATE,TYPE,SUB_ICB_LOCATION_CODE,ONS_SUB_ICB_LOCATION_CODE,CODE,\
             POSTCODE,SEX,AGE,NUMBER_OF_PATIENTS\n",
        );
        for (date, male, female) in [("01MAY2025", 1, 2), ("01JUN2025", 300, 477)] {
            for (sex, n) in [("MALE", male), ("FEMALE", female), ("ALL", male + female)] {
                csv.push_str(&format!(
                    "GP_PRAC_PAT_LIST,{date},GP,00L,E38000247,A81001,TS18 1HU,{sex},ALL,{n}\n"
                ));
            }
        }
        std::fs::write(&totals, csv).unwrap();
        app.import_paths("registrations", &[totals]).await.unwrap();

        let body = app
            .get("/api/v1/list-sizes/?org=A81001&org_type=practice")
            .await
            .json();
        let figures: Vec<(&str, i64, i64)> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["month"].as_str().unwrap(),
                    r["total"].as_i64().unwrap(),
                    r["male"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            figures,
            [
                ("2025-03-01", 3140, figures[0].2),
                ("2025-04-01", figures[1].1, figures[1].2),
                ("2025-05-01", 3216, 1588),
                ("2025-06-01", 777, 300),
            ]
        );
    });
}

async fn every_filter_narrows_the_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "?org=U22222",
                &[("pcn", "U22222"), ("pcn", "U22222"), ("pcn", "U22222")],
            ),
            (
                "?month=2025-04&org_type=%20Region%20",
                &[("region", "Y56"), ("region", "Y63")],
            ),
            (
                "?month=2025-04&pcn=u22222",
                &[
                    ("pcn", "U22222"),
                    ("practice", "A81001"),
                    ("practice", "A81002"),
                ],
            ),
            (
                "?month=2025-04&sub_icb=00p",
                &[
                    ("pcn", "U33333"),
                    ("practice", "A81003"),
                    ("sub_icb", "00P"),
                ],
            ),
            (
                "?month=2025-04&icb=QHM&org_type=sub_icb",
                &[("sub_icb", "00L"), ("sub_icb", "00P")],
            ),
            ("?month=2025-04&region=Y56&org_type=icb", &[("icb", "QMJ")]),
            ("?region=Y63&org_type=region", &[("region", "Y63"); 3]),
            ("?org=E92000001&month=2025-04", &[("national", "E92000001")]),
        ];
        for (query, expected) in cases {
            let response = app.get(&format!("/api/v1/list-sizes/{query}")).await;
            assert_eq!(response.status, 200, "{query}: {}", response.text());
            assert_eq!(orgs(&response.json()), pairs(expected), "{query}");
        }
        // Several months of one organisation come in month order.
        let body = app.get("/api/v1/list-sizes/?org=U22222").await.json();
        let months: Vec<&str> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["month"].as_str().unwrap())
            .collect();
        assert_eq!(months, ["2025-03-01", "2025-04-01", "2025-05-01"]);
    });
}

async fn one_core_filter_is_required(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        for query in ["", "?org_type=practice", "?month=&org=", "?practice=A81001"] {
            let response = app.get(&format!("/api/v1/list-sizes/{query}")).await;
            assert_eq!(response.status, 400, "{query}");
            assert_eq!(
                response.text(),
                r#"{"detail":"At least one of these filters is required: month, org, pcn, sub_icb, icb, region."}"#
            );
        }
        let response = app.get("/api/v1/list-sizes/?month=May").await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"{"month":["Enter a valid date."]}"#);
    });
}

async fn pages_do_not_overlap(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let first = app
            .get("/api/v1/list-sizes/?month=2025-05&page_size=10")
            .await
            .json();
        let second = app
            .get("/api/v1/list-sizes/?month=2025-05&page_size=10&page=2")
            .await
            .json();
        let mut all = orgs(&first);
        all.extend(orgs(&second));
        let everything = orgs(&app.get("/api/v1/list-sizes/?month=2025-05").await.json());
        assert_eq!(all, everything);
    });
}
