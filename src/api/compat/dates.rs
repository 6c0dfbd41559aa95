//! Django's `DATE_INPUT_FORMATS` through CPython's `strptime`, and the month filter.

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};

use super::python::{decimal_digit, is_py_space, py_strip};

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
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

    proptest! {
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
