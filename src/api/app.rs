//! Application state and router assembly.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::Router;
use std::net::SocketAddr;

use std::convert::Infallible;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::auth::KeyCache;
use crate::api::cache::ResponseCache;
use crate::api::compat::hosts;
use crate::api::compat::querydict::too_many_fields;
use crate::api::docs::{DOCS_PATH, REDOC_PATH};
use crate::api::error::{ApiError, FailureCause};
use crate::api::health;
use crate::api::list::{self, KeyPrefix, RequestInfo};
use crate::api::metrics::{Metrics, RouteLabel, UNMATCHED};
use crate::api::openapi::{self, SCHEMA_PATH};
use crate::api::overview::{self, period::StaleAfter};
use crate::api::public::{self, View};
use crate::api::response::{
    add_security_headers, append_slash_redirect, django_bad_request, django_not_found,
    json_response,
};
use crate::api::routes::{API_V1, resolve};
use crate::catalogue;
use crate::db::Db;
use crate::keys;
use crate::schema::Endpoint;
use crate::throttle::{Clock, MemoryStore, Rate, Throttle, ThrottleStore};
use crate::usage::UsageRecorder;

/// Serving settings that are not per-request.
#[derive(Debug, Clone)]
pub struct Settings {
    pub page_size: u32,
    pub max_page_size: u32,
    /// Honour `X-Forwarded-Proto: https` when building links (Django's `SECURE_PROXY_SSL_HEADER`).
    pub trust_forwarded_proto: bool,
    /// Throttle rate of keys that have none of their own.
    pub key_rate: Rate,
    /// Throttle rate of anonymous requests to public endpoints, per client address.
    pub anon_rate: Rate,
    /// DRF's `NUM_PROXIES`: how many trusted proxies stand in front, for the client address; 0
    /// means the peer address. DRF's default, the whole `X-Forwarded-For` header, is not offered:
    /// any client can forge it.
    pub num_proxies: usize,
    /// How often the response cache looks for a newer import; the most a response can lag one.
    pub cache_check_interval: Duration,
    /// Longest a request may take; past it the client gets a 503 and the work is dropped.
    pub request_timeout: Duration,
    /// Django's `ALLOWED_HOSTS`: the hosts a request may name (`.example.org` for a domain and
    /// its subdomains, `*` for any); another gets Django's 400 page. Empty: any host.
    pub allowed_hosts: Vec<String>,
    /// Days past the end of its latest period after which `datasets/` calls a dataset stale,
    /// per publication cadence.
    pub stale_after: StaleAfter,
}

pub const DEFAULT_KEY_RATE: &str = "10000/hour";
pub const DEFAULT_ANON_RATE: &str = "1000/hour";
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            page_size: 100,
            max_page_size: 500,
            trust_forwarded_proto: false,
            key_rate: DEFAULT_KEY_RATE.parse().expect("valid default rate"),
            anon_rate: DEFAULT_ANON_RATE.parse().expect("valid default rate"),
            num_proxies: 0,
            cache_check_interval: Duration::from_secs(1),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            allowed_hosts: Vec::new(),
            stale_after: StaleAfter::default(),
        }
    }
}

pub struct AppState {
    pub db: Db,
    pub metrics: Metrics,
    pub keys: KeyCache,
    pub settings: Settings,
    pub throttle: Throttle,
    pub clock: Clock,
    pub usage: UsageRecorder,
    pub cache: ResponseCache,
}

impl AppState {
    /// State with the in-memory throttle store and the system clock.
    pub fn new(db: Db, settings: Settings) -> Self {
        Self::with_throttle(db, settings, Arc::new(MemoryStore::new()), Clock::system())
    }

    /// `clock` times both the throttle and the response cache's looks for new imports.
    pub fn with_throttle(
        db: Db,
        settings: Settings,
        store: Arc<dyn ThrottleStore>,
        clock: Clock,
    ) -> Self {
        AppState {
            db,
            metrics: Metrics::new(route_labels()),
            keys: KeyCache::default(),
            cache: ResponseCache::new(settings.cache_check_interval, clock.clone()),
            settings,
            throttle: Throttle::new(store),
            clock,
            usage: UsageRecorder::default(),
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    // The schema document is static: build it before the first request needs it.
    std::sync::LazyLock::force(&openapi::RENDERED);
    // A panic is caught inside `finish`, so its 500 gets an access line like any other.
    Router::new()
        .fallback(dispatch)
        .with_state(state.clone())
        .layer(CatchPanicLayer::custom(
            |panic: Box<dyn std::any::Any + Send>| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|m| (*m).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                ApiError::Internal(format!("handler panicked: {message}")).into_response()
            },
        ))
        .layer(middleware::from_fn_with_state(state, finish))
}

/// Bounds the request's time, adds Django's default headers and writes one access-log line per
/// request (key prefix, never the key).
async fn finish(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let target = logged_target(request.uri());
    let limit = state.settings.request_timeout;
    let mut response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::ServiceUnavailable(format!(
            "request did not finish within its time limit of {} ms",
            limit.as_millis()
        ))
        .into_response(),
    };
    add_security_headers(response.headers_mut());
    let key = response
        .extensions()
        .get::<KeyPrefix>()
        .map(|k| k.0.as_str());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or(UNMATCHED, |r| r.0);
    state.metrics.record_request(route, status, elapsed);
    // Microsecond precision: the float's full expansion is noise in a log line.
    let latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1000.0;
    match response.extensions().get::<FailureCause>() {
        Some(FailureCause(cause)) if status >= 500 => tracing::error!(
            target: "haresign::access",
            %method,
            path = %target,
            status,
            latency_ms,
            key = key.unwrap_or("-"),
            cause = %cause,
        ),
        _ => tracing::info!(
            target: "haresign::access",
            %method,
            path = %target,
            status,
            latency_ms,
            key = key.unwrap_or("-"),
        ),
    }
    response
}

/// The longest request target the access log writes; a longer one is cut and marked.
const MAX_LOGGED_TARGET: usize = 512;

/// The path and query as the access log writes them: values of parameters that could carry a
/// credential (a key pasted into a URL) are replaced, and the line is capped.
fn logged_target(uri: &Uri) -> String {
    let mut target = uri.path().to_owned();
    if let Some(query) = uri.query() {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let lower = name.to_ascii_lowercase();
                let secret = ["key", "token", "secret", "password", "auth"]
                    .iter()
                    .any(|word| lower.contains(word))
                    || value.starts_with(keys::KEY_PREFIX);
                if secret && !value.is_empty() {
                    format!("{name}=[redacted]")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        target.push('?');
        target.push_str(&pairs.join("&"));
    }
    if target.len() > MAX_LOGGED_TARGET {
        let mut cut = MAX_LOGGED_TARGET;
        while !target.is_char_boundary(cut) {
            cut -= 1;
        }
        target.truncate(cut);
        target.push_str("…[cut]");
    }
    target
}

async fn dispatch(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let head = request.method() == Method::HEAD;
    let (route, mut response) = respond(&state, request).await;
    response.extensions_mut().insert(RouteLabel(route));
    if head {
        without_body(response).await
    } else {
        response
    }
}

/// HEAD: GET's headers, `Content-Length` included, and no body. A streamed body (a CSV
/// download) has no length to give, and is dropped unread.
async fn without_body(mut response: Response) -> Response {
    if response.body().size_hint().exact().is_none() {
        *response.body_mut() = Body::from_stream(stream::empty::<Result<Bytes, Infallible>>());
        return response;
    }
    let length = axum::body::to_bytes(std::mem::take(response.body_mut()), usize::MAX)
        .await
        .map(|b| b.len())
        .unwrap_or(0);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// The route pattern a catalogue endpoint is counted under in the metrics.
fn endpoint_label(endpoint: &Endpoint) -> &'static str {
    static LABELS: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
        catalogue::endpoints()
            .iter()
            .map(|e| (e.path, format!("{API_V1}{}", e.path)))
            .collect()
    });
    LABELS.get(endpoint.path).map_or(UNMATCHED, String::as_str)
}

fn view_label(view: View) -> &'static str {
    match view {
        View::Index => API_V1,
        View::Schema => SCHEMA_PATH,
        View::Swagger => DOCS_PATH,
        View::Redoc => REDOC_PATH,
        View::Asset(asset) => asset.path.as_str(),
    }
}

fn overview_label(view: &overview::View) -> &'static str {
    static DATASETS: LazyLock<String> =
        LazyLock::new(|| format!("{API_V1}{}", overview::DATASETS_ROUTE));
    static PRACTICE: LazyLock<String> =
        LazyLock::new(|| format!("{API_V1}{}", overview::practice_route()));
    match view {
        overview::View::Datasets => DATASETS.as_str(),
        overview::View::Practice(_) => PRACTICE.as_str(),
    }
}

/// Every label `respond` gives a request.
fn route_labels() -> Vec<&'static str> {
    let endpoints = catalogue::endpoints().iter().map(|e| endpoint_label(e));
    let overviews = [
        overview::View::Datasets,
        overview::View::Practice(String::new()),
    ];
    let views = public::views().map(view_label);
    endpoints
        .chain(overviews.iter().map(overview_label))
        .chain(views)
        .chain([health::PATH, health::READY_PATH])
        .collect()
}

/// The response, and the route it is counted under.
async fn respond(state: &Arc<AppState>, request: Request) -> (&'static str, Response) {
    let (parts, _body) = request.into_parts();
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let path = parts.uri.path();
    // Load balancers probe by address, so the health check answers whatever host is named.
    if path == health::PATH || path == health::READY_PATH {
        let route = if path == health::PATH {
            health::PATH
        } else {
            health::READY_PATH
        };
        return (route, health::serve(state, &parts.method, path).await);
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    if !hosts::is_allowed(&host, &state.settings.allowed_hosts) {
        return (UNMATCHED, django_bad_request());
    }
    let endpoints = catalogue::endpoints();
    let route = resolve(endpoints, path);
    let overview = route.is_none().then(|| overview::resolve(path)).flatten();
    let view = (route.is_none() && overview.is_none())
        .then(|| public::resolve(path))
        .flatten();
    let label = match (&route, &overview, view) {
        (Some(route), _, _) => endpoint_label(route.endpoint),
        (None, Some(overview), _) => overview_label(&overview.view),
        (None, None, Some(view)) => view_label(view),
        (None, None, None) => UNMATCHED,
    };
    // Every view reads the query during content negotiation, where Django refuses one of more
    // than 1,000 fields with its plain 400 page, before authentication.
    if (route.is_some() || overview.is_some() || view.is_some())
        && too_many_fields(parts.uri.query())
    {
        return (label, django_bad_request());
    }
    let info = RequestInfo {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        remote,
    };
    if let Some(route) = route {
        return (label, list::serve(state, &route, &info).await);
    }
    if let Some(overview) = overview {
        return (label, overview::serve(state, &overview, &info).await);
    }
    if let Some(view) = view {
        return (label, public::serve(state, view, &info).await);
    }
    let slashed = format!("{path}/");
    if !path.ends_with('/')
        && (resolve(endpoints, &slashed).is_some()
            || overview::resolve(&slashed).is_some()
            || public::resolve(&slashed).is_some())
    {
        let location = match parts.uri.query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        return (UNMATCHED, append_slash_redirect(&location));
    }
    if path.starts_with("/api/") {
        let body = ApiError::not_found().body();
        return (UNMATCHED, json_response(StatusCode::NOT_FOUND, &body, None));
    }
    (UNMATCHED, django_not_found())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Log lines written while the subscriber is this thread's default.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_server_error_is_logged_on_its_access_line_with_its_cause() {
        use tower::ServiceExt;

        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("log.db").display());
        let db = Db::connect(&url).await.unwrap();
        crate::migrate(&db).await.unwrap();
        let key = crate::keys::create(&db, &crate::keys::NewKey::named("log"))
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute_raw("DROP TABLE pcns").await.unwrap();
        tx.commit().await.unwrap();
        let app = router(Arc::new(AppState::new(db, Settings::default())));
        let _default = tracing::subscriber::set_default(subscriber);
        let errors_before = crate::api::error::database_errors();
        let request = axum::http::Request::get("/api/v1/pcns/")
            .header("Host", "testserver")
            .header("Authorization", format!("Bearer {key}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 500);
        assert!(
            crate::api::error::database_errors() > errors_before,
            "the failed query is counted for /metrics"
        );
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("haresign::access"))
            .unwrap_or_else(|| panic!("no access line in {log}"));
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains("status=500"), "{line}");
        assert!(
            line.contains("cause=") && line.contains("no such table: pcns"),
            "{line}"
        );
        assert_eq!(log.lines().count(), 1, "one line for the request: {log}");
    }

    fn logged(target: &str) -> String {
        logged_target(&target.parse::<Uri>().unwrap())
    }

    #[test]
    fn the_access_log_hides_credentials_and_caps_targets() {
        assert_eq!(
            logged("/api/v1/pcns/?icb=QHM&page=2"),
            "/api/v1/pcns/?icb=QHM&page=2"
        );
        assert_eq!(
            logged("/api/v1/pcns/?api_key=abc&Token=x&icb=QHM"),
            "/api/v1/pcns/?api_key=[redacted]&Token=[redacted]&icb=QHM"
        );
        assert_eq!(
            logged("/api/v1/pcns/?search=hs_abcdefgh12345"),
            "/api/v1/pcns/?search=[redacted]"
        );
        let long = logged(&format!("/api/v1/pcns/?search={}", "a".repeat(4000)));
        assert!(
            long.len() <= MAX_LOGGED_TARGET + "…[cut]".len(),
            "{}",
            long.len()
        );
        assert!(long.ends_with("…[cut]"));
    }
}
