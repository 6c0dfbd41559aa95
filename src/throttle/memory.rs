//! An in-process [`ThrottleStore`]: exact within one process, for single-node deployments and tests.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Decision, Rate, StoreFuture, ThrottleStore, drf_wait};

/// Independent locks so that unrelated keys rarely contend.
const SHARDS: usize = 16;

/// How many keys the store holds at most unless told otherwise: every identity seen in the last
/// window costs a key, and a flood of them must not grow the process without bound.
const DEFAULT_MAX_KEYS: usize = 100_000;

/// A store smaller than `SHARDS` times this uses fewer shards, so that each shard holds enough
/// keys for eviction to pick among them.
const MIN_KEYS_PER_SHARD: usize = 64;

/// A shard sweeps out expired keys once it has seen at least this many operations and at least as
/// many as the keys its previous sweep kept. Sweeping then costs amortised O(1) per request, and a
/// shard that kept K live keys holds at most K + max(K, this) before it sweeps again.
const MIN_OPS_BETWEEN_SWEEPS: usize = 1024;

/// Per-key histories behind sharded mutexes: each check-and-record runs entirely under one lock,
/// so it is atomic by construction. The number of keys is capped: a new key that finds its shard
/// full first sweeps out the expired keys, then, if the shard is still full, evicts the key whose
/// window ends first, which forgets that client's history.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

struct Shard {
    entries: HashMap<Box<str>, Entry>,
    max_keys: usize,
    ops_since_sweep: usize,
    kept_by_last_sweep: usize,
}

struct Entry {
    /// Newest first, as DRF keeps its cached list.
    history: VecDeque<f64>,
    /// Mirrors the cache TTL DRF sets on every recorded request: `now + duration`.
    expires_at: f64,
}

impl MemoryStore {
    /// A store of at most `DEFAULT_MAX_KEYS` (100,000) keys.
    pub fn new() -> Self {
        Self::with_max_keys(DEFAULT_MAX_KEYS)
    }

    /// A store of at most `max_keys` keys (at least one).
    pub fn with_max_keys(max_keys: usize) -> Self {
        let max_keys = max_keys.max(1);
        let shards = (max_keys / MIN_KEYS_PER_SHARD).clamp(1, SHARDS);
        // The remainder goes one key each to the first shards, so the shards add up to `max_keys`.
        let shard_max = |i: usize| max_keys / shards + usize::from(i < max_keys % shards);
        Self {
            shards: (0..shards)
                .map(|i| {
                    Mutex::new(Shard {
                        entries: HashMap::new(),
                        max_keys: shard_max(i),
                        ops_since_sweep: 0,
                        kept_by_last_sweep: 0,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
        }
    }

    /// How many keys are held, including expired ones not yet swept.
    pub fn key_count(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        let index = self.hasher.hash_one(key) as usize % self.shards.len();
        lock(&self.shards[index])
    }

    /// DRF's `allow_request` followed, when throttled, by `wait()`.
    pub fn decide(&self, key: &str, rate: Rate, now: f64) -> Decision {
        let mut shard = self.shard(key);
        shard.maybe_sweep(now);
        let duration = rate.duration.as_secs_f64();
        let cutoff = now - duration;
        let limit = rate.num_requests as usize;

        let (live, oldest) = match shard.entries.get(key) {
            Some(entry) if !entry.expired(now) => {
                let live = live_len(&entry.history, cutoff);
                (live, live.checked_sub(1).map(|i| entry.history[i]))
            }
            _ => (0, None),
        };
        if live >= limit {
            return Decision::Throttled {
                wait: drf_wait(rate, now, live, oldest),
            };
        }

        if !shard.entries.contains_key(key) {
            shard.make_room(now);
        }
        let entry = shard
            .entries
            .entry(Box::from(key))
            .or_insert_with(|| Entry {
                history: VecDeque::new(),
                expires_at: f64::NEG_INFINITY,
            });
        if entry.expired(now) {
            entry.history.clear();
        }
        entry.history.truncate(live);
        entry.history.push_front(now);
        entry.expires_at = now + duration;
        Decision::Allowed
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl ThrottleStore for MemoryStore {
    fn allow_request<'a>(&'a self, key: &'a str, rate: Rate, now: f64) -> StoreFuture<'a> {
        Box::pin(std::future::ready(Ok(self.decide(key, rate, now))))
    }
}

impl Entry {
    /// Django's cache treats a key as missing once `expiry <= now`.
    fn expired(&self, now: f64) -> bool {
        self.expires_at <= now
    }
}

impl Shard {
    fn maybe_sweep(&mut self, now: f64) {
        self.ops_since_sweep += 1;
        if self.ops_since_sweep >= MIN_OPS_BETWEEN_SWEEPS.max(self.kept_by_last_sweep) {
            self.sweep(now);
        }
    }

    fn sweep(&mut self, now: f64) {
        self.entries.retain(|_, entry| !entry.expired(now));
        self.ops_since_sweep = 0;
        self.kept_by_last_sweep = self.entries.len();
    }

    /// Frees a place for a new key when the shard is full: the expired keys go if there are any,
    /// else the key whose window ends first. The scan costs O(keys in the shard), paid only while
    /// the shard is full, which normal traffic never makes it.
    fn make_room(&mut self, now: f64) {
        if self.entries.len() < self.max_keys {
            return;
        }
        let soonest = self
            .entries
            .iter()
            .min_by(|a, b| a.1.expires_at.total_cmp(&b.1.expires_at))
            .map(|(key, entry)| (key.clone(), entry.expired(now)));
        match soonest {
            // The soonest to end has ended, so a sweep frees at least one place.
            Some((_, true)) => self.sweep(now),
            Some((key, false)) => {
                self.entries.remove(&key);
            }
            None => {}
        }
    }
}

/// How many entries survive DRF's trimming loop, which pops from the oldest end while
/// `history[-1] <= now - duration`. Nothing is removed here: DRF only writes the trimmed list
/// back when it records a request.
fn live_len(history: &VecDeque<f64>, cutoff: f64) -> usize {
    history.len() - history.iter().rev().take_while(|&&t| t <= cutoff).count()
}

/// The critical sections cannot leave an entry half-updated, so a poisoned lock is still usable.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn rate(n: u32, secs: u64) -> Rate {
        Rate::new(n, Duration::from_secs(secs))
    }

    /// DRF's `SimpleRateThrottle` over Django's cache, written as plainly as the Python.
    #[derive(Default)]
    struct Reference {
        cache: HashMap<String, (Vec<f64>, f64)>,
    }

    impl Reference {
        fn allow_request(&mut self, key: &str, rate: Rate, now: f64) -> Decision {
            let duration = rate.duration.as_secs_f64();
            let mut history = match self.cache.get(key) {
                Some((history, expiry)) if *expiry > now => history.clone(),
                _ => Vec::new(),
            };
            while history.last().is_some_and(|&t| t <= now - duration) {
                history.pop();
            }
            if history.len() >= rate.num_requests as usize {
                let remaining = match history.last() {
                    Some(&oldest) => duration - (now - oldest),
                    None => duration,
                };
                let available = i64::from(rate.num_requests) - history.len() as i64 + 1;
                let wait = (available > 0).then(|| remaining / available as f64);
                return Decision::Throttled { wait };
            }
            history.insert(0, now);
            self.cache.insert(key.to_owned(), (history, now + duration));
            Decision::Allowed
        }
    }

    #[test]
    fn expired_keys_are_swept() {
        let store = MemoryStore::new();
        let r = rate(5, 60);
        for i in 0..5000 {
            store.decide(&format!("client-{i}"), r, 1000.0);
        }
        assert_eq!(store.key_count(), 5000);
        // Long after every window has closed, traffic from other keys sweeps the old ones out.
        for i in 0..(SHARDS * 2 * MIN_OPS_BETWEEN_SWEEPS) {
            store.decide(&format!("later-{}", i % 1000), r, 5000.0);
        }
        assert_eq!(store.key_count(), 1000);
    }

    #[test]
    fn memory_stays_bounded_under_key_churn() {
        // Every request from a new identity, a 1-second window, 100 requests a second: about
        // 100 keys are live at any moment, and the store must not keep the other 200,000.
        let store = MemoryStore::new();
        let r = rate(1, 1);
        let mut peak = 0;
        for i in 0..200_000u32 {
            store.decide(&format!("client-{i}"), r, 1000.0 + f64::from(i) * 0.01);
            peak = peak.max(store.shards[0].lock().unwrap().entries.len());
        }
        assert!(
            peak <= 2 * MIN_OPS_BETWEEN_SWEEPS,
            "a shard peaked at {peak} keys"
        );
        assert!(store.key_count() <= SHARDS * 2 * MIN_OPS_BETWEEN_SWEEPS);
    }

    fn holds(store: &MemoryStore, key: &str) -> bool {
        store.shard(key).entries.contains_key(key)
    }

    fn shard_caps(store: &MemoryStore) -> Vec<usize> {
        store.shards.iter().map(|s| lock(s).max_keys).collect()
    }

    #[test]
    fn shard_caps_add_up_to_the_store_cap() {
        assert_eq!(shard_caps(&MemoryStore::new()), vec![6_250; SHARDS]);
        for max_keys in [1, 2, 63, 64, 100, 1_000, 1_023, 100_001] {
            let caps = shard_caps(&MemoryStore::with_max_keys(max_keys));
            assert_eq!(caps.iter().sum::<usize>(), max_keys, "{max_keys}");
            assert!(caps.iter().all(|&c| c >= 1), "{max_keys}: {caps:?}");
            assert!(caps.len() <= SHARDS);
        }
        assert_eq!(shard_caps(&MemoryStore::with_max_keys(0)), vec![1]);
    }

    #[test]
    fn the_key_cap_holds_under_a_flood_of_new_keys() {
        for max_keys in [1, 5, 100, 1_000] {
            let store = MemoryStore::with_max_keys(max_keys);
            let r = rate(1000, 3600);
            for i in 0..20_000u32 {
                store.decide(&format!("client-{i}"), r, 1000.0 + f64::from(i) * 0.001);
                assert!(store.key_count() <= max_keys, "{max_keys} at {i}");
            }
            // One shard fills exactly; several fill up to what the hash sends each.
            if max_keys < MIN_KEYS_PER_SHARD {
                assert_eq!(store.key_count(), max_keys);
            }
        }
    }

    #[test]
    fn a_full_store_sweeps_expired_keys_before_it_evicts_a_live_one() {
        let store = MemoryStore::with_max_keys(3);
        store.decide("short", rate(5, 10), 0.0);
        store.decide("b", rate(5, 100), 1.0);
        store.decide("c", rate(5, 100), 2.0);
        // "short" has expired: it goes, and no live key is touched.
        store.decide("d", rate(5, 100), 20.0);
        assert!(!holds(&store, "short"));
        assert!(holds(&store, "b") && holds(&store, "c") && holds(&store, "d"));
        // Nothing has expired: the window that ends first ("b", at 101) is evicted.
        store.decide("e", rate(5, 100), 21.0);
        assert!(!holds(&store, "b"));
        assert!(holds(&store, "c") && holds(&store, "d") && holds(&store, "e"));
        assert_eq!(store.key_count(), 3);
        // A request from a key already held never evicts.
        store.decide("c", rate(5, 100), 22.0);
        assert!(holds(&store, "c") && holds(&store, "d") && holds(&store, "e"));
    }

    #[test]
    fn a_key_that_stays_is_throttled_as_before() {
        let store = MemoryStore::with_max_keys(2);
        let r = rate(3, 60);
        for t in [100.0, 101.0, 102.0] {
            assert_eq!(store.decide("k", r, t), Decision::Allowed);
        }
        // A flood of one-second clients, whose windows end before k's.
        for i in 0..1_000u32 {
            store.decide(
                &format!("flood-{i}"),
                rate(1, 1),
                103.0 + f64::from(i) * 0.01,
            );
        }
        assert!(holds(&store, "k"));
        assert_eq!(
            store.decide("k", r, 113.0),
            Decision::Throttled { wait: Some(47.0) }
        );
        assert_eq!(store.decide("k", r, 160.0), Decision::Allowed);
    }

    #[test]
    fn an_expired_key_starts_afresh() {
        let store = MemoryStore::new();
        let r = rate(2, 60);
        assert_eq!(store.decide("k", r, 1000.0), Decision::Allowed);
        assert_eq!(store.decide("k", r, 1001.0), Decision::Allowed);
        assert!(matches!(
            store.decide("k", r, 1002.0),
            Decision::Throttled { .. }
        ));
        assert_eq!(store.decide("k", r, 1061.0), Decision::Allowed);
    }

    #[test]
    fn a_zero_limit_throttles_with_the_full_duration_and_stores_nothing() {
        let store = MemoryStore::new();
        assert_eq!(
            store.decide("k", rate(0, 60), 1000.0),
            Decision::Throttled { wait: Some(60.0) }
        );
        assert_eq!(store.key_count(), 0);
    }

    #[test]
    fn a_lowered_limit_gives_no_wait() {
        let store = MemoryStore::new();
        for t in [1000.0, 1001.0, 1002.0] {
            assert_eq!(store.decide("k", rate(3, 60), t), Decision::Allowed);
        }
        // DRF's `available <= 0` case: more history than the new limit allows.
        for lowered in [1, 2] {
            assert_eq!(
                store.decide("k", rate(lowered, 60), 1003.0),
                Decision::Throttled { wait: None }
            );
        }
        assert_eq!(
            store.decide("k", rate(3, 60), 1003.0),
            Decision::Throttled { wait: Some(57.0) }
        );
    }

    #[test]
    fn out_of_order_clocks_follow_drf_list_order() {
        // Histories are kept in arrival order, not sorted, exactly like DRF's list: a request
        // stamped earlier than the newest entry still goes to the front.
        let store = MemoryStore::new();
        let mut reference = Reference::default();
        let r = rate(2, 10);
        for now in [1000.0, 995.0, 1004.0, 1006.0, 1011.0, 1012.0] {
            assert_eq!(
                store.decide("k", r, now),
                reference.allow_request("k", r, now),
                "at {now}"
            );
        }
    }

    fn steps() -> impl Strategy<Value = Vec<(f64, usize)>> {
        // Increments mix exact repeats, sub-second gaps and jumps longer than a window.
        let gap = prop_oneof![
            Just(0.0),
            0.0..2.0f64,
            (0u32..200).prop_map(f64::from),
            0.0..200.0f64,
        ];
        prop::collection::vec((gap, 0usize..3), 1..120)
    }

    proptest! {
        #[test]
        fn increasing_clock_matches_the_reference_model(
            start in 0.0..2e9f64,
            num_requests in 0u32..8,
            seconds in prop_oneof![Just(1u64), Just(60), Just(3600)],
            steps in steps(),
        ) {
            let r = rate(num_requests, seconds);
            let store = MemoryStore::new();
            let mut reference = Reference::default();
            let mut now = start;
            for (gap, key) in steps {
                now += gap;
                let key = format!("k{key}");
                prop_assert_eq!(
                    store.decide(&key, r, now),
                    reference.allow_request(&key, r, now),
                    "{} at {}", key, now
                );
            }
        }

        #[test]
        fn a_capped_store_matches_the_reference_model_for_the_keys_it_keeps(
            max_keys in 1usize..6,
            start in 0.0..2e9f64,
            steps in prop::collection::vec(
                (prop_oneof![Just(0.0), 0.0..3.0f64, 0.0..30.0f64], 0usize..10, 0usize..3),
                1..150,
            ),
        ) {
            let store = MemoryStore::with_max_keys(max_keys);
            let mut reference = Reference::default();
            let mut now = start;
            for (gap, key, window) in steps {
                now += gap;
                let key = format!("k{key}");
                let r = rate(2, [1, 10, 60][window]);
                prop_assert_eq!(
                    store.decide(&key, r, now),
                    reference.allow_request(&key, r, now),
                    "{} at {}", key, now
                );
                prop_assert!(store.key_count() <= max_keys);
                // A key the reference still holds live but the store does not was evicted: the
                // store forgot it, so the reference must too.
                let evicted: Vec<String> = reference
                    .cache
                    .iter()
                    .filter(|(k, (_, expiry))| *expiry > now && !holds(&store, k))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !evicted.is_empty() {
                    prop_assert_eq!(evicted.len(), 1);
                    prop_assert_eq!(store.key_count(), max_keys);
                }
                for k in evicted {
                    reference.cache.remove(&k);
                }
            }
        }

        #[test]
        fn any_clock_matches_the_reference_model(
            num_requests in 0u32..6,
            times in prop::collection::vec(0.0..40.0f64, 1..80),
            limits in prop::collection::vec(0u32..6, 1..80),
        ) {
            // Arbitrary (also backwards) clocks and limits that change between calls, as when
            // nodes disagree about the time or the configuration is reloaded.
            let store = MemoryStore::new();
            let mut reference = Reference::default();
            for (i, now) in times.into_iter().enumerate() {
                let r = rate(limits.get(i).copied().unwrap_or(num_requests), 10);
                prop_assert_eq!(
                    store.decide("k", r, now),
                    reference.allow_request("k", r, now),
                    "at {}", now
                );
            }
        }
    }
}
