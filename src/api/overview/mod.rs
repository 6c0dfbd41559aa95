//! The views that describe the data rather than list a table's rows: `datasets/` (each
//! dataset's periods, rows, last import and freshness) and `practices/{ods_code}/` (one practice
//! with the latest period every dataset holds for it). They run DRF's pipeline as the list views
//! do (negotiate → authenticate → permit → throttle → method), and need a key.

pub mod datasets;
pub mod period;
pub mod practice;

use axum::http::{StatusCode, header};
use axum::response::Response;

use super::compat::querydict::QueryParams;
use super::conditional;
use super::error::ApiError;
use super::list::RequestInfo;
use super::negotiate::{JSON, negotiate};
use super::pipeline::{self, Read};
use super::public::metadata;
use super::response::{json_bytes_response, json_response, render};
use super::routes::{API_V1, Matched, resolve_pattern};
use crate::api::app::AppState;
use crate::catalogue;

/// `datasets/` below `/api/v1/`.
pub const DATASETS_ROUTE: &str = "datasets/";

/// `practices/{ods_code}/`: the practice list's path with the code after it.
pub fn practice_route() -> &'static str {
    static ROUTE: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("{}{{ods_code}}/", catalogue::practice_list().path));
    &ROUTE
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Datasets,
    /// The code as the path gives it.
    Practice(String),
}

#[derive(Debug)]
pub struct Route {
    pub view: View,
    /// Format given as a URL suffix (`.json`), which takes precedence over `?format=`.
    pub suffix: Option<String>,
}

/// The view serving exactly `path`, if it is one of these.
pub fn resolve(path: &str) -> Option<Route> {
    if let Some(matched) = resolve_pattern(DATASETS_ROUTE, path) {
        return Some(Route {
            view: View::Datasets,
            suffix: matched.suffix,
        });
    }
    let Matched { mut params, suffix } = resolve_pattern(practice_route(), path)?;
    Some(Route {
        view: View::Practice(params.pop()?.1),
        suffix,
    })
}

/// The schema document's path of the view serving `path` (`/api/v1/practices/{ods_code}/`).
pub fn documented_path(path: &str) -> Option<String> {
    let route = match resolve(path)?.view {
        View::Datasets => DATASETS_ROUTE,
        View::Practice(_) => practice_route(),
    };
    Some(format!("{API_V1}{route}"))
}

/// DRF's view names and docstrings, as OPTIONS reports them.
fn describe(view: &View) -> (&'static str, &'static str) {
    match view {
        View::Datasets => (datasets::VIEW_NAME, datasets::DESCRIPTION),
        View::Practice(_) => (practice::VIEW_NAME, practice::DESCRIPTION),
    }
}

/// Serves a resolved view; every response, errors included, carries DRF's view headers.
pub async fn serve(state: &AppState, route: &Route, request: &RequestInfo<'_>) -> Response {
    let params = QueryParams::parse(request.uri.query());
    let mut caller = None;
    let answer = respond(state, route, request, &params, &mut caller).await;
    pipeline::view_response(answer, caller)
}

async fn respond(
    state: &AppState,
    route: &Route,
    request: &RequestInfo<'_>,
    params: &QueryParams,
    caller: &mut Option<String>,
) -> Result<Response, ApiError> {
    let format = route
        .suffix
        .as_deref()
        .or_else(|| params.non_empty("format"));
    let rendering = negotiate(
        format,
        request.headers.get(header::ACCEPT).map(|v| v.as_bytes()),
    )?;
    let key = pipeline::authenticate(state, request.headers)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    *caller = Some(key.prefix.clone());
    state.usage.record(key.id, chrono::Utc::now());
    if let View::Practice(_) = route.view {
        pipeline::permit(&key, catalogue::practice_list())?;
    }
    pipeline::throttle(state, Some(&key), request).await?;
    if pipeline::method(request.method)? == Read::Options {
        let (name, description) = describe(&route.view);
        return Ok(json_response(
            StatusCode::OK,
            &metadata(name, description, &["application/json"]),
            rendering.indent,
        ));
    }
    let body = match &route.view {
        View::Datasets => datasets::page(state, request, params, &key).await?,
        View::Practice(code) => practice::profile(state, request, code, &key).await?,
    };
    // Tagged by the bytes: `stale` moves with the date as well as with imports.
    let bytes = render(&body, rendering.indent);
    let tag = conditional::of_body(JSON.media_type, &bytes);
    let response = json_bytes_response(StatusCode::OK, bytes.into());
    Ok(conditional::respond(request.headers, &tag, response))
}
