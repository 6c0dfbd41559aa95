//! The hostile corpus (`tests/fixtures/hostile/corpus.txt`, written by `make_corpus.py`):
//! over a thousand raw requests against every endpoint, replayed over real sockets to a server
//! with data. None may get a 5xx, kill the server or go unanswered; every 4xx is DRF's JSON
//! body (YAML from the schema view, which renders errors as it renders the document), one of
//! Django's HTML pages (400 for a disallowed host, 404 outside the API, 405 on the docs pages),
//! or the HTTP library's bare 400, 413, 414 or 431 for requests that are not valid HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Backend, TestDb, fixture};
use haresign::api::app::{AppState, Settings};
use haresign::catalogue;
use haresign::import::run;
use haresign::keys::{self, NewKey};
use haresign::server::{Limits, serve_on};

crate::trials! {
    each_backend: [
        no_request_of_the_corpus_gets_a_server_error_or_an_undrf_body,
    ],
}

/// Long enough for anything the server is due to do, on any machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A corpus line as bytes: placeholders expanded, then escapes decoded.
fn expand(line: &str, key: &str) -> Vec<u8> {
    let off = {
        let last = if key.ends_with('x') { 'y' } else { 'x' };
        format!("{}{last}", &key[..key.len() - 1])
    };
    let mut text = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        text.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').expect("a closed placeholder");
        let name = &rest[start + 1..end];
        match name {
            "KEY" => text.push_str(key),
            "KEY_OFF" => text.push_str(&off),
            _ => {
                let (count, repeated) = name
                    .strip_prefix("REPEAT:")
                    .and_then(|r| r.split_once(':'))
                    .unwrap_or_else(|| panic!("unknown placeholder {name}"));
                text.push_str(&repeated.repeat(count.parse().expect("a count")));
            }
        }
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    let mut bytes = Vec::with_capacity(text.len());
    let mut chars = text.as_bytes().iter().copied();
    while let Some(b) = chars.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match chars.next() {
            Some(b'r') => bytes.push(b'\r'),
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(b'\\') => bytes.push(b'\\'),
            Some(b'x') => {
                let hex = [chars.next().unwrap(), chars.next().unwrap()];
                let hex = std::str::from_utf8(&hex).unwrap();
                bytes.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            }
            other => panic!("unknown escape \\{other:?}"),
        }
    }
    bytes
}

/// Sends `request`, shuts the sending side (as `nc -q` and some proxies do) and reads until the
/// server closes: a half-closed client still gets its answer.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading a large body: what it read is enough.
    let _ = stream.write_all(request).await;
    let _ = stream.shutdown().await;
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 16384];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server answers, or closes, in time");
    received
}

/// The responses in `bytes`: status, content type and body each.
fn responses(bytes: &[u8]) -> Vec<(u16, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(rest.len() - end - 4);
        let body_end = (end + 4 + length).min(rest.len());
        out.push((
            status,
            header("content-type").unwrap_or_default(),
            rest[end + 4..body_end].to_vec(),
        ));
        rest = &rest[body_end..];
    }
    out
}

/// Why a response breaks the rules, if it does.
fn fault(status: u16, content_type: &str, body: &[u8]) -> Option<String> {
    if status == 0 || status >= 500 {
        return Some(format!("status {status}"));
    }
    if status < 400 {
        return None;
    }
    if content_type.starts_with("application/json") {
        return match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) if !map.is_empty() => None,
            Ok(serde_json::Value::Array(items)) if !items.is_empty() => None,
            _ => Some(format!("a JSON {status} that is not DRF's shape")),
        };
    }
    // Django's own pages: 400 for a disallowed host, 404 outside the API, 405 on the docs.
    if content_type.starts_with("text/html") && matches!(status, 400 | 404 | 405) {
        return None;
    }
    // The schema view renders its errors as it renders the document, as DRF does.
    if content_type.starts_with("application/vnd.oai.openapi")
        && String::from_utf8_lossy(body).starts_with("detail:")
    {
        return None;
    }
    if content_type.is_empty() && matches!(status, 400 | 413 | 414 | 431) && body.is_empty() {
        return None;
    }
    Some(format!("{status} with {content_type:?}"))
}

async fn no_request_of_the_corpus_gets_a_server_error_or_an_undrf_body(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.db.clone();
    haresign::migrate(&db).await.expect("migrate");
    for (source, file) in [
        ("epraccur", "api/epraccur.csv"),
        ("epcn", "api/epcncorepartnerdetails.csv"),
        (
            "appointments",
            "appointments/Practice_Level_Crosstab_Nov_25.zip",
        ),
    ] {
        let source = catalogue::source(source).expect("known source");
        run::import(&db, source, &[fixture(file)], false)
            .await
            .expect("fixture imports");
    }
    let key = keys::create(
        &db,
        &NewKey {
            rate: Some("1000000/second".parse().expect("a rate")),
            ..NewKey::named("hostile")
        },
    )
    .await
    .expect("key");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(db, Settings::default());
    let server = tokio::spawn(serve_on(listener, None, state, Limits::default(), async {
        let _ = stopped.await;
    }));

    let corpus = std::fs::read_to_string(fixture("hostile/corpus.txt")).expect("corpus");
    let mut faults = Vec::new();
    let mut requests = 0;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (number, line) in corpus.lines().enumerate() {
        requests += 1;
        let (malformed, line) = match line.strip_prefix('~') {
            Some(line) => (true, line),
            None => (false, line),
        };
        let received = exchange(addr, &expand(line, &key)).await;
        let answered = responses(&received);
        if answered.is_empty() && !malformed {
            faults.push(format!("line {}: no response", number + 1));
        }
        for (status, content_type, body) in answered {
            *statuses.entry(status).or_default() += 1;
            if let Some(why) = fault(status, &content_type, &body) {
                faults.push(format!(
                    "line {}: {why}: {}",
                    number + 1,
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ));
            }
        }
    }
    assert!(requests >= 500, "only {requests} requests in the corpus");
    // The corpus reaches the views, not only the doors: rows served, filters refused, keys
    // refused, pages not found, methods not allowed, oversized requests cut off.
    for status in [200, 400, 401, 404, 405, 431] {
        assert!(statuses.contains_key(&status), "no {status}: {statuses:?}");
    }
    assert!(
        faults.is_empty(),
        "{} of {requests} requests broke the rules:\n{}",
        faults.len(),
        faults.join("\n")
    );
    // Still serving after all of it.
    let after = exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: testserver\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(responses(&after)[0].0, 200);
    assert!(!server.is_finished(), "the server stopped");
    let _ = stop.send(());
    server.await.expect("server task").expect("server");
    test_db.finish().await;
}
