//! `/healthz` for load balancers and operators: whether the database answers, and how many
//! requests the throttle let through because its store (Redis) failed.

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_query::{Alias, Expr, Func, Query};
use serde_json::json;

use super::error::ApiError;
use super::response::json_response;
use crate::api::app::AppState;
use crate::import::record::IMPORTS;

pub const PATH: &str = "/healthz";

/// A load balancer's probe gives up after a few seconds; the answer comes well before that,
/// whatever the database does.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// GET (and HEAD, answered as GET) only: a probe has no other business here.
pub async fn serve(state: &AppState, method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = ApiError::MethodNotAllowed(method.clone()).into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    health(state).await
}

async fn health(state: &AppState) -> Response {
    let mut probe = Query::select();
    probe
        .expr(Func::count(Expr::col(Alias::new("id"))))
        .from(Alias::new(IMPORTS.name));
    let database_ok = match tokio::time::timeout(PROBE_TIMEOUT, state.db.fetch_i64(&probe)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            false
        }
        Err(_) => {
            tracing::error!(
                timeout_ms = PROBE_TIMEOUT.as_millis(),
                "health check: the database did not answer in time"
            );
            false
        }
    };
    let body = json!({
        "status": if database_ok { "ok" } else { "unavailable" },
        "database": if database_ok { "ok" } else { "unavailable" },
        "throttle_fail_open_total": state.throttle.fail_open_count(),
    });
    let status = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &body, None)
}
