//! The contract surface: the OpenAPI document, `/api/schema/`, the Swagger UI and ReDoc pages
//! with their local assets, the `/api/v1/` index and `haresign schema`.

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};

use crate::common::{self, Backend, TestApp, TestResponse};
use haresign::api::openapi::RENDERED;
use haresign::catalogue;
use haresign::schema::{FilterKind, Shape};

crate::trials! {
    each_backend: [
        schema_is_public_but_refuses_a_bad_key,
        docs_pages_refuse_a_bad_key_like_drf,
        the_index_lists_every_endpoint,
    ],
    current_thread: [
        the_document_matches_its_snapshot,
        yaml_and_json_hold_the_same_document,
        schema_formats_follow_drf_spectacular,
        docs_pages_load_only_local_assets,
    ],
    sync: [
        every_endpoint_is_documented_with_every_filter,
        the_response_check_rejects_drift,
        the_schema_command_prints_the_document,
    ],
}

const SNAPSHOT: &str = "tests/snapshots/openapi.json";
const UPDATE_ENV: &str = "HARESIGN_UPDATE_SNAPSHOTS";

async fn sqlite_app() -> TestApp {
    TestApp::new(Backend::Sqlite).await
}

fn document() -> &'static Value {
    &RENDERED.document
}

/// The whole JSON document, as `/api/schema/?format=json` serves it, is pinned: any change to
/// the contract shows up in review as a diff of the snapshot.
async fn the_document_matches_its_snapshot() {
    let app = sqlite_app().await;
    let response = app.get_anonymous("/api/schema/?format=json", &[]).await;
    assert_eq!(response.status, 200);
    let served = format!("{}\n", response.text());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var(UPDATE_ENV).is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &served).unwrap();
    }
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    if pinned != served {
        let line = pinned
            .lines()
            .zip(served.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| pinned.lines().count().min(served.lines().count()));
        panic!(
            "the OpenAPI document differs from {SNAPSHOT} from line {}:\n  pinned: {}\n  served: {}\n\
             If the change is intended, rewrite the snapshot with \
             `{UPDATE_ENV}=1 cargo test --test integration the_document_matches_its_snapshot` and commit it.",
            line + 1,
            pinned.lines().nth(line).unwrap_or("<end>"),
            served.lines().nth(line).unwrap_or("<end>"),
        );
    }
    app.finish().await;
}

/// The snapshot also checks that the YAML and JSON renderings hold the same document.
async fn yaml_and_json_hold_the_same_document() {
    let yaml: Value = serde_norway::from_slice(&RENDERED.yaml).unwrap();
    let json: Value = serde_json::from_slice(&RENDERED.json).unwrap();
    assert_eq!(yaml, json);
    assert_eq!(&json, document());
}

fn expected_operation_id(path: &str) -> String {
    let words: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .map(|s| s.replace('-', "_"))
        .collect();
    format!("v1_{}_list", words.join("_"))
}

fn resolve_ref<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").expect("local ref");
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "dangling {r}");
            target
        }
        None => schema,
    }
}

fn every_endpoint_is_documented_with_every_filter() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["info"]["title"], "haresign");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        doc["components"]["securitySchemes"]["tokenAuth"],
        json!({"type": "http", "scheme": "bearer"})
    );
    assert_eq!(
        doc["paths"].as_object().unwrap().len(),
        catalogue::endpoints().len() + 3,
        "every catalogue endpoint, datasets/, the practice detail and the schema itself"
    );
    assert_eq!(
        doc["paths"]["/api/v1/datasets/"]["get"]["operationId"],
        "v1_datasets_list"
    );
    let detail = &doc["paths"]["/api/v1/practices/{ods_code}/"]["get"];
    assert_eq!(detail["operationId"], "v1_practices_retrieve");
    assert_eq!(detail["parameters"][0]["in"], "path");
    assert_eq!(
        detail["responses"]["404"]["content"]["application/json"]["examples"]["unknown_practice"]["value"],
        json!({"detail": "No Practice matches the given query."})
    );
    assert_eq!(
        doc["paths"]["/api/schema/"]["get"]["parameters"][0]["schema"]["enum"],
        json!(["json", "yaml"])
    );
    assert_eq!(
        doc["paths"]["/api/v1/practices/"]["get"]["operationId"],
        "v1_practices_list"
    );
    assert_eq!(
        doc["paths"]["/api/v1/practices/{ods_code}/population/"]["get"]["operationId"],
        "v1_practices_population_list"
    );
    for endpoint in catalogue::endpoints() {
        let path = format!("/api/v1/{}", endpoint.path);
        let op = &doc["paths"][&path]["get"];
        assert_eq!(
            op["operationId"],
            expected_operation_id(endpoint.path),
            "{path}"
        );
        assert_eq!(op["tags"], json!(["v1"]), "{path}");
        assert_eq!(op["security"], json!([{"tokenAuth": []}]), "{path}");
        assert_eq!(
            op["description"]
                .as_str()
                .map(|d| d.starts_with(endpoint.description)),
            Some(true)
        );

        let params = op["parameters"].as_array().unwrap();
        let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "{path}: parameters sorted by name");
        let param = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path}: no parameter {name}"))
        };
        for filter in endpoint.filters {
            let p = param(filter.name);
            assert_eq!(p["in"], "query");
            assert_eq!(p["required"], false);
            let description = p["description"].as_str().unwrap();
            assert!(
                description.starts_with(filter.description),
                "{path} {}",
                filter.name
            );
            let expected = match filter.kind {
                FilterKind::Code(_)
                | FilterKind::CodeInList(_)
                | FilterKind::LowerCode(_)
                | FilterKind::Label(_)
                | FilterKind::Search { .. }
                | FilterKind::FinancialYear(_) => ("string", None),
                FilterKind::Date(_) | FilterKind::Month(_) => ("string", Some("date")),
                FilterKind::Boolean(_) => ("boolean", None),
                FilterKind::Year(_) => ("number", None),
            };
            assert_eq!(p["schema"]["type"], expected.0, "{path} {}", filter.name);
            assert_eq!(
                p["schema"]["format"].as_str(),
                expected.1,
                "{path} {}",
                filter.name
            );
            if endpoint.core.contains(&filter.name) {
                let rule = format!(
                    "At least one of these filters is required: {}.",
                    endpoint.core.join(", ")
                );
                assert!(description.contains(&rule), "{path} {}", filter.name);
            }
        }
        let paginated = endpoint.shape == Shape::Paginated;
        for name in ["page", "page_size"] {
            assert_eq!(names.contains(&name), paginated, "{path} {name}");
        }
        if paginated {
            assert_eq!(
                param("page")["description"],
                "A page number within the paginated result set."
            );
            assert!(
                param("page_size")["description"]
                    .as_str()
                    .unwrap()
                    .starts_with("Number of results to return per page.")
            );
            assert_eq!(param("page")["schema"], json!({"type": "integer"}));
        }
        for segment in endpoint.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert_eq!(param(name)["in"], "path");
                assert_eq!(param(name)["required"], true);
            }
        }
        assert_eq!(
            param("format")["schema"],
            json!({"type": "string", "enum": ["json", "csv"]})
        );
        assert_eq!(
            names.len(),
            endpoint.filters.len()
                + 1
                + 2 * usize::from(paginated)
                + endpoint.path.matches('{').count(),
            "{path}: no undeclared parameters"
        );

        let ok = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let item = if paginated {
            let envelope = resolve_ref(doc, ok);
            assert_eq!(
                ok["$ref"],
                format!("#/components/schemas/Paginated{}List", endpoint.component)
            );
            assert_eq!(envelope["required"], json!(["count", "results"]));
            assert_eq!(envelope["properties"]["next"]["format"], "uri");
            resolve_ref(doc, &envelope["properties"]["results"]["items"])
        } else {
            assert_eq!(ok["type"], "array");
            resolve_ref(doc, &ok["items"])
        };
        assert_eq!(item["required"], json!(endpoint.field_names()), "{path}");
        for column in endpoint.field_columns() {
            let property = &item["properties"][column.name];
            assert_eq!(property["description"], column.description);
            assert_eq!(
                property["nullable"].as_bool().unwrap_or(false),
                column.nullable
            );
        }
        for status in ["401", "403", "404", "406", "429"] {
            let schema = &op["responses"][status]["content"]["application/json"]["schema"];
            assert_eq!(
                resolve_ref(doc, schema)["required"],
                json!(["detail"]),
                "{path} {status}"
            );
        }
        assert!(op["responses"]["429"]["headers"]["Retry-After"].is_object());
        let can_fail = !endpoint.core.is_empty()
            || endpoint.filters.iter().any(|f| {
                !matches!(
                    f.kind,
                    FilterKind::Code(_)
                        | FilterKind::LowerCode(_)
                        | FilterKind::Label(_)
                        | FilterKind::Boolean(_)
                )
            });
        assert_eq!(op["responses"]["400"].is_object(), can_fail, "{path}");
    }
}

/// The oracle the harness applies to every response is itself checked: it must reject a body
/// the schema does not describe, and an undocumented status.
fn the_response_check_rejects_drift() {
    let page = |row: Value| {
        serde_json::to_vec(&json!({"count": 1, "next": null, "previous": null, "results": [row]}))
            .unwrap()
    };
    let full = json!({
        "pcn_code": "U1", "name": "N", "sub_icb_code": null, "icb_code": null,
        "icb_name": null, "region_code": null, "open_date": "2020-07-01",
        "close_date": null, "practice_count": 1, "list_size": null,
    });
    let check = |status: u16, body: Vec<u8>| {
        std::panic::catch_unwind(|| {
            common::contract::check("/api/v1/pcns/", status, Some("application/json"), &body)
        })
        .is_ok()
    };
    assert!(check(200, page(full.clone())));
    let mut missing = full.clone();
    missing.as_object_mut().unwrap().remove("list_size");
    assert!(!check(200, page(missing)), "a missing field");
    let mut extra = full.clone();
    extra["extra"] = json!(1);
    assert!(!check(200, page(extra)), "an undocumented field");
    let mut wrong = full.clone();
    wrong["practice_count"] = json!("1");
    assert!(!check(200, page(wrong)), "a wrong type");
    let mut null = full.clone();
    null["name"] = Value::Null;
    assert!(!check(200, page(null)), "null in a non-nullable field");
    let mut date = full;
    date["open_date"] = json!("01/07/2020");
    assert!(!check(200, page(date)), "a malformed date");
    assert!(
        !check(500, br#"{"error":"Server Error (500)"}"#.to_vec()),
        "an undocumented status"
    );
    assert!(check(404, br#"{"detail":"Invalid page."}"#.to_vec()));
}

fn assert_schema_headers(response: &TestResponse, content_type: &str, extension: Option<&str>) {
    assert_eq!(response.header("content-type"), Some(content_type));
    assert_eq!(response.header("vary"), Some("Accept"));
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(
        response.header("content-disposition").map(str::to_owned),
        extension.map(|e| format!("inline; filename=\"haresign.{e}\""))
    );
}

/// API_CONTRACT.md §7's table, row by row.
async fn schema_formats_follow_drf_spectacular() {
    let app = sqlite_app().await;
    let yaml = "application/vnd.oai.openapi; charset=utf-8";
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (uri, accept, content_type, extension) in [
        ("/api/schema/", None, yaml, "yaml"),
        ("/api/schema/", Some("*/*"), yaml, "yaml"),
        ("/api/schema/", Some(browser), yaml, "yaml"),
        ("/api/schema/?format=yaml", None, yaml, "yaml"),
        (
            "/api/schema/?format=json",
            None,
            "application/vnd.oai.openapi+json",
            "json",
        ),
        (
            "/api/schema/",
            Some("application/json"),
            "application/json",
            "json",
        ),
        (
            "/api/schema/",
            Some("application/yaml"),
            "application/yaml; charset=utf-8",
            "yaml",
        ),
    ] {
        let headers: Vec<(&str, &[u8])> = accept
            .map(|a| ("accept", a.as_bytes()))
            .into_iter()
            .collect();
        let response = app.get_anonymous(uri, &headers).await;
        assert_eq!(response.status, 200, "{uri} {accept:?}");
        assert_schema_headers(&response, content_type, Some(extension));
        if extension == "json" {
            assert_eq!(response.body, RENDERED.json, "{uri} {accept:?}");
            assert!(
                response
                    .text()
                    .starts_with("{\n    \"openapi\": \"3.0.3\",\n    \"info\"")
            );
        } else {
            assert_eq!(response.body, RENDERED.yaml, "{uri} {accept:?}");
            assert!(response.text().starts_with("openapi: 3.0.3\n"));
        }
    }
    let indented = app
        .get_anonymous("/api/schema/", &[("accept", b"application/json; indent=2")])
        .await;
    assert!(indented.text().starts_with("{\n  \"openapi\""));

    let response = app.get_anonymous("/api/schema/?format=openapi", &[]).await;
    assert_eq!(response.status, 404);
    assert_schema_headers(&response, yaml, None);
    assert_eq!(
        response.text(),
        "detail:\n  string: Not found.\n  code: not_found\n"
    );
    let response = app
        .get_anonymous("/api/schema/", &[("accept", b"text/html")])
        .await;
    assert_eq!(response.status, 406);
    assert_schema_headers(&response, yaml, None);

    let response = app.get_anonymous("/api/schema", &[]).await;
    assert_eq!(response.status, 301);
    assert_eq!(response.header("location"), Some("/api/schema/"));

    let head = app
        .request(Method::HEAD, "/api/schema/?format=json", &[])
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(RENDERED.json.len().to_string().as_str())
    );
    app.finish().await;
}

async fn schema_is_public_but_refuses_a_bad_key(backend: Backend) {
    with_app!(backend, |app| {
        let response = app.get("/api/schema/").await;
        assert_eq!(response.status, 200, "a valid key is fine too");
        let bad: &[(&str, &[u8])] = &[("authorization", b"Bearer hs_unknown")];
        let response = app.get_anonymous("/api/schema/", bad).await;
        assert_eq!(response.status, 401);
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        assert_schema_headers(
            &response,
            "application/vnd.oai.openapi; charset=utf-8",
            None,
        );
        assert_eq!(
            response.text(),
            "detail:\n  string: Invalid token.\n  code: authentication_failed\n"
        );
        let response = app.get_anonymous("/api/schema/?format=json", bad).await;
        assert_eq!(response.status, 401);
        assert_eq!(response.text(), "{\n    \"detail\": \"Invalid token.\"\n}");

        let request = Request::builder()
            .method("POST")
            .uri("/api/schema/?format=json")
            .body(Body::empty())
            .unwrap();
        let response = app.send(request).await;
        assert_eq!(response.status, 405);
        assert_eq!(
            response.text(),
            "{\n    \"detail\": \"Method \\\"POST\\\" not allowed.\"\n}"
        );
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));

        let options = app
            .request(Method::OPTIONS, "/api/schema/?format=json", &[])
            .await;
        assert_eq!(options.status, 200);
        assert_eq!(options.json()["name"], "Spectacular Api");
    });
}

/// Every `src`/`href` of a page, and every URL written anywhere in it.
fn urls(html: &str) -> (Vec<String>, Vec<String>) {
    let mut references = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            references.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    let absolute = ["http://", "https://", "//"]
        .iter()
        .flat_map(|scheme| {
            html.match_indices(scheme)
                .map(|(at, _)| html[at..].chars().take(60).collect())
        })
        .collect();
    (references, absolute)
}

async fn docs_pages_load_only_local_assets() {
    let app = sqlite_app().await;
    for (page, script) in [
        ("/api/docs/", "SwaggerUIBundle("),
        ("/api/redoc/", "Redoc.init("),
    ] {
        let response = app
            .get_anonymous(page, &[("accept", b"text/html,*/*;q=0.8")])
            .await;
        assert_eq!(response.status, 200, "{page}");
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
        let csp = response.header("content-security-policy").unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self' 'sha256-"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self'") && csp.contains("img-src 'self' data:"));
        let html = response.text();
        assert!(
            html.contains(script) && html.contains("\"/api/schema/\""),
            "{page}"
        );
        let (references, absolute) = urls(&html);
        assert!(
            absolute.is_empty(),
            "{page} names another host: {absolute:?}"
        );
        assert!(!references.is_empty());
        for reference in references.iter().filter(|r| !r.starts_with("data:")) {
            assert!(reference.starts_with("/api/assets/"), "{page}: {reference}");
            let asset = app.get_anonymous(reference, &[]).await;
            assert_eq!(asset.status, 200, "{reference}");
            let expected = match reference.rsplit('.').next() {
                Some("css") => "text/css; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("png") => "image/png",
                other => panic!("unexpected asset type {other:?}"),
            };
            assert_eq!(asset.header("content-type"), Some(expected), "{reference}");
            assert_eq!(
                asset.header("cache-control"),
                Some("public, max-age=31536000, immutable")
            );
            assert!(!asset.body.is_empty());
        }
    }
    let swagger = app.get_anonymous("/api/docs/", &[]).await.text();
    assert!(swagger.contains("validatorUrl: null"));
    let redoc = app.get_anonymous("/api/redoc/", &[]).await.text();
    assert!(
        redoc.contains("fontFamily"),
        "system fonts, not Google Fonts"
    );

    let docs = app.get_anonymous("/api/docs/", &[]).await;
    assert_eq!(
        docs.header("cross-origin-opener-policy"),
        Some("unsafe-none")
    );
    let redoc = app.get_anonymous("/api/redoc/", &[]).await;
    assert_eq!(
        redoc.header("cross-origin-opener-policy"),
        Some("same-origin")
    );

    let license = app
        .get_anonymous("/api/assets/redoc-2.5.4/LICENSE", &[])
        .await;
    assert_eq!(license.status, 200);
    assert!(license.text().contains("MIT"));
    let missing = app
        .get_anonymous("/api/assets/redoc-2.5.4/nope.js", &[])
        .await;
    assert_eq!(missing.status, 404);
    let redirect = app.get_anonymous("/api/docs", &[]).await;
    assert_eq!(redirect.header("location"), Some("/api/docs/"));
    app.finish().await;
}

async fn docs_pages_refuse_a_bad_key_like_drf(backend: Backend) {
    with_app!(backend, |app| {
        let bad: &[(&str, &[u8])] = &[("authorization", b"Bearer hs_unknown")];
        for page in ["/api/docs/", "/api/redoc/"] {
            let response = app.get_anonymous(page, bad).await;
            assert_eq!(response.status, 401, "{page}");
            assert_eq!(response.text(), "401 Unauthorized");
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(response.header("www-authenticate"), Some("Bearer"));
            assert_eq!(app.get(page).await.status, 200, "{page} with a valid key");
        }
        let response = app.get_anonymous("/api/docs/?format=json", &[]).await;
        assert_eq!(
            (response.status.as_u16(), response.text().as_str()),
            (404, "404 Not Found")
        );
    });
}

async fn the_index_lists_every_endpoint(backend: Backend) {
    with_app!(backend, |app| {
        let request = Request::builder()
            .uri("/api/v1/")
            .header("host", "api.example.com:8443")
            .body(Body::empty())
            .unwrap();
        let response = app.send(request).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
        let index = response.json();
        assert_eq!(index["authentication"]["scheme"], "Bearer");
        assert!(
            index["authentication"]["how_to_get_a_key"]
                .as_str()
                .unwrap()
                .contains("haresign keys create --name")
        );
        assert_eq!(index["pagination"]["page_size"], 100);
        assert_eq!(index["pagination"]["max_page_size"], 500);
        assert_eq!(
            index["links"],
            json!({
                "schema": "http://api.example.com:8443/api/schema/",
                "docs": "http://api.example.com:8443/api/docs/",
                "redoc": "http://api.example.com:8443/api/redoc/",
            })
        );
        let listed = index["endpoints"].as_array().unwrap();
        assert_eq!(
            listed.len(),
            catalogue::endpoints().len() + 1,
            "and datasets/, last"
        );
        assert_eq!(
            listed.last().unwrap()["url"],
            "http://api.example.com:8443/api/v1/datasets/"
        );
        for (entry, endpoint) in listed.iter().zip(catalogue::endpoints()) {
            assert_eq!(entry["path"], format!("/api/v1/{}", endpoint.path));
            assert_eq!(
                entry["url"],
                format!("http://api.example.com:8443/api/v1/{}", endpoint.path)
            );
            assert_eq!(entry["description"], endpoint.description);
            assert_eq!(entry["operation_id"], expected_operation_id(endpoint.path));
            let names: Vec<&str> = entry["filters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .collect();
            let declared: Vec<&str> = endpoint.filters.iter().map(|f| f.name).collect();
            assert_eq!(names, declared);
            assert_eq!(entry["core_filters"], json!(endpoint.core));
            assert_eq!(entry["core_rule"].is_null(), endpoint.core.is_empty());
            let shape = if endpoint.shape == Shape::Paginated {
                "paginated"
            } else {
                "array"
            };
            assert_eq!(entry["shape"], shape);
        }
        let first = &listed[0];
        assert_eq!(first["filters"][0]["type"], "search");

        let bad: &[(&str, &[u8])] = &[("authorization", b"Bearer hs_unknown")];
        let response = app.get_anonymous("/api/v1/", bad).await;
        assert_eq!(
            (response.status.as_u16(), response.text().as_str()),
            (401, r#"{"detail":"Invalid token."}"#)
        );
        assert_eq!(app.get("/api/v1/").await.status, 200);
        let redirect = app.get_anonymous("/api/v1", &[]).await;
        assert_eq!(redirect.header("location"), Some("/api/v1/"));
        let html = app
            .get_anonymous("/api/v1/", &[("accept", b"text/html")])
            .await;
        assert_eq!(html.status, 406);
    });
}

/// `haresign schema` prints the served document and needs no database.
fn the_schema_command_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_haresign"))
            .args(args)
            .env(
                "HARESIGN_DATABASE_URL",
                format!("sqlite://{}/missing/dir/x.db", dir.path().display()),
            )
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    assert_eq!(run(&["schema"]), RENDERED.yaml);
    assert_eq!(run(&["schema", "--format", "yaml"]), RENDERED.yaml);
    let mut json = RENDERED.json.clone();
    json.push(b'\n');
    assert_eq!(run(&["schema", "--format", "json"]), json);
}
