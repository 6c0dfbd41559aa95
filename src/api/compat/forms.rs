//! django-filter's form fields this service declares beyond dates: boolean, financial year and
//! number.

use super::python::{decimal_digit, py_strip};
use crate::source::financial_year::FinancialYear;

/// A financial year in its canonical `YYYY/YY` form, from a filter value: Django strips the
/// value's surrounding whitespace first.
pub fn financial_year(s: &str) -> Option<String> {
    FinancialYear::parse_given(py_strip(s)).map(|year| year.to_string())
}

/// A value Django's `DecimalField` (django-filter's `NumberFilter`) accepts, as it compares
/// with an integer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    /// A whole number within `i64`: `2025`, ` +2025 `, `2025.00`, `2.025e3`, `２０２５`.
    Whole(i64),
    /// A finite number no integer column holds (`2025.5`, `1e40`): it matches no row.
    Unmatched,
}

/// Django's `DecimalField.to_python`: the value stripped, then read as Python's `Decimal` reads
/// a string (an optional sign, digits of any script with single underscores between them, an
/// optional fraction and exponent); `None` (`Enter a number.`) for anything else, infinities
/// and NaN included.
pub fn number(s: &str) -> Option<Number> {
    let mut ascii = String::with_capacity(s.len());
    let mut after_digit = false;
    let mut underscore = false;
    for c in py_strip(s).chars() {
        if c == '_' {
            if !after_digit || underscore {
                return None;
            }
            underscore = true;
            continue;
        }
        match decimal_digit(c) {
            Some(d) => {
                ascii.push(char::from_digit(d, 10)?);
                after_digit = true;
            }
            None if underscore => return None,
            None => {
                ascii.push(c);
                after_digit = false;
            }
        }
        underscore = false;
    }
    if underscore {
        return None;
    }
    let (negative, body) = match ascii.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, ascii.strip_prefix('+').unwrap_or(&ascii)),
    };
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let all = format!("{whole}{fraction}");
    let all = all.trim_start_matches('0');
    // The value is `all` × 10^scale.
    let scale = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    let kept = i64::try_from(all.len()).ok()?.checked_add(scale)?;
    if all.is_empty() {
        return Some(Number::Whole(0));
    }
    if kept <= 0 || kept > 18 {
        return Some(Number::Unmatched);
    }
    let kept = usize::try_from(kept).ok()?;
    let (integer, rest) = all.split_at(kept.min(all.len()));
    if rest.bytes().any(|b| b != b'0') {
        return Some(Number::Unmatched);
    }
    let magnitude: i64 = format!("{integer:0<kept$}").parse().ok()?;
    Some(Number::Whole(if negative { -magnitude } else { magnitude }))
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn numbers_as_decimal_field_reads_them() {
        for (input, expected) in [
            ("2025", Number::Whole(2025)),
            (" +2025\t", Number::Whole(2025)),
            ("2025.000", Number::Whole(2025)),
            ("2.025e3", Number::Whole(2025)),
            ("20250E-1", Number::Whole(2025)),
            ("2_025", Number::Whole(2025)),
            ("２０２５", Number::Whole(2025)),
            ("-7", Number::Whole(-7)),
            ("0.0", Number::Whole(0)),
            (".5e1", Number::Whole(5)),
            ("2025.5", Number::Unmatched),
            ("1e40", Number::Unmatched),
            ("0.002", Number::Unmatched),
        ] {
            assert_eq!(number(input), Some(expected), "{input:?}");
        }
        for bad in [
            "", " ", "x", "2025a", "20 25", "2__025", "_2025", "2025_", "1e", "e3", ".", "-",
            "inf", "NaN", "Infinity", "1.2.3", "1e2.5", "2025/26",
        ] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
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
}
