//! Test harness: the real router over a fresh database per test, on SQLite, or on PostgreSQL
//! when `HARESIGN_TEST_DATABASE_URL` is set.

pub mod contract;
pub mod harness;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use haresign::api::app::{AppState, Settings, router};
use haresign::catalogue;
use haresign::db::Db;
use haresign::import::run::{self, Outcome};
use haresign::keys;
use haresign::source::error::ImportError;
use haresign::throttle::{Clock, MemoryStore, ThrottleStore};

pub const PG_ENV: &str = "HARESIGN_TEST_DATABASE_URL";
pub const REDIS_ENV: &str = "HARESIGN_TEST_REDIS_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh database with no tables: a SQLite file in a temporary directory, or a PostgreSQL
/// schema of its own, which `search_path` makes the connection's current schema.
pub struct TestDb {
    pub db: Db,
    pub schema: Option<TestSchema>,
    pub dir: tempfile::TempDir,
}

/// A test's PostgreSQL schema, dropped with all it holds when the test is done with it, whether
/// the test finished or failed: a failed assertion unwinds through this drop. It drops the
/// schema over a connection and a runtime of its own, on a thread of its own, since the test's
/// runtime may be the one unwinding.
pub struct TestSchema {
    url: String,
    pub name: String,
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // A failed test's connections may still hold locks in the schema for a moment, until
        // their sockets close: waited for, but not for ever.
        let statement = format!(
            "SET LOCAL lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
            self.name
        );
        run_apart(&self.url, statement, &format!("test schema {}", self.name));
    }
}

/// A role a test creates, which lives in the whole cluster: dropped with whatever it was
/// granted, whether the test finished or failed.
pub struct TestRole {
    url: String,
    pub name: String,
}

impl TestRole {
    pub async fn create(name: &str) -> TestRole {
        let url = std::env::var(PG_ENV).expect("postgres url");
        let admin = Db::connect(&url).await.expect("postgres");
        committed(&admin, &format!("CREATE ROLE {name} NOLOGIN")).await;
        admin.close().await;
        TestRole {
            url,
            name: name.to_owned(),
        }
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let statement = format!("DROP OWNED BY {0}; DROP ROLE {0}", self.name);
        run_apart(&self.url, statement, &format!("test role {}", self.name));
    }
}

/// Runs `sql` in a transaction of its own, which must commit.
async fn committed(db: &Db, sql: &str) {
    let mut tx = db.begin().await.expect("begin");
    tx.execute_raw(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.commit().await.expect("commit");
}

/// Runs `statement` through a connection and a runtime of its own, on a thread of its own,
/// since the test's runtime may be the one unwinding; reports a failure on stderr, as a panic
/// during a failed test's unwinding would abort the whole run.
fn run_apart(url: &str, statement: String, what: &str) {
    let url = url.to_owned();
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let admin = Db::connect(&url).await.map_err(|e| e.to_string())?;
            let mut tx = admin.begin().await.map_err(|e| e.to_string())?;
            tx.execute_raw(&statement)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            admin.close().await;
            Ok::<(), String>(())
        })
    })
    .join();
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("{what} was not dropped: {e}"),
        Err(_) => eprintln!("{what} was not dropped"),
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, schema) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                (Db::connect(&url).await.expect("sqlite"), None)
            }
            Backend::Postgres => {
                let url = std::env::var(PG_ENV).expect("postgres url");
                let schema = format!(
                    "t_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    chrono::Utc::now().timestamp_micros()
                );
                let admin = Db::connect(&url).await.expect("postgres");
                // Installed once, outside the per-test schemas, which are dropped with all
                // they contain; a concurrent test may have just installed it.
                let mut tx = admin.begin().await.expect("begin");
                if tx
                    .execute_raw("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                    .await
                    .is_ok()
                {
                    tx.commit().await.expect("commit");
                }
                committed(&admin, &format!("CREATE SCHEMA {schema}")).await;
                admin.close().await;
                (
                    Db::connect_in_schema(&url, Some(&schema))
                        .await
                        .expect("postgres"),
                    Some(TestSchema { url, name: schema }),
                )
            }
        };
        TestDb { db, schema, dir }
    }

    /// Closes the database; the schema goes with `self`.
    pub async fn finish(self) {
        self.db.close().await;
    }
}

pub struct TestApp {
    pub backend: Backend,
    pub db: Db,
    pub state: Arc<AppState>,
    pub router: Router,
    pub key: String,
    _dir: tempfile::TempDir,
    schema: Option<TestSchema>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }
}

/// The `results` of a DRF page.
pub fn results(body: &Value) -> &Vec<Value> {
    body["results"].as_array().expect("results")
}

/// The `(field, field, …)` values of every row of a page, joined with `|`.
pub fn keys(body: &Value, fields: &[&str]) -> Vec<String> {
    results(body)
        .iter()
        .map(|row| {
            fields
                .iter()
                .map(|f| match &row[*f] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_settings(backend, Settings::default()).await
    }

    /// An app on a clock that stands still, so that no throttle window can pass during a test,
    /// however slow the machine.
    pub async fn with_settings(backend: Backend, settings: Settings) -> TestApp {
        Self::build(
            backend,
            settings,
            Arc::new(MemoryStore::new()),
            Clock::manual(1000.0),
        )
        .await
    }

    /// An app with its own throttle store and clock.
    /// Responses are revalidated against the imports table on every request, so tests that
    /// import between requests see the new data at once; the production default is a second.
    pub async fn build(
        backend: Backend,
        settings: Settings,
        store: Arc<dyn ThrottleStore>,
        clock: Clock,
    ) -> TestApp {
        let settings = Settings {
            cache_check_interval: std::time::Duration::ZERO,
            ..settings
        };
        let TestDb {
            db, schema, dir, ..
        } = TestDb::new(backend).await;
        haresign::migrate(&db).await.expect("migrate");
        let key = keys::create(&db, &keys::NewKey::named("test"))
            .await
            .expect("key");
        let state = Arc::new(AppState::with_throttle(db.clone(), settings, store, clock));
        let router = router(state.clone());
        TestApp {
            backend,
            db,
            state,
            router,
            key,
            _dir: dir,
            schema,
        }
    }

    pub async fn import(&self, source: &str, files: &[&str]) -> Result<Outcome, ImportError> {
        self.import_with_options(source, files, &[]).await
    }

    /// The ODS practice and PCN fixtures, from which the other datasets take their geography.
    pub async fn import_ods(&self) {
        self.import("epraccur", &["api/epraccur.csv"])
            .await
            .expect("epraccur");
        self.import("epcn", &["api/epcncorepartnerdetails.csv"])
            .await
            .expect("epcn");
    }

    /// The registrations practice-to-PCN map and, with `list_sizes`, three months of list sizes
    /// (March to May 2025).
    pub async fn import_registrations(&self, list_sizes: bool) {
        let mut files = vec!["api/gp-reg-pat-prac-map.csv"];
        if list_sizes {
            files.extend([
                "api/gp-reg-pat-prac-quin-age-2025-03.csv",
                "api/gp-reg-pat-prac-quin-age-2025-04.csv",
                "api/gp-reg-pat-prac-quin-age-2025-05.csv",
            ]);
        }
        self.import("registrations", &files)
            .await
            .expect("registrations");
    }

    /// `import` with `--option name=value`s.
    pub async fn import_with_options(
        &self,
        source: &str,
        files: &[&str],
        options: &[(&str, &str)],
    ) -> Result<Outcome, ImportError> {
        let source = catalogue::source(source).expect("known source");
        let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
        let options: Vec<(String, String)> = options
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        run::import_with_options(&self.db, source, &paths, &options, false).await
    }

    /// The JSON body of a GET that must succeed.
    pub async fn get_ok(&self, uri: &str) -> Value {
        let response = self.get(uri).await;
        assert_eq!(response.status, 200, "{uri}: {}", response.text());
        response.json()
    }

    pub async fn import_paths(
        &self,
        source: &str,
        paths: &[PathBuf],
    ) -> Result<Outcome, ImportError> {
        let source = catalogue::source(source).expect("known source");
        run::import(&self.db, source, paths, false).await
    }

    /// Sends a request as-is. A GET of a catalogue endpoint must answer as the schema says.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        let response = TestResponse {
            status,
            headers,
            body,
        };
        if method == Method::GET {
            contract::check(
                &path,
                response.status.as_u16(),
                response.header("content-type"),
                &response.body,
            );
        }
        response
    }

    /// A second API node over the same database and clock, with its own throttle store.
    pub fn another_node(&self, store: Arc<dyn ThrottleStore>) -> Router {
        router(Arc::new(AppState::with_throttle(
            self.db.clone(),
            self.state.settings.clone(),
            store,
            self.state.clock.clone(),
        )))
    }

    /// GET with another key.
    pub async fn get_with_key(&self, uri: &str, key: &str) -> TestResponse {
        let request = Request::builder()
            .uri(uri)
            .header("host", "testserver")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    /// GET with the test key and `Host: testserver`.
    pub async fn get(&self, uri: &str) -> TestResponse {
        self.request(Method::GET, uri, &[]).await
    }

    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "testserver")
            .header("authorization", format!("Bearer {}", self.key));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(Body::empty()).expect("request"))
            .await
    }

    /// GET without credentials.
    pub async fn get_anonymous(&self, uri: &str, headers: &[(&str, &[u8])]) -> TestResponse {
        let mut builder = Request::builder().uri(uri).header("host", "testserver");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(Body::empty()).expect("request"))
            .await
    }

    /// The PostgreSQL schema this test works in.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_ref().map(|schema| schema.name.as_str())
    }

    /// Closes the database; the schema goes with `self`.
    pub async fn finish(self) {
        self.db.close().await;
    }
}

/// Runs `body` with a fresh app on `backend`, then drops the app's database.
#[macro_export]
macro_rules! with_app {
    ($backend:expr, |$app:ident| $body:block) => {{
        let $app = $crate::common::TestApp::new($backend).await;
        $body
        $app.finish().await;
    }};
}
