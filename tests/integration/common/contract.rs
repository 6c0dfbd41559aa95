//! The schema as a test oracle: every JSON body an `/api/v1/` view answers a GET with, in
//! any test, must be documented for that path and status and must validate against the
//! documented schema, so the document and the responses cannot drift apart.
//!
//! OpenAPI 3.0 schemas are not quite JSON Schema: `nullable: true` becomes a `null` type. And
//! the check is stricter than the document: objects with declared properties admit no others,
//! so a field the schema lacks fails as surely as a missing one.

use std::collections::HashMap;
use std::sync::LazyLock;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

use haresign::api::openapi::RENDERED;
use haresign::api::overview;
use haresign::api::routes::{API_V1, resolve};
use haresign::catalogue;

/// An OpenAPI 3.0 schema object as the JSON Schema it means.
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| *k != "nullable")
                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                .collect();
            if out.contains_key("properties") && !out.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), false.into());
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    _ => return json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// One validator per documented (path, status) of the catalogue's operations.
static VALIDATORS: LazyLock<HashMap<(String, String), Validator>> = LazyLock::new(|| {
    let document = &RENDERED.document;
    let components = to_json_schema(&document["components"]["schemas"]);
    let mut out = HashMap::new();
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with(API_V1)) {
        let responses = item["get"]["responses"].as_object().expect("responses");
        for (status, response) in responses {
            // A 304 has no body to check.
            if response.get("content").is_none() {
                continue;
            }
            let schema = &response["content"]["application/json"]["schema"];
            let mut root = match to_json_schema(schema) {
                Value::Object(map) => map,
                other => panic!("{path} {status}: schema is not an object: {other}"),
            };
            root.insert("components".into(), json!({ "schemas": components }));
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .should_validate_formats(true)
                .build(&Value::Object(root))
                .unwrap_or_else(|e| panic!("{path} {status}: schema does not compile: {e}"));
            out.insert((path.clone(), status.clone()), validator);
        }
    }
    out
});

/// Panics unless a GET of `path` that answered `status` with `body` is what the schema says.
pub fn check(path: &str, status: u16, content_type: Option<&str>, body: &[u8]) {
    let template = match resolve(catalogue::endpoints(), path) {
        Some(route) => format!("{API_V1}{}", route.endpoint.path),
        None => match overview::documented_path(path) {
            Some(template) => template,
            None => return,
        },
    };
    // Django's own page for a query it refuses to parse is answered before any view runs; the
    // schema, like drf-spectacular's, documents what the views answer.
    if status == 400 && content_type == Some("text/html; charset=utf-8") {
        return;
    }
    let documented = &RENDERED.document["paths"][&template]["get"]["responses"][status.to_string()];
    assert!(
        documented.is_object(),
        "GET {path} answered {status}, which the schema does not document for {template}"
    );
    if status == 304 {
        assert!(body.is_empty(), "GET {path} answered 304 with a body");
        return;
    }
    if content_type == Some("text/csv; charset=utf-8") {
        assert!(
            documented["content"]["text/csv"].is_object(),
            "GET {path} answered {status} with CSV, which the schema does not document"
        );
        return;
    }
    let Some(validator) = VALIDATORS.get(&(template.clone(), status.to_string())) else {
        panic!("GET {path} answered {status}, which the schema does not document for {template}");
    };
    assert_eq!(
        content_type,
        Some("application/json"),
        "GET {path} answered {status} with a content type the schema does not document"
    );
    let instance: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "GET {path} answered {status} with a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "GET {path} answered {status} with a body that does not match the schema of {template}:\n{}",
        errors.join("\n")
    );
}
