//! A [`ThrottleStore`] in Redis, shared by every API node.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::{Decision, Rate, StoreFuture, ThrottleError, ThrottleStore, drf_wait};

/// DRF's check-and-record on a Redis list, newest entry at the head, run as one script so that
/// concurrent requests from any number of nodes serialise on the key.
///
/// KEYS[1]: the history list. ARGV: now (seconds, as the caller formatted it), duration in
/// seconds, limit, time-to-live in milliseconds. Returns `{allowed, live length, oldest live}`.
///
/// Timestamps are stored as the caller's text so they read back bit-exact; Lua's `tostring`
/// would round them to 14 digits. Entries past the window are counted from the tail but only
/// removed when a request is recorded, since DRF writes the trimmed list back only then; in the
/// throttled state nothing has expired anyway, so the count costs one `LINDEX`.
const CHECK_AND_RECORD: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local cutoff = now - tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local len = redis.call('LLEN', key)
local expired = 0
while expired < len do
  local t = tonumber(redis.call('LINDEX', key, -1 - expired))
  if not (t <= cutoff) then break end
  expired = expired + 1
end
local live = len - expired
if live >= limit then
  local oldest = false
  if live > 0 then oldest = redis.call('LINDEX', key, -1 - expired) end
  return {0, live, oldest}
end
if live == 0 then
  redis.call('DEL', key)
elseif expired > 0 then
  redis.call('LTRIM', key, 0, live - 1)
end
redis.call('LPUSH', key, ARGV[1])
redis.call('PEXPIRE', key, ARGV[4])
return {1, live + 1, false}
";

/// Connection settings for [`RedisStore`].
#[derive(Debug, Clone)]
pub struct RedisStoreConfig {
    /// Prepended to every store key; with the default, keys read `throttle:<scope>:<ident>`.
    pub key_prefix: String,
    /// Bounds how long a request waits for a (re)connection before failing open.
    pub connection_timeout: Duration,
    /// Bounds how long a request waits for the script's reply before failing open.
    pub response_timeout: Duration,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        Self {
            key_prefix: "throttle:".to_owned(),
            connection_timeout: Duration::from_millis(250),
            response_timeout: Duration::from_millis(250),
        }
    }
}

/// Histories in Redis lists with `PEXPIRE` = the rate's duration. One script call per request.
pub struct RedisStore {
    connection: ConnectionManager,
    script: Script,
    key_prefix: String,
}

impl RedisStore {
    /// [`with_config`](Self::with_config) with the default settings.
    pub fn new(url: &str) -> Result<Self, ThrottleError> {
        Self::with_config(url, RedisStoreConfig::default())
    }

    /// Connects lazily: this only fails for a malformed URL, never because Redis is down, so
    /// the service starts (and fails open) without Redis. Must be called within a Tokio runtime.
    pub fn with_config(url: &str, config: RedisStoreConfig) -> Result<Self, ThrottleError> {
        let client =
            Client::open(url).map_err(|e| ThrottleError::with_source("invalid Redis URL", e))?;
        // A single connection attempt per reconnect: requests waiting on a backoff schedule
        // would stall during an outage instead of failing open promptly. Later requests trigger
        // the next attempt.
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| ThrottleError::with_source("cannot set up the Redis connection", e))?;
        Ok(Self {
            connection,
            script: Script::new(CHECK_AND_RECORD),
            key_prefix: config.key_prefix,
        })
    }

    /// Round-trips a `PING`, for start-up and health checks.
    pub async fn ping(&self) -> Result<(), ThrottleError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| ThrottleError::with_source("Redis PING failed", e))
    }

    async fn run(&self, key: &str, rate: Rate, now: f64) -> Result<Decision, ThrottleError> {
        if !now.is_finite() {
            return Err(ThrottleError::new(format!(
                "clock reading {now} is not finite"
            )));
        }
        let duration = rate.duration.as_secs_f64();
        // PEXPIRE 0 would delete the key just written.
        let ttl_ms = u64::try_from(rate.duration.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut connection = self.connection.clone();
        let (allowed, live, oldest): (i64, i64, Option<String>) = self
            .script
            .key(format!("{}{key}", self.key_prefix))
            .arg(now.to_string())
            .arg(duration.to_string())
            .arg(rate.num_requests)
            .arg(ttl_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| ThrottleError::with_source("Redis throttle script failed", e))?;
        if allowed == 1 {
            return Ok(Decision::Allowed);
        }
        let live = usize::try_from(live).map_err(|_| {
            ThrottleError::new(format!("Redis returned a history length of {live}"))
        })?;
        let oldest = oldest
            .map(|text| {
                text.parse::<f64>().map_err(|_| {
                    ThrottleError::new(format!("Redis history holds a non-timestamp {text:?}"))
                })
            })
            .transpose()?;
        Ok(Decision::Throttled {
            wait: drf_wait(rate, now, live, oldest),
        })
    }
}

impl ThrottleStore for RedisStore {
    fn allow_request<'a>(&'a self, key: &'a str, rate: Rate, now: f64) -> StoreFuture<'a> {
        Box::pin(self.run(key, rate, now))
    }
}
