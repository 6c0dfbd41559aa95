//! Whole-response cache for list endpoints. Served data changes only when an import succeeds,
//! so a 200 body is a pure function of its URL (scheme, host, path, query) and rendering until
//! then. Authentication, permissions and throttling still run for every request; only the
//! count, page query and serialisation are skipped.
//!
//! Row counts are kept the same way, by the statement that counts them: every page of one
//! filter shares its count, and counting a million matching rows once per import is enough.
//!
//! The same look at the imports table gives each source's latest succeeded import, from which
//! an endpoint's entity tag is derived (`conditional`): only imports that refill its table
//! change it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use sea_query::{Alias, Expr, ExprTrait, Func, Query};

use crate::db::{Cell, Db};
use crate::import::record::IMPORTS;
use crate::schema::Kind;
use crate::throttle::Clock;

/// Bounds on what is kept, URLs and bodies counted alike; reaching either empties the cache.
const MAX_ENTRIES: usize = 20_000;
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Longer URLs (the `Host` header is part of them) are answered but not kept: no client of the
/// API needs one, and a flood of them would fill the cache with keys.
const MAX_URL_BYTES: usize = 2048;

/// Counts kept before the count store is emptied, and the longest count statement kept.
const MAX_COUNTS: usize = 50_000;
const MAX_COUNT_KEY_BYTES: usize = 4096;

/// The data generation a response was computed under: a number that changes whenever a
/// source's latest succeeded import does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// The latest succeeded import of each source, by source name.
pub type LatestImports = BTreeMap<String, i64>;

/// What the last look at the imports table found.
#[derive(Debug, Clone)]
pub struct Generation {
    pub ticket: Ticket,
    pub latest: Arc<LatestImports>,
}

pub struct ResponseCache {
    /// How long a look at the imports table is trusted: the most a response can lag an import.
    check_interval: Duration,
    clock: Clock,
    state: Mutex<State>,
}

struct State {
    ticket: Ticket,
    latest: Arc<LatestImports>,
    /// When the imports table was last looked at, in the clock's seconds.
    checked: Option<f64>,
    entries: HashMap<(String, Option<usize>), Bytes>,
    bytes: usize,
    counts: HashMap<String, u64>,
}

impl ResponseCache {
    pub fn new(check_interval: Duration, clock: Clock) -> Self {
        ResponseCache {
            check_interval,
            clock,
            state: Mutex::new(State {
                ticket: Ticket(0),
                latest: Arc::default(),
                checked: None,
                entries: HashMap::new(),
                bytes: 0,
                counts: HashMap::new(),
            }),
        }
    }

    /// The data generation, looking at the imports table again when the last look is older
    /// than the check interval; the cache is emptied when a source has a newer import.
    pub async fn generation(&self, db: &Db) -> Result<Generation, sqlx::Error> {
        let due = {
            let state = self.state.lock().expect("cache lock poisoned");
            let trusted = 0.0..self.check_interval.as_secs_f64();
            // A clock that went back (the system clock can) is no reason to trust the last look.
            state
                .checked
                .is_none_or(|t| !trusted.contains(&(self.clock.now() - t)))
        };
        if due {
            let latest = latest_imports(db).await?;
            let mut state = self.state.lock().expect("cache lock poisoned");
            if *state.latest != latest {
                state.entries.clear();
                state.counts.clear();
                state.bytes = 0;
                state.latest = Arc::new(latest);
                state.ticket = Ticket(state.ticket.0 + 1);
            }
            state.checked = Some(self.clock.now());
        }
        let state = self.state.lock().expect("cache lock poisoned");
        Ok(Generation {
            ticket: state.ticket,
            latest: state.latest.clone(),
        })
    }

    /// The body kept for this URL and rendering under `ticket`'s generation.
    pub fn get(&self, ticket: Ticket, url: &str, indent: Option<usize>) -> Option<Bytes> {
        let state = self.state.lock().expect("cache lock poisoned");
        if state.ticket != ticket || url.len() > MAX_URL_BYTES {
            return None;
        }
        state.entries.get(&(url.to_owned(), indent)).cloned()
    }

    /// Stores a body, unless an import succeeded since its ticket was issued.
    pub fn put(&self, ticket: Ticket, url: String, indent: Option<usize>, body: Bytes) {
        let mut state = self.state.lock().expect("cache lock poisoned");
        if state.ticket != ticket || url.len() > MAX_URL_BYTES {
            return;
        }
        let size = url.len() + body.len();
        if state.entries.len() >= MAX_ENTRIES || state.bytes + size > MAX_BYTES {
            state.entries.clear();
            state.bytes = 0;
        }
        let key_size = url.len();
        state.bytes += size;
        if let Some(old) = state.entries.insert((url, indent), body) {
            state.bytes -= key_size + old.len();
        }
    }

    /// The row count `statement` (a rendered count query) gave under `ticket`'s generation.
    pub fn count(&self, ticket: Ticket, statement: &str) -> Option<u64> {
        let state = self.state.lock().expect("cache lock poisoned");
        (state.ticket == ticket)
            .then(|| state.counts.get(statement).copied())
            .flatten()
    }

    /// Keeps a row count, unless an import succeeded since its ticket was issued.
    pub fn put_count(&self, ticket: Ticket, statement: String, count: u64) {
        let mut state = self.state.lock().expect("cache lock poisoned");
        if state.ticket != ticket || statement.len() > MAX_COUNT_KEY_BYTES {
            return;
        }
        if state.counts.len() >= MAX_COUNTS {
            state.counts.clear();
        }
        state.counts.insert(statement, count);
    }

    /// Bytes held: every kept URL and body.
    pub fn held_bytes(&self) -> usize {
        self.state.lock().expect("cache lock poisoned").bytes
    }
}

/// Each source's latest succeeded import.
async fn latest_imports(db: &Db) -> Result<LatestImports, sqlx::Error> {
    let mut select = Query::select();
    select
        .column(Alias::new("source"))
        .expr(Func::max(Expr::col(Alias::new("id"))))
        .from(Alias::new(IMPORTS.name))
        .and_where(Expr::col(Alias::new("status")).eq("succeeded"))
        .group_by_col(Alias::new("source"));
    let rows = db
        .fetch_cells(&select, &[Kind::Text, Kind::Integer])
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match <[Cell; 2]>::try_from(row) {
            Ok([Cell::Text(source), Cell::Int(id)]) => Some((source, id)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ResponseCache {
        ResponseCache::new(Duration::from_secs(1), Clock::system())
    }

    fn url(len: usize) -> String {
        let base = "http://testserver/api/v1/practices/?search=";
        format!("{base}{}", "a".repeat(len - base.len()))
    }

    #[test]
    fn keys_count_towards_the_byte_bound() {
        let cache = cache();
        let body = Bytes::from_static(b"{\"count\":0}");
        cache.put(Ticket(0), url(100), None, body.clone());
        assert_eq!(cache.held_bytes(), 100 + body.len());
        cache.put(Ticket(0), url(100), None, Bytes::from_static(b"[]"));
        assert_eq!(
            cache.held_bytes(),
            100 + 2,
            "a replaced entry is counted once"
        );
        for i in 0..20_000 {
            cache.put(
                Ticket(0),
                format!("{}{i}", url(MAX_URL_BYTES - 6)),
                None,
                body.clone(),
            );
            assert!(cache.held_bytes() <= MAX_BYTES);
        }
    }

    #[test]
    fn counts_are_kept_for_their_generation_only() {
        let cache = cache();
        cache.put_count(Ticket(3), "SELECT COUNT(*) FROM t".to_owned(), 7);
        assert_eq!(cache.count(Ticket(0), "SELECT COUNT(*) FROM t"), None);
        cache.put_count(Ticket(0), "SELECT COUNT(*) FROM t".to_owned(), 7);
        assert_eq!(cache.count(Ticket(0), "SELECT COUNT(*) FROM t"), Some(7));
        assert_eq!(cache.count(Ticket(3), "SELECT COUNT(*) FROM t"), None);
        assert_eq!(cache.count(Ticket(0), "SELECT COUNT(*) FROM u"), None);
        cache.put_count(Ticket(0), "x".repeat(MAX_COUNT_KEY_BYTES + 1), 1);
        assert_eq!(
            cache.count(Ticket(0), &"x".repeat(MAX_COUNT_KEY_BYTES + 1)),
            None
        );
    }

    #[test]
    fn over_long_urls_are_not_kept() {
        let cache = cache();
        cache.put(
            Ticket(0),
            url(MAX_URL_BYTES + 1),
            None,
            Bytes::from_static(b"[]"),
        );
        assert_eq!(cache.held_bytes(), 0);
        cache.put(
            Ticket(0),
            url(MAX_URL_BYTES),
            None,
            Bytes::from_static(b"[]"),
        );
        assert_eq!(cache.held_bytes(), MAX_URL_BYTES + 2);
    }
}
