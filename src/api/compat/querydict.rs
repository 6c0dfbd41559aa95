//! Django's `QueryDict`: the query string as `request.GET` sees it, and the field limit.

/// Django's default `DATA_UPLOAD_MAX_NUMBER_FIELDS`.
pub const MAX_NUMBER_FIELDS: usize = 1000;

/// The request's query string parsed like Django's `QueryDict`.
///
/// Django builds `request.GET` with `urllib.parse.parse_qsl(keep_blank_values=True)`: the
/// string is split on `&` only, empty segments are dropped, a segment without `=` is a key
/// with an empty value, `+` means space, and `%XX` escapes are decoded as UTF-8 with invalid
/// sequences replaced by U+FFFD. Every pair is kept, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses the raw (still percent-encoded) query string, without the leading `?`.
    pub fn parse(raw: Option<&str>) -> Self {
        Self {
            pairs: parse_qsl(raw.unwrap_or("")),
        }
    }

    /// `QueryDict.get(key)`: the last value given for `key`.
    pub fn last(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The last value for `key`, or `None` when absent or exactly empty: an empty value
    /// means "no filter". A whitespace-only value is not empty (Django's `DateField`, for
    /// one, rejects it rather than ignoring it).
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.last(key).filter(|v| !v.is_empty())
    }

    /// Every decoded `(key, value)` pair in request order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// True when Django would refuse to build `request.GET` (`TooManyFieldsSent`, answered with
/// Django's HTML 400 page): `parse_qsl(max_num_fields=1000)` counts `1 + number of '&'`,
/// empty segments included.
pub fn too_many_fields(raw: Option<&str>) -> bool {
    match raw {
        None | Some("") => false,
        Some(qs) => 1 + qs.matches('&').count() > MAX_NUMBER_FIELDS,
    }
}

/// `urllib.parse.parse_qsl(qs, keep_blank_values=True)`.
pub(super) fn parse_qsl(qs: &str) -> Vec<(String, String)> {
    qs.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            (unquote_plus(name), unquote_plus(value))
        })
        .collect()
}

/// `urllib.parse.unquote_plus(s, encoding='utf-8', errors='replace')`.
///
/// CPython decodes each run of ASCII characters separately, but raw non-ASCII characters
/// are always complete UTF-8 sequences, so decoding the whole byte string at once replaces
/// exactly the same invalid subsequences.
fn unquote_plus(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|pair| {
                    let hi = char::from(pair[0]).to_digit(16)?;
                    let lo = char::from(pair[1]).to_digit(16)?;
                    u8::try_from(hi * 16 + lo).ok()
                });
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        QueryParams::parse(Some(raw)).pairs().to_vec()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn query_params_follow_parse_qsl() {
        assert!(QueryParams::parse(None).pairs().is_empty());
        assert!(QueryParams::parse(Some("")).pairs().is_empty());
        // Expected values produced by CPython's parse_qsl(keep_blank_values=True).
        assert_eq!(
            pairs("a=1&&b&=x&c=%zz%41+%2B&d=%ED%A0%80&e=%F0%9F%98&f=%C3é%A9;g=1"),
            vec![
                pair("a", "1"),
                pair("b", ""),
                pair("", "x"),
                pair("c", "%zzA +"),
                pair("d", "\u{fffd}\u{fffd}\u{fffd}"),
                pair("e", "\u{fffd}"),
                pair("f", "\u{fffd}é\u{fffd};g=1"),
            ]
        );
        assert_eq!(pairs("a=b=c"), vec![pair("a", "b=c")]);
        assert_eq!(
            pairs("a=%2&b=%&c=%4"),
            vec![pair("a", "%2"), pair("b", "%"), pair("c", "%4")]
        );
        assert_eq!(pairs("="), vec![pair("", "")]);
        assert_eq!(pairs("%61%3D=%e2%82%ac"), vec![pair("a=", "€")]);
        assert_eq!(pairs("&&&"), vec![]);
    }

    #[test]
    fn last_value_wins_and_empty_means_absent() {
        let q = QueryParams::parse(Some("page=2&page=3&name=&blank=%20&d=2024-01-05&d=bad"));
        assert_eq!(q.last("page"), Some("3"));
        assert_eq!(q.last("name"), Some(""));
        assert_eq!(q.non_empty("name"), None);
        assert_eq!(q.non_empty("blank"), Some(" "));
        assert_eq!(q.non_empty("d"), Some("bad"));
        assert_eq!(q.last("missing"), None);
        assert_eq!(q.non_empty("missing"), None);
        let q = QueryParams::parse(Some("x=1&x="));
        assert_eq!(q.non_empty("x"), None);
    }

    #[test]
    fn field_limit_counts_separators() {
        assert!(!too_many_fields(None));
        assert!(!too_many_fields(Some("")));
        assert!(!too_many_fields(Some(&"&".repeat(999))));
        assert!(too_many_fields(Some(&"&".repeat(1000))));
        let fields: Vec<String> = (0..1001).map(|i| format!("k{i}=v")).collect();
        assert!(too_many_fields(Some(&fields.join("&"))));
        assert!(!too_many_fields(Some(&fields[..1000].join("&"))));
    }
}
