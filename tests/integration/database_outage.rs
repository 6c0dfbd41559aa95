//! PostgreSQL going away, freezing and coming back while the API serves: prompt 503s with DRF's
//! body, a health check that answers within two seconds, runaway statements stopped, and
//! recovery without a restart. The database is reached through a proxy this test controls.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::common;
use haresign::api::app::{AppState, Settings, router};
use haresign::db::{ConnectOptions, Db};

crate::trials! {
    postgres: [
        an_outage_gets_prompt_503s_and_the_api_recovers_without_a_restart,
        a_statement_past_its_time_limit_is_cancelled_with_a_503,
    ],
}

const UNAVAILABLE: &str = r#"{"detail":"Service temporarily unavailable, try again later."}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    /// Connections stay open but nothing passes: a frozen server or a dead route.
    Freeze,
    /// Open connections are cut and new ones closed at once: a server that is down.
    Refuse,
}

/// A TCP proxy in front of PostgreSQL.
struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watching) = watch::channel(Mode::Forward);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *watching.borrow() == Mode::Refuse {
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, watching.clone()));
            }
        });
        Proxy { addr, mode }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn relay(client: TcpStream, server: TcpStream, mut mode: watch::Receiver<Mode>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (mut up, mut down) = ([0u8; 16384], [0u8; 16384]);
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Refuse => return,
            Mode::Freeze => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
            Mode::Forward => {
                tokio::select! {
                    read = client_read.read(&mut up) => match read {
                        Ok(n) if n > 0 => if server_write.write_all(&up[..n]).await.is_err() { return },
                        _ => return,
                    },
                    read = server_read.read(&mut down) => match read {
                        Ok(n) if n > 0 => if client_write.write_all(&down[..n]).await.is_err() { return },
                        _ => return,
                    },
                    _ = mode.changed() => {}
                }
            }
        }
    }
}

/// An API node whose database connections pass through a proxy, with short limits.
struct Node {
    proxy: Proxy,
    router: axum::Router,
    key: String,
}

impl Node {
    async fn start(
        app: &common::TestApp,
        request_timeout: Duration,
        query_timeout: Duration,
    ) -> Node {
        let url = std::env::var(common::PG_ENV).unwrap();
        let upstream = tokio::net::lookup_host(postgres_address(&url))
            .await
            .unwrap()
            .next()
            .unwrap();
        let proxy = Proxy::start(upstream).await;
        let proxied = url.replacen(&postgres_address(&url), &proxy.addr.to_string(), 1);
        let options = ConnectOptions {
            acquire_timeout: Duration::from_millis(500),
            query_timeout: Some(query_timeout),
            schema: app.schema().map(str::to_owned),
            ..ConnectOptions::default()
        };
        let db = Db::connect_with(&proxied, &options).await.unwrap();
        let settings = Settings {
            request_timeout,
            cache_check_interval: Duration::ZERO,
            ..Settings::default()
        };
        Node {
            proxy,
            router: router(Arc::new(AppState::new(db, settings))),
            key: app.key.clone(),
        }
    }

    /// Status, body and how long the answer took.
    async fn get(&self, uri: &str) -> (u16, String, Duration) {
        let request = Request::builder()
            .uri(uri)
            .header("host", "testserver")
            .header("authorization", format!("Bearer {}", self.key))
            .body(Body::empty())
            .unwrap();
        let started = Instant::now();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            String::from_utf8_lossy(&body).into_owned(),
            started.elapsed(),
        )
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn postgres_address(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split(['/', '?']).next().unwrap();
    if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// Asks until a request succeeds; the time it took.
async fn recovers(node: &Node, uri: &str) -> Duration {
    let started = Instant::now();
    loop {
        let (status, _, _) = node.get(uri).await;
        if status == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no recovery: still {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Longest either test may take: a hang is a failure, not a stuck run.
const TEST_LIMIT: Duration = Duration::from_secs(120);

async fn an_outage_gets_prompt_503s_and_the_api_recovers_without_a_restart() {
    tokio::time::timeout(TEST_LIMIT, outage_and_recovery())
        .await
        .expect("the outage test hung");
}

async fn outage_and_recovery() {
    let app = common::TestApp::new(common::Backend::Postgres).await;
    let node = Node::start(&app, Duration::from_secs(2), Duration::from_secs(2)).await;
    let (status, _, _) = node.get("/api/v1/practices/?page_size=1").await;
    assert_eq!(status, 200);

    node.proxy.set(Mode::Refuse);
    for page_size in 2..5 {
        let (status, body, took) = node
            .get(&format!("/api/v1/practices/?page_size={page_size}"))
            .await;
        assert_eq!((status, body.as_str()), (503, UNAVAILABLE));
        assert!(took < Duration::from_secs(5), "a 503 took {took:?}");
    }
    let (status, body, took) = node.get("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(took <= Duration::from_secs(2), "/healthz took {took:?}");

    node.proxy.set(Mode::Forward);
    recovers(&node, "/api/v1/practices/?page_size=5").await;

    // A database that stops answering mid-conversation: the request's time limit ends it.
    node.proxy.set(Mode::Freeze);
    let (status, body, took) = node.get("/api/v1/practices/?page_size=6").await;
    assert_eq!((status, body.as_str()), (503, UNAVAILABLE));
    assert!(
        took < Duration::from_secs(8),
        "a frozen query took {took:?}"
    );
    let (status, _, took) = node.get("/healthz").await;
    assert_eq!(status, 503);
    assert!(took <= Duration::from_secs(2), "/healthz took {took:?}");

    node.proxy.set(Mode::Forward);
    recovers(&node, "/api/v1/practices/?page_size=7").await;
    app.finish().await;
}

async fn a_statement_past_its_time_limit_is_cancelled_with_a_503() {
    tokio::time::timeout(TEST_LIMIT, runaway_statement())
        .await
        .expect("the statement test hung");
}

async fn runaway_statement() {
    let app = common::TestApp::new(common::Backend::Postgres).await;
    // The statement limit is far shorter than the request's, so only it can end the wait.
    let node = Node::start(&app, Duration::from_secs(60), Duration::from_millis(300)).await;
    let mut lock = app.db.begin().await.unwrap();
    lock.execute_raw("LOCK TABLE practices IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let (status, body, took) = node.get("/api/v1/practices/?page_size=2").await;
    assert_eq!((status, body.as_str()), (503, UNAVAILABLE));
    assert!(took < Duration::from_secs(30), "the statement ran {took:?}");
    lock.rollback().await.unwrap();
    recovers(&node, "/api/v1/practices/?page_size=3").await;
    app.finish().await;
}
