//! One client connection: HTTP/1.1 (or HTTP/2) served by hyper, watched for a request head that
//! takes too long and for idleness, and closed gracefully when the server stops.
//!
//! hyper's own header-read timeout also runs while a keep-alive connection waits for its next
//! request, so it cannot give a short head deadline and a longer idle one; the watch here does
//! both from what passes through the socket.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

#[derive(Debug, Clone)]
pub struct Timeouts {
    /// From a connection's first byte of a request (or from connecting) to its complete head.
    pub header: Duration,
    /// With no request in flight, how long a connection may stay silent.
    pub idle: Duration,
}

/// What the socket and the service have seen, for the deadlines.
struct Watch {
    state: Mutex<Seen>,
    /// Woken when a request head starts or a request ends: the deadline awaited has changed.
    changed: Notify,
}

struct Seen {
    last_activity: Instant,
    /// When the bytes of a request head not yet dispatched began to arrive.
    head_since: Option<Instant>,
    in_flight: usize,
}

impl Watch {
    fn new(now: Instant) -> Self {
        Watch {
            // A new connection owes its first request head straight away.
            state: Mutex::new(Seen {
                last_activity: now,
                head_since: Some(now),
                in_flight: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bytes_read(&self) {
        let now = Instant::now();
        let mut seen = self.lock();
        seen.last_activity = now;
        if seen.in_flight == 0 && seen.head_since.is_none() {
            seen.head_since = Some(now);
            drop(seen);
            self.changed.notify_one();
        }
    }

    fn bytes_written(&self) {
        self.lock().last_activity = Instant::now();
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut seen = self.lock();
        seen.in_flight += 1;
        seen.head_since = None;
        InFlight(self.clone())
    }

    /// When the connection is due to be closed, as things stand; `None` while a request is in
    /// flight (the request's own time limit bounds it).
    fn deadline(&self, timeouts: &Timeouts) -> Option<Instant> {
        let seen = self.lock();
        match seen.head_since {
            Some(since) => Some(since + timeouts.header),
            None if seen.in_flight == 0 => Some(seen.last_activity + timeouts.idle),
            None => None,
        }
    }
}

/// A request being served; the connection is not idle while one exists.
struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut seen = self.0.lock();
        seen.in_flight -= 1;
        seen.last_activity = Instant::now();
        drop(seen);
        self.0.changed.notify_one();
    }
}

/// The socket, reporting reads and writes to the watch.
struct WatchedStream {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.bytes_read();
        }
        result
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.bytes_written();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.bytes_written();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Serves one connection until the client closes it, a deadline passes, or the server stops
/// (then requests in flight finish and the connection closes).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    mut stopping: watch::Receiver<()>,
) {
    let watch = Arc::new(Watch::new(Instant::now()));
    let io = TokioIo::new(WatchedStream {
        stream,
        watch: watch.clone(),
    });
    let service = {
        let watch = watch.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = watch.request_started();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(in_flight);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client that shuts its sending side after the request still reads the answer; without
    // this the request is dropped at that end of file whenever it awaits the database.
    builder.http1().half_close(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let deadline = watch.deadline(&timeouts);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = watch.changed.notified() => {}
            () = sleep_until(deadline) => {
                if watch.deadline(&timeouts).is_some_and(|due| due <= Instant::now()) {
                    tracing::debug!(%peer, "closing a connection past its header or idle deadline");
                    return;
                }
            }
            changed = stopping.changed(), if !draining => {
                draining = true;
                let _ = changed;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
