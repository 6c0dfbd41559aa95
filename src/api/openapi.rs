//! The OpenAPI 3.0.3 document, derived from the catalogue the way drf-spectacular derives it
//! from DRF views and serializers (operationIds, `Paginated<Name>List`, parameter order, field
//! types), plus what drf-spectacular leaves out: every error response with its DRF body, the
//! core-filter rule and the 429's `Retry-After`. Nothing here names a dataset.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::compat::querydict::QueryParams;
use super::error::ApiError;
use super::filters::{self, Refusal};
use super::json::to_drf_json_indented;
use super::overview::{DATASETS_ROUTE, datasets, practice, practice_route};
use super::routes::API_V1;
use crate::api::app::Settings;
use crate::catalogue;
use crate::db::Backend;
use crate::schema::{Column, Direction, Endpoint, FilterKind, Kind, ObjectValues, Shape};

/// `info.title`; also names the downloaded file (`haresign.yaml`).
pub const TITLE: &str = "haresign";
pub const SCHEMA_PATH: &str = "/api/schema/";

/// Digits an `i64` holds: the bound of every fixed-point column, whatever its scale.
const DECIMAL_MAX_DIGITS: u32 = 19;

/// The document as served: built and rendered once, since it depends only on the compiled
/// catalogue.
pub struct Rendered {
    pub document: Value,
    /// drf-spectacular's JSON renderers: 4-space indent.
    pub json: Vec<u8>,
    pub yaml: Vec<u8>,
}

pub static RENDERED: LazyLock<Rendered> = LazyLock::new(|| {
    let document = document();
    let json = to_drf_json_indented(&document, 4);
    let yaml = to_yaml(&document);
    Rendered {
        document,
        json,
        yaml,
    }
});

/// YAML in block style and insertion order, as PyYAML's `dump(sort_keys=False)` writes it.
pub fn to_yaml(value: &Value) -> Vec<u8> {
    serde_norway::to_string(value)
        .expect("JSON values always serialise to YAML")
        .into_bytes()
}

/// drf-spectacular's operationId: the path below `/api/` without its variables, `-` as `_`,
/// joined by `_`, then the action (`list` for every catalogue view).
pub fn operation_id(endpoint: &Endpoint) -> String {
    format!("v1_{}_list", endpoint.name())
}

/// `At least one of these filters is required: x, y.` (the 400's own text).
pub fn core_rule(endpoint: &Endpoint) -> Option<String> {
    if endpoint.core.is_empty() {
        return None;
    }
    ApiError::CoreFilterRequired(endpoint.core).body()["detail"]
        .as_str()
        .map(str::to_owned)
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// drf-spectacular's mapping of a read-only serializer field.
pub(crate) fn field_schema(column: &Column) -> Value {
    let mut schema = Map::new();
    let (kind, format) = match column.kind {
        Kind::Text => ("string", None),
        Kind::Integer => ("integer", None),
        Kind::Decimal(_) => ("string", Some("decimal")),
        Kind::Float => ("number", Some("double")),
        Kind::Date => ("string", Some("date")),
        Kind::Boolean => ("boolean", None),
        Kind::Timestamp => ("string", Some("date-time")),
        Kind::Object(_) => ("object", None),
    };
    schema.insert("type".into(), kind.into());
    if let Kind::Object(values) = column.kind {
        let values = match values {
            ObjectValues::Number => json!({"type": "number", "nullable": true}),
            ObjectValues::Decimal => {
                json!({"type": "string", "format": "decimal", "nullable": true})
            }
        };
        schema.insert("additionalProperties".into(), values);
    }
    if let Some(format) = format {
        schema.insert("format".into(), format.into());
    }
    if let Kind::Decimal(places) = column.kind {
        let whole = DECIMAL_MAX_DIGITS.saturating_sub(places);
        schema.insert(
            "pattern".into(),
            format!(r"^-?\d{{0,{whole}}}(?:\.\d{{0,{places}}})?$").into(),
        );
    }
    schema.insert("readOnly".into(), true.into());
    if column.nullable {
        schema.insert("nullable".into(), true.into());
    }
    schema.insert("description".into(), column.description.into());
    Value::Object(schema)
}

fn component(endpoint: &Endpoint) -> Value {
    let properties: Map<String, Value> = endpoint
        .field_columns()
        .map(|c| (c.name.to_owned(), field_schema(c)))
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": endpoint.field_names(),
    })
}

/// DRF `PageNumberPagination.get_paginated_response_schema`.
fn paginated(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer", "example": 123},
            "next": {
                "type": "string",
                "nullable": true,
                "format": "uri",
                "example": "http://api.example.org/accounts/?page=4",
            },
            "previous": {
                "type": "string",
                "nullable": true,
                "format": "uri",
                "example": "http://api.example.org/accounts/?page=2",
            },
            "results": {"type": "array", "items": schema_ref(item)},
        },
    })
}

fn query_parameter(name: &str, schema: Value, description: String) -> Value {
    json!({
        "in": "query",
        "name": name,
        "schema": schema,
        "description": description,
        "required": false,
    })
}

fn parameters(endpoint: &Endpoint, settings: &Settings) -> Vec<Value> {
    let core = core_rule(endpoint);
    let mut out = Vec::new();
    for segment in endpoint.path.split('/') {
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let mut description = String::new();
        if let Some(lookup) = endpoint.lookup.as_ref().filter(|l| l.param == name) {
            let parent = catalogue::tables().find(|t| t.name == lookup.parent_table);
            if let Some(column) = parent.and_then(|t| t.column(lookup.parent_column)) {
                description.push_str(column.description);
                description.push_str(", case-insensitive. ");
            }
            description.push_str(&format!(
                "Unknown: 404 `No {} matches the given query.`",
                lookup.parent_model
            ));
        }
        out.push(json!({
            "in": "path",
            "name": name,
            // DRF router's `lookup_value_regex`: a segment without `/` or `.`.
            "schema": {"type": "string", "pattern": "^[^/.]+$"},
            "description": description,
            "required": true,
        }));
    }
    for filter in endpoint.filters {
        let schema = filters::schema(&filter.kind);
        let mut description = format!("{} {}", filter.description, filters::rule(&filter.kind));
        if let Some(rule) = core
            .as_ref()
            .filter(|_| endpoint.core.contains(&filter.name))
        {
            description.push(' ');
            description.push_str(rule);
        }
        out.push(query_parameter(filter.name, schema, description));
    }
    out.push(query_parameter(
        "format",
        json!({"type": "string", "enum": ["json", "csv"]}),
        "`csv` for every matching row as a CSV download (only the page named when `page` or `page_size` is given); as does `Accept: text/csv`.".to_owned(),
    ));
    if endpoint.shape == Shape::Paginated {
        out.extend(page_parameters(settings));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    out
}

/// DRF `PageNumberPagination`'s query parameters.
fn page_parameters(settings: &Settings) -> [Value; 2] {
    [
        query_parameter(
            "page",
            json!({"type": "integer"}),
            "A page number within the paginated result set.".to_owned(),
        ),
        query_parameter(
            "page_size",
            json!({"type": "integer"}),
            format!(
                "Number of results to return per page. Default {}, at most {}.",
                settings.page_size, settings.max_page_size
            ),
        ),
    ]
}

fn ordering(endpoint: &Endpoint) -> String {
    let columns: Vec<String> = endpoint
        .ordering
        .iter()
        .map(|(column, direction)| match direction {
            Direction::Asc => format!("`{column}`"),
            Direction::Desc => format!("`{column}` (descending)"),
        })
        .collect();
    format!("Ordered by {}.", columns.join(", "))
}

/// An example error body from the code that produces it, so the two cannot differ.
fn example(summary: &str, value: Value) -> (String, Value) {
    let key = summary
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    (key, json!({"summary": summary, "value": value}))
}

fn json_content(schema: Value, examples: Vec<(String, Value)>) -> Value {
    let mut media = Map::new();
    media.insert("schema".into(), schema);
    if !examples.is_empty() {
        media.insert(
            "examples".into(),
            Value::Object(examples.into_iter().collect()),
        );
    }
    json!({ "application/json": media })
}

fn response(description: &str, content: Value, headers: Option<Value>) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), description.into());
    if let Some(headers) = headers {
        out.insert("headers".into(), headers);
    }
    out.insert("content".into(), content);
    Value::Object(out)
}

fn www_authenticate() -> Value {
    json!({
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "`Bearer`: the scheme to authenticate with.",
        }
    })
}

/// The headers of a conditional GET.
/// The answer to an `If-None-Match` that names the current tag.
fn not_modified() -> Value {
    json!({
        "description": "`If-None-Match` names the current `ETag`: the copy the client holds is current.",
        "headers": validators(),
    })
}

fn validators() -> Value {
    json!({
        "ETag": {
            "schema": {"type": "string"},
            "description": "Changes when an import changes what this request returns; send it back in `If-None-Match`.",
        },
        "Cache-Control": {
            "schema": {"type": "string"},
            "description": "`private, max-age=0, must-revalidate`.",
        },
    })
}

fn retry_after() -> Value {
    json!({
        "Retry-After": {
            "schema": {"type": "integer"},
            "description": "Seconds until a request may succeed.",
        }
    })
}

/// Which error components a set of endpoints uses; the document declares only those.
#[derive(Default)]
struct Used {
    field_errors: bool,
    error_list: bool,
}

fn bad_request(endpoint: &Endpoint, used: &mut Used) -> Option<Value> {
    let mut schemas = Vec::new();
    let mut examples = Vec::new();
    let mut reasons = Vec::new();
    let refused_as = |refusal| {
        endpoint
            .filters
            .iter()
            .find(|f| filters::refusal(&f.kind) == refusal)
    };
    let validated = refused_as(Refusal::Unparsed);
    let coded = refused_as(Refusal::NullCharacter);
    if validated.is_some() || coded.is_some() {
        used.field_errors = true;
        schemas.push(schema_ref("FieldErrors"));
    }
    if let Some(filter) = validated {
        reasons.push("a filter value that does not parse (field → messages)");
        let query = format!("{}=x", filter.name);
        if let Err(error) =
            filters::condition(endpoint, &QueryParams::parse(Some(&query)), Backend::Sqlite)
        {
            examples.push(example("Invalid filter value", error.body()));
        }
    }
    if let Some(filter) = coded {
        reasons.push("a code with a null character (field → messages)");
        let query = format!("{}=%00", filter.name);
        if let Err(error) =
            filters::condition(endpoint, &QueryParams::parse(Some(&query)), Backend::Sqlite)
        {
            examples.push(example("Null character in a code", error.body()));
        }
    }
    if endpoint
        .filters
        .iter()
        .any(|f| matches!(f.kind, FilterKind::Search { .. }))
    {
        used.error_list = true;
        schemas.push(schema_ref("ErrorList"));
        reasons.push("a search term with a null character (a list of messages)");
        if let Err(error) = filters::condition(
            endpoint,
            &QueryParams::parse(Some("search=%00")),
            Backend::Sqlite,
        ) {
            examples.push(example("Null character in search", error.body()));
        }
    }
    if !endpoint.core.is_empty() {
        schemas.push(schema_ref("Detail"));
        reasons.push("none of the core filters given");
        examples.push(example(
            "No core filter",
            ApiError::CoreFilterRequired(endpoint.core).body(),
        ));
    }
    let schema = match schemas.len() {
        0 => return None,
        1 => schemas.remove(0),
        _ => json!({ "oneOf": schemas }),
    };
    let description = format!("Invalid request: {}.", reasons.join("; or "));
    Some(response(&description, json_content(schema, examples), None))
}

/// The errors every view needing a key answers, in status order: 401, 403 where the key's
/// scopes can refuse it, 404 for `reasons` with their examples, 406 (when `Accept` admits none
/// of `renders`) and 429.
fn errors(
    out: &mut Map<String, Value>,
    scoped: bool,
    reasons: &[String],
    not_found: Vec<(String, Value)>,
    renders: &str,
) {
    out.insert(
        "401".into(),
        response(
            "No API key, or a malformed, unknown or revoked one.",
            json_content(
                schema_ref("Detail"),
                vec![
                    example("No key", ApiError::NotAuthenticated.body()),
                    example(
                        "Unknown key",
                        ApiError::AuthenticationFailed("Invalid token.").body(),
                    ),
                ],
            ),
            Some(www_authenticate()),
        ),
    );
    if scoped {
        out.insert(
            "403".into(),
            response(
                "The key is limited to other datasets.",
                json_content(
                    schema_ref("Detail"),
                    vec![example(
                        "Permission denied",
                        ApiError::PermissionDenied.body(),
                    )],
                ),
                None,
            ),
        );
    }
    out.insert(
        "404".into(),
        response(
            &format!("Not found: {}.", reasons.join(", or ")),
            json_content(schema_ref("Detail"), not_found),
            None,
        ),
    );
    out.insert(
        "406".into(),
        response(
            &format!("The `Accept` header admits {renders}."),
            json_content(
                schema_ref("Detail"),
                vec![example("Not acceptable", ApiError::NotAcceptable.body())],
            ),
            None,
        ),
    );
    out.insert(
        "429".into(),
        response(
            "Rate limit reached; retry after `Retry-After` seconds.",
            json_content(
                schema_ref("Detail"),
                vec![example(
                    "Throttled",
                    ApiError::Throttled(crate::throttle::Throttled::new(Some(30.0))).body(),
                )],
            ),
            Some(retry_after()),
        ),
    );
}

fn responses(endpoint: &Endpoint, used: &mut Used) -> Value {
    let mut out = Map::new();
    let (ok_schema, ok_description) = match endpoint.shape {
        Shape::Paginated => (
            schema_ref(&format!("Paginated{}List", endpoint.component)),
            format!("One page of rows. {}", ordering(endpoint)),
        ),
        Shape::Array => (
            json!({"type": "array", "items": schema_ref(endpoint.component)}),
            format!("Every row. {}", ordering(endpoint)),
        ),
    };
    let mut ok_content = json_content(ok_schema, vec![]);
    ok_content["text/csv"] = json!({"schema": {"type": "string"}});
    out.insert(
        "200".into(),
        response(
            &format!("{ok_description} As CSV: a header row of the field names (an object field spread over one `<field>.<key>` column per key), then every row."),
            ok_content,
            Some(validators()),
        ),
    );
    out.insert("304".into(), not_modified());
    if let Some(bad) = bad_request(endpoint, used) {
        out.insert("400".into(), bad);
    }
    let mut not_found = vec![example("Unknown format", ApiError::not_found().body())];
    let mut reasons = vec!["a `format` other than `json` or `csv`".to_owned()];
    if endpoint.shape == Shape::Paginated {
        reasons.insert(0, "a page past the last (or not a number)".to_owned());
        not_found.insert(0, example("Invalid page", ApiError::InvalidPage.body()));
    }
    if let Some(lookup) = &endpoint.lookup {
        reasons.insert(
            0,
            format!("an unknown {}", lookup.parent_model.to_lowercase()),
        );
        not_found.insert(
            0,
            example(
                "Unknown parent",
                ApiError::NotFound(format!(
                    "No {} matches the given query.",
                    lookup.parent_model
                ))
                .body(),
            ),
        );
    }
    errors(&mut out, true, &reasons, not_found, "neither JSON nor CSV");
    Value::Object(out)
}

fn operation(endpoint: &Endpoint, settings: &Settings, used: &mut Used) -> Value {
    let mut description = format!("{}\n\n{}", endpoint.description, ordering(endpoint));
    if let Some(rule) = core_rule(endpoint) {
        description.push_str("\n\n");
        description.push_str(&rule);
    }
    json!({
        "operationId": operation_id(endpoint),
        "summary": endpoint.view_name,
        "description": description,
        "parameters": parameters(endpoint, settings),
        "tags": ["v1"],
        "security": [{"tokenAuth": []}],
        "responses": responses(endpoint, used),
    })
}

/// `datasets/`: a list view without filters.
fn datasets_operation(settings: &Settings) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        response(
            "One page of datasets, in the index's order.",
            json_content(
                schema_ref(&format!("Paginated{}List", datasets::COMPONENT)),
                vec![],
            ),
            Some(validators()),
        ),
    );
    responses.insert("304".into(), not_modified());
    errors(
        &mut responses,
        false,
        &[
            "a page past the last (or not a number)".to_owned(),
            "a `format` other than `json`".to_owned(),
        ],
        vec![
            example("Invalid page", ApiError::InvalidPage.body()),
            example("Unknown format", ApiError::not_found().body()),
        ],
        "no JSON",
    );
    json!({
        "operationId": datasets::OPERATION_ID,
        "summary": datasets::VIEW_NAME,
        "description": datasets::DESCRIPTION,
        "parameters": page_parameters(settings),
        "tags": ["v1"],
        "security": [{"tokenAuth": []}],
        "responses": responses,
    })
}

/// `practices/{ods_code}/`: DRF's retrieve action on the practice list.
fn practice_operation() -> Value {
    let list = catalogue::practice_list();
    let key = list
        .table
        .primary_key
        .first()
        .and_then(|k| list.table.column(k))
        .map_or("", |c| c.description);
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        response(
            "The practice.",
            json_content(schema_ref(practice::COMPONENT), vec![]),
            Some(validators()),
        ),
    );
    responses.insert("304".into(), not_modified());
    errors(
        &mut responses,
        true,
        &[
            format!("an unknown {}", practice::MODEL.to_lowercase()),
            "a `format` other than `json`".to_owned(),
        ],
        vec![
            example("Unknown practice", practice::not_found().body()),
            example("Unknown format", ApiError::not_found().body()),
        ],
        "no JSON",
    );
    json!({
        "operationId": format!("v1_{}_retrieve", list.name()),
        "summary": practice::VIEW_NAME,
        "description": practice::DESCRIPTION,
        "parameters": [{
            "in": "path",
            "name": "ods_code",
            "schema": {"type": "string", "pattern": "^[^/.]+$"},
            "description": format!(
                "{key}, case-insensitive. Unknown: 404 `{}`",
                practice::not_found().body()["detail"].as_str().unwrap_or_default()
            ),
            "required": true,
        }],
        "tags": ["v1"],
        "security": [{"tokenAuth": []}],
        "responses": responses,
    })
}

/// Media types of the schema view, in drf-spectacular's renderer order.
pub const SCHEMA_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oai.openapi",
    "application/yaml",
    "application/vnd.oai.openapi+json",
    "application/json",
];

/// drf-spectacular's description of `SpectacularAPIView`.
pub const SCHEMA_VIEW_DESCRIPTION: &str = "OpenApi3 schema for this API. Format can be selected via content negotiation.\n\n- YAML: application/vnd.oai.openapi\n- JSON: application/vnd.oai.openapi+json";

/// The schema view documents itself as drf-spectacular does, plus its errors: JSON renderers
/// write DRF's `{"detail": ...}`, YAML ones the detail with its code.
fn schema_operation() -> Value {
    let error_schema = |media: &str| {
        if media.ends_with("json") {
            schema_ref("Detail")
        } else {
            schema_ref("DetailWithCode")
        }
    };
    let every = |schema: &dyn Fn(&str) -> Value| -> Value {
        SCHEMA_MEDIA_TYPES
            .iter()
            .map(|m| ((*m).to_owned(), json!({ "schema": schema(m) })))
            .collect::<Map<String, Value>>()
            .into()
    };
    let first_only = json!({ SCHEMA_MEDIA_TYPES[0]: {"schema": schema_ref("DetailWithCode")} });
    json!({
        "operationId": "schema_retrieve",
        "description": SCHEMA_VIEW_DESCRIPTION,
        "parameters": [{
            "in": "query",
            "name": "format",
            "schema": {"type": "string", "enum": ["json", "yaml"]},
        }],
        "tags": ["schema"],
        "security": [{"tokenAuth": []}, {}],
        "responses": {
            "200": {
                "description": "This document.",
                "content": every(&|_| json!({"type": "object", "additionalProperties": {}})),
            },
            "401": response(
                "A malformed, unknown or revoked API key (none is needed).",
                every(&error_schema),
                Some(www_authenticate()),
            ),
            "404": response("A `format` other than `json` or `yaml`.", first_only.clone(), None),
            "406": response("The `Accept` header admits none of the formats.", first_only, None),
            "429": response(
                "Rate limit reached; retry after `Retry-After` seconds.",
                every(&error_schema),
                Some(retry_after()),
            ),
        },
    })
}

fn error_components(used: &Used) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        (
            "Detail",
            json!({
                "type": "object",
                "description": "DRF's error body.",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }),
        ),
        (
            "DetailWithCode",
            json!({
                "type": "object",
                "description": "An error as drf-spectacular's YAML renderer writes it.",
                "properties": {
                    "detail": {
                        "type": "object",
                        "properties": {
                            "string": {"type": "string"},
                            "code": {"type": "string"},
                        },
                        "required": ["string", "code"],
                    },
                },
                "required": ["detail"],
            }),
        ),
    ];
    if used.field_errors {
        out.push((
            "FieldErrors",
            json!({
                "type": "object",
                "description": "django-filter's validation errors: each invalid parameter with its messages.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            }),
        ));
    }
    if used.error_list {
        out.push((
            "ErrorList",
            json!({
                "type": "array",
                "description": "DRF's validation errors without a field.",
                "items": {"type": "string"},
            }),
        ));
    }
    out
}

fn info_description(settings: &Settings) -> String {
    let missing = ApiError::NotAuthenticated.body();
    let invalid_page = ApiError::InvalidPage.body();
    format!(
        "{about}.\n\n\
         **Authentication.** Every `{API_V1}` dataset endpoint needs an API key, sent as \
         `Authorization: Bearer <key>`. Keys are issued by the service's operator \
         (`haresign keys create --name …`); paste yours into *Authorize* to try requests here. \
         Without a key the answer is 401 `{missing}`; a malformed, unknown or revoked key is a 401 \
         too, even on the public pages (this schema, the docs and the `{API_V1}` index).\n\n\
         **Pagination.** Most lists are paginated: `{{count, next, previous, results}}`, with \
         `next`/`previous` absolute links (null at either end). `page_size` defaults to {size} \
         and is capped at {max}; an invalid one falls back to the default. `page=last` is the \
         last page; a page past it is a 404 `{invalid_page}`. Small lists are plain arrays.\n\n\
         **Filters.** Unknown query parameters are ignored, an empty value means no filter and \
         the last of repeated values wins. Codes match exactly, case-insensitively. Some large \
         datasets name *core filters*: a request that gives none of them is refused with 400 \
         `{{\"detail\": \"At least one of these filters is required: …\"}}`; each operation \
         states its rule.",
        about = env!("CARGO_PKG_DESCRIPTION"),
        size = settings.page_size,
        max = settings.max_page_size,
    )
}

/// The whole document for the catalogue's endpoints.
pub fn document() -> Value {
    let settings = Settings::default();
    let mut used = Used::default();
    let mut paths = Map::new();
    let mut schemas = BTreeMap::new();
    for endpoint in catalogue::endpoints() {
        paths.insert(
            format!("{API_V1}{}", endpoint.path),
            json!({ "get": operation(endpoint, &settings, &mut used) }),
        );
        schemas.insert(endpoint.component.to_owned(), component(endpoint));
        if endpoint.shape == Shape::Paginated {
            schemas.insert(
                format!("Paginated{}List", endpoint.component),
                paginated(endpoint.component),
            );
        }
    }
    paths.insert(
        format!("{API_V1}{DATASETS_ROUTE}"),
        json!({ "get": datasets_operation(&settings) }),
    );
    schemas.insert(datasets::COMPONENT.to_owned(), datasets::component());
    schemas.insert(
        format!("Paginated{}List", datasets::COMPONENT),
        paginated(datasets::COMPONENT),
    );
    paths.insert(
        format!("{API_V1}{}", practice_route()),
        json!({ "get": practice_operation() }),
    );
    schemas.insert(practice::COMPONENT.to_owned(), practice::component());
    paths.insert(SCHEMA_PATH.to_owned(), json!({ "get": schema_operation() }));
    for (name, schema) in error_components(&used) {
        schemas.insert(name.to_owned(), schema);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": TITLE,
            "version": env!("CARGO_PKG_VERSION"),
            "description": info_description(&settings),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "tokenAuth": {"type": "http", "scheme": "bearer"},
            },
        },
        "tags": [
            {"name": "v1", "description": "Datasets; every operation needs an API key."},
            {"name": "schema", "description": "This document, in YAML or JSON."},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Filter, Table, col, opt};

    static TABLE: Table = Table {
        name: "t",
        columns: &[
            col("code", Kind::Text, "Code"),
            opt("amount", Kind::Decimal(2), "Amount"),
            col("rate", Kind::Float, "Rate"),
            col("month", Kind::Date, "Month"),
            col("year", Kind::Text, "Year"),
            opt("flag", Kind::Boolean, "Flag"),
            col("loaded", Kind::Timestamp, "Loaded"),
            col("n", Kind::Integer, "Count"),
            col(
                "components",
                Kind::Object(ObjectValues::Decimal),
                "Components",
            ),
        ],
        primary_key: &["code"],
        indexes: &[],
    };

    static ENDPOINT: Endpoint = Endpoint {
        path: "nhs-payments/practices/",
        view_name: "Payment List",
        component: "Payment",
        description: "Payments.",
        table: &TABLE,
        fields: &[
            "code",
            "amount",
            "rate",
            "month",
            "flag",
            "loaded",
            "n",
            "components",
        ],
        filters: &[
            Filter {
                name: "month",
                kind: FilterKind::Month("month"),
                description: "Month.",
            },
            Filter {
                name: "year",
                kind: FilterKind::FinancialYear("year"),
                description: "Year.",
            },
            Filter {
                name: "active",
                kind: FilterKind::Boolean("flag"),
                description: "Flag.",
            },
            Filter {
                name: "code",
                kind: FilterKind::Code("code"),
                description: "Code.",
            },
        ],
        core: &["month", "code"],
        ordering: &[("month", Direction::Desc), ("code", Direction::Asc)],
        shape: Shape::Paginated,
        lookup: None,
    };

    #[test]
    fn operation_ids_follow_drf_spectacular() {
        assert_eq!(operation_id(&ENDPOINT), "v1_nhs_payments_practices_list");
        for endpoint in catalogue::endpoints() {
            let id = operation_id(endpoint);
            assert!(id.starts_with("v1_") && id.ends_with("_list"), "{id}");
            assert!(!id.contains("__") && !id.contains('{'), "{id}");
        }
    }

    #[test]
    fn every_kind_maps_to_its_drf_spectacular_type() {
        let schema = component(&ENDPOINT);
        let p = &schema["properties"];
        assert_eq!(
            p["code"],
            json!({"type": "string", "readOnly": true, "description": "Code"})
        );
        assert_eq!(
            p["amount"],
            json!({"type": "string", "format": "decimal", "pattern": r"^-?\d{0,17}(?:\.\d{0,2})?$",
                   "readOnly": true, "nullable": true, "description": "Amount"})
        );
        assert_eq!(p["rate"]["type"], "number");
        assert_eq!(p["rate"]["format"], "double");
        assert_eq!(p["month"]["format"], "date");
        assert_eq!(p["flag"]["type"], "boolean");
        assert_eq!(p["loaded"]["format"], "date-time");
        assert_eq!(p["n"]["type"], "integer");
        assert_eq!(
            p["components"],
            json!({"type": "object",
                   "additionalProperties": {"type": "string", "format": "decimal", "nullable": true},
                   "readOnly": true, "description": "Components"})
        );
        assert_eq!(schema["required"], json!(ENDPOINT.field_names()));
    }

    #[test]
    fn parameters_are_typed_sorted_and_state_the_core_rule() {
        let params = parameters(&ENDPOINT, &Settings::default());
        let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "active",
                "code",
                "format",
                "month",
                "page",
                "page_size",
                "year"
            ]
        );
        let by_name = |n: &str| params.iter().find(|p| p["name"] == n).unwrap();
        assert_eq!(by_name("format")["schema"]["enum"], json!(["json", "csv"]));
        assert_eq!(by_name("active")["schema"], json!({"type": "boolean"}));
        assert_eq!(by_name("month")["schema"]["format"], "date");
        assert_eq!(by_name("year")["schema"]["example"], "2025/26");
        let rule = "At least one of these filters is required: month, code.";
        for core in ["month", "code"] {
            assert!(
                by_name(core)["description"]
                    .as_str()
                    .unwrap()
                    .ends_with(rule)
            );
        }
        assert!(
            !by_name("year")["description"]
                .as_str()
                .unwrap()
                .contains(rule)
        );
    }

    #[test]
    fn bad_request_lists_every_body_the_filters_can_produce() {
        let mut used = Used::default();
        let bad = bad_request(&ENDPOINT, &mut used).unwrap();
        let media = &bad["content"]["application/json"];
        assert_eq!(
            media["schema"]["oneOf"],
            json!([schema_ref("FieldErrors"), schema_ref("Detail")])
        );
        assert_eq!(
            media["examples"]["invalid_filter_value"]["value"],
            json!({"month": ["Enter a valid date."]})
        );
        assert_eq!(
            media["examples"]["no_core_filter"]["value"]["detail"],
            "At least one of these filters is required: month, code."
        );
        assert!(used.field_errors && !used.error_list);
    }

    #[test]
    fn yaml_keeps_insertion_order() {
        let yaml = String::from_utf8(RENDERED.yaml.clone()).unwrap();
        assert!(
            yaml.starts_with("openapi: 3.0.3\ninfo:\n  title: haresign\n"),
            "{yaml}"
        );
        let parsed: Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(parsed, RENDERED.document);
    }
}
