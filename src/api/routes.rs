//! URL resolution: every catalogue endpoint plus DRF's format-suffix variants
//! (`practices.json`, `practices.json/`), with path parameters matching `[^/.]+`.

use crate::schema::Endpoint;

pub const API_V1: &str = "/api/v1/";

#[derive(Debug)]
pub struct Resolved {
    pub endpoint: &'static Endpoint,
    pub params: Vec<(&'static str, String)>,
    /// Format given as a URL suffix (`.json`), which takes precedence over `?format=`.
    pub suffix: Option<String>,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Matches `rest` (the path below `/api/v1/`, no trailing slash) against a pattern's segments.
fn match_segments(pattern: &[&'static str], rest: &[&str]) -> Option<Vec<(&'static str, String)>> {
    if pattern.len() != rest.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, r) in pattern.iter().zip(rest) {
        if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let value = percent_decode(r);
            if value.is_empty() || value.contains(['/', '.']) {
                return None;
            }
            params.push((name, value));
        } else if p != r {
            return None;
        }
    }
    Some(params)
}

fn is_format(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Resolves a request path to an endpoint, or `None` when no route matches.
pub fn resolve(endpoints: &[&'static Endpoint], path: &str) -> Option<Resolved> {
    endpoints.iter().find_map(|endpoint| {
        let Matched { params, suffix } = resolve_pattern(endpoint.path, path)?;
        Some(Resolved {
            endpoint,
            params,
            suffix,
        })
    })
}

/// What a request path gives a route it matches.
#[derive(Debug)]
pub struct Matched {
    pub params: Vec<(&'static str, String)>,
    /// Format given as a URL suffix (`.json`).
    pub suffix: Option<String>,
}

/// Matches a request path against one route below `/api/v1/` (`practices/{ods_code}/`), as
/// DRF's router and format suffixes do: the path parameters, and the format given as a suffix.
pub fn resolve_pattern(route: &'static str, path: &str) -> Option<Matched> {
    let rest = path.strip_prefix(API_V1)?;
    let pattern: Vec<&'static str> = route.trim_end_matches('/').split('/').collect();
    // Plain route: requires the trailing slash.
    if let Some(body) = rest.strip_suffix('/') {
        let segments: Vec<&str> = body.split('/').collect();
        if let Some(params) = match_segments(&pattern, &segments) {
            return Some(Matched {
                params,
                suffix: None,
            });
        }
    }
    // Suffix route: `<last>.<format>` with an optional trailing slash.
    let body = rest.strip_suffix('/').unwrap_or(rest);
    let (head, format) = body.rsplit_once('.')?;
    if !is_format(format) {
        return None;
    }
    let segments: Vec<&str> = head.split('/').collect();
    match_segments(&pattern, &segments).map(|params| Matched {
        params,
        suffix: Some(format.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

    /// Endpoint path, path parameters and format suffix of a resolved route.
    type Route = (String, Vec<(&'static str, String)>, Option<String>);

    fn path_of(p: &str) -> Option<Route> {
        resolve(catalogue::endpoints(), p).map(|r| (r.endpoint.path.to_owned(), r.params, r.suffix))
    }

    #[test]
    fn plain_and_suffix_routes() {
        assert_eq!(path_of("/api/v1/practices/").unwrap().0, "practices/");
        assert!(path_of("/api/v1/practices").is_none());
        let (p, _, s) = path_of("/api/v1/practices.json").unwrap();
        assert_eq!((p.as_str(), s.as_deref()), ("practices/", Some("json")));
        assert_eq!(
            path_of("/api/v1/practices.json/").unwrap().2.as_deref(),
            Some("json")
        );
        assert_eq!(
            path_of("/api/v1/practices.xml").unwrap().2.as_deref(),
            Some("xml")
        );
        assert!(path_of("/api/v1/practices.JSON").is_none());
    }

    #[test]
    fn path_parameters() {
        let (p, params, _) = path_of("/api/v1/practices/a81001/population/").unwrap();
        assert_eq!(p, "practices/{ods_code}/population/");
        assert_eq!(params, vec![("ods_code", "a81001".to_owned())]);
        assert!(path_of("/api/v1/practices/a.b/population/").is_none());
        assert!(path_of("/api/v1/practices//population/").is_none());
        assert_eq!(
            path_of("/api/v1/practices/A81001/population.json")
                .unwrap()
                .2
                .as_deref(),
            Some("json")
        );
    }
}
