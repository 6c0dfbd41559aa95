//! Application state and router assembly.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::auth::KeyCache;
use crate::api::error::ApiError;
use crate::api::list::{self, RequestInfo};
use crate::api::openapi;
use crate::api::public;
use crate::api::response::{
    add_security_headers, append_slash_redirect, django_not_found, json_response,
};
use crate::api::routes::resolve;
use crate::catalogue;
use crate::db::Db;

/// Serving settings that are not per-request.
#[derive(Debug, Clone)]
pub struct Settings {
    pub page_size: u32,
    pub max_page_size: u32,
    /// Honour `X-Forwarded-Proto: https` when building links (Django's `SECURE_PROXY_SSL_HEADER`).
    pub trust_forwarded_proto: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            page_size: 100,
            max_page_size: 500,
            trust_forwarded_proto: false,
        }
    }
}

pub struct AppState {
    pub db: Db,
    pub keys: KeyCache,
    pub settings: Settings,
}

impl AppState {
    pub fn new(db: Db, settings: Settings) -> Self {
        AppState {
            db,
            keys: KeyCache::default(),
            settings,
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    // The schema document is static: build it before the first request needs it.
    std::sync::LazyLock::force(&openapi::RENDERED);
    Router::new()
        .fallback(dispatch)
        .with_state(state)
        .layer(middleware::from_fn(security_headers))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".to_owned()).into_response()
        }))
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut());
    response
}

async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let path = parts.uri.path();
    let endpoints = catalogue::endpoints();
    if let Some(route) = resolve(endpoints, path) {
        let info = RequestInfo {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        };
        return list::serve(&state, &route, &info).await;
    }
    if let Some(view) = public::resolve(path) {
        let info = RequestInfo {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        };
        return public::serve(&state, view, &info).await;
    }
    let slashed = format!("{path}/");
    if !path.ends_with('/')
        && (resolve(endpoints, &slashed).is_some() || public::resolve(&slashed).is_some())
    {
        let location = match parts.uri.query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        return append_slash_redirect(&location);
    }
    if path.starts_with("/api/") {
        return json_response(StatusCode::NOT_FOUND, &ApiError::not_found().body(), None);
    }
    django_not_found()
}
