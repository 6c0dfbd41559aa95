//! API keys: generated once, shown once, stored only as SHA-256 digests.

use chrono::{DateTime, NaiveDate, Utc};
use rand::RngExt;
use sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{Cell, Db};
use crate::schema::{Kind, Table, col, opt};
use crate::throttle::Rate;

/// Every key starts with this, so leaked keys are recognisable.
pub const KEY_PREFIX: &str = "hs_";
const SECRET_LEN: usize = 40;
/// Characters of the key shown in listings and logs (`hs_` plus 8).
pub const DISPLAY_PREFIX_LEN: usize = 11;

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
            "From this instant the key is refused",
        ),
        col("is_active", Kind::Boolean, "False once revoked"),
        opt(
            "rate",
            Kind::Text,
            "Throttle rate of this key (`1000/hour`); the default when empty",
        ),
        opt(
            "scopes",
            Kind::Text,
            "Comma-separated dataset groups; every group when empty",
        ),
    ],
    primary_key: &["id"],
    indexes: &[&["digest"], &["prefix"]],
};

/// A key as the server sees it after authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: i64,
    pub prefix: String,
    pub digest: [u8; 32],
    pub name: String,
    pub is_active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub rate: Option<Rate>,
    pub scopes: Vec<String>,
}

/// What `keys create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub email: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rate: Option<Rate>,
    pub scopes: Vec<String>,
}

impl NewKey {
    pub fn named(name: &str) -> Self {
        NewKey {
            name: name.to_owned(),
            ..Default::default()
        }
    }
}

/// A key's record as `keys list` and `keys show` print it (never the secret or its digest).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyRecord {
    pub prefix: String,
    pub name: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub rate: Option<String>,
    pub scopes: Vec<String>,
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

fn scopes_text(scopes: &[String]) -> Option<String> {
    (!scopes.is_empty()).then(|| scopes.join(","))
}

fn parse_scopes(text: Option<String>) -> Vec<String> {
    text.map(|s| {
        s.split(',')
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Creates a key and returns it in full; this is the only time it exists outside the client.
pub async fn create(db: &Db, new: &NewKey) -> Result<String, sqlx::Error> {
    let key = generate_secret();
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(API_KEYS.name))
        .columns(
            [
                "prefix",
                "digest",
                "name",
                "email",
                "created_at",
                "expires_at",
                "is_active",
                "rate",
                "scopes",
            ]
            .map(Alias::new),
        )
        .values_panic([
            key[..DISPLAY_PREFIX_LEN].into(),
            hex::encode(digest(&key)).into(),
            new.name.as_str().into(),
            new.email.clone().into(),
            Utc::now().into(),
            new.expires_at.into(),
            true.into(),
            new.rate.map(|r| r.to_string()).into(),
            scopes_text(&new.scopes).into(),
        ]);
    db.insert(&insert).await?;
    Ok(key)
}

const RECORD_COLUMNS: [&str; 9] = [
    "prefix",
    "name",
    "email",
    "created_at",
    "last_used_at",
    "expires_at",
    "is_active",
    "rate",
    "scopes",
];
const RECORD_KINDS: [Kind; 9] = [
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Timestamp,
    Kind::Timestamp,
    Kind::Timestamp,
    Kind::Boolean,
    Kind::Text,
    Kind::Text,
];

fn text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Text(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn timestamp(cell: &Cell) -> Option<DateTime<Utc>> {
    match cell {
        Cell::Timestamp(t) => Some(*t),
        _ => None,
    }
}

fn record(row: &[Cell]) -> KeyRecord {
    KeyRecord {
        prefix: text(&row[0]).unwrap_or_default(),
        name: text(&row[1]).unwrap_or_default(),
        email: text(&row[2]),
        created_at: timestamp(&row[3]).unwrap_or_default(),
        last_used_at: timestamp(&row[4]),
        expires_at: timestamp(&row[5]),
        is_active: matches!(row[6], Cell::Bool(true)),
        rate: text(&row[7]),
        scopes: parse_scopes(text(&row[8])),
    }
}

fn select_records() -> SelectStatement {
    let mut select = Query::select();
    select
        .columns(RECORD_COLUMNS.map(Alias::new))
        .from(Alias::new(API_KEYS.name))
        .order_by(Alias::new("id"), Order::Asc);
    select
}

pub async fn list(db: &Db) -> Result<Vec<KeyRecord>, sqlx::Error> {
    let rows = db.fetch_cells(&select_records(), &RECORD_KINDS).await?;
    Ok(rows.iter().map(|r| record(r)).collect())
}

/// The key a user named: by its display prefix (as `keys list` shows it), or by the whole key
/// they were given, which is matched by its digest.
fn named(key: &str) -> SimpleExpr {
    if key.len() > DISPLAY_PREFIX_LEN {
        Expr::col(Alias::new("digest")).eq(hex::encode(digest(key)))
    } else {
        Expr::col(Alias::new("prefix")).eq(key)
    }
}

pub async fn show(db: &Db, key: &str) -> Result<Option<KeyRecord>, sqlx::Error> {
    let mut select = select_records();
    select.and_where(named(key));
    let rows = db.fetch_cells(&select, &RECORD_KINDS).await?;
    Ok(rows.first().map(|r| record(r)))
}

/// Sets `is_active` on the key named by its display prefix or in full; returns whether one
/// matched.
pub async fn set_active(db: &Db, key: &str, active: bool) -> Result<bool, sqlx::Error> {
    let mut update = Query::update();
    update
        .table(Alias::new(API_KEYS.name))
        .value(Alias::new("is_active"), active)
        .and_where(named(key));
    Ok(db.update(&update).await? > 0)
}

/// Gives the key named by its prefix or in full a new secret, keeping its record (name, rate,
/// scopes, usage); the old secret stops working. Returns the new key, or `None` when no key
/// matched.
pub async fn rotate(db: &Db, old: &str) -> Result<Option<String>, sqlx::Error> {
    let key = generate_secret();
    let mut update = Query::update();
    update
        .table(Alias::new(API_KEYS.name))
        .value(Alias::new("prefix"), &key[..DISPLAY_PREFIX_LEN])
        .value(Alias::new("digest"), hex::encode(digest(&key)))
        .and_where(named(old));
    Ok((db.update(&update).await? > 0).then_some(key))
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
    let stored = text(&row[2])
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_default();
    // The lookup is by digest, but compare again without timing leaks before trusting it.
    if !bool::from(stored.as_slice().ct_eq(key_digest.as_slice())) {
        return Ok(None);
    }
    let Cell::Int(id) = row[0] else {
        return Ok(None);
    };
    Ok(Some(ApiKey {
        id,
        prefix: text(&row[1]).unwrap_or_default(),
        digest: *key_digest,
        name: text(&row[3]).unwrap_or_default(),
        is_active: matches!(row[4], Cell::Bool(true)),
        expires_at: timestamp(&row[5]),
        rate: text(&row[6]).and_then(|r| match r.parse() {
            Ok(rate) => Some(rate),
            Err(e) => {
                tracing::warn!(error = %e, "stored key rate is invalid; using the default");
                None
            }
        }),
        scopes: parse_scopes(text(&row[7])),
    }))
}

/// Midnight UTC at the start of `date`: an expiry date given on the command line.
pub fn start_of(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
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

    #[tokio::test]
    async fn a_key_is_named_by_its_prefix_or_in_full() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate(&[&API_KEYS], &[], 1).await.unwrap();
        let key = create(&db, &NewKey::named("analyst")).await.unwrap();
        let other = create(&db, &NewKey::named("other")).await.unwrap();
        let active = |key: String| {
            let db = db.clone();
            async move {
                find_by_digest(&db, &digest(&key))
                    .await
                    .unwrap()
                    .unwrap()
                    .is_active
            }
        };

        assert!(set_active(&db, &key, false).await.unwrap(), "the whole key");
        assert!(!active(key.clone()).await);
        assert!(active(other.clone()).await, "only that key");
        assert!(
            set_active(&db, &key[..DISPLAY_PREFIX_LEN], true)
                .await
                .unwrap()
        );
        assert!(active(key.clone()).await);
        // The last character changed, whatever it was.
        let last = if key.ends_with('x') { 'y' } else { 'x' };
        let wrong = format!("{}{last}", &key[..key.len() - 1]);
        assert!(
            !set_active(&db, &wrong, false).await.unwrap(),
            "a whole key must match exactly"
        );
        assert_eq!(show(&db, &key).await.unwrap().unwrap().name, "analyst");
    }

    #[test]
    fn digest_is_sha256() {
        assert_eq!(
            hex::encode(digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn scopes_round_trip_through_text() {
        let scopes = vec!["organisations".to_owned(), "workforce".to_owned()];
        assert_eq!(parse_scopes(scopes_text(&scopes)), scopes);
        assert_eq!(scopes_text(&[]), None);
        assert_eq!(parse_scopes(Some(" a, ,b ".to_owned())), ["a", "b"]);
    }
}
