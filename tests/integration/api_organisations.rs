//! `/practices/`, `/pcns/` and `/practices/{ods_code}/population/` over the real router, with
//! the ODS and registration fixtures imported through the real importers.

use serde_json::{Value, json};

use crate::common::{self, Backend, TestApp};

crate::trials! {
    each_backend: [
        practices_list_every_gp_practice_in_code_order_with_full_rows,
        practice_search_follows_drf_search_filter,
        search_matches_every_substring_exactly,
        practice_code_filters_trim_and_ignore_case,
        pcns_carry_geography_member_counts_and_list_sizes,
        population_by_financial_year_from_the_earliest_extract,
    ],
    current_thread: [
        migrating_indexes_rows_that_predate_the_search_index,
    ],
    postgres: [
        postgres_searches_can_use_the_trigram_index,
    ],
}

async fn loaded(app: &TestApp) {
    app.import_ods().await;
    app.import_registrations(true).await;
}

fn codes(body: &Value, field: &str) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r[field].as_str().expect("code").to_owned())
        .collect()
}

async fn practices_list_every_gp_practice_in_code_order_with_full_rows(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/practices/").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body = response.json();
        assert_eq!(body["count"], 8, "{:?}", app.backend);
        assert_eq!(body["next"], Value::Null);
        assert_eq!(body["previous"], Value::Null);
        assert_eq!(
            codes(&body, "ods_code"),
            [
                "A81001", "A81002", "A81003", "A81004", "F83001", "F83002", "W91001", "Y01063"
            ]
        );
        assert_eq!(
            body["results"][0],
            json!({
                "ods_code": "A81001",
                "name": "ELM TREE SURGERY",
                "address": "1 HIGH STREET, STOCKTON-ON-TEES, CLEVELAND",
                "postcode": "TS18 1HU",
                "status": "active",
                "open_date": "1974-04-01",
                "close_date": null,
                "pcn_code": "U22222",
                "pcn_name": "RIVERSIDE NORTH PCN",
                "sub_icb_code": "00L",
                "sub_icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L",
                "icb_code": "QHM",
                "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD",
                "region_code": "Y63",
                "region_name": "NORTH EAST AND YORKSHIRE",
                "list_size": 3216,
                "list_size_month": "2025-05-01"
            })
        );
        // Field order is the declaration order, as DRF's serializer renders it.
        let text = response.text();
        assert!(text.starts_with(
            r#"{"count":8,"next":null,"previous":null,"results":[{"ods_code":"A81001","name":"#
        ));
        let closed = &body["results"][3];
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["close_date"], "2020-03-31");
        assert_eq!(closed["pcn_code"], Value::Null);
        assert_eq!(closed["list_size"], Value::Null);
        // A practice that moved PCN is reported in its current one.
        assert_eq!(body["results"][5]["pcn_code"], "U11111");
        assert_eq!(body["results"][5]["name"], "PARK, LANE & CO SURGERY");
        assert_eq!(body["results"][5]["address"], "6 PARK LANE, FLAT 2, LONDON");
        // A Welsh practice has no English geography but is still a practice of the file.
        assert_eq!(body["results"][6]["region_code"], "W00");
        assert_eq!(body["results"][6]["region_name"], Value::Null);
        assert_eq!(body["results"][7]["status"], "dormant");
    });
}

async fn practice_search_follows_drf_search_filter(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let cases: &[(&str, &[&str])] = &[
            ("elm", &["A81001", "A81003", "A81004", "W91001", "Y01063"]),
            ("ELM", &["A81001", "A81003", "A81004", "W91001", "Y01063"]),
            ("elm%20tree", &["A81001"]),
            ("elm,ts18", &["A81001"]),
            ("ts18", &["A81001", "A81002"]),
            ("a8100", &["A81001", "A81002", "A81003", "A81004"]),
            ("%22old%20elm%22", &["A81004"]),
            ("100%25", &["Y01063"]),
            ("_one", &["Y01063"]),
            ("a_8", &[]),
            ("park%2C", &["A81002", "F83002"]),
            (
                "",
                &[
                    "A81001", "A81002", "A81003", "A81004", "F83001", "F83002", "W91001", "Y01063",
                ],
            ),
            ("zzz", &[]),
        ];
        for (term, expected) in cases {
            let body = app
                .get(&format!("/api/v1/practices/?search={term}"))
                .await
                .json();
            assert_eq!(
                codes(&body, "ods_code"),
                *expected,
                "search={term} on {:?}",
                app.backend
            );
            assert_eq!(body["count"], expected.len(), "search={term}");
        }
        let response = app.get("/api/v1/practices/?search=a%00b").await;
        assert_eq!(response.status, 400);
        assert_eq!(response.text(), r#"["Null characters are not allowed."]"#);
    });
}

/// Every substring of the practices' searched fields, short and long (the trigram index answers
/// terms of three characters or more, a scan the rest), matches exactly the practices whose ODS
/// code, name or postcode contains it, ignoring case.
async fn search_matches_every_substring_exactly(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let all = app.get("/api/v1/practices/").await.json();
        let haystacks: Vec<(String, Vec<String>)> = all["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let fields = ["ods_code", "name", "postcode"]
                    .iter()
                    .filter_map(|f| p[*f].as_str())
                    .map(str::to_lowercase)
                    .collect();
                (p["ods_code"].as_str().unwrap().to_owned(), fields)
            })
            .collect();
        let mut terms = std::collections::BTreeSet::new();
        for (_, fields) in &haystacks {
            for field in fields {
                let chars: Vec<char> = field.chars().filter(|c| *c != ' ').collect();
                for len in 1..=5 {
                    for window in chars.windows(len).step_by(3) {
                        terms.insert(window.iter().collect::<String>());
                    }
                }
            }
        }
        terms.extend(["ELM", "Tree", "rOAD", "\"elm", "elm\"", "a\"b\"c"].map(String::from));
        assert!(terms.len() > 100, "{} terms", terms.len());
        for term in &terms {
            if term.contains(',') || term.contains('\'') || term.starts_with('"') {
                continue;
            }
            let needle = term.to_lowercase();
            let expected: Vec<&str> = haystacks
                .iter()
                .filter(|(_, fields)| fields.iter().any(|f| f.contains(&needle)))
                .map(|(code, _)| code.as_str())
                .collect();
            let query = url_encode(term);
            let body = app
                .get(&format!("/api/v1/practices/?search={query}"))
                .await
                .json();
            assert_eq!(
                codes(&body, "ods_code"),
                expected,
                "search={term:?} on {:?}",
                app.backend
            );
        }
    });
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn practice_code_filters_trim_and_ignore_case(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let cases: &[(&str, &[&str])] = &[
            ("pcn=U22222", &["A81001", "A81002"]),
            ("pcn=u22222", &["A81001", "A81002"]),
            ("pcn=%20u22222%20", &["A81001", "A81002"]),
            ("pcn=U11111&icb=QMJ", &["F83001", "F83002", "Y01063"]),
            ("pcn=U11111&icb=QHM", &[]),
            ("icb=qhm", &["A81001", "A81002", "A81003", "A81004"]),
            ("icb=qhm&search=elm", &["A81001", "A81003", "A81004"]),
            ("pcn=U99999", &[]),
            ("pcn=U99999&pcn=U33333", &["A81003"]),
            (
                "pcn=",
                &[
                    "A81001", "A81002", "A81003", "A81004", "F83001", "F83002", "W91001", "Y01063",
                ],
            ),
            (
                "unknown=1&icb__in=QHM",
                &[
                    "A81001", "A81002", "A81003", "A81004", "F83001", "F83002", "W91001", "Y01063",
                ],
            ),
        ];
        for (query, expected) in cases {
            let body = app.get(&format!("/api/v1/practices/?{query}")).await.json();
            assert_eq!(
                codes(&body, "ods_code"),
                *expected,
                "{query} on {:?}",
                app.backend
            );
        }
    });
}

async fn pcns_carry_geography_member_counts_and_list_sizes(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let body = app.get("/api/v1/pcns/").await.json();
        assert_eq!(body["count"], 3);
        assert_eq!(
            body["results"],
            json!([
                {"pcn_code": "U11111", "name": "CAMDEN CENTRAL PCN", "sub_icb_code": "93C",
                 "icb_code": "QMJ", "icb_name": "NHS NORTH CENTRAL LONDON INTEGRATED CARE BOARD",
                 "region_code": "Y56", "open_date": "2019-07-01", "close_date": null,
                 "practice_count": 3, "list_size": 9748},
                {"pcn_code": "U22222", "name": "RIVERSIDE NORTH PCN", "sub_icb_code": "00L",
                 "icb_code": "QHM", "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD",
                 "region_code": "Y63", "open_date": "2019-07-01", "close_date": null,
                 "practice_count": 2, "list_size": 5962},
                {"pcn_code": "U33333", "name": "COASTAL PCN", "sub_icb_code": "00P",
                 "icb_code": "QHM", "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD",
                 "region_code": "Y63", "open_date": "2019-07-01", "close_date": null,
                 "practice_count": 1, "list_size": 2858}
            ]),
            "{:?}",
            app.backend
        );
        let cases: &[(&str, &[&str])] = &[
            ("search=north", &["U22222"]),
            ("search=pcn%20u1", &["U11111"]),
            ("search=u2,u3", &[]),
            ("icb=QHM", &["U22222", "U33333"]),
            ("icb=%20qmj", &["U11111"]),
            ("icb=QHM&search=coastal", &["U33333"]),
        ];
        for (query, expected) in cases {
            let body = app.get(&format!("/api/v1/pcns/?{query}")).await.json();
            assert_eq!(codes(&body, "pcn_code"), *expected, "{query}");
        }
    });
}

async fn population_by_financial_year_from_the_earliest_extract(backend: Backend) {
    with_app!(backend, |app| {
        loaded(&app).await;
        let response = app.get("/api/v1/practices/a81001/population/").await;
        assert_eq!(response.status, 200, "{}", response.text());
        let rows = response.json();
        let rows = rows.as_array().expect("a bare array");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["financial_year"], "2024/25");
        assert_eq!(rows[0]["extract_date"], "2025-03-01");
        assert_eq!(rows[0]["total"], 3140);
        assert_eq!(rows[0]["male"], 1550);
        assert_eq!(rows[0]["female"], 1590);
        assert_eq!(rows[0]["age_0_4"], 184);
        assert_eq!(rows[0]["age_95_plus"], 130);
        assert_eq!(rows[1]["financial_year"], "2025/26");
        assert_eq!(rows[1]["extract_date"], "2025-04-01");
        assert_eq!(rows[1]["total"], 3178);
        assert!(response.text().starts_with(
            r#"[{"financial_year":"2024/25","extract_date":"2025-03-01","total":3140,"male":1550,"female":1590,"age_0_4":184,"age_5_9":"#
        ));
        assert!(response.text().contains(r#""age_90_94":"#));
        assert_eq!(rows[0].as_object().unwrap().len(), 25);
        let bands: i64 = rows[0]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("age_"))
            .map(|(_, v)| v.as_i64().unwrap())
            .sum();
        assert_eq!(bands, 3140);

        // A practice with no registrations has an empty history, not a 404.
        let response = app.get("/api/v1/practices/W91001/population/").await;
        assert_eq!(
            (response.status.as_u16(), response.text().as_str()),
            (200, "[]")
        );

        for path in [
            "/api/v1/practices/ZZZ999/population/",
            "/api/v1/practices/A81601/population/",
        ] {
            let response = app.get(path).await;
            assert_eq!(response.status, 404);
            assert_eq!(
                response.text(),
                r#"{"detail":"No Practice matches the given query."}"#
            );
        }
    });
}

/// A database whose rows predate its search index (made before the index existed) has them
/// indexed when it is next migrated, so searches keep finding them.
async fn migrating_indexes_rows_that_predate_the_search_index() {
    let app = TestApp::new(common::Backend::Sqlite).await;
    loaded(&app).await;
    let mut tx = app.db.begin().await.unwrap();
    for sql in [
        "DROP TRIGGER practices_search_text_trgm_insert",
        "DROP TRIGGER practices_search_text_trgm_delete",
        "DROP TRIGGER practices_search_text_trgm_update",
        "DROP TABLE practices_search_text_trgm",
    ] {
        tx.execute_raw(sql).await.unwrap();
    }
    tx.commit().await.unwrap();
    haresign::migrate(&app.db).await.unwrap();
    let body = app.get("/api/v1/practices/?search=elm").await.json();
    assert_eq!(
        codes(&body, "ods_code"),
        ["A81001", "A81003", "A81004", "W91001", "Y01063"]
    );
    app.finish().await;
}

/// On PostgreSQL the search column has a `pg_trgm` index that the search filter's `LIKE` can be
/// answered from (the planner is told to avoid a scan, as the fixture is too small to need it).
async fn postgres_searches_can_use_the_trigram_index() {
    let app = TestApp::new(common::Backend::Postgres).await;
    loaded(&app).await;
    let haresign::db::Db::Postgres(pool) = &app.db else {
        unreachable!("a PostgreSQL app");
    };
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT ods_code FROM practices WHERE search_text LIKE $1 ESCAPE '\\' \
         ORDER BY ods_code LIMIT 100",
    )
    .bind("%elm%")
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        plan.iter()
            .any(|line| line.contains("Bitmap Index Scan on practices_search_text_trgm")),
        "{plan:#?}"
    );
    let body = app.get("/api/v1/practices/?search=elm").await.json();
    assert_eq!(body["count"], 5);
    app.finish().await;
}
