//! The server over real sockets: header and idle deadlines, connection caps, and a shutdown that
//! ends whatever clients hold open. Each deadline here is short and each bound the test waits
//! for is long, so a slow machine cannot make a check fail.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use haresign::api::app::{AppState, Settings};
use haresign::db::Db;
use haresign::server::{Limits, Timeouts, serve_on};

crate::trials! {
    current_thread: [
        a_connection_that_sends_nothing_is_closed_at_the_header_deadline,
        an_unfinished_request_head_is_closed_at_the_header_deadline,
        a_trickled_request_head_is_closed_although_bytes_keep_coming,
        an_idle_keep_alive_connection_is_closed_at_the_idle_deadline,
        a_keep_alive_connection_waiting_for_its_next_request_is_not_held_to_the_header_deadline,
        one_peer_cannot_hold_more_than_its_share_of_connections,
        the_server_holds_at_most_its_connection_cap,
        shutdown_ends_connections_that_hold_an_unfinished_request_head,
    ],
}

/// Long enough for anything the server is due to do, on any machine.
const PATIENCE: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(limits: Limits) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&url).await.expect("sqlite");
        haresign::migrate(&db).await.expect("migrate");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::new(db, Settings::default());
        let task = tokio::spawn(serve_on(listener, None, state, limits, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connect")
    }

    /// A connection from another loopback address, a different peer to the server.
    async fn connect_from(&self, local: [u8; 4]) -> TcpStream {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((local, 0)))
            .expect("bind local");
        socket.connect(self.addr).await.expect("connect")
    }

    /// Stops the server and waits for it to return.
    async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("the server did not stop")
            .expect("server task")
            .expect("serve");
    }
}

fn limits(header: Duration, idle: Duration) -> Limits {
    Limits {
        timeouts: Timeouts { header, idle },
        ..Limits::default()
    }
}

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(600);

/// Reads until the server closes the connection; fails if it is still open after `PATIENCE`.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection is still open after {PATIENCE:?}"
    );
    received
}

/// Sends `GET /healthz` and reads one whole response (status line and `Content-Length` body).
async fn health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: testserver\r\n\r\n")
        .await
        .expect("write");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let complete = |r: &[u8]| {
        let text = String::from_utf8_lossy(r);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        });
        length.is_some_and(|n| body.len() >= n)
    };
    tokio::time::timeout(PATIENCE, async {
        while !complete(&received) {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before the response was complete");
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("no response");
    String::from_utf8(received).expect("UTF-8 response")
}

async fn a_connection_that_sends_nothing_is_closed_at_the_header_deadline() {
    let server = Server::start(limits(SHORT, LONG)).await;
    let mut stream = server.connect().await;
    assert!(read_until_closed(&mut stream).await.is_empty());
    server.stop().await;
}

async fn an_unfinished_request_head_is_closed_at_the_header_deadline() {
    let server = Server::start(limits(SHORT, LONG)).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: testserver\r\n")
        .await
        .expect("write");
    assert!(read_until_closed(&mut stream).await.is_empty());
    server.stop().await;
}

async fn a_trickled_request_head_is_closed_although_bytes_keep_coming() {
    // Only the header deadline can close this connection: it is never idle.
    let server = Server::start(limits(SHORT, LONG)).await;
    let stream = server.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        writer
            .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            .await?;
        for _ in 0..400 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.write_all(b"a").await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "a trickling client kept its connection");
    assert!(buf.is_empty());
    trickle.abort();
    server.stop().await;
}

async fn an_idle_keep_alive_connection_is_closed_at_the_idle_deadline() {
    let server = Server::start(limits(LONG, SHORT)).await;
    let mut stream = server.connect().await;
    assert!(health(&mut stream).await.starts_with("HTTP/1.1 200"));
    assert!(read_until_closed(&mut stream).await.is_empty());
    server.stop().await;
}

async fn a_keep_alive_connection_waiting_for_its_next_request_is_not_held_to_the_header_deadline() {
    let server = Server::start(limits(SHORT, LONG)).await;
    let mut stream = server.connect().await;
    assert!(health(&mut stream).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(SHORT * 4).await;
    assert!(health(&mut stream).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
}

async fn one_peer_cannot_hold_more_than_its_share_of_connections() {
    let server = Server::start(Limits {
        max_connections_per_peer: 3,
        ..limits(LONG, LONG)
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(server.connect_from([127, 0, 0, 1]).await);
    }
    // The server admits in order of acceptance: make sure the three are in before the fourth.
    for stream in &mut held {
        assert!(health(stream).await.starts_with("HTTP/1.1 200"));
    }
    let mut refused = server.connect_from([127, 0, 0, 1]).await;
    assert!(read_until_closed(&mut refused).await.is_empty());
    let mut other = server.connect_from([127, 0, 0, 2]).await;
    assert!(health(&mut other).await.starts_with("HTTP/1.1 200"));
    // A closed connection frees its place.
    drop(held.pop());
    let admitted = tokio::time::timeout(PATIENCE, async {
        loop {
            let mut stream = server.connect_from([127, 0, 0, 1]).await;
            let _ = stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: testserver\r\n\r\n")
                .await;
            let mut buf = [0u8; 64];
            if matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        admitted.is_ok(),
        "the freed place was not given to a new connection"
    );
    server.stop().await;
}

async fn the_server_holds_at_most_its_connection_cap() {
    let server = Server::start(Limits {
        max_connections: 2,
        max_connections_per_peer: 0,
        ..limits(LONG, LONG)
    })
    .await;
    let mut held = [server.connect().await, server.connect().await];
    for stream in &mut held {
        assert!(health(stream).await.starts_with("HTTP/1.1 200"));
    }
    let mut refused = server.connect_from([127, 0, 0, 3]).await;
    assert!(read_until_closed(&mut refused).await.is_empty());
    server.stop().await;
}

async fn shutdown_ends_connections_that_hold_an_unfinished_request_head() {
    let server = Server::start(Limits {
        shutdown_timeout: SHORT,
        ..limits(LONG, LONG)
    })
    .await;
    let mut stuck = server.connect().await;
    stuck
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: testserver\r\n")
        .await
        .expect("write");
    let mut idle = server.connect().await;
    assert!(health(&mut idle).await.starts_with("HTTP/1.1 200"));
    server.stop().await;
    read_until_closed(&mut stuck).await;
    read_until_closed(&mut idle).await;
}
