//! The `/api/v1/` index: what a client needs to start, generated from the catalogue so that
//! it lists exactly what is served.

use serde_json::{Value, json};

use super::docs::{DOCS_PATH, REDOC_PATH};
use super::filters;
use super::openapi::{SCHEMA_PATH, core_rule, operation_id};
use super::overview::{DATASETS_ROUTE, datasets};
use super::routes::API_V1;
use crate::api::app::Settings;
use crate::catalogue;
use crate::schema::{Direction, Endpoint, Shape};

fn endpoint(origin: &str, endpoint: &Endpoint) -> Value {
    let filters: Vec<Value> = endpoint
        .filters
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "type": filters::type_name(&f.kind),
                "description": format!("{} {}", f.description, filters::rule(&f.kind)),
            })
        })
        .collect();
    let path_parameters: Vec<&str> = endpoint
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    let ordering: Vec<String> = endpoint
        .ordering
        .iter()
        .map(|(column, direction)| match direction {
            Direction::Asc => (*column).to_owned(),
            Direction::Desc => format!("-{column}"),
        })
        .collect();
    json!({
        "path": format!("{API_V1}{}", endpoint.path),
        "url": format!("{origin}{API_V1}{}", endpoint.path),
        "operation_id": operation_id(endpoint),
        "description": endpoint.description,
        "dataset": catalogue::scope_of(endpoint),
        "shape": match endpoint.shape {
            Shape::Paginated => "paginated",
            Shape::Array => "array",
        },
        "path_parameters": path_parameters,
        "filters": filters,
        "core_filters": endpoint.core,
        "core_rule": core_rule(endpoint),
        "ordering": ordering,
        "fields": endpoint.field_names(),
    })
}

/// `datasets/`, which lists the catalogue rather than a table.
fn datasets_entry(origin: &str) -> Value {
    let fields: Vec<String> = datasets::component()["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({
        "path": format!("{API_V1}{DATASETS_ROUTE}"),
        "url": format!("{origin}{API_V1}{DATASETS_ROUTE}"),
        "operation_id": datasets::OPERATION_ID,
        "description": datasets::DESCRIPTION,
        "dataset": null,
        "shape": "paginated",
        "path_parameters": [],
        "filters": [],
        "core_filters": [],
        "core_rule": null,
        "ordering": [],
        "fields": fields,
    })
}

/// The index body; `origin` is `scheme://host` as the pagination links build it.
pub fn index(origin: &str, settings: &Settings) -> Value {
    let mut endpoints: Vec<Value> = catalogue::endpoints()
        .iter()
        .map(|e| endpoint(origin, e))
        .collect();
    endpoints.push(datasets_entry(origin));
    json!({
        "name": super::openapi::TITLE,
        "version": env!("CARGO_PKG_VERSION"),
        "description": env!("CARGO_PKG_DESCRIPTION"),
        "authentication": {
            "scheme": "Bearer",
            "header": "Authorization: Bearer <key>",
            "how_to_get_a_key": "Ask the service's operator: keys are created with `haresign keys create --name <who it is for>` and shown once.",
            "public": [API_V1, SCHEMA_PATH, DOCS_PATH, REDOC_PATH],
        },
        "pagination": {
            "style": "page number: {count, next, previous, results}",
            "page_param": "page",
            "page_size_param": "page_size",
            "page_size": settings.page_size,
            "max_page_size": settings.max_page_size,
        },
        "filters": "Unknown query parameters are ignored; an empty value means no filter; the last of repeated values wins. Where an endpoint has core filters, a request must give at least one of them or it gets 400.",
        "links": {
            "schema": format!("{origin}{SCHEMA_PATH}"),
            "docs": format!("{origin}{DOCS_PATH}"),
            "redoc": format!("{origin}{REDOC_PATH}"),
        },
        "endpoints": endpoints,
    })
}
