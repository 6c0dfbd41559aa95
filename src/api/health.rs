//! `/healthz` for load balancers and operators: whether the database answers, and how many
//! requests the throttle let through because its store (Redis) failed. `/readyz` for
//! orchestrators: whether this node should get traffic at all, with data to serve.

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_query::{Alias, Expr, ExprTrait, Func, Query};
use serde_json::json;

use super::error::ApiError;
use super::response::json_response;
use crate::api::app::AppState;
use crate::import::record::IMPORTS;

pub const PATH: &str = "/healthz";
pub const READY_PATH: &str = "/readyz";

/// A load balancer's probe gives up after a few seconds; the answer comes well before that,
/// whatever the database does.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// GET (and HEAD, answered as GET) only: a probe has no other business here.
pub async fn serve(state: &AppState, method: &Method, path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = ApiError::MethodNotAllowed(method.clone()).into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if path == READY_PATH {
        readiness(state).await
    } else {
        health(state).await
    }
}

/// A probe's query, `None` when the database did not answer (in time).
async fn probe(state: &AppState, select: &sea_query::SelectStatement) -> Option<Option<i64>> {
    match tokio::time::timeout(PROBE_TIMEOUT, state.db.fetch_i64(select)).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness check: the database does not answer");
            None
        }
        Err(_) => {
            tracing::error!(
                timeout_ms = PROBE_TIMEOUT.as_millis(),
                "readiness check: the database did not answer in time"
            );
            None
        }
    }
}

/// Ready when the database answers, holds the schema this build declares (another version's
/// migrate has not moved it since this node started) and has data: at least one successful
/// import. 503 otherwise, saying which check failed.
async fn readiness(state: &AppState) -> Response {
    let mut version = Query::select();
    version
        .expr(Func::max(Expr::col(Alias::new("version"))))
        .from(Alias::new(crate::db::SCHEMA_VERSIONS.name));
    let mut imported = Query::select();
    imported
        .expr(Func::count(Expr::col(Alias::new("id"))))
        .from(Alias::new(IMPORTS.name))
        .and_where(Expr::col(Alias::new("status")).eq("succeeded"));
    let (database, schema, data) = match probe(state, &version).await {
        None => ("unavailable", "unknown", "unknown"),
        Some(version) => {
            let schema = if version == Some(crate::SCHEMA_VERSION) {
                "ok"
            } else {
                "differs"
            };
            let data = match probe(state, &imported).await {
                None => "unknown",
                Some(Some(n)) if n > 0 => "ok",
                Some(_) => "none imported",
            };
            ("ok", schema, data)
        }
    };
    let ready = database == "ok" && schema == "ok" && data == "ok";
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": database,
        "schema": schema,
        "data": data,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &body, None)
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
