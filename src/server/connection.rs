//! One client connection: HTTP/1.1 (or HTTP/2 with prior knowledge) served by hyper, watched
//! for a request head that takes too long and for idleness, and closed gracefully when the
//! server stops.
//!
//! hyper's own header-read timeout also runs while a keep-alive connection waits for its next
//! request, so it cannot give a short head deadline and a longer idle one; the watch here does
//! both from what passes through the socket.
//!
//! An HTTP/1 connection between requests is parked: hyper's state, with its read and write
//! buffers (16 KB), is dropped and only the socket is kept until the next request's first
//! bytes arrive, so thousands of idle keep-alive connections cost little memory.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
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

/// What the socket and the service have seen, for the deadlines and for parking.
struct Watch {
    state: Mutex<Seen>,
    /// Woken when a request head starts or a request ends: the deadline awaited has changed.
    changed: Notify,
}

struct Seen {
    last_activity: Instant,
    /// When the bytes of a request head not yet dispatched began to arrive.
    head_since: Option<Instant>,
    /// Requests whose handler has not answered yet.
    in_flight: usize,
    /// Responses whose body hyper has not finished with yet.
    bodies_open: usize,
    /// Whether everything hyper wrote has reached the socket: its last write call was followed
    /// by a flush that completed, so its write buffer is empty.
    flushed: bool,
    /// A request hyper may still read a body of, or after which it closes the connection: the
    /// position between requests is then hyper's alone to know, so the connection is never
    /// parked again.
    unparkable: bool,
}

impl Watch {
    fn new(now: Instant) -> Self {
        Watch {
            // A new connection owes its first request head straight away.
            state: Mutex::new(Seen {
                last_activity: now,
                head_since: Some(now),
                in_flight: 0,
                bodies_open: 0,
                flushed: true,
                unparkable: false,
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

    fn write_called(&self, wrote: bool) {
        let mut seen = self.lock();
        seen.flushed = false;
        if wrote {
            seen.last_activity = Instant::now();
        }
    }

    fn flush_completed(&self) {
        self.lock().flushed = true;
    }

    fn request_started<B: HttpBody>(
        self: &Arc<Self>,
        request: &hyper::Request<B>,
    ) -> (Handling, OpenBody) {
        let mut seen = self.lock();
        seen.in_flight += 1;
        seen.bodies_open += 1;
        seen.head_since = None;
        seen.unparkable |= !request.body().is_end_stream()
            || request.version() != hyper::Version::HTTP_11
            || request
                .headers()
                .get_all(hyper::header::CONNECTION)
                .iter()
                .any(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
        (Handling(self.clone()), OpenBody(self.clone()))
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

    /// Whether hyper stands between requests with nothing of its own: every response written
    /// and flushed, and no bytes of a next request taken in.
    fn parkable(&self) -> bool {
        let seen = self.lock();
        seen.in_flight == 0
            && seen.bodies_open == 0
            && seen.head_since.is_none()
            && seen.flushed
            && !seen.unparkable
    }
}

/// A request whose handler has not answered yet; the connection is not idle while one exists.
struct Handling(Arc<Watch>);

impl Drop for Handling {
    fn drop(&mut self) {
        let mut seen = self.0.lock();
        seen.in_flight -= 1;
        seen.last_activity = Instant::now();
        drop(seen);
        self.0.changed.notify_one();
    }
}

/// A response body hyper has not finished with.
struct OpenBody(Arc<Watch>);

impl Drop for OpenBody {
    fn drop(&mut self) {
        self.0.lock().bodies_open -= 1;
    }
}

/// A response body that reports when hyper drops it, which it does once the body has ended.
struct WatchedBody {
    body: Body,
    _open: OpenBody,
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, reporting reads and writes to the watch, and first handing out any bytes read
/// before hyper took the connection (`unread`).
struct WatchedStream<S> {
    stream: S,
    unread: Bytes,
    watch: Arc<Watch>,
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.unread.is_empty() {
            let n = this.unread.len().min(buf.remaining());
            buf.put_slice(&this.unread.split_to(n));
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.bytes_read();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch
            .write_called(matches!(result, Poll::Ready(Ok(n)) if n > 0));
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch
            .write_called(matches!(result, Poll::Ready(Ok(n)) if n > 0));
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        if matches!(result, Poll::Ready(Ok(()))) {
            this.watch.flush_completed();
        }
        result
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The start of HTTP/2's connection preface, which a client with prior knowledge sends first.
const HTTP2_PREFACE_START: &[u8] = b"PRI ";

/// Most bytes read at once while a connection waits between requests; hyper reads the rest.
const FIRST_READ: usize = 64;

/// Longest a connection the server closes as it stops is read from after its sending side is
/// shut (see `close_lingering`).
const LINGER: Duration = Duration::from_secs(1);

/// Closes a connection the server ends as it stops: its sending side first, then what the client
/// sends is read and dropped until the client closes too (or `LINGER` passes). A request the
/// client sent just as the server stopped then meets an end of stream it can retry on: closed
/// with the request unread, the connection would be reset, which a client takes for a response
/// cut short.
async fn close_lingering<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S) {
    // hyper may have shut it already; what matters is that it is shut before the reads.
    let _ = socket.shutdown().await;
    let mut dropped = [0u8; FIRST_READ];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(socket.read(&mut dropped).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Serves one connection until the client closes it, a deadline passes, or the server stops
/// (then requests in flight finish and the connection closes).
pub async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    stopping: watch::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Arc::new(Watch::new(Instant::now()));
    let mut socket = WatchedStream {
        stream,
        unread: Bytes::new(),
        watch: watch.clone(),
    };
    let mut service = {
        let watch = watch.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let (handling, open) = watch.request_started(&request);
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await?;
                drop(handling);
                Ok::<_, Infallible>(
                    response.map(|body| Body::new(WatchedBody { body, _open: open })),
                )
            }
        })
    };
    let mut life = Lifecycle {
        peer,
        watch,
        timeouts,
        stopping,
        draining: false,
    };
    let Some(http2) = life.first_bytes(&mut socket).await else {
        return;
    };
    if http2 {
        let connection = http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(socket), service);
        // HTTP/2 ends with a GOAWAY frame naming the last stream served, which tells the client
        // what to send again.
        life.drive(
            Box::pin(connection),
            |c| c.as_mut().graceful_shutdown(),
            false,
        )
        .await;
        return;
    }
    let mut builder = http1::Builder::new();
    // A client that shuts its sending side after the request still reads the answer; without
    // this the request is dropped at that end of file whenever it awaits the database.
    builder.half_close(true);
    loop {
        // Boxed, so that a parked connection's task does not keep room for hyper's state.
        let connection = Box::pin(builder.serve_connection(TokioIo::new(socket), service));
        let connection = match life
            .drive(connection, |c| c.as_mut().graceful_shutdown(), true)
            .await
        {
            Driven::Parked(connection) => connection,
            Driven::Drained(connection) => {
                close_lingering(Pin::into_inner(connection).into_parts().io.into_inner()).await;
                return;
            }
            Driven::Ended => return,
        };
        let parts = Pin::into_inner(connection).into_parts();
        (socket, service) = (parts.io.into_inner(), parts.service);
        // A copy, and the original dropped before waiting: the bytes hyper had read ahead
        // share its whole read buffer, which they would keep alive.
        socket.unread = Bytes::copy_from_slice(&parts.read_buf);
        drop(parts.read_buf);
        if socket.unread.is_empty() {
            let Some(bytes) = life.next_bytes(&mut socket).await else {
                return;
            };
            socket.unread = bytes;
        }
    }
}

/// How hyper's connection stood when `Lifecycle::drive` returned it.
enum Driven<C> {
    /// Idle between requests (for `into_parts`).
    Parked(Pin<Box<C>>),
    /// Closed by hyper as the server stopped, once the requests in flight were answered; its
    /// socket is still open.
    Drained(Pin<Box<C>>),
    /// Ended by the client, an error or a deadline.
    Ended,
}

/// What a connection's phases share: its deadlines and the server's stop signal.
struct Lifecycle {
    peer: SocketAddr,
    watch: Arc<Watch>,
    timeouts: Timeouts,
    stopping: watch::Receiver<()>,
    /// The server is stopping: requests in flight finish, nothing new is read.
    draining: bool,
}

impl Lifecycle {
    fn past_deadline(&self) -> bool {
        let past = self
            .watch
            .deadline(&self.timeouts)
            .is_some_and(|due| due <= Instant::now());
        if past {
            tracing::debug!(peer = %self.peer, "closing a connection past its header or idle deadline");
        }
        past
    }

    /// Runs hyper's connection until it ends or, when `park` is set, until it stands idle
    /// between requests.
    async fn drive<C>(
        &mut self,
        mut connection: Pin<Box<C>>,
        graceful_shutdown: impl Fn(&mut Pin<Box<C>>),
        park: bool,
    ) -> Driven<C>
    where
        C: Future<Output = Result<(), hyper::Error>>,
    {
        let mut shutting_down = self.draining;
        if shutting_down {
            graceful_shutdown(&mut connection);
        }
        loop {
            let deadline = self.watch.deadline(&self.timeouts);
            let may_park = park && !self.draining;
            let watch = &self.watch;
            let served = std::future::poll_fn(|cx| match connection.as_mut().poll(cx) {
                Poll::Ready(result) => Poll::Ready(Some(result)),
                Poll::Pending if may_park && watch.parkable() => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            });
            tokio::select! {
                served = served => match served {
                    Some(Err(error)) => {
                        tracing::debug!(peer = %self.peer, %error, "connection ended with an error");
                        return Driven::Ended;
                    }
                    Some(Ok(())) if shutting_down => return Driven::Drained(connection),
                    Some(Ok(())) => return Driven::Ended,
                    None => return Driven::Parked(connection),
                },
                () = watch.changed.notified() => {}
                () = sleep_until(deadline) => {
                    if self.past_deadline() {
                        return Driven::Ended;
                    }
                }
                _ = self.stopping.changed(), if !self.draining => {
                    self.draining = true;
                }
            }
            if self.draining && !shutting_down {
                shutting_down = true;
                graceful_shutdown(&mut connection);
            }
        }
    }

    /// Waits for a connection's first bytes and tells whether they open HTTP/2 (`Some(true)`);
    /// `None` when the connection ends or its deadline passes first. The bytes are left in
    /// `unread` for hyper.
    async fn first_bytes<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        socket: &mut WatchedStream<S>,
    ) -> Option<bool> {
        let mut opening = Vec::new();
        while opening.len() < HTTP2_PREFACE_START.len() && HTTP2_PREFACE_START.starts_with(&opening)
        {
            opening.extend_from_slice(&self.next_bytes(socket).await?);
        }
        socket.unread = Bytes::from(opening);
        Some(socket.unread.starts_with(HTTP2_PREFACE_START))
    }

    /// Waits, holding no buffer of hyper's, for the next bytes of a connection with nothing in
    /// flight; `None` when the client closes, the deadline passes or the server stops first
    /// (then the connection is closed lingering).
    async fn next_bytes<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        socket: &mut WatchedStream<S>,
    ) -> Option<Bytes> {
        if self.draining {
            return None;
        }
        let mut buf = [0u8; FIRST_READ];
        loop {
            let deadline = self.watch.deadline(&self.timeouts);
            tokio::select! {
                read = socket.read(&mut buf) => {
                    let n = read.ok().filter(|&n| n > 0)?;
                    return Some(Bytes::copy_from_slice(&buf[..n]));
                }
                () = sleep_until(deadline) => {
                    if self.past_deadline() {
                        return None;
                    }
                }
                _ = self.stopping.changed() => {
                    self.draining = true;
                    close_lingering(socket).await;
                    return None;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncWriteExt, DuplexStream};

    const BIG: usize = 200_000;
    const STREAMED: usize = 20_000;

    /// Long enough for anything the server is due to do, on any machine.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn app() -> Router {
        Router::new()
            .route("/big", get(|| async { "x".repeat(BIG) }))
            .route("/small", get(|| async { "ok" }))
            .route("/stream", get(|| async { Body::from_stream(chunks()) }))
    }

    /// `STREAMED` bytes in chunks, each after a pause in which the server has nothing to write.
    fn chunks() -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
        futures_util::stream::unfold(0, |sent| async move {
            if sent == STREAMED {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            Some((Ok(Bytes::from(vec![b'y'; 1000])), sent + 1000))
        })
    }

    /// A client over an in-memory pipe that holds only `capacity` bytes each way, so that
    /// nearly every write the server makes waits for the client to read.
    struct Client {
        pipe: DuplexStream,
        received: Vec<u8>,
        stop: watch::Sender<()>,
    }

    fn connect(capacity: usize) -> Client {
        let (pipe, server) = tokio::io::duplex(capacity);
        let (stop, stopping) = watch::channel(());
        let timeouts = Timeouts {
            header: Duration::from_secs(600),
            idle: Duration::from_secs(600),
        };
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        tokio::spawn(serve(server, peer, app(), timeouts, stopping));
        Client {
            pipe,
            received: Vec::new(),
            stop,
        }
    }

    impl Client {
        async fn send(&mut self, bytes: &[u8]) {
            self.pipe.write_all(bytes).await.expect("write");
        }

        /// Reads the next response, a few bytes at a time; its body.
        async fn response(&mut self) -> String {
            tokio::time::timeout(PATIENCE, self.read_response())
                .await
                .expect("no whole response")
        }

        async fn read_response(&mut self) -> String {
            let mut buf = [0u8; 37];
            loop {
                if let Some(end) = self.received.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&self.received[..end]).to_ascii_lowercase();
                    assert!(head.starts_with("http/1.1 200"), "{head}");
                    if head.contains("transfer-encoding: chunked") {
                        if let Some(body) = self.chunked_body(end + 4) {
                            return body;
                        }
                    } else if let Some(body) = self.whole_body(&head, end + 4) {
                        return body;
                    }
                }
                let n = self.pipe.read(&mut buf).await.expect("read");
                assert!(n > 0, "closed after {} bytes", self.received.len());
                self.received.extend_from_slice(&buf[..n]);
            }
        }

        /// The body of `content-length` bytes from `start`, once all of it has arrived.
        fn whole_body(&mut self, head: &str, start: usize) -> Option<String> {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("content-length")
                .parse()
                .expect("a length");
            (self.received.len() >= start + length).then(|| {
                let body = self.received.drain(..start + length).skip(start).collect();
                String::from_utf8(body).expect("UTF-8")
            })
        }

        /// The chunked body from `start`, once its last chunk has arrived.
        fn chunked_body(&mut self, start: usize) -> Option<String> {
            let mut body = Vec::new();
            let mut at = start;
            loop {
                let line_end = at + self.received[at..].windows(2).position(|w| w == b"\r\n")?;
                let size = std::str::from_utf8(&self.received[at..line_end]).expect("a size");
                let size = usize::from_str_radix(size, 16).expect("hex");
                let data = line_end + 2;
                if self.received.len() < data + size + 2 {
                    return None;
                }
                body.extend_from_slice(&self.received[data..data + size]);
                at = data + size + 2;
                if size == 0 {
                    self.received.drain(..at);
                    return Some(String::from_utf8(body).expect("UTF-8"));
                }
            }
        }
    }

    fn request(path: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: testserver\r\n\r\n").into_bytes()
    }

    #[tokio::test]
    async fn every_response_arrives_whole_through_a_narrow_pipe_across_parked_requests() {
        let mut client = connect(64);
        for _ in 0..3 {
            client.send(&request("/big")).await;
            assert_eq!(client.response().await.len(), BIG);
            client.send(&request("/stream")).await;
            assert_eq!(client.response().await.len(), STREAMED);
            client.send(&request("/small")).await;
            assert_eq!(client.response().await, "ok");
        }
    }

    #[tokio::test]
    async fn a_body_streamed_with_pauses_arrives_whole_through_a_wide_pipe() {
        let mut client = connect(1024 * 1024);
        for _ in 0..3 {
            client.send(&request("/stream")).await;
            assert_eq!(client.response().await.len(), STREAMED);
            client.send(&request("/small")).await;
            assert_eq!(client.response().await, "ok");
        }
    }

    #[tokio::test]
    async fn pipelined_requests_are_answered_in_order() {
        let mut client = connect(64 * 1024);
        let mut requests = request("/small");
        requests.extend(request("/big"));
        requests.extend(request("/small"));
        client.send(&requests).await;
        assert_eq!(client.response().await, "ok");
        assert_eq!(client.response().await.len(), BIG);
        assert_eq!(client.response().await, "ok");
    }

    #[tokio::test]
    async fn a_request_with_a_body_is_followed_by_the_next_request() {
        let mut client = connect(1024);
        let mut requests =
            b"GET /small HTTP/1.1\r\nHost: testserver\r\nContent-Length: 10\r\n\r\n0123456789"
                .to_vec();
        requests.extend(request("/big"));
        client.send(&requests).await;
        assert_eq!(client.response().await, "ok");
        assert_eq!(client.response().await.len(), BIG);
    }

    #[tokio::test]
    async fn a_request_head_split_across_reads_is_served() {
        let mut client = connect(1024);
        client.send(&request("/small")).await;
        assert_eq!(client.response().await, "ok");
        for part in request("/small").chunks(3) {
            client.send(part).await;
            tokio::task::yield_now().await;
        }
        assert_eq!(client.response().await, "ok");
    }

    #[tokio::test]
    async fn http2_with_prior_knowledge_is_answered_with_settings() {
        let mut client = connect(1024);
        for part in [&b"PR"[..], b"I * HTTP/2.0\r\n\r\nSM\r\n\r\n"] {
            client.send(part).await;
            tokio::task::yield_now().await;
        }
        let mut frame_head = [0u8; 9];
        client
            .pipe
            .read_exact(&mut frame_head)
            .await
            .expect("a frame");
        // The server's preface is a SETTINGS frame (type 4) on stream 0.
        assert_eq!(frame_head[3], 4);
        assert_eq!(&frame_head[5..], &[0, 0, 0, 0]);
    }

    /// Whether the server still reads what the client sends once the client has read the end
    /// of the server's stream, which must come with nothing before it: closed instead, a real
    /// socket would answer with a reset.
    async fn still_read_after_the_end(client: &mut Client) -> bool {
        let mut rest = Vec::new();
        client.pipe.read_to_end(&mut rest).await.expect("read");
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
        client.pipe.write_all(&request("/small")).await.is_ok()
    }

    #[tokio::test]
    async fn a_parked_connection_stopped_ends_then_reads_on_until_the_client_closes() {
        let mut client = connect(1024);
        client.send(&request("/small")).await;
        assert_eq!(client.response().await, "ok");
        client.stop.send(()).expect("the connection listens");
        assert!(still_read_after_the_end(&mut client).await);
    }

    #[tokio::test]
    async fn a_connection_stopped_mid_response_answers_it_then_reads_on_until_the_client_closes() {
        let mut client = connect(1024);
        client.send(&request("/stream")).await;
        let mut first = [0u8; 1];
        client
            .pipe
            .read_exact(&mut first)
            .await
            .expect("the answer begins");
        client.received.push(first[0]);
        client.stop.send(()).expect("the connection listens");
        assert_eq!(client.response().await, "y".repeat(STREAMED));
        assert!(still_read_after_the_end(&mut client).await);
    }
}
