//! Value parsers every dataset shares: suppression markers and fixed-point decimals.

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn suppression_markers_are_missing() {
        for marker in ["", " ", "NA", "nd", "*", "-"] {
            assert_eq!(present(marker), None, "{marker:?}");
        }
        assert_eq!(present(" 12 "), Some("12"));
    }
}
