//! What this process has served, in the Prometheus text format (0.0.4): requests by route and
//! status, a latency histogram per route, throttle decisions, response-cache hits, database
//! errors, and each dataset's last successful import. Served on its own address
//! (`serve --metrics-bind`), never beside the API, so that it is not public by accident.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::app::AppState;
use super::overview::datasets;
use crate::catalogue;
use crate::db::{Cell, Db};
use crate::throttle::ThrottleCounts;

/// Upper bounds of the latency buckets, in seconds: most answers take well under a
/// millisecond, a cold broad page tens of milliseconds, and the request time limit is seconds.
const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The route label of a request no view matched, so that unmatched paths (probes, typos)
/// cannot grow the set of series.
pub const UNMATCHED: &str = "unmatched";

/// The view that answered a request, as its route pattern (`/api/v1/practices/{ods_code}/
/// population/`): set on the response by the dispatcher, read when the request is counted.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static str);

#[derive(Default)]
struct RouteStats {
    statuses: Mutex<BTreeMap<u16, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Counters of one serving process.
pub struct Metrics {
    routes: BTreeMap<&'static str, RouteStats>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

impl Metrics {
    /// Counters for every route in `labels`; another label is counted as [`UNMATCHED`].
    pub fn new(labels: impl IntoIterator<Item = &'static str>) -> Self {
        Metrics {
            routes: labels
                .into_iter()
                .chain([UNMATCHED])
                .map(|label| (label, RouteStats::default()))
                .collect(),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
        }
    }

    pub fn record_request(&self, route: &str, status: u16, latency: Duration) {
        let stats = self
            .routes
            .get(route)
            .or_else(|| self.routes.get(UNMATCHED))
            .expect("the unmatched route is always counted");
        *stats
            .statuses
            .lock()
            .expect("no panic while counting")
            .entry(status)
            .or_default() += 1;
        let seconds = latency.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            stats.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        stats.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        stats.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn record_cache(&self, hit: bool) {
        let counter = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the text format, without the datasets' import gauges.
    fn write_counters(&self, out: &mut String, throttle: ThrottleCounts) {
        family(
            out,
            "haresign_http_requests_total",
            "counter",
            "Requests answered, by route pattern and status.",
        );
        for (route, stats) in &self.routes {
            for (status, n) in stats
                .statuses
                .lock()
                .expect("no panic while counting")
                .iter()
            {
                let _ = writeln!(
                    out,
                    "haresign_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        family(
            out,
            "haresign_http_request_duration_seconds",
            "histogram",
            "Time from the request head to the response head, by route pattern.",
        );
        for (route, stats) in &self.routes {
            let count = stats.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&stats.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "haresign_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "haresign_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}\n\
                 haresign_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}\n\
                 haresign_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        family(
            out,
            "haresign_throttle_decisions_total",
            "counter",
            "Throttle checks, by decision; allowed_store_down counts requests let through because the throttle store did not answer.",
        );
        for (decision, n) in [
            ("allowed", throttle.allowed),
            ("throttled", throttle.throttled),
            ("allowed_store_down", throttle.failed_open),
        ] {
            let _ = writeln!(
                out,
                "haresign_throttle_decisions_total{{decision=\"{decision}\"}} {n}"
            );
        }
        family(
            out,
            "haresign_response_cache_requests_total",
            "counter",
            "List requests by whether their body came from the response cache.",
        );
        for (result, counter) in [("hit", &self.cache_hits), ("miss", &self.cache_misses)] {
            let _ = writeln!(
                out,
                "haresign_response_cache_requests_total{{result=\"{result}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        family(
            out,
            "haresign_database_errors_total",
            "counter",
            "Database errors met while answering requests (this process): unreachable, timed out, or refused.",
        );
        let _ = writeln!(
            out,
            "haresign_database_errors_total {}",
            super::error::database_errors()
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A dataset's latest successful import run: when it finished and the rows it loaded.
struct LastImport {
    finished: f64,
    rows: i64,
}

/// Each dataset's latest successful import, read from the `imports` table at scrape time.
async fn last_imports(db: &Db) -> Result<HashMap<&'static str, LastImport>, sqlx::Error> {
    let runs = datasets::latest_runs(db).await?;
    let mut latest = HashMap::new();
    for dataset in catalogue::DATASETS {
        let files = datasets::latest_run(dataset, &runs);
        // As `datasets/` gives its time: the run's last file to finish.
        if let Some(Cell::Timestamp(finished)) = files.last().map(|f| &f.finished) {
            latest.insert(
                dataset.name,
                LastImport {
                    finished: finished.timestamp_millis() as f64 / 1000.0,
                    rows: files.iter().map(|f| f.rows).sum(),
                },
            );
        }
    }
    Ok(latest)
}

/// The whole exposition: the counters, then the datasets' import gauges (left out, with a
/// comment, when the database cannot be read: the counters are most wanted during an outage).
pub async fn render(state: &AppState) -> String {
    let mut out = String::new();
    state
        .metrics
        .write_counters(&mut out, state.throttle.counts());
    match last_imports(&state.db).await {
        Ok(latest) => {
            family(
                &mut out,
                "haresign_dataset_last_import_timestamp_seconds",
                "gauge",
                "When the dataset's latest successful import run finished (Unix time).",
            );
            for dataset in catalogue::DATASETS {
                if let Some(last) = latest.get(dataset.name) {
                    let _ = writeln!(
                        out,
                        "haresign_dataset_last_import_timestamp_seconds{{dataset=\"{}\"}} {}",
                        dataset.name, last.finished
                    );
                }
            }
            family(
                &mut out,
                "haresign_dataset_last_import_rows",
                "gauge",
                "Rows the dataset's latest successful import run loaded.",
            );
            for dataset in catalogue::DATASETS {
                if let Some(last) = latest.get(dataset.name) {
                    let _ = writeln!(
                        out,
                        "haresign_dataset_last_import_rows{{dataset=\"{}\"}} {}",
                        dataset.name, last.rows
                    );
                }
            }
        }
        Err(error) => {
            let _ = writeln!(
                out,
                "# the datasets' imports could not be read: {}",
                super::error::cause_chain(&error).replace('\n', " ")
            );
        }
    }
    out
}

/// The metrics listener's one route: `GET /metrics`.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new().route(
        PATH,
        get(|State(state): State<Arc<AppState>>| async move {
            let mut response = render(&state).await.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            response
        })
        .with_state(state),
    )
}

pub const PATH: &str = "/metrics";

/// The Prometheus text exposition format's media type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_cumulative_buckets_and_unknown_routes_are_unmatched() {
        let metrics = Metrics::new(["/api/v1/pcns/"]);
        metrics.record_request("/api/v1/pcns/", 200, Duration::from_micros(300));
        metrics.record_request("/api/v1/pcns/", 200, Duration::from_millis(3));
        metrics.record_request("/api/v1/pcns/", 404, Duration::from_secs(30));
        metrics.record_request("/wp-login.php", 404, Duration::from_micros(10));
        let mut out = String::new();
        metrics.write_counters(&mut out, ThrottleCounts::default());
        for line in [
            "haresign_http_requests_total{route=\"/api/v1/pcns/\",status=\"200\"} 2",
            "haresign_http_requests_total{route=\"/api/v1/pcns/\",status=\"404\"} 1",
            "haresign_http_requests_total{route=\"unmatched\",status=\"404\"} 1",
            "haresign_http_request_duration_seconds_bucket{route=\"/api/v1/pcns/\",le=\"0.0005\"} 1",
            "haresign_http_request_duration_seconds_bucket{route=\"/api/v1/pcns/\",le=\"0.005\"} 2",
            "haresign_http_request_duration_seconds_bucket{route=\"/api/v1/pcns/\",le=\"10\"} 2",
            "haresign_http_request_duration_seconds_bucket{route=\"/api/v1/pcns/\",le=\"+Inf\"} 3",
            "haresign_http_request_duration_seconds_count{route=\"/api/v1/pcns/\"} 3",
            "haresign_http_request_duration_seconds_sum{route=\"/api/v1/pcns/\"} 30.0033",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing from\n{out}");
        }
    }
}
