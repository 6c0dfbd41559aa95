//! Python's own parsing rules the upstream code relies on: `str.isspace`, `str.strip` and `int()`.

/// CPython's default `sys.int_info.default_max_str_digits`: `int()` refuses longer digit strings.
const MAX_INT_STR_DIGITS: usize = 4300;

/// Python's `str.isspace()` (and the regex `\s`): Unicode `White_Space` plus the ASCII
/// separators U+001C..U+001F.
pub(super) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub(super) fn py_strip(s: &str) -> &str {
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
pub(super) fn decimal_digit(c: char) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    }
}
