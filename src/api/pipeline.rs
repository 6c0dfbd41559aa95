//! The steps every view takes, in DRF's order (`APIView.initial`, then the handler), so that
//! the list views and the public ones agree on which error wins: negotiate (each view knows its
//! renderers) → authenticate → permit → throttle → method → the view's own work.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};

use super::auth::{Presented, parse_authorization};
use super::error::ApiError;
use super::list::{KeyPrefix, RequestInfo};
use super::response::ALLOW_READ_ONLY;
use crate::api::app::AppState;
use crate::keys::ApiKey;
use crate::schema::Endpoint;
use crate::throttle::{ThrottleOutcome, client_ident};

/// A view's answer (its error rendered as DRF does) with the headers every read-only DRF view
/// sends, carrying the caller's key prefix for the access log.
pub fn view_response(answer: Result<Response, ApiError>, caller: Option<String>) -> Response {
    let mut response = answer.unwrap_or_else(IntoResponse::into_response);
    if let Some(prefix) = caller {
        response.extensions_mut().insert(KeyPrefix(prefix));
    }
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOW_READ_ONLY));
    response
}

/// The key the request presents, if any; a malformed or unknown one is refused even where no
/// key is needed, as DRF authenticates before it checks permissions.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<ApiKey>, ApiError> {
    match parse_authorization(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()))? {
        Presented::None => Ok(None),
        Presented::Token(token) => state.keys.authenticate(&state.db, token).await.map(Some),
    }
}

/// DRF's `UserRateThrottle` and `AnonRateThrottle`: a key has one budget at its own rate or
/// the default; an anonymous caller (public endpoints only) one per client address.
pub async fn throttle(
    state: &AppState,
    key: Option<&ApiKey>,
    request: &RequestInfo<'_>,
) -> Result<(), ApiError> {
    let (scope, ident, rate) = match key {
        Some(key) => (
            "user",
            key.id.to_string(),
            key.rate.unwrap_or(state.settings.key_rate),
        ),
        None => {
            let remote = request
                .remote
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let forwarded = request
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok());
            let ident = client_ident(forwarded, &remote, state.settings.num_proxies);
            ("anon", ident, state.settings.anon_rate)
        }
    };
    match state
        .throttle
        .check(scope, &ident, rate, state.clock.now())
        .await
    {
        ThrottleOutcome::Allowed => Ok(()),
        ThrottleOutcome::Throttled(throttled) => Err(ApiError::Throttled(throttled)),
    }
}

/// A key limited to dataset groups may read only endpoints of those groups.
pub fn permit(key: &ApiKey, endpoint: &Endpoint) -> Result<(), ApiError> {
    if may_read(key, crate::catalogue::scope_of(endpoint)) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// Whether a key may read the datasets of `scope`; a key without scopes reads every one.
pub fn may_read(key: &ApiKey, scope: &str) -> bool {
    key.scopes.is_empty() || key.scopes.iter().any(|s| s == scope)
}

/// What a read-only view does for the request's method, checked after throttling as DRF does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// GET, or HEAD (answered as GET without the body).
    Get,
    /// OPTIONS: the view's metadata.
    Options,
}

pub fn method(method: &Method) -> Result<Read, ApiError> {
    match *method {
        Method::GET | Method::HEAD => Ok(Read::Get),
        Method::OPTIONS => Ok(Read::Options),
        ref other => Err(ApiError::MethodNotAllowed(other.clone())),
    }
}
