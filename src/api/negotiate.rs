//! DRF's `DefaultContentNegotiation` with JSON as the only renderer.

use super::error::ApiError;
use super::json::drf_indent;

/// What the client will get: JSON, compact or indented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rendering {
    pub indent: Option<usize>,
}

struct MediaType<'a> {
    main: &'a str,
    sub: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> MediaType<'a> {
    fn parse(s: &'a str) -> Self {
        let mut parts = s.split(';');
        let full = parts.next().unwrap_or("").trim();
        let (main, sub) = full.split_once('/').unwrap_or((full, ""));
        let params = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        MediaType { main, sub, params }
    }

    fn precedence(&self) -> u8 {
        if self.main == "*" {
            0
        } else if self.sub == "*" {
            1
        } else if self.params.iter().all(|(k, _)| *k == "q") {
            2
        } else {
            3
        }
    }

    /// Whether `application/json` satisfies this accepted type (DRF `_MediaType.match`, with
    /// the renderer's parameter-free type on the left).
    fn admits_json(&self) -> bool {
        (self.sub == "*" || self.sub == "json") && (self.main == "*" || self.main == "application")
    }
}

/// Chooses the renderer: a `format` other than `json` is a 404, an `Accept` that admits no JSON
/// a 406. `indent` is honoured from the most specific matching `Accept` entry.
pub fn negotiate(format: Option<&str>, accept: Option<&[u8]>) -> Result<Rendering, ApiError> {
    if let Some(format) = format
        && format != "json"
    {
        return Err(ApiError::not_found());
    }
    let accept = match accept {
        None => return Ok(Rendering::default()),
        Some(bytes) => String::from_utf8_lossy(bytes),
    };
    let accepted: Vec<MediaType> = accept
        .split(',')
        .map(|t| MediaType::parse(t.trim()))
        .collect();
    for precedence in (0..=3).rev() {
        let matching = accepted
            .iter()
            .filter(|m| m.precedence() == precedence)
            .find(|m| m.admits_json());
        if let Some(m) = matching {
            // Parameters count only when the accepted type is more specific than the
            // renderer's own `application/json`.
            let indent = if precedence > 2 {
                drf_indent(
                    m.params
                        .iter()
                        .find(|(k, _)| *k == "indent")
                        .map(|(_, v)| *v),
                )
            } else {
                None
            };
            return Ok(Rendering { indent });
        }
    }
    Err(ApiError::NotAcceptable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(s: &str) -> Result<Rendering, ApiError> {
        negotiate(None, Some(s.as_bytes()))
    }

    #[test]
    fn json_admitting_accept_headers_get_json() {
        for a in [
            "*/*",
            "application/json",
            "application/*",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "application/json;q=0.1, text/html",
        ] {
            assert_eq!(accept(a).unwrap(), Rendering::default(), "{a}");
        }
    }

    #[test]
    fn html_only_or_empty_accept_is_406() {
        for a in ["text/html", "", "application/xml"] {
            assert!(matches!(accept(a), Err(ApiError::NotAcceptable)), "{a}");
        }
    }

    #[test]
    fn indent_is_clamped_and_zero_means_compact() {
        assert_eq!(
            accept("application/json; indent=4").unwrap().indent,
            Some(4)
        );
        assert_eq!(
            accept("application/json; indent=20").unwrap().indent,
            Some(8)
        );
        assert_eq!(accept("application/json; indent=0").unwrap().indent, None);
        assert_eq!(accept("*/*; indent=4").unwrap().indent, None);
    }

    #[test]
    fn format_other_than_json_is_404() {
        assert!(matches!(
            negotiate(Some("api"), None),
            Err(ApiError::NotFound(_))
        ));
        assert!(negotiate(Some("json"), None).is_ok());
        assert!(matches!(
            negotiate(Some("json"), Some(b"text/html")),
            Err(ApiError::NotAcceptable)
        ));
    }
}
