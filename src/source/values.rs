//! Value parsers every dataset shares: suppression markers, fixed-point decimals and floats.

/// A measure value with the missing markers removed.
pub fn present(value: &str) -> Option<&str> {
    let value = value.trim();
    let missing = value.is_empty()
        || value.eq_ignore_ascii_case("NA")
        || value.eq_ignore_ascii_case("ND")
        || value == "*"
        || value == "-";
    (!missing).then_some(value)
}

/// A count written as a whole number, possibly with a zero fraction (`12`, `12.0`), as raw
/// bytes; `None` for anything else (a sign, a non-zero fraction, an empty value, overflow).
pub fn whole_count(value: &[u8]) -> Option<u64> {
    let (whole, fraction) = match value.iter().position(|b| *b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &[][..]),
    };
    if whole.is_empty() || !fraction.iter().all(|b| *b == b'0') {
        return None;
    }
    whole.iter().try_fold(0u64, |n, b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            .flatten()
    })
}

/// A non-negative decimal as an integer scaled by 10^places, rounded half up.
pub fn scaled(value: &str, places: u32) -> Option<i64> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let places = places as usize;
    let mut kept: String = fraction.chars().take(places).collect();
    while kept.len() < places {
        kept.push('0');
    }
    let round_up = fraction.as_bytes().get(places).is_some_and(|d| *d >= b'5');
    let number: i64 = format!("{}{kept}", if whole.is_empty() { "0" } else { whole })
        .parse()
        .ok()?;
    Some(number + i64::from(round_up))
}

/// A finite number as published (`1.0`, `19.768934531450576`, `-3`, `2e-5`), `None` when the
/// cell is empty; anything else is a `BadValue` naming the cell.
pub fn float(
    file: &str,
    line: u64,
    column: &str,
    value: &str,
) -> Result<Option<f64>, super::error::ImportError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
        .ok_or_else(|| super::error::ImportError::bad_value(file, line, column, value, "a number"))
}

/// An amount as payment files write it, in hundredths rounded half away from zero: a plain
/// decimal (`1234.5`, `-12.25`), with or without `£` and thousands commas (`£1,234.56`,
/// `-£12.50`, `£-12.50`). `None` for an empty cell or the `-` that means none; anything else
/// is a `BadValue` naming the cell.
pub fn hundredths(
    file: &str,
    line: u64,
    column: &str,
    value: &str,
) -> Result<Option<i64>, super::error::ImportError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed == "-" {
        return Ok(None);
    }
    let bad = || super::error::ImportError::bad_value(file, line, column, value, "an amount");
    let (negative, unsigned) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let unsigned = unsigned.strip_prefix('£').unwrap_or(unsigned);
    let (negative, unsigned) = match unsigned.strip_prefix('-') {
        Some(rest) if !negative => (true, rest),
        Some(_) => return Err(bad()),
        None => (negative, unsigned),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or_default();
    let grouped = whole.contains(',');
    if grouped && !(1..=3).contains(&first.len()) || groups.any(|g| g.len() != 3) {
        return Err(bad());
    }
    let digits = format!("{}.{fraction}", whole.replace(',', ""));
    let magnitude = scaled(&digits, 2).ok_or_else(bad)?;
    Ok(Some(if negative { -magnitude } else { magnitude }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_every_published_form() {
        let read = |v: &str| hundredths("p.csv", 9, "Global Sum", v);
        for (published, expected) in [
            ("1234.56", 123_456),
            ("1234.5", 123_450),
            ("0", 0),
            ("£1,234.56", 123_456),
            ("1,234,567", 123_456_700),
            ("-12.5", -1250),
            ("-£12.50", -1250),
            ("£-12.50", -1250),
            (" 7 ", 700),
            ("0.125", 13),
            ("-0.125", -13),
            ("147.123456", 14_712),
            (".5", 50),
        ] {
            assert_eq!(read(published).unwrap(), Some(expected), "{published:?}");
        }
        for none in ["", " ", "-"] {
            assert_eq!(read(none).unwrap(), None, "{none:?}");
        }
        for bad in [
            "x",
            "£",
            "--1",
            "-£-1",
            "1,23",
            "12,3456",
            ",123",
            "1.2.3",
            "1e3",
            "£ 12",
            "12£",
            "NaN",
            "1,234.5,6",
            ".",
            "-.",
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains("line 9: column Global Sum"), "{bad:?}: {err}");
        }
    }

    proptest::proptest! {
        /// Whatever cents are written, and however the whole part is grouped and marked,
        /// the amount read back is the one written.
        #[test]
        fn written_amounts_read_back(cents in -10_000_000_000i64..10_000_000_000, pound in proptest::bool::ANY, commas in proptest::bool::ANY) {
            let magnitude = cents.unsigned_abs();
            let whole = (magnitude / 100).to_string();
            let whole = if commas {
                let digits: Vec<char> = whole.chars().collect();
                let mut out = String::new();
                for (i, d) in digits.iter().enumerate() {
                    if i > 0 && (digits.len() - i).is_multiple_of(3) {
                        out.push(',');
                    }
                    out.push(*d);
                }
                out
            } else {
                whole
            };
            let written = format!(
                "{}{}{whole}.{:02}",
                if cents < 0 { "-" } else { "" },
                if pound { "£" } else { "" },
                magnitude % 100
            );
            proptest::prop_assert_eq!(hundredths("p.csv", 2, "x", &written).unwrap(), Some(cents));
        }

        /// No input panics: every string is an amount, none, or an error.
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,12}") {
            let _ = hundredths("p.csv", 2, "x", &text);
        }
    }

    #[test]
    fn floats_are_read_as_published_and_empty_is_missing() {
        let read = |v: &str| float("f.csv", 4, "VALUE", v);
        assert_eq!(read("1.0").unwrap(), Some(1.0));
        assert_eq!(
            read(" 19.768934531450576 ").unwrap(),
            Some(19.768934531450576)
        );
        assert_eq!(read("0").unwrap(), Some(0.0));
        assert_eq!(read("").unwrap(), None);
        for bad in ["NaN", "inf", "1,0", "x"] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains("line 4: column VALUE"), "{err}");
        }
    }

    #[test]
    fn decimals_round_half_up() {
        assert_eq!(scaled("2.345", 2), Some(235));
        assert_eq!(scaled("2.344", 2), Some(234));
        assert_eq!(scaled("12", 2), Some(1200));
        assert_eq!(scaled(".5", 2), Some(50));
        assert_eq!(scaled("-1", 2), None);
        assert_eq!(scaled("1e3", 2), None);
    }

    #[test]
    fn whole_counts_allow_a_zero_fraction_only() {
        assert_eq!(whole_count(b"12"), Some(12));
        assert_eq!(whole_count(b"1.0"), Some(1));
        assert_eq!(whole_count(b"0.00"), Some(0));
        assert_eq!(whole_count(b"7."), Some(7));
        for bad in [
            &b""[..],
            b"1.5",
            b"-1",
            b".0",
            b"1e3",
            b"99999999999999999999",
        ] {
            assert_eq!(whole_count(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn suppression_markers_are_missing() {
        for marker in ["", " ", "NA", "nd", "*", "-"] {
            assert_eq!(present(marker), None, "{marker:?}");
        }
        assert_eq!(present(" 12 "), Some("12"));
    }
}
