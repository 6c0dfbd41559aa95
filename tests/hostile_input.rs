//! Requests built to hurt the server (huge searches, NUL bytes, forged `X-Forwarded-For`) get
//! DRF's error answers and leave no lasting cost behind, on every backend.

mod common;

use serde_json::{Value, json};

use common::{TestApp, TestResponse};

async fn loaded(app: &TestApp) {
    app.import("epraccur", &["api/epraccur.csv"])
        .await
        .expect("epraccur");
    app.import("epcn", &["api/epcncorepartnerdetails.csv"])
        .await
        .expect("epcn");
}

fn status_and_body(response: &TestResponse) -> (u16, Value) {
    (response.status.as_u16(), response.json())
}

/// `n` copies of `term` joined by URL-encoded commas.
fn comma_terms(term: &str, n: usize) -> String {
    vec![term; n].join("%2C")
}

#[tokio::test]
async fn search_is_bounded_in_length_and_terms() {
    each_backend!(|app| {
        loaded(&app).await;
        let search = |value: String| {
            let app = &app;
            async move { app.get(&format!("/api/v1/practices/?search={value}")).await }
        };

        // Once enough to overflow a worker's stack while the SQL was built.
        let huge = search(comma_terms("a", 14_500)).await;
        assert_eq!(
            status_and_body(&huge),
            (
                400,
                json!(["Ensure this value has at most 256 characters (it has 28999)."])
            ),
            "{:?}",
            app.backend
        );

        let sixteen = search(comma_terms("elm", 16)).await;
        assert_eq!(sixteen.status, 200, "{:?}: {}", app.backend, sixteen.text());
        assert_eq!(sixteen.json()["count"], 5, "{:?}", app.backend);

        let seventeen = search(comma_terms("elm", 17)).await;
        assert_eq!(
            status_and_body(&seventeen),
            (
                400,
                json!(["Ensure this search has at most 16 terms (it has 17)."])
            ),
            "{:?}",
            app.backend
        );

        let longest = search("e".repeat(256)).await;
        assert_eq!(longest.status, 200, "{:?}", app.backend);
        assert_eq!(longest.json()["count"], 0);
        let too_long = search("e".repeat(257)).await;
        assert_eq!(
            status_and_body(&too_long),
            (
                400,
                json!(["Ensure this value has at most 256 characters (it has 257)."])
            ),
            "{:?}",
            app.backend
        );
        // Python's len: characters, not bytes.
        let accented = search("%C3%A9".repeat(256)).await;
        assert_eq!(accented.status, 200, "{:?}", app.backend);

        // The NUL check comes first, as before the bounds existed.
        let null = search(format!("%00{}", "e".repeat(300))).await;
        assert_eq!(
            status_and_body(&null),
            (400, json!(["Null characters are not allowed."]))
        );
    });
}
