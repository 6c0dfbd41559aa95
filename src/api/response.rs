//! Response building shared by every view: DRF JSON bodies and the headers Django sends.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use super::json::{to_drf_json, to_drf_json_indented};

/// `Allow` of every read-only DRF view.
pub const ALLOW_READ_ONLY: &str = "GET, HEAD, OPTIONS";

/// A JSON response; `indent` comes from `Accept: application/json; indent=N`.
pub fn json_response<T: Serialize>(
    status: StatusCode,
    body: &T,
    indent: Option<usize>,
) -> Response {
    json_bytes_response(status, render(body, indent).into())
}

/// DRF JSON for `body`, indented when the client asked for it.
pub fn render<T: Serialize>(body: &T, indent: Option<usize>) -> Vec<u8> {
    match indent {
        Some(n) => to_drf_json_indented(body, n),
        None => to_drf_json(body),
    }
}

/// A response whose JSON body is already rendered.
pub fn json_bytes_response(status: StatusCode, bytes: Bytes) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Headers Django's default middleware adds to every response.
pub fn add_security_headers(headers: &mut HeaderMap) {
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    headers
        .entry("cross-origin-opener-policy")
        .or_insert(HeaderValue::from_static("same-origin"));
}

/// A page from Django's default error views (`django.views.defaults.ERROR_PAGE_TEMPLATE`).
fn django_error_page(status: StatusCode, title: &str, details: &str) -> Response {
    let page = format!(
        "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>{title}</title>\n</head>\n<body>\n  <h1>{title}</h1><p>{details}</p>\n</body>\n</html>\n"
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Django's `HttpResponseNotFound` page for URLs no view matches (179 bytes).
pub fn django_not_found() -> Response {
    django_error_page(
        StatusCode::NOT_FOUND,
        "Not Found",
        "The requested resource was not found on this server.",
    )
}

/// Django's `bad_request` view, its answer to a `SuspiciousOperation` such as a query string of
/// more than `DATA_UPLOAD_MAX_NUMBER_FIELDS` fields (143 bytes).
pub fn django_bad_request() -> Response {
    django_error_page(StatusCode::BAD_REQUEST, "Bad Request (400)", "")
}

/// `CommonMiddleware`'s APPEND_SLASH redirect: relative `Location`, empty HTML body.
pub fn append_slash_redirect(location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    response
}
