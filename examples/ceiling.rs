//! The machine's ceiling for the benchmark: a bare axum handler returning a fixed 5 KB JSON
//! body, with no authentication, database or throttling.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_owned());
    let body: &'static str =
        Box::leak(format!("{{\"results\":\"{}\"}}", "x".repeat(5 * 1024 - 15)).into_boxed_str());
    let app =
        Router::new().route(
            "/",
            get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await
}
