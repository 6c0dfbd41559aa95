//! django-filter's form fields this service declares beyond dates: boolean and financial year.

use super::python::py_strip;
use crate::source::financial_year::FinancialYear;

/// A financial year in its canonical `YYYY/YY` form, from a filter value: Django strips the
/// value's surrounding whitespace first.
pub fn financial_year(s: &str) -> Option<String> {
    FinancialYear::parse_given(py_strip(s)).map(|year| year.to_string())
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
