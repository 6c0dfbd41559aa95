//! Throttle rates in DRF's `"<count>/<period>"` notation (`SimpleRateThrottle.parse_rate`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A number of requests allowed per sliding window of `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub num_requests: u32,
    pub duration: Duration,
}

impl Rate {
    pub const fn new(num_requests: u32, duration: Duration) -> Self {
        Self {
            num_requests,
            duration,
        }
    }
}

/// Why a rate string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid throttle rate {input:?}: {reason}; expected <count>/<period> with a period starting with s, m, h or d (e.g. 100/minute)"
)]
pub struct RateParseError {
    input: String,
    reason: &'static str,
}

impl RateParseError {
    fn new(input: &str, reason: &'static str) -> Self {
        Self {
            input: input.to_owned(),
            reason,
        }
    }
}

impl FromStr for Rate {
    type Err = RateParseError;

    /// Follows DRF: `num, period = rate.split('/')`, `int(num)`, then only `period[0]` counts,
    /// case-sensitively. The count accepts what Python's `int()` accepts for ASCII input
    /// (surrounding whitespace, a leading `+`, `_` between digits); a negative count, which DRF
    /// would accept and then throttle every request, is rejected as a configuration mistake.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('/');
        let (Some(num), Some(period), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(RateParseError::new(s, "there must be exactly one '/'"));
        };
        let num_requests =
            parse_python_int(num).map_err(|reason| RateParseError::new(s, reason))?;
        let seconds = match period.chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86400,
            _ => {
                return Err(RateParseError::new(
                    s,
                    "the period must start with s, m, h or d",
                ));
            }
        };
        Ok(Rate::new(num_requests, Duration::from_secs(seconds)))
    }
}

/// Python's `int(text)` restricted to ASCII digits and to values that fit a `u32`.
fn parse_python_int(text: &str) -> Result<u32, &'static str> {
    let trimmed = text.trim_matches(super::is_python_whitespace);
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if digits.starts_with('-') {
        return Err("the count must not be negative");
    }
    let bytes = digits.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
        && !digits.contains("__");
    if !well_formed {
        return Err("the count must be a whole number");
    }
    digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .try_fold(0u32, |acc, b| {
            acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
        })
        .ok_or("the count is too large")
}

impl fmt::Display for Rate {
    /// The canonical spelling (`100/minute`) for the four durations DRF can express; any other
    /// duration (only possible by building a `Rate` by hand) is shown in a form that is
    /// deliberately not a parseable rate string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = match (self.duration.as_secs(), self.duration.subsec_nanos()) {
            (1, 0) => "second",
            (60, 0) => "minute",
            (3600, 0) => "hour",
            (86400, 0) => "day",
            _ => return write!(f, "{} per {:?}", self.num_requests, self.duration),
        };
        write!(f, "{}/{}", self.num_requests, period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn drf_spellings_are_equal() {
        let expected = Rate::new(100, secs(60));
        for text in ["100/min", "100/m", "100/minute", "100/mango"] {
            assert_eq!(text.parse::<Rate>().unwrap(), expected, "{text}");
        }
        assert_eq!(
            "1000/day".parse::<Rate>().unwrap(),
            Rate::new(1000, secs(86400))
        );
        assert_eq!("3/h".parse::<Rate>().unwrap(), Rate::new(3, secs(3600)));
        assert_eq!("10/sec".parse::<Rate>().unwrap(), Rate::new(10, secs(1)));
    }

    #[test]
    fn count_follows_python_int() {
        assert_eq!(" 5 /m".parse::<Rate>().unwrap().num_requests, 5);
        assert_eq!("+5/m".parse::<Rate>().unwrap().num_requests, 5);
        assert_eq!("1_000/h".parse::<Rate>().unwrap().num_requests, 1000);
        assert_eq!("007/s".parse::<Rate>().unwrap().num_requests, 7);
        assert_eq!("0/m".parse::<Rate>().unwrap().num_requests, 0);
        assert_eq!(
            "4294967295/d".parse::<Rate>().unwrap().num_requests,
            u32::MAX
        );
        for bad in [
            "_1/m",
            "1_/m",
            "1__0/m",
            "-1/m",
            "1.5/m",
            "/m",
            "x/m",
            "4294967296/d",
            "++1/m",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn period_is_case_sensitive_and_needs_a_first_character() {
        for bad in [
            "5/M", "5/Minute", "5/", "5/ m", "5/y", "5/5m", "5m", "5", "", "5/m/x",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn error_message_names_the_input_and_the_expected_form() {
        let err = "x".parse::<Rate>().unwrap_err().to_string();
        assert!(err.starts_with("invalid throttle rate \"x\": "), "{err}");
        assert!(err.contains("expected <count>/<period>"), "{err}");
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(Rate::new(100, secs(60)).to_string(), "100/minute");
        assert_eq!(Rate::new(1000, secs(3600)).to_string(), "1000/hour");
        assert_eq!(Rate::new(10, secs(1)).to_string(), "10/second");
        assert_eq!(Rate::new(5, secs(86400)).to_string(), "5/day");
        let odd = Rate::new(5, secs(90)).to_string();
        assert_eq!(odd, "5 per 90s");
        assert!(odd.parse::<Rate>().is_err());
    }

    fn word_starting_with(first: &'static str) -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_ .-]{0,10}".prop_map(move |rest| format!("{first}{rest}"))
    }

    proptest! {
        #[test]
        fn any_word_with_a_known_first_letter_parses(
            n in any::<u32>(),
            (letter, seconds) in prop_oneof![
                Just(("s", 1u64)), Just(("m", 60)), Just(("h", 3600)), Just(("d", 86400))
            ],
            rest in "[a-zA-Z0-9_ .-]{0,10}",
        ) {
            let text = format!("{n}/{letter}{rest}");
            prop_assert_eq!(text.parse::<Rate>(), Ok(Rate::new(n, secs(seconds))));
        }

        #[test]
        fn any_other_first_character_fails(
            n in any::<u32>(),
            word in "[^smhd/]{1}[^/]{0,10}",
        ) {
            let text = format!("{n}/{word}");
            prop_assert!(text.parse::<Rate>().is_err(), "{} parsed", text);
        }

        #[test]
        fn empty_or_extra_parts_fail(n in any::<u32>(), word in word_starting_with("m")) {
            let no_period = format!("{n}/");
            let two_slashes = format!("{n}/{word}/{word}");
            prop_assert!(no_period.parse::<Rate>().is_err());
            prop_assert!(two_slashes.parse::<Rate>().is_err());
        }

        #[test]
        fn display_round_trips(
            n in any::<u32>(),
            seconds in prop_oneof![Just(1u64), Just(60), Just(3600), Just(86400)],
        ) {
            let rate = Rate::new(n, secs(seconds));
            prop_assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate));
        }
    }
}
