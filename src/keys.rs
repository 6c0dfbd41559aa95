//! API keys: generated once, shown once, stored only as SHA-256 digests.

use chrono::{DateTime, Utc};
use rand::RngExt;
use sea_query::{Alias, Expr, ExprTrait, Order, Query};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::catalogue::declare::{Kind, Table, col, opt};
use crate::db::{Cell, Db};

/// Every key starts with this, so leaked keys are recognisable.
pub const KEY_PREFIX: &str = "hs_";
const SECRET_LEN: usize = 40;
/// Characters of the key shown in listings and logs (`hs_` plus 8).
const DISPLAY_PREFIX_LEN: usize = 11;

pub static API_KEYS: Table = Table {
    name: "api_keys",
    columns: &[
        col("id", Kind::Integer, "Key id"),
        col(
            "prefix",
            Kind::Text,
            "First characters of the key, for identification",
        ),
        col("digest", Kind::Text, "Hex SHA-256 of the whole key"),
        col("name", Kind::Text, "Who or what the key is for"),
        opt("email", Kind::Text, "Contact for the key holder"),
        col("created_at", Kind::Timestamp, "When the key was created"),
        opt(
            "last_used_at",
            Kind::Timestamp,
            "Last authenticated request",
        ),
        opt(
            "expires_at",
            Kind::Timestamp,
            "After this instant the key is refused",
        ),
        col("is_active", Kind::Boolean, "False once revoked"),
        opt(
            "rate",
            Kind::Text,
            "Throttle rate of this key (`1000/hour`); default when empty",
        ),
        opt(
            "scopes",
            Kind::Text,
            "Comma-separated dataset groups; all when empty",
        ),
    ],
    primary_key: &["id"],
    indexes: &[&["digest"], &["prefix"]],
};

/// A key as the server sees it after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub prefix: String,
    pub digest: [u8; 32],
    pub name: String,
    pub is_active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub rate: Option<String>,
    pub scopes: Vec<String>,
}

/// A row of `keys list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeySummary {
    pub prefix: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub is_active: bool,
}

pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn generate_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let secret: String = (0..SECRET_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{KEY_PREFIX}{secret}")
}

/// Creates a key and returns it in full; this is the only time it exists outside the client.
pub async fn create(db: &Db, name: &str) -> Result<String, sqlx::Error> {
    let key = generate_secret();
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(API_KEYS.name))
        .columns(["prefix", "digest", "name", "created_at", "is_active"].map(Alias::new))
        .values_panic([
            key[..DISPLAY_PREFIX_LEN].into(),
            hex::encode(digest(&key)).into(),
            name.into(),
            Utc::now().into(),
            true.into(),
        ]);
    db.insert(&insert).await?;
    Ok(key)
}

pub async fn list(db: &Db) -> Result<Vec<KeySummary>, sqlx::Error> {
    let mut select = Query::select();
    select
        .columns(["prefix", "name", "created_at", "last_used_at", "is_active"].map(Alias::new))
        .from(Alias::new(API_KEYS.name))
        .order_by(Alias::new("id"), Order::Asc);
    let kinds = [
        Kind::Text,
        Kind::Text,
        Kind::Timestamp,
        Kind::Timestamp,
        Kind::Boolean,
    ];
    let rows = db.fetch_cells(&select, &kinds).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [
                Cell::Text(prefix),
                Cell::Text(name),
                Cell::Timestamp(created),
                last,
                Cell::Bool(active),
            ] => Some(KeySummary {
                prefix: prefix.clone(),
                name: name.clone(),
                created_at: *created,
                last_used_at: match last {
                    Cell::Timestamp(t) => Some(*t),
                    _ => None,
                },
                is_active: *active,
            }),
            _ => None,
        })
        .collect())
}

/// Sets `is_active` on the key with this display prefix; returns whether one matched.
pub async fn set_active(db: &Db, prefix: &str, active: bool) -> Result<bool, sqlx::Error> {
    let mut update = Query::update();
    update
        .table(Alias::new(API_KEYS.name))
        .value(Alias::new("is_active"), active)
        .and_where(Expr::col(Alias::new("prefix")).eq(prefix));
    Ok(db.update(&update).await? > 0)
}

pub async fn touch(db: &Db, id: i64, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let mut update = Query::update();
    update
        .table(Alias::new(API_KEYS.name))
        .value(Alias::new("last_used_at"), at)
        .and_where(Expr::col(Alias::new("id")).eq(id));
    db.update(&update).await.map(|_| ())
}

/// Finds the key whose digest is `key_digest`.
pub async fn find_by_digest(db: &Db, key_digest: &[u8; 32]) -> Result<Option<ApiKey>, sqlx::Error> {
    let hex_digest = hex::encode(key_digest);
    let mut select = Query::select();
    select
        .columns(
            [
                "id",
                "prefix",
                "digest",
                "name",
                "is_active",
                "expires_at",
                "rate",
                "scopes",
            ]
            .map(Alias::new),
        )
        .from(Alias::new(API_KEYS.name))
        .and_where(Expr::col(Alias::new("digest")).eq(hex_digest.as_str()));
    let kinds = [
        Kind::Integer,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Boolean,
        Kind::Timestamp,
        Kind::Text,
        Kind::Text,
    ];
    let rows = db.fetch_cells(&select, &kinds).await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let text = |c: &Cell| match c {
        Cell::Text(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let stored = text(&row[2])
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_default();
    // The lookup is by digest, but compare again without timing leaks before trusting it.
    if !bool::from(stored.as_slice().ct_eq(key_digest.as_slice())) {
        return Ok(None);
    }
    Ok(Some(ApiKey {
        id: match row[0] {
            Cell::Int(id) => id,
            _ => return Ok(None),
        },
        prefix: text(&row[1]).unwrap_or_default(),
        digest: *key_digest,
        name: text(&row[3]).unwrap_or_default(),
        is_active: matches!(row[4], Cell::Bool(true)),
        expires_at: match row[5] {
            Cell::Timestamp(t) => Some(t),
            _ => None,
        },
        rate: text(&row[6]),
        scopes: text(&row[7])
            .map(|s| {
                s.split(',')
                    .map(|g| g.trim().to_owned())
                    .filter(|g| !g.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_long() {
        let a = generate_secret();
        let b = generate_secret();
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + SECRET_LEN);
        assert_ne!(a, b);
        assert!(
            a[KEY_PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn digest_is_sha256() {
        assert_eq!(
            hex::encode(digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
