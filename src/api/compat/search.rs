//! DRF `SearchFilter`: Django's `smart_split`, the null-character refusal, this service's bounds, and the `icontains` pattern.

use thiserror::Error;

use super::python::{is_py_space, py_strip};

/// Django's `ProhibitNullCharactersValidator`, which every `forms.CharField` runs: PostgreSQL
/// cannot store a NUL in text, and SQLite would compare it silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("Null characters are not allowed.")]
pub struct NullCharacters;

/// The longest `search` value served, in characters (Python `len`). DRF has no bound; each term
/// becomes a nested SQL condition, and a few thousand of them overflow a worker's stack.
pub const MAX_SEARCH_CHARS: usize = 256;

/// The most search terms served: more than any person types, few enough to keep the SQL small.
pub const MAX_SEARCH_TERMS: usize = 16;

/// Why a `search` value is refused; the body is DRF's bare list `["<message>"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SearchError {
    #[error(transparent)]
    NullCharacters(#[from] NullCharacters),
    /// Django's `MaxLengthValidator` wording.
    #[error("Ensure this value has at most {max} characters (it has {0}).", max = MAX_SEARCH_CHARS)]
    TooLong(usize),
    #[error("Ensure this search has at most {max} terms (it has {0}).", max = MAX_SEARCH_TERMS)]
    TooManyTerms(usize),
}

/// The token ends of Django's `smart_split` regex at `start` (a non-space character):
/// ```text
/// ((?: [^\s'"]* (?: (?:"(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*') [^\s'"]* )+ ) | \S+)
/// ```
/// The first alternative needs at least one closed quoted string; otherwise the token is
/// the whole run of non-space characters.
fn smart_split_token_end(chars: &[char], start: usize) -> usize {
    let skip_plain = |mut i: usize| {
        while i < chars.len() && !is_py_space(chars[i]) && !matches!(chars[i], '"' | '\'') {
            i += 1;
        }
        i
    };
    let closed_quote_end = |open: usize| -> Option<usize> {
        let quote = *chars.get(open)?;
        if !matches!(quote, '"' | '\'') {
            return None;
        }
        let mut i = open + 1;
        while let Some(&c) = chars.get(i) {
            if c == quote {
                return Some(i + 1);
            }
            if c == '\\' {
                // `\\.`: `.` matches anything but a newline.
                match chars.get(i + 1) {
                    Some(&next) if next != '\n' => i += 2,
                    _ => return None,
                }
            } else {
                i += 1;
            }
        }
        None
    };
    let mut end = None;
    let mut pos = skip_plain(start);
    while let Some(after_quote) = closed_quote_end(pos) {
        pos = skip_plain(after_quote);
        end = Some(pos);
    }
    end.unwrap_or_else(|| {
        start
            + chars[start..]
                .iter()
                .take_while(|&&c| !is_py_space(c))
                .count()
    })
}

/// Django `django.utils.text.smart_split`.
fn smart_split(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_py_space(chars[i]) {
            i += 1;
            continue;
        }
        let end = smart_split_token_end(&chars, i);
        tokens.push(chars[i..end].iter().collect());
        i = end;
    }
    tokens
}

/// Django `unescape_string_literal` for a string known to start and end with its quote.
fn unescape_string_literal(term: &str, quote: char) -> String {
    let inner = term
        .strip_prefix(quote)
        .and_then(|rest| rest.strip_suffix(quote))
        .unwrap_or("");
    inner
        .replace(&format!("\\{quote}"), &quote.to_string())
        .replace("\\\\", "\\")
}

/// DRF `SearchFilter.get_search_terms` + `search_smart_split` for the (last) `search` value:
/// split on whitespace and commas, quoted phrases kept together and unescaped. Every term
/// must match some search field. A NUL anywhere fails validation, then the value must have at
/// most [`MAX_SEARCH_CHARS`] characters, checked before the split so that its cost is bounded
/// too, and at most [`MAX_SEARCH_TERMS`] terms.
pub fn search_terms(s: &str) -> Result<Vec<String>, SearchError> {
    if s.contains('\0') {
        return Err(NullCharacters.into());
    }
    let chars = s.chars().count();
    if chars > MAX_SEARCH_CHARS {
        return Err(SearchError::TooLong(chars));
    }
    let mut terms = Vec::new();
    for token in smart_split(s) {
        let term = token.trim_matches(',');
        let mut chars = term.chars();
        let (first, last) = (chars.next(), chars.next_back());
        match first {
            Some(quote @ ('"' | '\'')) if last.unwrap_or(quote) == quote => {
                terms.push(unescape_string_literal(term, quote));
            }
            _ => terms.extend(
                term.split(',')
                    .filter(|sub| !sub.is_empty())
                    .map(|sub| py_strip(sub).to_owned()),
            ),
        }
    }
    if terms.len() > MAX_SEARCH_TERMS {
        return Err(SearchError::TooManyTerms(terms.len()));
    }
    Ok(terms)
}

/// SQL `LIKE` pattern for a case-insensitive "contains" (Django `icontains`): `%term%` with
/// `\`, `%` and `_` escaped by `\` (use `ESCAPE '\'`), lower-cased; compare it with the
/// lower-cased column.
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::compat::querydict::QueryParams;
    use proptest::prelude::*;

    #[test]
    fn search_terms_match_drf() {
        // Expected values produced by DRF's get_search_terms / search_smart_split.
        let cases: &[(&str, &[&str])] = &[
            ("elm", &["elm"]),
            ("elm  street", &["elm", "street"]),
            ("a,b c", &["a", "b", "c"]),
            ("\"elm street\" x", &["elm street", "x"]),
            ("'o\\'neil'", &["o'neil"]),
            ("\"a \\\"b\\\" c\"", &["a \"b\" c"]),
            (",\"a b\",", &["a b"]),
            ("\"abc", &["\"abc"]),
            ("'a'b'", &["'a'b", ""]),
            ("", &[]),
            ("   ", &[]),
            ("x\"a, b\"", &["x\"a", "b\""]),
            ("a\", ,\"", &["a\"", "", "\""]),
            ("\"", &[""]),
            ("a\"b c\"d e", &["a\"b c\"d", "e"]),
            ("\"a\\\\b\"", &["a\\b"]),
            ("\"a\\\nb\" c", &["\"a\\", "b\"", "c"]),
            ("x\u{3000}y\u{1c}z", &["x", "y", "z"]),
            (",,,", &[]),
            ("\"\"", &[""]),
            ("'a\" b' c", &["a\" b", "c"]),
            ("\"a\" \"b\"c\"d", &["a", "\"b\"c", "\"d"]),
            (" ,elm, ", &["elm"]),
            ("x\"y\"z\"w", &["x\"y\"z", "\"w"]),
        ];
        for &(input, expected) in cases {
            let expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(search_terms(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn search_rejects_null_characters() {
        let null = Err(SearchError::NullCharacters(NullCharacters));
        assert_eq!(search_terms("a\0"), null);
        assert_eq!(search_terms("\0"), null);
        let q = QueryParams::parse(Some("search=%00"));
        assert_eq!(search_terms(q.last("search").unwrap()), null);
        assert_eq!(
            SearchError::from(NullCharacters).to_string(),
            "Null characters are not allowed."
        );
        // Before the bounds, as before they existed.
        assert_eq!(search_terms(&format!("{}\0", "a,".repeat(300))), null);
    }

    #[test]
    fn search_length_is_bounded_in_characters() {
        let longest = "e".repeat(MAX_SEARCH_CHARS);
        assert_eq!(search_terms(&longest), Ok(vec![longest.clone()]));
        let accented = "é".repeat(MAX_SEARCH_CHARS);
        assert_eq!(search_terms(&accented), Ok(vec![accented.clone()]));
        assert_eq!(
            search_terms(&format!("{longest}e")),
            Err(SearchError::TooLong(257))
        );
        assert_eq!(
            search_terms(&format!("{accented}é")),
            Err(SearchError::TooLong(257))
        );
        // Blanks count: the bound applies to the value as sent.
        assert_eq!(
            search_terms(&" ".repeat(300)),
            Err(SearchError::TooLong(300))
        );
        let terms = ["a"; 14_500].join(",");
        assert_eq!(search_terms(&terms), Err(SearchError::TooLong(28_999)));
        assert_eq!(
            SearchError::TooLong(28_999).to_string(),
            "Ensure this value has at most 256 characters (it has 28999)."
        );
    }

    #[test]
    fn search_terms_are_bounded_after_the_split() {
        let sixteen = ["elm"; MAX_SEARCH_TERMS].join(",");
        assert_eq!(search_terms(&sixteen).map(|t| t.len()), Ok(16));
        assert_eq!(
            search_terms(&format!("{sixteen},elm")),
            Err(SearchError::TooManyTerms(17))
        );
        assert_eq!(
            search_terms(&format!("{sixteen} elm")),
            Err(SearchError::TooManyTerms(17))
        );
        // Separators alone are not terms; a quoted phrase is one term; empty quotes are one.
        assert_eq!(
            search_terms(&format!(",,{sixteen},, ,")).map(|t| t.len()),
            Ok(16)
        );
        let phrases = ["\"a b c\""; MAX_SEARCH_TERMS].join(" ");
        assert_eq!(search_terms(&phrases).map(|t| t.len()), Ok(16));
        assert_eq!(
            search_terms(&format!("{phrases} \"\"")),
            Err(SearchError::TooManyTerms(17))
        );
        // Length first: this many terms never reaches the split.
        assert_eq!(
            search_terms(&["a"; 200].join(",")),
            Err(SearchError::TooLong(399))
        );
        assert_eq!(
            SearchError::TooManyTerms(17).to_string(),
            "Ensure this search has at most 16 terms (it has 17)."
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Elm"), "%elm%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("ÉLM"), "%élm%");
        assert_eq!(like_pattern(""), "%%");
    }

    proptest! {
        #[test]
        fn search_terms_never_panic(s in any::<String>()) {
            let _ = search_terms(&s);
        }

        #[test]
        fn search_terms_never_panic_on_quote_soup(s in "[\"'\\\\, a\n\t\u{3000}]{0,24}") {
            let _ = search_terms(&s);
        }
    }
}
