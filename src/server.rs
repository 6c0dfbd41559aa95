//! Running the HTTP server until Ctrl-C or SIGTERM, with the periodic usage flush.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::{AppState, router};

/// How often per-key usage counted in memory is written to the database.
const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(10);

/// Binds `addr` and serves until a shutdown signal.
pub async fn serve(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    let state = Arc::new(state);
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
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    flusher.abort();
    flush_usage(&state).await;
    served
}

async fn flush_usage(state: &AppState) {
    if let Err(e) = state.usage.flush(&state.db).await {
        tracing::warn!(error = %e, "could not record key usage; will retry");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
