//! The one error type of the HTTP layer; every variant renders DRF's status, body and headers.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::response::json_response;
use crate::throttle::Throttled;

#[derive(Debug)]
pub enum ApiError {
    /// `NotAuthenticated`: no credentials on a protected view.
    NotAuthenticated,
    /// `AuthenticationFailed` with DRF's exact message.
    AuthenticationFailed(&'static str),
    PermissionDenied,
    /// `NotFound` with its detail (`Not found.` or Django's `No X matches the given query.`).
    NotFound(String),
    MethodNotAllowed(Method),
    NotAcceptable,
    Throttled(Throttled),
    InvalidPage,
    /// `ValidationError` whose body is sent as is (a field → messages map or a list).
    Validation(Value),
    /// The core-filter guard: none of the endpoint's required filters was given.
    CoreFilterRequired(&'static [&'static str]),
    /// DRF's `ServiceUnavailable`: the database did not answer in time, or the request ran
    /// past its time limit. The reason is logged, never shown to the client.
    ServiceUnavailable(String),
    /// Anything unexpected; logged, never shown to the client.
    Internal(String),
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError::NotFound("Not found.".to_owned())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::PermissionDenied => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::InvalidPage => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Validation(_) | ApiError::CoreFilterRequired(_) => StatusCode::BAD_REQUEST,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// DRF's `default_code`, which drf-spectacular's YAML renderer writes beside the message.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotAuthenticated => "not_authenticated",
            ApiError::AuthenticationFailed(_) => "authentication_failed",
            ApiError::PermissionDenied => "permission_denied",
            ApiError::NotFound(_) | ApiError::InvalidPage => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::NotAcceptable => "not_acceptable",
            ApiError::Throttled(_) => "throttled",
            ApiError::Validation(_) | ApiError::CoreFilterRequired(_) => "invalid",
            ApiError::ServiceUnavailable(_) => "service_unavailable",
            ApiError::Internal(_) => "error",
        }
    }

    pub fn body(&self) -> Value {
        match self {
            ApiError::NotAuthenticated => {
                json!({"detail": "Authentication credentials were not provided."})
            }
            ApiError::AuthenticationFailed(msg) => json!({"detail": msg}),
            ApiError::PermissionDenied => {
                json!({"detail": "You do not have permission to perform this action."})
            }
            ApiError::NotFound(msg) => json!({"detail": msg}),
            ApiError::MethodNotAllowed(m) => {
                json!({"detail": format!("Method \"{m}\" not allowed.")})
            }
            ApiError::NotAcceptable => {
                json!({"detail": "Could not satisfy the request Accept header."})
            }
            ApiError::Throttled(throttled) => json!({"detail": throttled.detail()}),
            ApiError::InvalidPage => json!({"detail": "Invalid page."}),
            ApiError::Validation(body) => body.clone(),
            ApiError::CoreFilterRequired(names) => json!({
                "detail": format!("At least one of these filters is required: {}.", names.join(", "))
            }),
            ApiError::ServiceUnavailable(_) => {
                json!({"detail": "Service temporarily unavailable, try again later."})
            }
            ApiError::Internal(_) => json!({"error": "Server Error (500)"}),
        }
    }
}

/// Database errors turned into responses by this process, for `/metrics`. Counted where every
/// one of them passes, rather than threaded through each view.
static DATABASE_ERRORS: AtomicU64 = AtomicU64::new(0);

pub fn database_errors() -> u64 {
    DATABASE_ERRORS.load(Ordering::Relaxed)
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        DATABASE_ERRORS.fetch_add(1, Ordering::Relaxed);
        if database_unavailable(&e) {
            ApiError::ServiceUnavailable(cause_chain(&e))
        } else {
            ApiError::Internal(cause_chain(&e))
        }
    }
}

/// An error and each error that caused it, outermost first, as one line.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers often repeat their source's message; say it once.
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// Why a request failed on the server's side (a 500 or 503), for its access-log line.
#[derive(Debug, Clone)]
pub struct FailureCause(pub String);

/// Errors that say the database cannot answer now (down, unreachable, overloaded, a query
/// stopped at its time limit) rather than that the request or the code is wrong.
fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        // PostgreSQL SQLSTATE classes 08 (connection exception), 57 (operator intervention:
        // query_canceled by statement_timeout, admin_shutdown, cannot_connect_now) and 53300
        // (too_many_connections).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57") || code == "53300"
        }),
        _ => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status(), &self.body(), None);
        // The access log writes it on the request's own line.
        if let ApiError::Internal(reason) | ApiError::ServiceUnavailable(reason) = &self {
            response
                .extensions_mut()
                .insert(FailureCause(reason.clone()));
        }
        let headers = response.headers_mut();
        match &self {
            ApiError::NotAuthenticated | ApiError::AuthenticationFailed(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Throttled(throttled) => {
                if let Some(wait) = throttled.retry_after() {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
                }
            }
            _ => {}
        }
        response
    }
}
