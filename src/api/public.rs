//! The public views outside the catalogue: the `/api/v1/` index, the schema, the Swagger UI and
//! ReDoc pages and their assets. The views run DRF's pipeline as the catalogue views do
//! (negotiation, then authentication, then the method), with anonymous access allowed: a
//! malformed or unknown key is still a 401 (DRF authenticates before it checks permissions).

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::compat::querydict::QueryParams;
use super::conditional;
use super::docs::{self, Asset, DOCS_PATH, Page, REDOC_PAGE, REDOC_PATH, SWAGGER_PAGE};
use super::error::ApiError;
use super::index;
use super::json::to_drf_json_indented;
use super::list::{RequestInfo, origin};
use super::negotiate::{JSON, Renderer, Rendering, Selected, negotiate, select};
use super::openapi::{
    RENDERED, SCHEMA_MEDIA_TYPES, SCHEMA_PATH, SCHEMA_VIEW_DESCRIPTION, TITLE, to_yaml,
};
use super::pipeline::{self, Read, authenticate, throttle};
use super::response::{ALLOW_READ_ONLY, json_bytes_response, json_response, render};
use super::routes::API_V1;
use crate::api::app::AppState;

#[derive(Clone, Copy)]
pub enum View {
    Index,
    Schema,
    Swagger,
    Redoc,
    Asset(&'static Asset),
}

/// Every public view.
pub fn views() -> impl Iterator<Item = View> {
    [View::Index, View::Schema, View::Swagger, View::Redoc]
        .into_iter()
        .chain(docs::assets().map(View::Asset))
}

/// The public view at exactly `path`, if any.
pub fn resolve(path: &str) -> Option<View> {
    match path {
        API_V1 => Some(View::Index),
        SCHEMA_PATH => Some(View::Schema),
        DOCS_PATH => Some(View::Swagger),
        REDOC_PATH => Some(View::Redoc),
        _ => docs::asset(path).map(View::Asset),
    }
}

pub async fn serve(state: &AppState, view: View, request: &RequestInfo<'_>) -> Response {
    match view {
        View::Index => index_view(state, request).await,
        View::Schema => schema_view(state, request).await,
        View::Swagger => page_view(state, request, &SWAGGER_PAGE, true).await,
        View::Redoc => page_view(state, request, &REDOC_PAGE, false).await,
        View::Asset(asset) => asset_view(asset, request.method),
    }
}

fn format_param(request: &RequestInfo<'_>) -> Option<String> {
    QueryParams::parse(request.uri.query())
        .non_empty("format")
        .map(str::to_owned)
}

fn accept<'a>(request: &'a RequestInfo<'_>) -> Option<&'a [u8]> {
    request.headers.get(header::ACCEPT).map(|v| v.as_bytes())
}

/// DRF `SimpleMetadata`, the body of OPTIONS.
pub(crate) fn metadata(name: &str, description: &str, renders: &[&str]) -> Value {
    json!({
        "name": name,
        "description": description,
        "renders": renders,
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    })
}

fn bytes_response(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn allow_read_only(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOW_READ_ONLY));
    response
}

async fn index_view(state: &AppState, request: &RequestInfo<'_>) -> Response {
    let result = async {
        let format = format_param(request);
        let rendering = negotiate(format.as_deref(), accept(request))?;
        let key = authenticate(state, request.headers).await?;
        throttle(state, key.as_ref(), request).await?;
        let body = match pipeline::method(request.method)? {
            Read::Get => {
                let index = index::index(&origin(state, request), &state.settings);
                let body = render(&index, rendering.indent);
                let current = conditional::of_body(JSON.media_type, &body);
                let response = json_bytes_response(StatusCode::OK, body.into());
                return Ok(conditional::respond(request.headers, &current, response));
            }
            Read::Options => metadata(
                "Api Root",
                "Every endpoint with its filters, how to authenticate, and where the schema and docs are.",
                &["application/json"],
            ),
        };
        Ok::<_, ApiError>(json_response(StatusCode::OK, &body, rendering.indent))
    }
    .await;
    allow_read_only(result.unwrap_or_else(IntoResponse::into_response))
}

/// drf-spectacular's schema renderers, in its order: YAML first, so YAML is the default.
const SCHEMA_RENDERERS: [Renderer; 4] = [
    Renderer {
        media_type: SCHEMA_MEDIA_TYPES[0],
        format: "yaml",
    },
    Renderer {
        media_type: SCHEMA_MEDIA_TYPES[1],
        format: "yaml",
    },
    Renderer {
        media_type: SCHEMA_MEDIA_TYPES[2],
        format: "json",
    },
    Renderer {
        media_type: SCHEMA_MEDIA_TYPES[3],
        format: "json",
    },
];

fn is_yaml(renderer: &Renderer) -> bool {
    renderer.format == "yaml"
}

/// YAML renderers carry a charset, JSON ones do not (DRF `Response.rendered_content`).
fn schema_content_type(renderer: &Renderer) -> String {
    if is_yaml(renderer) {
        format!("{}; charset=utf-8", renderer.media_type)
    } else {
        renderer.media_type.to_owned()
    }
}

/// drf-spectacular's JSON renderers indent by 4 unless the `Accept` header asks otherwise.
fn schema_indent(rendering: Rendering) -> usize {
    rendering.indent.unwrap_or(4)
}

fn render_schema_value(value: &Value, selected: Selected) -> Response {
    let renderer = &SCHEMA_RENDERERS[selected.index];
    let body = if is_yaml(renderer) {
        to_yaml(value)
    } else {
        to_drf_json_indented(value, schema_indent(selected.rendering))
    };
    bytes_response(StatusCode::OK, &schema_content_type(renderer), body)
}

/// An error in the schema view's chosen format: drf-spectacular's YAML renderer writes the
/// detail with its code, the JSON renderers DRF's usual body. Status and headers are DRF's.
fn schema_error(error: ApiError, selected: Selected) -> Response {
    let renderer = &SCHEMA_RENDERERS[selected.index];
    let body = match (is_yaml(renderer), error.body()) {
        (true, Value::Object(map)) if map.get("detail").is_some_and(Value::is_string) => {
            json!({"detail": {"string": map["detail"], "code": error.code()}})
        }
        (_, body) => body,
    };
    let mut response = error.into_response();
    let rendered = render_schema_value(&body, selected);
    let (parts, body) = rendered.into_parts();
    *response.body_mut() = body;
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    response
}

async fn schema_view(state: &AppState, request: &RequestInfo<'_>) -> Response {
    let format = format_param(request);
    let mut response = match select(&SCHEMA_RENDERERS, format.as_deref(), accept(request)) {
        // DRF renders a failed negotiation with the first renderer.
        Err(error) => schema_error(
            error,
            Selected {
                index: 0,
                rendering: Rendering::default(),
            },
        ),
        Ok(selected) => match schema_response(state, request, selected).await {
            Ok(response) => response,
            Err(error) => schema_error(error, selected),
        },
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    allow_read_only(response)
}

async fn schema_response(
    state: &AppState,
    request: &RequestInfo<'_>,
    selected: Selected,
) -> Result<Response, ApiError> {
    let key = authenticate(state, request.headers).await?;
    throttle(state, key.as_ref(), request).await?;
    let renderer = &SCHEMA_RENDERERS[selected.index];
    if pipeline::method(request.method)? == Read::Options {
        let renders: Vec<&str> = SCHEMA_RENDERERS.iter().map(|r| r.media_type).collect();
        return Ok(render_schema_value(
            &metadata("Spectacular Api", SCHEMA_VIEW_DESCRIPTION, &renders),
            selected,
        ));
    }
    let body = if is_yaml(renderer) {
        RENDERED.yaml.clone()
    } else if schema_indent(selected.rendering) == 4 {
        RENDERED.json.clone()
    } else {
        to_drf_json_indented(&RENDERED.document, schema_indent(selected.rendering))
    };
    let content_type = schema_content_type(renderer);
    let current = conditional::of_body(&content_type, &body);
    if conditional::if_none_match(request.headers, &current) {
        return Ok(conditional::not_modified(&current));
    }
    let mut response = bytes_response(StatusCode::OK, &content_type, body);
    conditional::tag(&mut response, &current);
    let disposition = format!("inline; filename=\"{TITLE}.{}\"", renderer.format);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

const HTML: Renderer = Renderer {
    media_type: "text/html",
    format: "html",
};

/// The docs pages are DRF views with `TemplateHTMLRenderer` only, whose error pages are just
/// the status line (`401 Unauthorized`).
async fn page_view(
    state: &AppState,
    request: &RequestInfo<'_>,
    page: &Page,
    swagger: bool,
) -> Response {
    let format = format_param(request);
    let result = async {
        select(&[HTML], format.as_deref(), accept(request))?;
        let key = authenticate(state, request.headers).await?;
        throttle(state, key.as_ref(), request).await?;
        // OPTIONS renders the view's template too, as TemplateHTMLRenderer does.
        pipeline::method(request.method).map(|_| ())
    }
    .await;
    let mut response = match result {
        Ok(()) => {
            let current = conditional::of_body(HTML.media_type, page.html.as_bytes());
            if conditional::if_none_match(request.headers, &current) {
                return allow_read_only(conditional::not_modified(&current));
            }
            let mut response = bytes_response(
                StatusCode::OK,
                "text/html; charset=utf-8",
                page.html.clone(),
            );
            conditional::tag(&mut response, &current);
            if let Ok(csp) = HeaderValue::from_str(&page.csp) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            if swagger {
                // drf-spectacular's Swagger view relaxes Django's default so that OAuth
                // pop-ups can report back.
                response.headers_mut().insert(
                    "cross-origin-opener-policy",
                    HeaderValue::from_static("unsafe-none"),
                );
            }
            response
        }
        Err(error) => {
            let status = error.status();
            let mut response = error.into_response();
            *response.body_mut() = Body::from(format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
    };
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOW_READ_ONLY));
    response
}

/// Static files, as a static file server answers: no authentication, GET and HEAD only.
fn asset_view(asset: &'static Asset, method: &Method) -> Response {
    let mut response = if *method == Method::GET || *method == Method::HEAD {
        let mut response = bytes_response(StatusCode::OK, asset.content_type, asset.bytes);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        response
    } else {
        bytes_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "405 Method Not Allowed",
        )
    };
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(format: Option<&str>, accept: Option<&str>) -> Result<&'static str, u16> {
        select(&SCHEMA_RENDERERS, format, accept.map(str::as_bytes))
            .map(|s| SCHEMA_RENDERERS[s.index].media_type)
            .map_err(|e| e.status().as_u16())
    }

    /// The table of API_CONTRACT.md §7.
    #[test]
    fn schema_negotiation_follows_drf_spectacular() {
        let yaml = "application/vnd.oai.openapi";
        assert_eq!(choose(None, None), Ok(yaml));
        assert_eq!(choose(None, Some("*/*")), Ok(yaml));
        assert_eq!(
            choose(
                None,
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
            ),
            Ok(yaml)
        );
        assert_eq!(choose(Some("yaml"), None), Ok(yaml));
        assert_eq!(
            choose(Some("json"), None),
            Ok("application/vnd.oai.openapi+json")
        );
        assert_eq!(
            choose(None, Some("application/json")),
            Ok("application/json")
        );
        assert_eq!(
            choose(None, Some("application/yaml")),
            Ok("application/yaml")
        );
        assert_eq!(choose(Some("openapi"), None), Err(404));
        assert_eq!(choose(None, Some("text/html")), Err(406));
        assert_eq!(choose(Some("json"), Some("application/yaml")), Err(406));
    }
}
