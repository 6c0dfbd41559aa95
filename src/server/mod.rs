//! Running the HTTP server: an accept loop that caps connections, per-connection header and
//! idle timeouts, a shutdown that drains for a bounded time, and the periodic usage flush.

mod caps;
mod connection;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::app::{AppState, router};
use crate::api::metrics::metrics_router;
use crate::logging::WarnLimiter;
use caps::{ConnectionCaps, Refusal};
pub use connection::Timeouts;

/// How often per-key usage counted in memory is written to the database.
const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// How long the accept loop rests after an error such as running out of file descriptors,
/// which would otherwise repeat at once.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How often refused connections are reported in the log.
const REFUSAL_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// What a server holds open and for how long.
#[derive(Debug, Clone)]
pub struct Limits {
    pub timeouts: Timeouts,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Connections open at once from one peer address (0: no cap of its own).
    pub max_connections_per_peer: usize,
    /// After a shutdown signal, how long requests in flight may finish before the remaining
    /// connections are closed.
    pub shutdown_timeout: Duration,
}

pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
pub const DEFAULT_MAX_CONNECTIONS_PER_PEER: usize = 1_000;
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeouts: Timeouts {
                header: DEFAULT_HEADER_TIMEOUT,
                idle: DEFAULT_IDLE_TIMEOUT,
            },
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_peer: DEFAULT_MAX_CONNECTIONS_PER_PEER,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// Binds `addr` (and `metrics`, for `/metrics`, when given) and serves until Ctrl-C or SIGTERM.
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    metrics: Option<SocketAddr>,
    limits: Limits,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let metrics = match metrics {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    serve_on(listener, metrics, state, limits, shutdown_signal()).await
}

/// Serves on `listener` (and `/metrics` on `metrics`) until `shutdown` completes, then stops
/// accepting, lets requests in flight finish for at most `limits.shutdown_timeout`, closes what
/// is left and writes the usage counted so far.
pub async fn serve_on(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: AppState,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "serving");
    let state = Arc::new(state);
    let exporter = match metrics {
        Some(listener) => {
            tracing::info!(address = %listener.local_addr()?, "serving /metrics");
            let app = metrics_router(state.clone());
            Some(tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::warn!(%error, "the metrics listener stopped");
                }
            }))
        }
        None => None,
    };
    let flusher = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(USAGE_FLUSH_INTERVAL);
            loop {
                tick.tick().await;
                flush_usage(&state).await;
            }
        })
    };
    let app = router(state.clone());
    let caps = Arc::new(ConnectionCaps::new(
        limits.max_connections,
        limits.max_connections_per_peer,
    ));
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    let refusals = WarnLimiter::new(REFUSAL_WARN_INTERVAL);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    if !is_connection_error(&error) {
                        tracing::warn!(%error, "could not accept a connection");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let admitted = match caps.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                if refusals.should_warn() {
                    let reason = match refusal {
                        Refusal::Total => "the server's connection cap is reached",
                        Refusal::PerPeer => "the peer's connection cap is reached",
                    };
                    tracing::warn!(peer = %peer.ip(), reason, "closing new connections");
                }
                continue;
            }
        };
        // Responses are written whole; Nagle's algorithm would only delay them.
        let _ = stream.set_nodelay(true);
        let (app, timeouts, stopping) = (app.clone(), limits.timeouts.clone(), stopping.clone());
        connections.spawn(async move {
            connection::serve(stream, peer, app, timeouts, stopping).await;
            drop(admitted);
        });
    }
    drop(listener);
    let _ = stop.send(());
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_timeout, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "closing the connections still open at the shutdown deadline"
        );
        connections.shutdown().await;
    }
    flusher.abort();
    if let Some(exporter) = exporter {
        exporter.abort();
    }
    flush_usage(&state).await;
    Ok(())
}

/// Errors of one connection that never reached us; the listener itself is fine.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

async fn flush_usage(state: &AppState) {
    if let Err(e) = state.usage.flush(&state.db).await {
        tracing::warn!(error = %e, "could not record key usage; will retry");
    }
}

async fn shutdown_signal() {
    crate::signal::terminated().await;
    tracing::info!("shutting down: no new connections, draining the open ones");
}
