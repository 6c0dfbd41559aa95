//! DRF's sliding-window request throttling (`rest_framework/throttling.py`), made atomic.
//!
//! DRF reads a per-key history of request timestamps from the cache, trims it and writes it back
//! in separate steps, so concurrent requests race past the limit, and with a per-process cache
//! every worker has its own budget. Here each store does the whole check-and-record as one atomic
//! step, and [`RedisStore`] shares one budget between every node. What clients see (which
//! requests pass, the 429 message and `Retry-After`) is DRF's.

mod clock;
mod memory;
mod rate;
mod redis;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

pub use clock::Clock;
pub use memory::MemoryStore;
pub use rate::{Rate, RateParseError};
pub use redis::{RedisStore, RedisStoreConfig};

use crate::logging::WarnLimiter;

/// What a store decided for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The request was recorded in the key's history.
    Allowed,
    /// Nothing was recorded. `wait` is DRF's `wait()`: seconds until a request may succeed, or
    /// `None` when the history holds more entries than the limit (the limit was lowered).
    Throttled { wait: Option<f64> },
}

/// The throttle store could not be reached or answered nonsense.
#[derive(Debug, thiserror::Error)]
#[error("throttle store unavailable: {message}")]
pub struct ThrottleError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ThrottleError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// The future returned by [`ThrottleStore::allow_request`].
pub type StoreFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Decision, ThrottleError>> + Send + 'a>>;

/// Per-key request histories, checked and updated atomically.
pub trait ThrottleStore: Send + Sync {
    /// DRF's `allow_request` and, when throttled, `wait()`, as one atomic step for `key`.
    ///
    /// With `duration = rate.duration`: entries `<= now - duration` are dropped from the oldest
    /// end; if `rate.num_requests` or more remain the request is throttled and nothing is
    /// written; otherwise `now` is recorded as the newest entry and the key's time-to-live is
    /// set to `duration`. `now` is seconds since the Unix epoch, as Python's `time.time()`.
    fn allow_request<'a>(&'a self, key: &'a str, rate: Rate, now: f64) -> StoreFuture<'a>;
}

/// DRF's `wait()` from the trimmed history's length and its oldest entry.
fn drf_wait(rate: Rate, now: f64, len: usize, oldest: Option<f64>) -> Option<f64> {
    let duration = rate.duration.as_secs_f64();
    let remaining = match oldest {
        Some(oldest) => duration - (now - oldest),
        None => duration,
    };
    let available = i64::from(rate.num_requests) - i64::try_from(len).unwrap_or(i64::MAX) + 1;
    (available > 0).then(|| remaining / available as f64)
}

/// The current time as DRF's `time.time()`: seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A throttled request, carrying what DRF's `Throttled` exception puts on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttled {
    wait: Option<f64>,
}

impl Throttled {
    pub fn new(wait: Option<f64>) -> Self {
        Self { wait }
    }

    /// Seconds until a request may succeed, unrounded.
    pub fn wait(&self) -> Option<f64> {
        self.wait
    }

    /// DRF's `math.ceil(wait)`. The algorithm never yields a negative wait beyond float rounding,
    /// so the value is whole seconds, at least 0.
    pub fn wait_seconds(&self) -> Option<u64> {
        self.wait.map(|wait| wait.ceil().max(0.0) as u64)
    }

    /// The `detail` of the 429 body.
    pub fn detail(&self) -> String {
        match self.wait_seconds() {
            None => "Request was throttled.".to_owned(),
            Some(1) => "Request was throttled. Expected available in 1 second.".to_owned(),
            Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
        }
    }

    /// The `Retry-After` header value. DRF's exception handler sets it only when the rounded wait
    /// is truthy, so a wait that rounds to 0 has a message but no header.
    pub fn retry_after(&self) -> Option<u64> {
        self.wait_seconds().filter(|&n| n != 0)
    }

    /// Several throttles rejected the request: DRF reports the largest known wait.
    pub fn combine(self, other: Self) -> Self {
        let wait = match (self.wait, other.wait) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Self { wait }
    }
}

/// The result of checking one request against one throttle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThrottleOutcome {
    Allowed,
    Throttled(Throttled),
}

impl ThrottleOutcome {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }

    /// DRF evaluates every throttle of a view (each allowing one records the request) and rejects
    /// if any rejects, with the largest wait.
    pub fn combine(self, other: Self) -> Self {
        match (self, other) {
            (Self::Throttled(a), Self::Throttled(b)) => Self::Throttled(a.combine(b)),
            (Self::Throttled(t), Self::Allowed) | (Self::Allowed, Self::Throttled(t)) => {
                Self::Throttled(t)
            }
            (Self::Allowed, Self::Allowed) => Self::Allowed,
        }
    }
}

/// How often a failing store is reported in the log.
const FAIL_OPEN_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Throttling as the HTTP layer uses it: keys built from scope and ident, DRF's 429 values, and
/// fail-open when the store is down.
pub struct Throttle {
    store: Arc<dyn ThrottleStore>,
    allowed_total: AtomicU64,
    throttled_total: AtomicU64,
    fail_open_total: AtomicU64,
    warn_limiter: WarnLimiter,
}

/// The decisions a [`Throttle`] has made since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleCounts {
    /// Allowed by the store's answer.
    pub allowed: u64,
    pub throttled: u64,
    /// Allowed because the store did not answer.
    pub failed_open: u64,
}

impl Throttle {
    pub fn new(store: Arc<dyn ThrottleStore>) -> Self {
        Self {
            store,
            allowed_total: AtomicU64::new(0),
            throttled_total: AtomicU64::new(0),
            fail_open_total: AtomicU64::new(0),
            warn_limiter: WarnLimiter::new(FAIL_OPEN_WARN_INTERVAL),
        }
    }

    /// Checks and, when allowed, records one request for `scope` and `ident` (DRF's cache key
    /// `throttle_<scope>_<ident>`; stores see `<scope>:<ident>`).
    ///
    /// A store failure allows the request: an unreachable Redis must not take the API down. Each
    /// such request is counted in [`fail_open_count`](Self::fail_open_count), and a warning is
    /// logged at most once per 10 seconds.
    pub async fn check(&self, scope: &str, ident: &str, rate: Rate, now: f64) -> ThrottleOutcome {
        let key = format!("{scope}:{ident}");
        match self.store.allow_request(&key, rate, now).await {
            Ok(Decision::Allowed) => {
                self.allowed_total.fetch_add(1, Ordering::Relaxed);
                ThrottleOutcome::Allowed
            }
            Ok(Decision::Throttled { wait }) => {
                self.throttled_total.fetch_add(1, Ordering::Relaxed);
                ThrottleOutcome::Throttled(Throttled::new(wait))
            }
            Err(error) => {
                let total = self.fail_open_total.fetch_add(1, Ordering::Relaxed) + 1;
                if self.warn_limiter.should_warn() {
                    tracing::warn!(
                        error = %error,
                        source = error.source.as_deref().map(tracing::field::display),
                        fail_open_total = total,
                        "throttle store failed; allowing requests unthrottled"
                    );
                }
                ThrottleOutcome::Allowed
            }
        }
    }

    /// How many requests were allowed because the store failed.
    pub fn fail_open_count(&self) -> u64 {
        self.fail_open_total.load(Ordering::Relaxed)
    }

    pub fn counts(&self) -> ThrottleCounts {
        ThrottleCounts {
            allowed: self.allowed_total.load(Ordering::Relaxed),
            throttled: self.throttled_total.load(Ordering::Relaxed),
            failed_open: self.fail_open_count(),
        }
    }
}

/// DRF's `get_ident` with `NUM_PROXIES` set: the client identity used for anonymous requests.
///
/// - `num_proxies` 0: `remote`, the peer address.
/// - n > 0: the n-th entry from the right of `X-Forwarded-For` (the leftmost when there are
///   fewer), trimmed; `remote` when the header or that entry is absent or empty.
///
/// DRF keys the throttle with the entry as sent, which a client can make hundreds of kilobytes
/// long. Here an IP address (`203.0.113.9`, `2001:db8::1`, also with a port: `203.0.113.9:443`,
/// `[2001:db8::1]:443`) is keyed by its canonical text and anything else by `xff:` and the first
/// 32 hex digits of its SHA-256, so an identity is always short.
pub fn client_ident(xff: Option<&str>, remote: &str, num_proxies: usize) -> String {
    if num_proxies == 0 {
        return remote.to_owned();
    }
    let entry = xff
        .and_then(|xff| xff.rsplit(',').take(num_proxies).last())
        .map(|entry| entry.trim_matches(is_python_whitespace))
        .filter(|entry| !entry.is_empty());
    let Some(entry) = entry else {
        return remote.to_owned();
    };
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return ip.to_string();
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return socket.ip().to_string();
    }
    let digest = Sha256::digest(entry.as_bytes());
    format!("xff:{}", hex::encode(&digest[..16]))
}

/// Python's `str.isspace`, which `str.split()` and `str.strip()` use: Unicode whitespace plus the
/// ASCII information separators U+001C..U+001F.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}
