//! Behaviour shared by every store, run against [`MemoryStore`] always and against
//! [`RedisStore`] when `HARESIGN_TEST_REDIS_URL` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use super::*;

fn rate(n: u32, secs: u64) -> Rate {
    Rate::new(n, Duration::from_secs(secs))
}

/// A Redis key namespace of its own for one test, so tests can run in parallel.
struct RedisNamespace {
    url: String,
    prefix: String,
}

impl RedisNamespace {
    /// `None`, after saying so, when `HARESIGN_TEST_REDIS_URL` is not set.
    fn from_env() -> Option<Self> {
        match std::env::var("HARESIGN_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(Self {
                url,
                prefix: format!("haresign-test:{:016x}:", rand::random::<u64>()),
            }),
            _ => {
                println!("skipped: HARESIGN_TEST_REDIS_URL not set");
                None
            }
        }
    }

    fn store(&self) -> RedisStore {
        self.store_at(&self.url)
    }

    fn store_at(&self, url: &str) -> RedisStore {
        // Generous timeouts: a busy CI machine must not turn into spurious store failures.
        let config = RedisStoreConfig {
            key_prefix: self.prefix.clone(),
            connection_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
        };
        RedisStore::with_config(url, config).expect("valid Redis URL")
    }

    async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("Redis reachable")
    }

    /// Deletes the namespace's keys; a test that fails before this leaves them to their TTL.
    async fn cleanup(self) {
        let mut connection = self.connection().await;
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .unwrap();
            if !keys.is_empty() {
                ::redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<()>(&mut connection)
                    .await
                    .unwrap();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

fn throttled(outcome: ThrottleOutcome) -> Throttled {
    match outcome {
        ThrottleOutcome::Throttled(t) => t,
        ThrottleOutcome::Allowed => panic!("expected a throttled request"),
    }
}

/// API_CONTRACT.md §4's verified trace at `3/min`.
async fn verified_trace(store: Arc<dyn ThrottleStore>) {
    let throttle = Throttle::new(store);
    let r: Rate = "3/min".parse().unwrap();
    for now in [1000.0, 1010.0, 1020.0] {
        assert_eq!(
            throttle.check("anon", "203.0.113.9", r, now).await,
            ThrottleOutcome::Allowed,
            "t={now}"
        );
    }

    let t = throttled(throttle.check("anon", "203.0.113.9", r, 1030.0).await);
    assert_eq!(t.wait(), Some(30.0));
    assert_eq!(t.wait_seconds(), Some(30));
    assert_eq!(t.retry_after(), Some(30));
    assert_eq!(
        t.detail(),
        "Request was throttled. Expected available in 30 seconds."
    );

    let t = throttled(throttle.check("anon", "203.0.113.9", r, 1059.5).await);
    assert_eq!(t.wait(), Some(0.5));
    assert_eq!(t.retry_after(), Some(1));
    assert_eq!(
        t.detail(),
        "Request was throttled. Expected available in 1 second."
    );

    // Exactly `duration` after the oldest entry: `1000 <= 1060 - 60` drops it.
    assert_eq!(
        throttle.check("anon", "203.0.113.9", r, 1060.0).await,
        ThrottleOutcome::Allowed
    );
    // The history is now 1060, 1020, 1010: full again until 1010 leaves the window.
    let t = throttled(throttle.check("anon", "203.0.113.9", r, 1061.0).await);
    assert_eq!(t.wait(), Some(9.0));
    // Another identity and another scope have their own budgets.
    assert!(
        throttle
            .check("anon", "198.51.100.1", r, 1061.0)
            .await
            .is_allowed()
    );
    assert!(
        throttle
            .check("user", "203.0.113.9", r, 1061.0)
            .await
            .is_allowed()
    );
    assert_eq!(throttle.fail_open_count(), 0);
}

/// 429s are not recorded, so hammering a throttled key does not push its window out.
async fn only_allowed_requests_are_recorded(store: Arc<dyn ThrottleStore>) {
    let throttle = Throttle::new(store);
    let r = rate(2, 60);
    assert!(throttle.check("user", "42", r, 1000.0).await.is_allowed());
    assert!(throttle.check("user", "42", r, 1030.0).await.is_allowed());
    for i in 0..100 {
        let now = 1031.0 + f64::from(i) * 0.25;
        let t = throttled(throttle.check("user", "42", r, now).await);
        assert_eq!(t.wait(), Some(60.0 - (now - 1000.0)), "t={now}");
    }
    // Had the 429s been recorded, the key would stay full until well after 1090.
    assert!(throttle.check("user", "42", r, 1060.0).await.is_allowed());
    assert!(!throttle.check("user", "42", r, 1060.5).await.is_allowed());
    assert!(throttle.check("user", "42", r, 1090.0).await.is_allowed());
}

/// Many simultaneous requests against one key admit exactly the limit.
async fn exact_admission(stores: Vec<Arc<dyn ThrottleStore>>, tasks: usize, limit: u32) {
    let barrier = Arc::new(Barrier::new(tasks));
    let r = rate(limit, 3600);
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let throttle_store = stores[i % stores.len()].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let now = 1000.0 + i as f64 * 1e-3;
                throttle_store
                    .allow_request("user:7", r, now)
                    .await
                    .expect("store reachable")
            })
        })
        .collect();
    let mut allowed = 0;
    let mut throttled = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Decision::Allowed => allowed += 1,
            Decision::Throttled { wait } => {
                assert!(wait.is_some_and(|w| w > 0.0), "{wait:?}");
                throttled += 1;
            }
        }
    }
    assert_eq!(allowed, limit as usize);
    assert_eq!(throttled, tasks - limit as usize);
}

#[tokio::test]
async fn verified_trace_memory() {
    verified_trace(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn verified_trace_redis() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    verified_trace(Arc::new(ns.store())).await;
    ns.cleanup().await;
}

#[tokio::test]
async fn only_allowed_requests_are_recorded_memory() {
    only_allowed_requests_are_recorded(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn only_allowed_requests_are_recorded_redis() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    only_allowed_requests_are_recorded(Arc::new(ns.store())).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_admission_under_concurrency_memory() {
    exact_admission(vec![Arc::new(MemoryStore::new())], 200, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_admission_under_concurrency_redis() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    exact_admission(vec![Arc::new(ns.store())], 200, 50).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_redis_nodes_share_one_budget() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    // Two stores, two connection managers, two connections: as two API nodes would have.
    let nodes: Vec<Arc<dyn ThrottleStore>> = vec![Arc::new(ns.store()), Arc::new(ns.store())];
    exact_admission(nodes, 200, 50).await;
    ns.cleanup().await;
}

#[tokio::test]
async fn redis_keys_carry_the_prefix_and_the_window_as_ttl() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    let store = ns.store();
    store.ping().await.expect("Redis reachable");
    let throttle = Throttle::new(Arc::new(store));
    for now in [1000.25, 1000.5] {
        let outcome = throttle.check("anon", "::1", rate(5, 60), now).await;
        assert!(outcome.is_allowed());
    }

    let mut connection = ns.connection().await;
    let key = format!("{}anon:::1", ns.prefix);
    let history: Vec<String> = ::redis::cmd("LRANGE")
        .arg(&key)
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(history, ["1000.5", "1000.25"]);
    let ttl_ms: i64 = ::redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((59_000..=60_000).contains(&ttl_ms), "{ttl_ms}");
    ns.cleanup().await;
}

#[test]
fn default_redis_keys_are_drf_style() {
    assert_eq!(RedisStoreConfig::default().key_prefix, "throttle:");
}

#[tokio::test]
async fn redis_timestamps_survive_the_round_trip_exactly() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    let store = ns.store();
    let r = rate(1, 86400);
    // Sub-microsecond fractions that Lua's 14-digit `tostring` would round away.
    let first = 1_732_456_789.123_456_7_f64;
    let now = first + 0.000_000_2;
    let decision = store.allow_request("k", r, first).await.unwrap();
    assert_eq!(decision, Decision::Allowed);
    let decision = store.allow_request("k", r, now).await.unwrap();
    assert_eq!(
        decision,
        Decision::Throttled {
            wait: Some(86400.0 - (now - first))
        }
    );
    ns.cleanup().await;
}

/// A TCP relay to Redis that can be cut and restored, to stage an outage.
struct Relay {
    port: u16,
    upstream: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut relay = Self {
            port,
            upstream,
            task: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            // Aborting this task drops the set, which aborts every relayed connection with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(listener);
    }
}

#[tokio::test]
async fn redis_outage_fails_open_then_recovers() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    let info = ::redis::Client::open(ns.url.as_str())
        .unwrap()
        .get_connection_info()
        .clone();
    let ::redis::ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
        println!("skipped: the outage test needs a plain TCP Redis URL");
        return;
    };
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .unwrap()
        .next()
        .unwrap();
    let mut relay = Relay::start(upstream).await;
    let relayed_url = ns.url.replacen(
        &format!("{host}:{port}"),
        &format!("127.0.0.1:{}", relay.port),
        1,
    );
    assert_ne!(relayed_url, ns.url, "the URL must name host and port");
    let config = RedisStoreConfig {
        key_prefix: ns.prefix.clone(),
        ..RedisStoreConfig::default()
    };
    let throttle = Throttle::new(Arc::new(
        RedisStore::with_config(&relayed_url, config).unwrap(),
    ));
    let r = rate(3, 3600);
    let mut now = 1000.0;
    let mut check = async || {
        now += 1.0;
        throttle.check("user", "9", r, now).await
    };

    assert!(check().await.is_allowed());
    assert_eq!(throttle.fail_open_count(), 0);

    relay.cut().await;
    for _ in 0..5 {
        assert!(check().await.is_allowed());
    }
    assert_eq!(throttle.fail_open_count(), 5);

    relay.restore().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let failures = throttle.fail_open_count();
        assert!(check().await.is_allowed());
        if throttle.fail_open_count() == failures {
            break;
        }
        assert!(Instant::now() < deadline, "the store did not reconnect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Requests let through during the outage were not recorded: the first request and the one
    // that found Redis back are, so exactly one more fits in the budget of 3.
    assert!(check().await.is_allowed());
    assert!(!check().await.is_allowed());
    relay.cut().await;
    ns.cleanup().await;
}

/// A trace with a backwards clock step and limit changes, run against every store. DRF keeps
/// arrival order, not time order, and only trims from the tail, so an expired entry can hide
/// behind a newer one; the expectations are worked out from `throttling.py` by hand.
async fn unsorted_history_and_lowered_limits(store: Arc<dyn ThrottleStore>) {
    let allowed = Decision::Allowed;
    let wait = |w: Option<f64>| Decision::Throttled { wait: w };
    let trace = [
        (1000.0, 3, allowed),
        (1004.0, 3, allowed),
        (1002.0, 3, allowed), // history 1002, 1004, 1000
        (1005.0, 3, wait(Some(5.0))),
        (1006.0, 2, wait(None)),
        (1010.0, 3, allowed),         // 1000 leaves: 1010, 1002, 1004
        (1011.5, 3, wait(Some(2.5))), // the tail is 1004, not the older 1002
        (1012.5, 3, wait(Some(1.5))), // 1002 has expired but sits in front of 1004
        (1014.0, 3, allowed),         // both leave: 1014, 1010
        (1015.0, 1, wait(None)),
        (1015.0, 2, wait(Some(5.0))),
        (1030.0, 3, allowed),
        (1030.5, 1, wait(Some(9.5))),
    ];
    for (now, limit, expected) in trace {
        assert_eq!(
            store
                .allow_request("k", rate(limit, 10), now)
                .await
                .unwrap(),
            expected,
            "t={now} limit={limit}"
        );
    }
}

#[tokio::test]
async fn unsorted_history_and_lowered_limits_memory() {
    unsorted_history_and_lowered_limits(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn unsorted_history_and_lowered_limits_redis() {
    let Some(ns) = RedisNamespace::from_env() else {
        return;
    };
    unsorted_history_and_lowered_limits(Arc::new(ns.store())).await;
    ns.cleanup().await;
}

#[tokio::test]
async fn redis_down_fails_open_and_counts() {
    let started = Instant::now();
    let store = RedisStore::new("redis://127.0.0.1:1").expect("construction does not connect");
    assert!(store.ping().await.is_err());
    let throttle = Throttle::new(Arc::new(store));
    let r = rate(1, 60);
    for i in 0..5 {
        assert_eq!(
            throttle
                .check("anon", "203.0.113.9", r, 1000.0 + f64::from(i))
                .await,
            ThrottleOutcome::Allowed
        );
    }
    assert_eq!(throttle.fail_open_count(), 5);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "failing open took {:?}",
        started.elapsed()
    );
}

#[test]
fn invalid_redis_url_is_reported() {
    let err = match RedisStore::new("not a url") {
        Err(e) => e,
        Ok(_) => panic!("a malformed URL was accepted"),
    };
    assert!(err.to_string().contains("invalid Redis URL"), "{err}");
}

#[test]
fn throttled_wire_values() {
    let none = Throttled::new(None);
    assert_eq!(none.detail(), "Request was throttled.");
    assert_eq!(none.retry_after(), None);
    assert_eq!(none.wait_seconds(), None);

    let t = Throttled::new(Some(29.000_001));
    assert_eq!(t.wait_seconds(), Some(30));
    assert_eq!(t.retry_after(), Some(30));
    assert_eq!(
        t.detail(),
        "Request was throttled. Expected available in 30 seconds."
    );

    let t = Throttled::new(Some(1e-9));
    assert_eq!(
        t.detail(),
        "Request was throttled. Expected available in 1 second."
    );
    assert_eq!(t.retry_after(), Some(1));

    // `'%d' % exc.wait` is only set when the rounded wait is truthy.
    let t = Throttled::new(Some(0.0));
    assert_eq!(
        t.detail(),
        "Request was throttled. Expected available in 0 seconds."
    );
    assert_eq!(t.retry_after(), None);

    let t = Throttled::new(Some(2.0));
    assert_eq!(
        t.detail(),
        "Request was throttled. Expected available in 2 seconds."
    );
}

#[test]
fn combined_outcomes_keep_the_largest_known_wait() {
    let a = ThrottleOutcome::Throttled(Throttled::new(Some(3.5)));
    let b = ThrottleOutcome::Throttled(Throttled::new(Some(10.0)));
    let none = ThrottleOutcome::Throttled(Throttled::new(None));
    let ok = ThrottleOutcome::Allowed;
    assert_eq!(ok.combine(ok), ok);
    assert_eq!(ok.combine(a), a);
    assert_eq!(a.combine(ok), a);
    assert_eq!(a.combine(b), b);
    assert_eq!(b.combine(a), b);
    assert_eq!(none.combine(a), a);
    assert_eq!(a.combine(none), a);
    assert_eq!(none.combine(none), none);
}

#[test]
fn client_ident_is_the_peer_without_proxies() {
    let remote = "10.0.0.1";
    assert_eq!(client_ident(Some("1.2.3.4, 5.6.7.8"), remote, 0), remote);
    assert_eq!(client_ident(Some(&"x".repeat(100_000)), remote, 0), remote);
    assert_eq!(client_ident(None, remote, 0), remote);
}

#[test]
fn client_ident_behind_proxies_follows_drf_get_ident() {
    let remote = "10.0.0.1";
    // n-th from the right, clamped to the leftmost, stripped.
    let xff = "1.2.3.4, 5.6.7.8 ,9.9.9.9";
    assert_eq!(client_ident(Some(xff), remote, 1), "9.9.9.9");
    assert_eq!(client_ident(Some(xff), remote, 2), "5.6.7.8");
    assert_eq!(client_ident(Some(xff), remote, 3), "1.2.3.4");
    assert_eq!(client_ident(Some(xff), remote, 10), "1.2.3.4");
    assert_eq!(client_ident(Some("1.2.3.4"), remote, 1), "1.2.3.4");
    assert_eq!(
        client_ident(Some("\u{a0}1.2.3.4\u{1f}"), remote, 1),
        "1.2.3.4"
    );
    assert_eq!(client_ident(None, remote, 2), remote);
    // Where DRF would key by an empty string, the peer address.
    assert_eq!(client_ident(Some(""), remote, 1), remote);
    assert_eq!(client_ident(Some("  "), remote, 1), remote);
    assert_eq!(client_ident(Some("1.2.3.4,"), remote, 1), remote);
    assert_eq!(client_ident(Some("1.2.3.4, ,5.6.7.8"), remote, 2), remote);
}

#[test]
fn client_ident_addresses_are_canonical() {
    let remote = "10.0.0.1";
    let cases = [
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("192.0.2.1:443", "192.0.2.1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
    ];
    for (entry, ident) in cases {
        assert_eq!(client_ident(Some(entry), remote, 1), ident, "{entry}");
    }
}

#[test]
fn client_ident_of_anything_else_is_a_short_digest() {
    let remote = "10.0.0.1";
    let long = "x".repeat(400_000);
    let ident = client_ident(Some(&long), remote, 1);
    assert_eq!(ident.len(), "xff:".len() + 32);
    assert!(ident.starts_with("xff:"));
    assert!(ident[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    // The first 16 bytes of SHA-256("unknown").
    assert_eq!(
        client_ident(Some("unknown"), remote, 1),
        "xff:b23a6a8439c0dde5515893e7c90c1e32"
    );
    // Distinct entries stay distinct; the same entry, trimmed, is the same client.
    assert_ne!(
        client_ident(Some("unknown-a"), remote, 1),
        client_ident(Some("unknown-b"), remote, 1)
    );
    assert_eq!(
        client_ident(Some(" unknown "), remote, 1),
        client_ident(Some("unknown"), remote, 1)
    );
    assert_eq!(client_ident(Some("1.2.3.4.5"), remote, 1).len(), 36);
}

#[test]
fn drf_wait_formula() {
    let r = rate(3, 60);
    assert_eq!(drf_wait(r, 1030.0, 3, Some(1000.0)), Some(30.0));
    assert_eq!(drf_wait(r, 1030.0, 0, None), Some(60.0 / 4.0));
    assert_eq!(drf_wait(r, 1030.0, 2, Some(1000.0)), Some(15.0));
    assert_eq!(drf_wait(r, 1030.0, 4, Some(1000.0)), None);
}

#[test]
fn unix_now_is_in_seconds() {
    let now = unix_now();
    assert!(now > 1.7e9 && now < 1e10, "{now}");
}
