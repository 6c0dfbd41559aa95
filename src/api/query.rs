//! Request-parameter rules of Python, Django, django-filter and DRF.
//!
//! Every function here reproduces one upstream parsing or encoding rule exactly, so that
//! clients of the DRF service this replaces see no difference on the wire. The upstream
//! function each one mirrors is named in its documentation.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};
use thiserror::Error;

use crate::source::financial_year::FinancialYear;

/// Django's default `DATA_UPLOAD_MAX_NUMBER_FIELDS`.
pub const MAX_NUMBER_FIELDS: usize = 1000;

/// CPython's default `sys.int_info.default_max_str_digits`: `int()` refuses longer digit strings.
const MAX_INT_STR_DIGITS: usize = 4300;

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
fn parse_qsl(qs: &str) -> Vec<(String, String)> {
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

/// Python's `str.isspace()` (and the regex `\s`): Unicode `White_Space` plus the ASCII
/// separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Code points of the digit zero of every Unicode decimal-digit (`Nd`) run outside ASCII,
/// as of Unicode 15 (CPython 3.12/3.13). Each run holds the digits 0..9 in order. Python's
/// `int()` and the regex `\d` accept all of them.
const UNICODE_DIGIT_ZEROS: [u32; 67] = [
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
    0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50,
    0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0,
    0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950,
    0x1FBF0,
];

/// The value of a Unicode decimal digit (`unicodedata.decimal`).
fn decimal_digit(c: char) -> Option<u32> {
    if c.is_ascii() {
        return c.to_digit(10);
    }
    let code = u32::from(c);
    let run = UNICODE_DIGIT_ZEROS.partition_point(|&zero| zero <= code);
    let zero = UNICODE_DIGIT_ZEROS[run.checked_sub(1)?];
    let value = code - zero;
    (value < 10).then_some(value)
}

/// A successfully parsed Python integer, which may not fit in an `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyInt {
    Value(i64),
    Overflow { negative: bool },
}

/// Python `int(s)` for a `str`: surrounding whitespace ignored, one optional sign, decimal
/// digits (any Unicode `Nd` digit) with single underscores only between digits, at most
/// 4300 digits.
pub(crate) fn parse_py_int(s: &str) -> Option<PyInt> {
    // int() only strips what CPython's `Py_ISSPACE` and `Py_UNICODE_ISSPACE` accept: that
    // is `White_Space`, without U+001C..U+001F (unlike str.strip()).
    let trimmed = s.trim_matches(char::is_whitespace);
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let mut magnitude: Option<u64> = Some(0);
    let mut digits = 0usize;
    let mut after_digit = false;
    for c in body.chars() {
        if c == '_' {
            if !after_digit {
                return None;
            }
            after_digit = false;
            continue;
        }
        let digit = decimal_digit(c)?;
        after_digit = true;
        digits += 1;
        magnitude = magnitude
            .and_then(|m| m.checked_mul(10))
            .and_then(|m| m.checked_add(u64::from(digit)));
    }
    if !after_digit || digits > MAX_INT_STR_DIGITS {
        return None;
    }
    let value = magnitude.and_then(|m| {
        if negative {
            0i64.checked_sub_unsigned(m)
        } else {
            i64::try_from(m).ok()
        }
    });
    Some(value.map_or(PyInt::Overflow { negative }, PyInt::Value))
}

/// Python `int(s)` for a `str`; `None` when Python raises `ValueError` or when the value does
/// not fit in an `i64`.
pub fn python_int(s: &str) -> Option<i64> {
    match parse_py_int(s)? {
        PyInt::Value(v) => Some(v),
        PyInt::Overflow { .. } => None,
    }
}

/// DRF `PageNumberPagination.get_page_size`: `_positive_int(raw, strict=True, cutoff=max)`,
/// falling back to `default` on any error (absent, empty, not an integer, zero, negative).
/// Values above `max` are clamped to `max`, however large. As in DRF, a `max` of 0 means
/// no cutoff (the result then saturates at `u32::MAX`).
pub fn page_size(raw: Option<&str>, default: u32, max: u32) -> u32 {
    let clamp = |n: u64| {
        let n = if max == 0 { n } else { n.min(u64::from(max)) };
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    match raw.and_then(parse_py_int) {
        Some(PyInt::Value(n)) if n > 0 => clamp(n.unsigned_abs()),
        Some(PyInt::Overflow { negative: false }) => clamp(u64::MAX),
        _ => default,
    }
}

/// The page a client asked for, before it is checked against the number of pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageRequest {
    Number(i64),
    Last,
}

/// DRF's pagination 404; the body is `{"detail":"Invalid page."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("Invalid page.")]
pub struct InvalidPage;

/// DRF `PageNumberPagination.get_page_number` plus the integer check of Django's
/// `Paginator.validate_number`: absent or empty means page 1, exactly `last` (case-sensitive)
/// means the last page, anything else goes through Python `int()`.
///
/// A number too large for an `i64` is already an invalid page, since it exceeds any page
/// count. In DRF the error only surfaces after filtering and counting, so callers must
/// report it in that order.
pub fn page_request(raw: Option<&str>) -> Result<PageRequest, InvalidPage> {
    match raw {
        None | Some("") => Ok(PageRequest::Number(1)),
        Some("last") => Ok(PageRequest::Last),
        Some(s) => match parse_py_int(s) {
            Some(PyInt::Value(n)) => Ok(PageRequest::Number(n)),
            Some(PyInt::Overflow { .. }) | None => Err(InvalidPage),
        },
    }
}

/// Django `Paginator.validate_number` with `num_pages = max(1, ceil(count / page_size))`
/// (`orphans = 0`, `allow_empty_first_page = True`). Returns `(page, num_pages)`. A
/// `page_size` of 0 is treated as 1.
pub fn resolve_page(
    req: PageRequest,
    count: u64,
    page_size: u32,
) -> Result<(u64, u64), InvalidPage> {
    let num_pages = count.div_ceil(u64::from(page_size.max(1))).max(1);
    match req {
        PageRequest::Last => Ok((num_pages, num_pages)),
        PageRequest::Number(n) => match u64::try_from(n) {
            Ok(page) if (1..=num_pages).contains(&page) => Ok((page, num_pages)),
            _ => Err(InvalidPage),
        },
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

/// One element of a `strptime` format, as CPython's `_strptime.TimeRE` compiles it.
#[derive(Debug, Clone, Copy)]
enum Token {
    Literal(char),
    /// Any whitespace in the format becomes the regex `\s+`.
    Whitespace,
    /// `%d`: `3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9]`
    Day,
    /// `%m`: `1[0-2]|0[1-9]|[1-9]`
    Month,
    /// `%Y`: `\d\d\d\d`
    Year,
    /// `%y`: `\d\d`
    ShortYear,
    /// `%b`: an English month abbreviation.
    MonthAbbr,
    /// `%B`: an English month name.
    MonthName,
}

use Token::{Day, Literal, Month, MonthAbbr, MonthName, ShortYear, Whitespace, Year};

/// Django's `DATE_INPUT_FORMATS` for the default `en-us` locale, in order.
const DATE_INPUT_FORMATS: [&[Token]; 11] = [
    // %Y-%m-%d
    &[Year, Literal('-'), Month, Literal('-'), Day],
    // %m/%d/%Y
    &[Month, Literal('/'), Day, Literal('/'), Year],
    // %m/%d/%y
    &[Month, Literal('/'), Day, Literal('/'), ShortYear],
    // %b %d %Y
    &[MonthAbbr, Whitespace, Day, Whitespace, Year],
    // %b %d, %Y
    &[MonthAbbr, Whitespace, Day, Literal(','), Whitespace, Year],
    // %d %b %Y
    &[Day, Whitespace, MonthAbbr, Whitespace, Year],
    // %d %b, %Y
    &[Day, Whitespace, MonthAbbr, Literal(','), Whitespace, Year],
    // %B %d %Y
    &[MonthName, Whitespace, Day, Whitespace, Year],
    // %B %d, %Y
    &[MonthName, Whitespace, Day, Literal(','), Whitespace, Year],
    // %d %B %Y
    &[Day, Whitespace, MonthName, Whitespace, Year],
    // %d %B, %Y
    &[Day, Whitespace, MonthName, Literal(','), Whitespace, Year],
];

/// `%Y-%m`, the extra form the `month` filter accepts.
const YEAR_MONTH: &[Token] = &[Year, Literal('-'), Month];

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const MONTH_ABBRS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn in_range(c: Option<&char>, range: RangeInclusive<char>) -> bool {
    c.is_some_and(|c| range.contains(c))
}

fn is_decimal(c: Option<&char>) -> bool {
    c.is_some_and(|&c| decimal_digit(c).is_some())
}

/// End positions a token can match at `pos`, in the regex's order of preference.
fn token_ends(token: Token, input: &[char], pos: usize) -> Vec<usize> {
    let at = |offset: usize| input.get(pos + offset);
    let mut ends = Vec::new();
    match token {
        Literal(c) => {
            if at(0) == Some(&c) {
                ends.push(pos + 1);
            }
        }
        Whitespace => {
            let run = input[pos.min(input.len())..]
                .iter()
                .take_while(|&&c| is_py_space(c))
                .count();
            ends.extend((1..=run).rev().map(|len| pos + len));
        }
        Day => {
            if at(0) == Some(&'3') && in_range(at(1), '0'..='1') {
                ends.push(pos + 2);
            }
            if in_range(at(0), '1'..='2') && is_decimal(at(1)) {
                ends.push(pos + 2);
            }
            if at(0) == Some(&'0') && in_range(at(1), '1'..='9') {
                ends.push(pos + 2);
            }
            if in_range(at(0), '1'..='9') {
                ends.push(pos + 1);
            }
            if at(0) == Some(&' ') && in_range(at(1), '1'..='9') {
                ends.push(pos + 2);
            }
        }
        Month => {
            if at(0) == Some(&'1') && in_range(at(1), '0'..='2') {
                ends.push(pos + 2);
            }
            if at(0) == Some(&'0') && in_range(at(1), '1'..='9') {
                ends.push(pos + 2);
            }
            if in_range(at(0), '1'..='9') {
                ends.push(pos + 1);
            }
        }
        Year | ShortYear => {
            let len = if matches!(token, Year) { 4 } else { 2 };
            if (0..len).all(|offset| is_decimal(at(offset))) {
                ends.push(pos + len);
            }
        }
        MonthAbbr | MonthName => {
            let names = if matches!(token, MonthAbbr) {
                &MONTH_ABBRS
            } else {
                &MONTH_NAMES
            };
            // TimeRE tries the names longest first, but no name is a prefix of another, so
            // at most one can match and the order cannot change the outcome.
            for name in names {
                // The regex is IGNORECASE, which also lets a few non-ASCII letters (such as
                // U+017F for 's') match; `_strptime` then looks the lower-cased text up in
                // the name list and fails on them, with the same outcome as not matching.
                let matches = name.chars().enumerate().all(|(offset, expected)| {
                    at(offset).is_some_and(|c| c.eq_ignore_ascii_case(&expected))
                });
                if matches {
                    ends.push(pos + name.len());
                }
            }
        }
    }
    ends
}

/// Backtracking match of `tokens` against the whole of `input`, like `re.match` followed by
/// CPython's "unconverted data remains" check. Records the span each token matched.
fn match_tokens(
    tokens: &[Token],
    input: &[char],
    pos: usize,
    spans: &mut Vec<(usize, usize)>,
) -> bool {
    let Some((&token, rest)) = tokens.split_first() else {
        return pos == input.len();
    };
    for end in token_ends(token, input, pos) {
        spans.push((pos, end));
        if match_tokens(rest, input, end, spans) {
            return true;
        }
        spans.pop();
    }
    false
}

/// The integer value of a matched digit span; a leading space (from `%d`) is ignored, as
/// Python's `int()` does.
fn span_number(input: &[char], (start, end): (usize, usize)) -> u32 {
    input[start..end]
        .iter()
        .filter_map(|&c| decimal_digit(c))
        .fold(0, |acc, digit| acc * 10 + digit)
}

fn span_month_index(input: &[char], (start, end): (usize, usize), names: &[&str; 12]) -> u32 {
    let text: String = input[start..end]
        .iter()
        .map(char::to_ascii_lowercase)
        .collect();
    names
        .iter()
        .zip(1..)
        .find_map(|(name, index)| (*name == text).then_some(index))
        .unwrap_or(0)
}

/// `datetime.datetime.strptime(input, format).date()` for the tokens of one format.
fn strptime(tokens: &[Token], input: &[char]) -> Option<NaiveDate> {
    let mut spans = Vec::with_capacity(tokens.len());
    if !match_tokens(tokens, input, 0, &mut spans) {
        return None;
    }
    let (mut year, mut month, mut day) = (1900, 1, 1);
    for (&token, &span) in tokens.iter().zip(&spans) {
        match token {
            Year => year = span_number(input, span),
            ShortYear => {
                let yy = span_number(input, span);
                year = if yy <= 68 { 2000 + yy } else { 1900 + yy };
            }
            Month => month = span_number(input, span),
            MonthAbbr => month = span_month_index(input, span, &MONTH_ABBRS),
            MonthName => month = span_month_index(input, span, &MONTH_NAMES),
            Day => day = span_number(input, span),
            Literal(_) | Whitespace => {}
        }
    }
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

fn parse_with_formats(s: &str, formats: &[&[Token]]) -> Option<NaiveDate> {
    let input: Vec<char> = py_strip(s).chars().collect();
    formats.iter().find_map(|tokens| strptime(tokens, &input))
}

/// Django `forms.DateField.to_python` with the default `DATE_INPUT_FORMATS` (as used by
/// django-filter's `DateFilter`): the value is stripped, then each format is tried in order
/// with CPython's `_strptime` rules (case-insensitive month names, any whitespace run where
/// the format has a space, 1–2 digit day and month, 4-digit `%Y`, `%y` 69–99 as 19xx).
/// `None` means "Enter a valid date." (an empty string is also `None`; callers skip the
/// filter for it before parsing).
pub fn parse_django_date(s: &str) -> Option<NaiveDate> {
    parse_with_formats(s, &DATE_INPUT_FORMATS)
}

/// The `month` filter: any Django date form, or `YYYY-MM` (same `_strptime` rules as
/// `%Y-%m`). The result is the first day of the month; a date that is not the first of its
/// month is accepted and stands for the month containing it.
pub fn parse_month(s: &str) -> Option<NaiveDate> {
    let date = parse_django_date(s).or_else(|| parse_with_formats(s, &[YEAR_MONTH]))?;
    date.with_day(1)
}

/// A financial year in its canonical `YYYY/YY` form, from a filter value: Django strips the
/// value's surrounding whitespace first.
pub fn financial_year(s: &str) -> Option<String> {
    FinancialYear::parse_given(py_strip(s)).map(|year| year.to_string())
}

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

/// django-filter's DRF `BooleanWidget`: `true`/`1` and `false`/`0`, any case, nothing
/// trimmed. `None` means the filter is ignored.
pub fn drf_bool(s: &str) -> Option<bool> {
    if s == "1" || s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s == "0" || s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
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
    use proptest::prelude::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        QueryParams::parse(Some(raw)).pairs().to_vec()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
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

    #[test]
    fn python_int_examples() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("-0", Some(0)),
            ("007", Some(7)),
            ("1_0", Some(10)),
            ("0_0", Some(0)),
            ("1_000_000", Some(1_000_000)),
            (" +5 ", Some(5)),
            ("\t-12\n", Some(-12)),
            ("\u{3000}42\u{a0}", Some(42)),
            ("\u{85}1\u{2029}", Some(1)),
            ("１２", Some(12)),
            ("٣", Some(3)),
            ("1٥", Some(15)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("", None),
            ("   ", None),
            ("+", None),
            ("-", None),
            ("_1", None),
            ("1_", None),
            ("1__0", None),
            ("+_1", None),
            ("- 1", None),
            ("+-1", None),
            ("--1", None),
            ("1 2", None),
            ("1.0", None),
            ("1.5", None),
            ("1e2", None),
            ("0x10", None),
            ("abc", None),
            ("\u{1c}1", None),
            ("1\u{1f}", None),
            ("1\0", None),
            ("\u{7f}1", None),
            ("²", None),
            ("①", None),
        ];
        for &(input, expected) in cases {
            assert_eq!(python_int(input), expected, "int({input:?})");
        }
    }

    #[test]
    fn python_int_digit_limit() {
        assert_eq!(python_int(&"0".repeat(4300)), Some(0));
        assert_eq!(python_int(&"0".repeat(4301)), None);
        assert_eq!(
            parse_py_int(&"1".repeat(4300)),
            Some(PyInt::Overflow { negative: false })
        );
        assert_eq!(
            parse_py_int(&format!("-{}", "1".repeat(4300))),
            Some(PyInt::Overflow { negative: true })
        );
        assert_eq!(parse_py_int(&"1".repeat(4301)), None);
        let underscored = format!("{}1", "1_".repeat(4299));
        assert_eq!(
            parse_py_int(&underscored),
            Some(PyInt::Overflow { negative: false })
        );
    }

    #[test]
    fn python_int_strips_exactly_cpython_whitespace() {
        // Every code point for which CPython 3.11 evaluates int(c + "1" + c) == 1.
        let expected: Vec<u32> = vec![
            0x9, 0xa, 0xb, 0xc, 0xd, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
            0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f,
            0x3000,
        ];
        let found: Vec<u32> = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|c| python_int(&format!("{c}1{c}")) == Some(1))
            .map(u32::from)
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn str_isspace_matches_cpython() {
        // Every code point for which CPython 3.11's str.isspace() is true.
        let expected: Vec<u32> = vec![
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ];
        let found: Vec<u32> = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|&c| is_py_space(c))
            .map(u32::from)
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn unicode_decimal_digits() {
        let count = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|&c| decimal_digit(c).is_some())
            .count();
        // CPython 3.11 (Unicode 14) counts 660 Nd code points; Unicode 15 adds 20.
        assert_eq!(count, 680);
        assert_eq!(decimal_digit('7'), Some(7));
        assert_eq!(decimal_digit('\u{669}'), Some(9));
        assert_eq!(decimal_digit('\u{66a}'), None);
        assert_eq!(decimal_digit('\u{1d7ce}'), Some(0));
        assert_eq!(decimal_digit('\u{1d7ff}'), Some(9));
        assert_eq!(decimal_digit('\u{1fbf9}'), Some(9));
        assert_eq!(decimal_digit('\u{1e4f9}'), Some(9));
        assert_eq!(decimal_digit('\u{b2}'), None);
        assert_eq!(decimal_digit('\u{65f}'), None);
        assert_eq!(decimal_digit('a'), None);
    }

    #[test]
    fn page_size_rule() {
        for raw in [
            None,
            Some(""),
            Some("abc"),
            Some("0"),
            Some("-5"),
            Some("1.5"),
            Some("-0"),
        ] {
            assert_eq!(page_size(raw, 100, 500), 100, "{raw:?}");
        }
        assert_eq!(page_size(Some("1"), 100, 500), 1);
        assert_eq!(page_size(Some("500"), 100, 500), 500);
        assert_eq!(page_size(Some("501"), 100, 500), 500);
        assert_eq!(page_size(Some("1000"), 100, 500), 500);
        assert_eq!(page_size(Some(" 7 "), 100, 500), 7);
        assert_eq!(page_size(Some("+7"), 100, 500), 7);
        assert_eq!(page_size(Some("1_0"), 100, 500), 10);
        assert_eq!(page_size(Some("99999999999999999999999"), 100, 500), 500);
        assert_eq!(page_size(Some("-99999999999999999999999"), 100, 500), 100);
        assert_eq!(page_size(Some(&"9".repeat(4301)), 100, 500), 100);
        assert_eq!(page_size(Some("1000"), 100, 0), 1000);
        assert_eq!(page_size(Some("99999999999"), 100, 0), u32::MAX);
    }

    #[test]
    fn page_request_rule() {
        let q = QueryParams::parse(Some("page=%202&b=1_0&c=last&d=LAST&e=1.0&f=%20%20"));
        assert_eq!(page_request(None), Ok(PageRequest::Number(1)));
        assert_eq!(page_request(Some("")), Ok(PageRequest::Number(1)));
        assert_eq!(page_request(q.last("page")), Ok(PageRequest::Number(2)));
        assert_eq!(page_request(q.last("b")), Ok(PageRequest::Number(10)));
        assert_eq!(page_request(q.last("c")), Ok(PageRequest::Last));
        assert_eq!(page_request(q.last("d")), Err(InvalidPage));
        assert_eq!(page_request(q.last("e")), Err(InvalidPage));
        assert_eq!(page_request(q.last("f")), Err(InvalidPage));
        assert_eq!(page_request(Some(" last")), Err(InvalidPage));
        assert_eq!(page_request(Some("abc")), Err(InvalidPage));
        assert_eq!(page_request(Some("0")), Ok(PageRequest::Number(0)));
        assert_eq!(page_request(Some("-1")), Ok(PageRequest::Number(-1)));
        assert_eq!(page_request(Some("99999999999999999999")), Err(InvalidPage));
        assert_eq!(InvalidPage.to_string(), "Invalid page.");
    }

    #[test]
    fn resolve_page_rule() {
        use PageRequest::{Last, Number};
        assert_eq!(resolve_page(Number(1), 250, 100), Ok((1, 3)));
        assert_eq!(resolve_page(Number(3), 250, 100), Ok((3, 3)));
        assert_eq!(resolve_page(Number(4), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Number(0), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Number(-1), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Number(i64::MIN), 250, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Last, 250, 100), Ok((3, 3)));
        assert_eq!(resolve_page(Last, 300, 100), Ok((3, 3)));
        assert_eq!(resolve_page(Number(1), 0, 100), Ok((1, 1)));
        assert_eq!(resolve_page(Number(2), 0, 100), Err(InvalidPage));
        assert_eq!(resolve_page(Last, 0, 100), Ok((1, 1)));
        assert_eq!(resolve_page(Number(1), 1, 500), Ok((1, 1)));
        assert_eq!(resolve_page(Number(2), 101, 100), Ok((2, 2)));
        assert_eq!(resolve_page(Number(2), 5, 0), Ok((2, 5)));
    }

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

    #[test]
    fn contract_date_examples() {
        for input in [
            "2024-01-05",
            "2024-1-5",
            "01/05/2024",
            "01/05/24",
            "Jan 05 2024",
            "5 January, 2024",
        ] {
            assert_eq!(parse_django_date(input), Some(date(2024, 1, 5)), "{input}");
        }
    }

    #[test]
    fn every_date_input_format() {
        let cases = [
            ("2006-10-25", date(2006, 10, 25)),
            ("10/25/2006", date(2006, 10, 25)),
            ("10/25/06", date(2006, 10, 25)),
            ("Oct 25 2006", date(2006, 10, 25)),
            ("Oct 25, 2006", date(2006, 10, 25)),
            ("25 Oct 2006", date(2006, 10, 25)),
            ("25 Oct, 2006", date(2006, 10, 25)),
            ("October 25 2006", date(2006, 10, 25)),
            ("October 25, 2006", date(2006, 10, 25)),
            ("25 October 2006", date(2006, 10, 25)),
            ("25 October, 2006", date(2006, 10, 25)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_django_date(input), Some(expected), "{input}");
        }
    }

    #[test]
    fn date_parsing_matches_cpython_strptime() {
        // Expected values produced by Django's DateField.to_python on CPython 3.11.
        let cases: &[(&str, Option<NaiveDate>)] = &[
            ("1/ 5/2024", Some(date(2024, 1, 5))),
            ("2024-1- 5", Some(date(2024, 1, 5))),
            (" 2024-01-05\n", Some(date(2024, 1, 5))),
            ("2024-01-05 ", Some(date(2024, 1, 5))),
            ("jAN 5 2024", Some(date(2024, 1, 5))),
            ("Jan  5   2024", Some(date(2024, 1, 5))),
            ("5 jan,  2024", Some(date(2024, 1, 5))),
            ("SEP 05 2024", Some(date(2024, 9, 5))),
            ("May 5, 2024", Some(date(2024, 5, 5))),
            ("31 December 2024", Some(date(2024, 12, 31))),
            ("12/31/1999", Some(date(1999, 12, 31))),
            ("1/5/69", Some(date(1969, 1, 5))),
            ("1/5/68", Some(date(2068, 1, 5))),
            ("1/5/00", Some(date(2000, 1, 5))),
            ("２０２４-01-05", Some(date(2024, 1, 5))),
            ("2024-01-1٥", Some(date(2024, 1, 15))),
            ("Jan\u{a0}05\u{3000}2024", Some(date(2024, 1, 5))),
            ("Jan\u{1c}05 2024", Some(date(2024, 1, 5))),
            ("2024-02-29", Some(date(2024, 2, 29))),
            ("0001-01-01", Some(date(1, 1, 1))),
            ("9999-12-31", Some(date(9999, 12, 31))),
            ("2023-02-29", None),
            ("2024-02-30", None),
            ("0000-01-01", None),
            ("5 jan ,2024", None),
            ("may 05,2024", None),
            ("\u{17f}ep 05 2024", None),
            ("apr\u{131}l 5 2024", None),
            ("Sept 05 2024", None),
            ("2024-01-٥", None),
            ("2024-01-3٥", None),
            ("2024-12-32", None),
            ("2024-00-10", None),
            ("2024-010-10", None),
            ("2024--1-10", None),
            ("+2024-01-05", None),
            ("2024-1-05x", None),
            ("2024-01-0", None),
            ("24-01-05", None),
            ("20240105", None),
            ("2024/01/05", None),
            ("05/01", None),
            ("", None),
            ("   ", None),
            ("\u{0}", None),
        ];
        for &(input, expected) in cases {
            assert_eq!(parse_django_date(input), expected, "{input:?}");
        }
    }

    #[test]
    fn month_filter() {
        let cases: &[(&str, Option<NaiveDate>)] = &[
            ("2026-01", Some(date(2026, 1, 1))),
            ("2026-1", Some(date(2026, 1, 1))),
            (" 2026-02 ", Some(date(2026, 2, 1))),
            ("2026-01-01", Some(date(2026, 1, 1))),
            ("2026-01-15", Some(date(2026, 1, 1))),
            ("Jan 15 2026", Some(date(2026, 1, 1))),
            ("12/31/2025", Some(date(2025, 12, 1))),
            ("2026-13", None),
            ("2026-00", None),
            ("2026", None),
            ("2026-01-", None),
            ("01-2026", None),
            ("Jan 2026", None),
            ("", None),
        ];
        for &(input, expected) in cases {
            assert_eq!(parse_month(input), expected, "{input:?}");
        }
    }

    #[test]
    fn financial_year_filters_strip_python_whitespace() {
        for input in ["2025/26", " 2025/26 ", "\t2025-26\u{3000}"] {
            assert_eq!(
                financial_year(input).as_deref(),
                Some("2025/26"),
                "{input:?}"
            );
        }
        assert_eq!(financial_year("2324"), None);
    }

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
    fn drf_boolean_filter() {
        for input in ["true", "TRUE", "True", "tRuE", "1"] {
            assert_eq!(drf_bool(input), Some(true), "{input}");
        }
        for input in ["false", "FALSE", "False", "0"] {
            assert_eq!(drf_bool(input), Some(false), "{input}");
        }
        for input in ["", "yes", "no", "2", " true", "true ", "01", "t", "on"] {
            assert_eq!(drf_bool(input), None, "{input}");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Elm"), "%elm%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("ÉLM"), "%élm%");
        assert_eq!(like_pattern(""), "%%");
    }

    /// A direct transcription of the `int()` grammar, over ASCII input.
    fn reference_int(s: &str) -> Option<i64> {
        let t = s.trim_matches(|c: char| c.is_whitespace());
        let (sign, body) = match t.as_bytes().first() {
            Some(b'-') => (-1i128, &t[1..]),
            Some(b'+') => (1, &t[1..]),
            _ => (1, t),
        };
        let groups: Vec<&str> = body.split('_').collect();
        let valid = groups
            .iter()
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return None;
        }
        let magnitude: i128 = groups.concat().parse().ok()?;
        i64::try_from(sign * magnitude).ok()
    }

    const MONTHS_TITLE: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];

    fn render_date(d: NaiveDate, format: usize, padded: bool, upper: bool, space: &str) -> String {
        let day = if padded {
            format!("{:02}", d.day())
        } else {
            d.day().to_string()
        };
        let month = if padded {
            format!("{:02}", d.month())
        } else {
            d.month().to_string()
        };
        let year = format!("{:04}", d.year());
        let short_year = format!("{:02}", d.year() % 100);
        let full = MONTHS_TITLE[d.month0() as usize];
        let (full, abbr) = if upper {
            (full.to_uppercase(), full[..3].to_uppercase())
        } else {
            (full.to_owned(), full[..3].to_owned())
        };
        match format {
            0 => format!("{year}-{month}-{day}"),
            1 => format!("{month}/{day}/{year}"),
            2 => format!("{month}/{day}/{short_year}"),
            3 => format!("{abbr}{space}{day}{space}{year}"),
            4 => format!("{abbr}{space}{day},{space}{year}"),
            5 => format!("{day}{space}{abbr}{space}{year}"),
            6 => format!("{day}{space}{abbr},{space}{year}"),
            7 => format!("{full}{space}{day}{space}{year}"),
            8 => format!("{full}{space}{day},{space}{year}"),
            9 => format!("{day}{space}{full}{space}{year}"),
            _ => format!("{day}{space}{full},{space}{year}"),
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
        fn python_int_agrees_with_reference(
            s in "[ \t\u{a0}\u{3000}]{0,2}[+-]{0,2}[0-9_]{0,24}[ \n\u{2028}x.]{0,2}"
        ) {
            prop_assert_eq!(python_int(&s), reference_int(&s));
        }

        #[test]
        fn python_int_round_trips_every_i64(n in any::<i64>(), pad in "[ \t]{0,3}") {
            prop_assert_eq!(python_int(&format!("{pad}{n}{pad}")), Some(n));
        }

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

        #[test]
        fn search_terms_never_panic(s in any::<String>()) {
            let _ = search_terms(&s);
        }

        #[test]
        fn search_terms_never_panic_on_quote_soup(s in "[\"'\\\\, a\n\t\u{3000}]{0,24}") {
            let _ = search_terms(&s);
        }

        #[test]
        fn every_format_round_trips(
            days in 0i64..3_652_059,
            format in 0usize..11,
            padded in any::<bool>(),
            upper in any::<bool>(),
            space in "[ \t\u{a0}]{1,3}",
        ) {
            // %y only covers 1969..=2068.
            let (start, days) = if format == 2 {
                (date(1969, 1, 1), days % 36_524)
            } else {
                (date(1, 1, 1), days)
            };
            let d = start + chrono::Duration::days(days);
            let text = render_date(d, format, padded, upper, &space);
            prop_assert_eq!(parse_django_date(&text), Some(d), "{:?}", text);
        }

        #[test]
        fn date_parsing_never_panics(s in any::<String>()) {
            let _ = parse_django_date(&s);
            let _ = parse_month(&s);
        }
    }
}
