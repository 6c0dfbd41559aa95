//! DRF's `DefaultContentNegotiation`: JSON and CSV for the catalogue views, several renderers
//! for the schema view, JSON alone for the index.

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

    /// DRF `_MediaType.match` with a renderer's parameter-free type on the left: whether the
    /// renderer's `main/sub` satisfies this accepted type.
    fn admits(&self, renderer: &str) -> bool {
        let (main, sub) = renderer.split_once('/').unwrap_or((renderer, ""));
        (self.sub == "*" || self.sub == sub) && (self.main == "*" || self.main == main)
    }
}

/// A renderer a view offers: its media type and its `?format=` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renderer {
    pub media_type: &'static str,
    pub format: &'static str,
}

pub const JSON: Renderer = Renderer {
    media_type: "application/json",
    format: "json",
};

/// Comma-separated rows, offered by the list views beside JSON.
pub const CSV: Renderer = Renderer {
    media_type: "text/csv",
    format: "csv",
};

/// The renderer negotiation chose, by index into the view's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub index: usize,
    pub rendering: Rendering,
}

/// DRF `DefaultContentNegotiation.select_renderer` over a view's renderers: a `format` no
/// renderer has is a 404; then the `Accept` entries are tried from the most specific group
/// down, each group against the renderers in order; no match is a 406. `indent` is honoured
/// from the matching entry when it is more specific than the renderer's own type.
pub fn select(
    renderers: &[Renderer],
    format: Option<&str>,
    accept: Option<&[u8]>,
) -> Result<Selected, ApiError> {
    let candidates: Vec<usize> = (0..renderers.len())
        .filter(|&i| format.is_none_or(|f| renderers[i].format == f))
        .collect();
    if candidates.is_empty() {
        return Err(ApiError::not_found());
    }
    let accept = match accept {
        None => {
            return Ok(Selected {
                index: candidates[0],
                rendering: Rendering::default(),
            });
        }
        Some(bytes) => String::from_utf8_lossy(bytes),
    };
    let accepted: Vec<MediaType> = accept
        .split(',')
        .map(|t| MediaType::parse(t.trim()))
        .collect();
    for precedence in (0..=3).rev() {
        for &index in &candidates {
            let matching = accepted
                .iter()
                .filter(|m| m.precedence() == precedence)
                .find(|m| m.admits(renderers[index].media_type));
            if let Some(m) = matching {
                // Parameters count only when the accepted type is more specific than the
                // renderer's own parameter-free type.
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
                return Ok(Selected {
                    index,
                    rendering: Rendering { indent },
                });
            }
        }
    }
    Err(ApiError::NotAcceptable)
}

/// Negotiation for views with JSON as the only renderer.
pub fn negotiate(format: Option<&str>, accept: Option<&[u8]>) -> Result<Rendering, ApiError> {
    select(&[JSON], format, accept).map(|s| s.rendering)
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
