//! Conditional GET (RFC 9110 §8.8.3, §13.1.2): a strong entity tag on every 200 a view can
//! derive one for, and `304 Not Modified` when the client's `If-None-Match` names it. A view
//! derives its tag from whatever its body depends on, calls `check` before doing the work of a
//! body, and `respond` with the 200 it would send.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

/// Clients may keep a copy but must revalidate it before each use: data changes with imports,
/// at no time known in advance.
pub const CACHE_CONTROL: &str = "private, max-age=0, must-revalidate";

/// A strong entity tag, quoted as it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag(String);

impl EntityTag {
    /// The tag of a representation that depends on exactly `parts` (each length-prefixed, so
    /// no two different lists of parts hash alike).
    pub fn of(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        // 128 bits: far beyond any chance of two representations sharing a tag.
        EntityTag(format!("\"{}\"", hex::encode(&hasher.finalize()[..16])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The opaque part, without its quotes.
    fn opaque(&self) -> &str {
        &self.0[1..self.0.len() - 1]
    }
}

/// Whether `If-None-Match` names the current representation, by the weak comparison RFC 9110
/// prescribes for it: `*`, or a listed tag with the same opaque part, `W/` or not. A header
/// that is not a list of entity tags matches nothing, so the full response is sent.
pub fn if_none_match(headers: &HeaderMap, current: &EntityTag) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|value| listed_tags(value.as_bytes()).is_some_and(|tags| tags.matches(current)))
}

/// Whether `If-None-Match` lists the current tag itself. Unlike `*`, which claims only that a
/// representation exists, a listed tag was sent with a 200 of the same request, so it decides
/// a 304 before the response is worked out.
fn lists(headers: &HeaderMap, current: &EntityTag) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|value| {
        matches!(listed_tags(value.as_bytes()), Some(tags @ Listed::Tags(_)) if tags.matches(current))
    })
}

/// The tags one `If-None-Match` field value lists.
enum Listed<'a> {
    Any,
    Tags(Vec<&'a [u8]>),
}

impl Listed<'_> {
    fn matches(&self, current: &EntityTag) -> bool {
        match self {
            Listed::Any => true,
            Listed::Tags(tags) => tags.iter().any(|t| *t == current.opaque().as_bytes()),
        }
    }
}

/// `"*" / #entity-tag`, where `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`; an opaque part may
/// hold commas, so the list is read tag by tag rather than split. `None` when malformed.
fn listed_tags(value: &[u8]) -> Option<Listed<'_>> {
    let trimmed = value.trim_ascii();
    if trimmed == b"*" {
        return Some(Listed::Any);
    }
    let mut tags = Vec::new();
    let mut rest = trimmed;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(after) = rest.strip_prefix(b",") {
            rest = after.trim_ascii_start();
        }
        if rest.is_empty() {
            break;
        }
        let quoted = rest
            .strip_prefix(b"W/")
            .unwrap_or(rest)
            .strip_prefix(b"\"")?;
        let end = quoted.iter().position(|&b| b == b'"')?;
        tags.push(&quoted[..end]);
        rest = &quoted[end + 1..];
        let next = rest.trim_ascii_start();
        if !(next.is_empty() || next.starts_with(b",")) {
            return None;
        }
    }
    (!tags.is_empty()).then_some(Listed::Tags(tags))
}

/// Adds the tag and the revalidation policy to a 200.
pub fn tag(response: &mut Response, current: &EntityTag) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(current.as_str()) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
}

/// `304 Not Modified`: no body, the tag and the revalidation policy.
pub fn not_modified(current: &EntityTag) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    tag(&mut response, current);
    response
}

/// The 304 when `If-None-Match` lists the current tag, decided before any work on the body;
/// `respond` then answers `*` once the response is known to be a 200.
pub fn check(headers: &HeaderMap, current: &EntityTag) -> Option<Response> {
    lists(headers, current).then(|| not_modified(current))
}

/// The tag of a body computed in full, which depends on nothing but itself and its type.
pub fn of_body(content_type: &str, body: &[u8]) -> EntityTag {
    EntityTag::of(&[content_type.as_bytes(), body])
}

/// `response` (a 200) tagged, or the 304 when `If-None-Match` names it.
pub fn respond(request: &HeaderMap, current: &EntityTag, mut response: Response) -> Response {
    if if_none_match(request, current) {
        return not_modified(current);
    }
    tag(&mut response, current);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(header: &str, current: &EntityTag) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, header.parse().unwrap());
        if_none_match(&headers, current)
    }

    #[test]
    fn tags_are_quoted_and_differ_with_their_parts() {
        let a = EntityTag::of(&[b"ab", b"c"]);
        assert!(a.as_str().starts_with('"') && a.as_str().ends_with('"'));
        assert_eq!(a.as_str().len(), 34);
        assert_eq!(a, EntityTag::of(&[b"ab", b"c"]));
        assert_ne!(a, EntityTag::of(&[b"a", b"bc"]));
        assert_ne!(a, EntityTag::of(&[b"abc"]));
    }

    #[test]
    fn if_none_match_compares_weakly_over_a_list() {
        let current = EntityTag::of(&[b"x"]);
        let quoted = current.as_str();
        assert!(matches(quoted, &current));
        assert!(matches(&format!("W/{quoted}"), &current));
        assert!(matches(&format!("\"other\", {quoted}"), &current));
        assert!(matches(&format!("\"a,b\",W/{quoted} ,"), &current));
        assert!(matches("*", &current));
        assert!(matches(" * ", &current));
        assert!(!matches("\"other\"", &current));
        assert!(!matches(&quoted[1..quoted.len() - 1], &current), "unquoted");
        assert!(!matches(&format!("{quoted} junk"), &current));
        assert!(
            !matches(&format!("w/{quoted}"), &current),
            "W/ is case-sensitive"
        );
        assert!(!matches("", &current));
        assert!(!matches("*, \"x\"", &current), "* stands alone");
    }

    #[test]
    fn a_304_has_no_body_and_carries_the_tag() {
        let current = EntityTag::of(&[b"x"]);
        let response = not_modified(&current);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], current.as_str());
        assert_eq!(response.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
    }
}
