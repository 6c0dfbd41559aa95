//! Bearer authentication with DRF `TokenAuthentication`'s parsing and messages, over a short-lived
//! in-process cache of key lookups so a hot key costs no database round trip.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::error::ApiError;
use crate::db::Db;
use crate::keys::{self, ApiKey};

const KEYWORD: &[u8] = b"bearer";

/// How long a lookup (found or not) is trusted; a revocation reaches every node within this.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Bound on cached lookups, so a flood of random tokens cannot grow memory without limit.
const CACHE_CAPACITY: usize = 10_000;

/// The token of an `Authorization` header, or why the header is unusable.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No header, or another scheme: the authenticator abstains.
    None,
    Token(&'a str),
}

/// DRF `TokenAuthentication.authenticate` header parsing (keyword `Bearer`, case-insensitive).
pub fn parse_authorization(header: Option<&[u8]>) -> Result<Presented<'_>, ApiError> {
    let Some(header) = header else {
        return Ok(Presented::None);
    };
    let words: Vec<&[u8]> = header
        .split(|b| b" \t\n\r\x0b\x0c".contains(b))
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [] => Ok(Presented::None),
        [first, ..] if !first.eq_ignore_ascii_case(KEYWORD) => Ok(Presented::None),
        [_] => Err(ApiError::AuthenticationFailed(
            "Invalid token header. No credentials provided.",
        )),
        [_, token] => std::str::from_utf8(token)
            .map(Presented::Token)
            .map_err(|_| {
                ApiError::AuthenticationFailed(
                    "Invalid token header. Token string should not contain invalid characters.",
                )
            }),
        _ => Err(ApiError::AuthenticationFailed(
            "Invalid token header. Token string should not contain spaces.",
        )),
    }
}

struct Cached {
    key: Option<ApiKey>,
    fetched: Instant,
}

#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], Cached>>,
}

impl KeyCache {
    /// Resolves a presented token to an active key, with DRF's failure messages.
    pub async fn authenticate(&self, db: &Db, token: &str) -> Result<ApiKey, ApiError> {
        let digest = keys::digest(token);
        let now = Instant::now();
        let cached = {
            let entries = self.entries.lock().expect("key cache poisoned");
            entries
                .get(&digest)
                .filter(|c| now.duration_since(c.fetched) < CACHE_TTL)
                .map(|c| c.key.clone())
        };
        let key = match cached {
            Some(key) => key,
            None => {
                let key = keys::find_by_digest(db, &digest).await?;
                let mut entries = self.entries.lock().expect("key cache poisoned");
                if entries.len() >= CACHE_CAPACITY {
                    entries.retain(|_, c| now.duration_since(c.fetched) < CACHE_TTL);
                    if entries.len() >= CACHE_CAPACITY {
                        entries.clear();
                    }
                }
                entries.insert(
                    digest,
                    Cached {
                        key: key.clone(),
                        fetched: now,
                    },
                );
                key
            }
        };
        let key = key.ok_or(ApiError::AuthenticationFailed("Invalid token."))?;
        let expired = key.expires_at.is_some_and(|t| t <= Utc::now());
        if !key.is_active || expired {
            return Err(ApiError::AuthenticationFailed("User inactive or deleted."));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(h: &[u8]) -> Result<Presented<'_>, &'static str> {
        parse_authorization(Some(h)).map_err(|e| match e {
            ApiError::AuthenticationFailed(m) => m,
            _ => "other",
        })
    }

    #[test]
    fn drf_header_rules() {
        assert_eq!(parse_authorization(None).unwrap(), Presented::None);
        assert_eq!(parse(b"Token abc"), Ok(Presented::None));
        assert_eq!(parse(b"Basic abc"), Ok(Presented::None));
        assert_eq!(parse(b"Bearerabc"), Ok(Presented::None));
        assert_eq!(parse(b""), Ok(Presented::None));
        assert_eq!(parse(b"Bearer abc"), Ok(Presented::Token("abc")));
        assert_eq!(parse(b"bearer abc"), Ok(Presented::Token("abc")));
        assert_eq!(parse(b"BEARER   abc  "), Ok(Presented::Token("abc")));
        assert_eq!(
            parse(b"Bearer"),
            Err("Invalid token header. No credentials provided.")
        );
        assert_eq!(
            parse(b"Bearer a b"),
            Err("Invalid token header. Token string should not contain spaces.")
        );
        assert_eq!(
            parse(b"Bearer \xff\xfe"),
            Err("Invalid token header. Token string should not contain invalid characters.")
        );
    }
}
