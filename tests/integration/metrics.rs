//! `/metrics`: what the server has answered, in the Prometheus text format, on its own listener.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use haresign::api::app::{AppState, Settings};
use haresign::api::metrics::metrics_router;
use haresign::db::Db;
use haresign::server::{Limits, serve_on};

use crate::common::{Backend, TestApp};

crate::trials! {
    each_backend: [
        metrics_count_requests_by_route_and_status_and_give_each_datasets_last_import,
    ],
    current_thread: [
        metrics_are_served_on_their_own_listener_only,
    ],
}

async fn scrape(app: &TestApp) -> String {
    let response = metrics_router(app.state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).expect("UTF-8")
}

fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics_count_requests_by_route_and_status_and_give_each_datasets_last_import(
    backend: Backend,
) {
    with_app!(backend, |app| {
        let before = scrape(&app).await;
        assert_eq!(
            value(
                &before,
                "haresign_dataset_last_import_rows{dataset=\"pcns\"}"
            ),
            None,
            "nothing imported yet:\n{before}"
        );
        app.import_ods().await;
        for _ in 0..3 {
            assert_eq!(app.get("/api/v1/pcns/").await.status, 200);
        }
        assert_eq!(app.get("/api/v1/pcns/?page=99").await.status, 404);
        assert_eq!(app.get_anonymous("/api/v1/pcns/", &[]).await.status, 401);
        assert_eq!(app.get("/wp-login.php").await.status, 404);
        assert_eq!(app.get("/api/v1/").await.status, 200);

        let metrics = scrape(&app).await;
        let series = |s: &str| value(&metrics, s).unwrap_or_else(|| panic!("{s} in\n{metrics}"));
        assert_eq!(
            series("haresign_http_requests_total{route=\"/api/v1/pcns/\",status=\"200\"}"),
            3.0
        );
        assert_eq!(
            series("haresign_http_requests_total{route=\"/api/v1/pcns/\",status=\"404\"}"),
            1.0
        );
        assert_eq!(
            series("haresign_http_requests_total{route=\"/api/v1/pcns/\",status=\"401\"}"),
            1.0
        );
        assert_eq!(
            series("haresign_http_requests_total{route=\"unmatched\",status=\"404\"}"),
            1.0
        );
        assert_eq!(
            series("haresign_http_requests_total{route=\"/api/v1/\",status=\"200\"}"),
            1.0
        );
        assert_eq!(
            series("haresign_http_request_duration_seconds_count{route=\"/api/v1/pcns/\"}"),
            5.0
        );
        assert_eq!(
            series(
                "haresign_http_request_duration_seconds_bucket{route=\"/api/v1/pcns/\",le=\"+Inf\"}"
            ),
            5.0
        );
        // The first page is computed once, then served from the cache; the bad page is a miss.
        assert_eq!(
            series("haresign_response_cache_requests_total{result=\"hit\"}"),
            2.0
        );
        assert_eq!(
            series("haresign_response_cache_requests_total{result=\"miss\"}"),
            2.0
        );
        // Four keyed requests to the catalogue and one to the index.
        assert_eq!(
            series("haresign_throttle_decisions_total{decision=\"allowed\"}"),
            5.0
        );
        assert_eq!(
            series("haresign_throttle_decisions_total{decision=\"throttled\"}"),
            0.0
        );
        assert!(series("haresign_database_errors_total") >= 0.0);
        let pcns = series("haresign_dataset_last_import_rows{dataset=\"pcns\"}");
        assert!(pcns > 0.0, "{metrics}");
        let finished = series("haresign_dataset_last_import_timestamp_seconds{dataset=\"pcns\"}");
        let now = chrono::Utc::now().timestamp() as f64;
        assert!(
            (now - 3600.0..=now + 1.0).contains(&finished),
            "{finished} vs {now}"
        );
        assert_eq!(
            value(
                &metrics,
                "haresign_dataset_last_import_rows{dataset=\"qof\"}"
            ),
            None,
            "a dataset never imported has no series"
        );
    })
}

/// The whole response to a raw HTTP/1.0 GET.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

async fn metrics_are_served_on_their_own_listener_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("metrics.db").display());
    let db = Db::connect(&url).await.expect("sqlite");
    haresign::migrate(&db).await.expect("migrate");
    let api = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (api_addr, metrics_addr) = (api.local_addr().unwrap(), metrics.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(db, Settings::default());
    let server = tokio::spawn(serve_on(
        api,
        Some(metrics),
        state,
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    ));

    assert!(get(api_addr, "/healthz").await.starts_with("HTTP/1.0 200"));
    let exposed = get(metrics_addr, "/metrics").await;
    assert!(exposed.starts_with("HTTP/1.0 200"), "{exposed}");
    assert!(
        exposed.contains("haresign_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{exposed}"
    );
    let on_the_api = get(api_addr, "/metrics").await;
    assert!(on_the_api.starts_with("HTTP/1.0 404"), "{on_the_api}");

    let _ = stop.send(());
    server.await.expect("server task").expect("serve");
}
