//! `urllib.parse` and DRF's `replace_query_param` / `remove_query_param`: the pagination links.

use std::collections::BTreeMap;

use super::querydict::parse_qsl;

/// `urllib.parse.quote_plus(s)`: unreserved `A-Za-z0-9_.-~` kept, space as `+`, every other
/// UTF-8 byte as upper-case `%XX`.
fn quote_plus_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in s.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
}

/// `urllib.parse.urlsplit` result (CPython 3.12+ rules).
struct SplitUrl {
    scheme: String,
    netloc: String,
    path: String,
    query: String,
    fragment: String,
}

/// `urllib.parse.uses_netloc`.
const USES_NETLOC: [&str; 27] = [
    "",
    "ftp",
    "http",
    "gopher",
    "nntp",
    "telnet",
    "imap",
    "wais",
    "file",
    "mms",
    "https",
    "shttp",
    "snews",
    "prospero",
    "rtsp",
    "rtsps",
    "rtspu",
    "rsync",
    "svn",
    "svn+ssh",
    "sftp",
    "nfs",
    "git",
    "git+ssh",
    "ws",
    "wss",
    "itms-services",
];

impl SplitUrl {
    fn split(url: &str) -> Self {
        let url: String = url
            .trim_start_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        let mut rest = url.as_str();
        let mut scheme = String::new();
        if let Some(colon) = rest.find(':') {
            let candidate = &rest[..colon];
            let starts_alpha = candidate.starts_with(|c: char| c.is_ascii_alphabetic());
            let all_scheme_chars = candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if starts_alpha && all_scheme_chars {
                scheme = candidate.to_ascii_lowercase();
                rest = &rest[colon + 1..];
            }
        }
        let mut netloc = "";
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            netloc = &after[..end];
            rest = &after[end..];
        }
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Self {
            scheme,
            netloc: netloc.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            fragment: fragment.to_owned(),
        }
    }

    /// `urllib.parse.urlunsplit` with the given query.
    fn unsplit(&self, query: &str) -> String {
        let mut url = String::new();
        if !self.scheme.is_empty() {
            url.push_str(&self.scheme);
            url.push(':');
        }
        if !self.netloc.is_empty() {
            url.push_str("//");
            url.push_str(&self.netloc);
            if !self.path.is_empty() && !self.path.starts_with('/') {
                url.push('/');
            }
        } else if self.path.starts_with("//")
            || (!self.scheme.is_empty()
                && USES_NETLOC.contains(&self.scheme.as_str())
                && (self.path.is_empty() || self.path.starts_with('/')))
        {
            url.push_str("//");
        }
        url.push_str(&self.path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        if !self.fragment.is_empty() {
            url.push('#');
            url.push_str(&self.fragment);
        }
        url
    }
}

/// DRF's query rewriting: `parse_qs(keep_blank_values=True)`, `edit`, then
/// `urlencode(sorted(items), doseq=True)`.
fn rewrite_query(url: &str, edit: impl FnOnce(&mut BTreeMap<String, Vec<String>>)) -> String {
    let split = SplitUrl::split(url);
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in parse_qsl(&split.query) {
        params.entry(key).or_default().push(value);
    }
    edit(&mut params);
    let mut query = String::new();
    for (key, values) in &params {
        for value in values {
            if !query.is_empty() {
                query.push('&');
            }
            quote_plus_into(key, &mut query);
            query.push('=');
            quote_plus_into(value, &mut query);
        }
    }
    split.unsplit(&query)
}

/// DRF `rest_framework.utils.urls.replace_query_param`: sets `key` to the single value
/// `val`, keeps every other parameter (blank ones and repeats included), sorts the keys and
/// re-encodes everything with `quote_plus`.
pub fn replace_query_param(url: &str, key: &str, val: &str) -> String {
    rewrite_query(url, |params| {
        params.insert(key.to_owned(), vec![val.to_owned()]);
    })
}

/// DRF `rest_framework.utils.urls.remove_query_param`; no `?` remains when no parameter does.
pub fn remove_query_param(url: &str, key: &str) -> String {
    rewrite_query(url, |params| {
        params.remove(key);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::compat::querydict::QueryParams;
    use proptest::prelude::*;

    #[test]
    fn contract_link_examples() {
        let base = "http://host/api/v1/practices/";
        assert_eq!(
            replace_query_param(base, "page", "2"),
            format!("{base}?page=2")
        );

        let url = format!("{base}?page=2");
        assert_eq!(
            replace_query_param(&url, "page", "3"),
            format!("{base}?page=3")
        );
        assert_eq!(remove_query_param(&url, "page"), base);

        let url = format!("{base}?page_size=100&page=2&zeta=1&alpha=x%20y&c=a,b/c");
        assert_eq!(
            replace_query_param(&url, "page", "3"),
            format!("{base}?alpha=x+y&c=a%2Cb%2Fc&page=3&page_size=100&zeta=1")
        );
        assert_eq!(
            remove_query_param(&url, "page"),
            format!("{base}?alpha=x+y&c=a%2Cb%2Fc&page_size=100&zeta=1")
        );

        let url = format!("{base}?year=2025/26&page=1");
        assert_eq!(
            replace_query_param(&url, "page", "2"),
            format!("{base}?page=2&year=2025%2F26")
        );

        assert_eq!(
            replace_query_param("http://host/api/v1/practices.json", "page", "2"),
            "http://host/api/v1/practices.json?page=2"
        );
        assert_eq!(
            replace_query_param(
                "http://host/api/v1/practices/?page_size=1000&x=%3A",
                "page",
                "2"
            ),
            "http://host/api/v1/practices/?page=2&page_size=1000&x=%3A"
        );
    }

    #[test]
    fn link_building_matches_cpython() {
        // Expected values produced by DRF's replace_query_param / remove_query_param.
        let cases: &[(&str, &str, &str)] = &[
            (
                "http://host/api/v1/practices/?a=1#frag",
                "http://host/api/v1/practices/?a=1&page=3#frag",
                "http://host/api/v1/practices/?a=1#frag",
            ),
            (
                "http://host/p/?name=&x&=v&a=2&a=1",
                "http://host/p/?=v&a=2&a=1&name=&page=3&x=",
                "http://host/p/?=v&a=2&a=1&name=&x=",
            ),
            (
                "http://host/p/?q=%C3%A9+%2B~*'()!&B=1&%C3%A9=2",
                "http://host/p/?B=1&page=3&q=%C3%A9+%2B~%2A%27%28%29%21&%C3%A9=2",
                "http://host/p/?B=1&q=%C3%A9+%2B~%2A%27%28%29%21&%C3%A9=2",
            ),
            (
                "HTTP://Host:8443/p/?page=5",
                "http://Host:8443/p/?page=3",
                "http://Host:8443/p/",
            ),
            ("/p/?x=1&page=2", "/p/?page=3&x=1", "/p/?x=1"),
            (
                "http://host/p/?v=%FF%zz",
                "http://host/p/?page=3&v=%EF%BF%BD%25zz",
                "http://host/p/?v=%EF%BF%BD%25zz",
            ),
            (
                "http://host/p/?page=1&page=2",
                "http://host/p/?page=3",
                "http://host/p/",
            ),
            (
                "http://host/p/?page=2#",
                "http://host/p/?page=3",
                "http://host/p/",
            ),
            (
                "http://host/p/?&&page=2&&",
                "http://host/p/?page=3",
                "http://host/p/",
            ),
            (
                "http://host?x=1",
                "http://host?page=3&x=1",
                "http://host?x=1",
            ),
            (
                "http://host/p/?a=b=c;d",
                "http://host/p/?a=b%3Dc%3Bd&page=3",
                "http://host/p/?a=b%3Dc%3Bd",
            ),
            (
                " http://host/p/?x=\t1",
                "http://host/p/?page=3&x=1",
                "http://host/p/?x=1",
            ),
        ];
        for &(url, replaced, removed) in cases {
            assert_eq!(replace_query_param(url, "page", "3"), replaced, "{url}");
            assert_eq!(remove_query_param(url, "page"), removed, "{url}");
        }
    }

    fn query_text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[a-zA-Z0-9 &=+%#?/,;:~_.*'é€😀\u{2028}-]{0,8}").unwrap()
    }

    fn encode_component(s: &str) -> String {
        let mut out = String::new();
        quote_plus_into(s, &mut out);
        out
    }

    proptest! {
        #[test]
        fn replace_query_param_keeps_every_pair(
            params in proptest::collection::vec((query_text(), query_text()), 0..6),
            page in 1u64..1_000_000,
        ) {
            let query: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
                .collect();
            let url = format!("http://host/api/v1/x/?{}", query.join("&"));
            let next = replace_query_param(&url, "page", &page.to_string());

            let (base, new_query) = next.split_once('?').unwrap();
            prop_assert_eq!(base, "http://host/api/v1/x/");
            let mut got = QueryParams::parse(Some(new_query)).pairs().to_vec();
            let mut expected: Vec<(String, String)> =
                params.into_iter().filter(|(k, _)| k != "page").collect();
            expected.push(("page".to_owned(), page.to_string()));
            got.sort();
            expected.sort();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn remove_query_param_drops_only_that_key(
            params in proptest::collection::vec((query_text(), query_text()), 0..6),
        ) {
            let query: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
                .collect();
            let url = format!("http://host/x/?{}", query.join("&"));
            let prev = remove_query_param(&url, "page");
            let new_query = prev.split_once('?').map_or("", |(_, q)| q);
            let mut got = QueryParams::parse(Some(new_query)).pairs().to_vec();
            let mut expected: Vec<(String, String)> =
                params.into_iter().filter(|(k, _)| k != "page").collect();
            got.sort();
            expected.sort();
            prop_assert_eq!(got, expected);
        }
    }
}
