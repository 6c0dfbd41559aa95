//! NHS financial years (April to March), written `2024/25` wherever they are stored or served.

use std::fmt;

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FinancialYear {
    start: i32,
}

impl FinancialYear {
    pub fn starting(year: i32) -> Self {
        FinancialYear { start: year }
    }

    /// The year a date falls in: from 1 April to 31 March.
    pub fn containing(date: NaiveDate) -> Self {
        let start = if date.month() >= 4 {
            date.year()
        } else {
            date.year() - 1
        };
        Self::starting(start)
    }

    pub fn start_year(self) -> i32 {
        self.start
    }

    /// The forms publishers write: `2324`, `2023-24`, `2023/24`, `202324`, `QOF2324` and
    /// `FYEAR=2023-24`.
    pub fn parse_published(value: &str) -> Option<Self> {
        let value = value.trim();
        let value = value
            .strip_prefix("FYEAR=")
            .or_else(|| value.strip_prefix("fyear="))
            .unwrap_or(value);
        let value = value
            .strip_prefix("QOF")
            .or_else(|| value.strip_prefix("qof"))
            .unwrap_or(value);
        let separators_only = value
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == '/');
        if !separators_only {
            return None;
        }
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        let (start, end): (i32, i32) = match digits.len() {
            4 => (
                2000 + digits[..2].parse::<i32>().ok()?,
                digits[2..].parse().ok()?,
            ),
            6 => (digits[..4].parse().ok()?, digits[4..].parse().ok()?),
            _ => return None,
        };
        ((start + 1) % 100 == end).then_some(Self::starting(start))
    }

    /// The forms a client may give, already trimmed: `2025/26`, `2025-26`, `202526` and
    /// `2025/2026`; the second year must follow the first.
    pub fn parse_given(value: &str) -> Option<Self> {
        let number = |digits: &str| -> Option<i32> {
            if digits.bytes().all(|b| b.is_ascii_digit()) {
                digits.parse().ok()
            } else {
                None
            }
        };
        let (first, second, full_second) = match value.len() {
            6 => (value.get(..4)?, value.get(4..)?, false),
            7 if matches!(value.as_bytes()[4], b'/' | b'-') => {
                (value.get(..4)?, value.get(5..)?, false)
            }
            9 if value.as_bytes()[4] == b'/' => (value.get(..4)?, value.get(5..)?, true),
            _ => return None,
        };
        let (first, second) = (number(first)?, number(second)?);
        let follows = if full_second {
            second == first + 1
        } else {
            second == (first + 1) % 100
        };
        follows.then_some(Self::starting(first))
    }
}

impl fmt::Display for FinancialYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}/{:02}", self.start, (self.start + 1) % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(year: Option<FinancialYear>) -> Option<String> {
        year.map(|y| y.to_string())
    }

    #[test]
    fn years_start_in_april() {
        let d = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        assert_eq!(FinancialYear::containing(d(2024, 4)).to_string(), "2024/25");
        assert_eq!(FinancialYear::containing(d(2025, 3)).to_string(), "2024/25");
        assert_eq!(FinancialYear::containing(d(1999, 4)).to_string(), "1999/00");
    }

    #[test]
    fn published_forms() {
        for form in [
            "2324",
            "2023-24",
            "2023/24",
            "202324",
            "QOF2324",
            "FYEAR=2023-24",
        ] {
            let year = FinancialYear::parse_published(form);
            assert_eq!(label(year).as_deref(), Some("2023/24"), "{form}");
        }
        let wrapped = FinancialYear::parse_published("9900");
        assert_eq!(label(wrapped).as_deref(), Some("2099/00"));
        for bad in ["2023", "2325", "", "QOF", "20a324"] {
            assert_eq!(FinancialYear::parse_published(bad), None, "{bad}");
        }
    }

    #[test]
    fn given_forms() {
        for input in ["2025/26", "2025-26", "202526", "2025/2026"] {
            let year = FinancialYear::parse_given(input);
            assert_eq!(label(year).as_deref(), Some("2025/26"), "{input}");
        }
        for (input, expected) in [
            ("1999/00", "1999/00"),
            ("199900", "1999/00"),
            ("1999/2000", "1999/00"),
        ] {
            assert_eq!(
                label(FinancialYear::parse_given(input)).as_deref(),
                Some(expected)
            );
        }
        for input in [
            "",
            "2025",
            "2025/27",
            "2025/25",
            "2025/2027",
            "2025-2026",
            "2025_26",
            "25/26",
            "2025/26x",
            "2025/6",
            "２０２５/26",
            "2025/+6",
            "+2025/26",
            "20252026",
            "2324",
        ] {
            assert_eq!(FinancialYear::parse_given(input), None, "{input}");
        }
    }
}
