//! Whole-response cache for list endpoints. Served data changes only when an import succeeds,
//! so a 200 body is a pure function of its URL (scheme, host, path, query) and rendering until
//! then. Authentication, permissions and throttling still run for every request; only the
//! count, page query and serialisation are skipped.
//!
//! Row counts are kept the same way, by the statement that counts them: every page of one
//! filter shares its count, and counting a million matching rows once per import is enough.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use sea_query::{Alias, Expr, ExprTrait, Func, Query};

use crate::db::Db;
use crate::import::record::IMPORTS;
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

/// The data generation a response was computed under.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Option<i64>);

pub struct ResponseCache {
    /// How long a look at the imports table is trusted: the most a response can lag an import.
    check_interval: Duration,
    clock: Clock,
    state: Mutex<State>,
}

struct State {
    generation: Option<i64>,
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
                generation: None,
                checked: None,
                entries: HashMap::new(),
                bytes: 0,
                counts: HashMap::new(),
            }),
        }
    }

    /// Empties the cache if an import has succeeded since the last look.
    async fn revalidate(&self, db: &Db) -> Result<(), sqlx::Error> {
        let due = {
            let state = self.state.lock().expect("cache lock poisoned");
            let trusted = 0.0..self.check_interval.as_secs_f64();
            // A clock that went back (the system clock can) is no reason to trust the last look.
            state
                .checked
                .is_none_or(|t| !trusted.contains(&(self.clock.now() - t)))
        };
        if !due {
            return Ok(());
        }
        let mut select = Query::select();
        select
            .expr(Func::count(Expr::col(Alias::new("id"))))
            .from(Alias::new(IMPORTS.name))
            .and_where(Expr::col(Alias::new("status")).eq("succeeded"));
        let generation = db.fetch_i64(&select).await?;
        let mut state = self.state.lock().expect("cache lock poisoned");
        if state.generation != generation {
            state.entries.clear();
            state.counts.clear();
            state.bytes = 0;
            state.generation = generation;
        }
        state.checked = Some(self.clock.now());
        Ok(())
    }

    /// The cached body for this URL and rendering, and the ticket under which a body computed
    /// now may be stored.
    pub async fn get(
        &self,
        db: &Db,
        url: &str,
        indent: Option<usize>,
    ) -> Result<(Option<Bytes>, Ticket), sqlx::Error> {
        self.revalidate(db).await?;
        let state = self.state.lock().expect("cache lock poisoned");
        let cached = (url.len() <= MAX_URL_BYTES)
            .then(|| state.entries.get(&(url.to_owned(), indent)).cloned())
            .flatten();
        Ok((cached, Ticket(state.generation)))
    }

    /// The ticket under which a count taken now may be kept.
    pub async fn ticket(&self, db: &Db) -> Result<Ticket, sqlx::Error> {
        self.revalidate(db).await?;
        Ok(Ticket(
            self.state.lock().expect("cache lock poisoned").generation,
        ))
    }

    /// Stores a body, unless an import succeeded since its ticket was issued.
    pub fn put(&self, ticket: Ticket, url: String, indent: Option<usize>, body: Bytes) {
        let mut state = self.state.lock().expect("cache lock poisoned");
        if state.generation != ticket.0 || url.len() > MAX_URL_BYTES {
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
        (state.generation == ticket.0)
            .then(|| state.counts.get(statement).copied())
            .flatten()
    }

    /// Keeps a row count, unless an import succeeded since its ticket was issued.
    pub fn put_count(&self, ticket: Ticket, statement: String, count: u64) {
        let mut state = self.state.lock().expect("cache lock poisoned");
        if state.generation != ticket.0 || statement.len() > MAX_COUNT_KEY_BYTES {
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
        cache.put(Ticket(None), url(100), None, body.clone());
        assert_eq!(cache.held_bytes(), 100 + body.len());
        cache.put(Ticket(None), url(100), None, Bytes::from_static(b"[]"));
        assert_eq!(
            cache.held_bytes(),
            100 + 2,
            "a replaced entry is counted once"
        );
        for i in 0..20_000 {
            cache.put(
                Ticket(None),
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
        cache.put_count(Ticket(Some(3)), "SELECT COUNT(*) FROM t".to_owned(), 7);
        assert_eq!(cache.count(Ticket(None), "SELECT COUNT(*) FROM t"), None);
        cache.put_count(Ticket(None), "SELECT COUNT(*) FROM t".to_owned(), 7);
        assert_eq!(cache.count(Ticket(None), "SELECT COUNT(*) FROM t"), Some(7));
        assert_eq!(cache.count(Ticket(Some(3)), "SELECT COUNT(*) FROM t"), None);
        assert_eq!(cache.count(Ticket(None), "SELECT COUNT(*) FROM u"), None);
        cache.put_count(Ticket(None), "x".repeat(MAX_COUNT_KEY_BYTES + 1), 1);
        assert_eq!(
            cache.count(Ticket(None), &"x".repeat(MAX_COUNT_KEY_BYTES + 1)),
            None
        );
    }

    #[test]
    fn over_long_urls_are_not_kept() {
        let cache = cache();
        cache.put(
            Ticket(None),
            url(MAX_URL_BYTES + 1),
            None,
            Bytes::from_static(b"[]"),
        );
        assert_eq!(cache.held_bytes(), 0);
        cache.put(
            Ticket(None),
            url(MAX_URL_BYTES),
            None,
            Bytes::from_static(b"[]"),
        );
        assert_eq!(cache.held_bytes(), MAX_URL_BYTES + 2);
    }
}
