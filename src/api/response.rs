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

/// Django's `HttpResponseNotFound` page for URLs no view matches (179 bytes).
pub fn django_not_found() -> Response {
    const PAGE: &str = "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n";
    let mut response = Response::new(Body::from(PAGE));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
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
