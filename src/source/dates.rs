//! Dates as the source files write them.
//!
//! Accepted forms (month names in any case): `YYYYMMDD` (19740401), `DDMONYYYY` (01SEP2017,
//! 01Jan2022), `DD-Mon-YY` (01-Apr-17; a four-digit year is accepted too), `DD/MM/YYYY`
//! (30/06/2023), ISO `YYYY-MM-DD`, and month-only `MONYYYY` (APR2023 = 1 April 2023). Days and
//! months may have one digit where a separator makes that unambiguous.
//!
//! Two-digit years follow Python's `%y`, which the publishers' own tooling uses: 00–68 are
//! 2000–2068 and 69–99 are 1969–1999 (chrono's `%y` pivots at 70 instead, hence the hand-written
//! parser).

use chrono::{Datelike, NaiveDate};

/// Parses any form listed in the module docs; `None` for an empty string or anything else.
pub fn parse_source_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.is_empty() || !s.is_ascii() {
        return None;
    }
    if s.contains('-') {
        return dashed(s);
    }
    if s.contains('/') {
        return slashed(s);
    }
    if s.len() == 8 && all_digits(s) {
        return ymd(number(&s[..4])?, number(&s[4..6])?, number(&s[6..])?);
    }
    compact_month_name(s)
}

pub fn last_day_of_month(d: NaiveDate) -> NaiveDate {
    let (year, month) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|first_of_next| first_of_next.pred_opt())
        .expect("the day before the first of a month within chrono's range exists")
}

/// `YYYY-MM-DD` or `DD-Mon-YY` / `DD-Mon-YYYY`.
fn dashed(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('-');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    if a.len() == 4 && b.len() == 2 && c.len() == 2 {
        return ymd(number(a)?, number(b)?, number(c)?);
    }
    if !(1..=2).contains(&a.len()) {
        return None;
    }
    let year = match c.len() {
        2 => two_digit_year(number(c)?),
        4 => number(c)?,
        _ => return None,
    };
    ymd(year, month_number(b)?, number(a)?)
}

/// `DD/MM/YYYY`.
fn slashed(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(1..=2).contains(&d.len()) || !(1..=2).contains(&m.len()) {
        return None;
    }
    if y.len() != 4 {
        return None;
    }
    ymd(number(y)?, number(m)?, number(d)?)
}

/// `DDMONYYYY` or `MONYYYY`.
fn compact_month_name(s: &str) -> Option<NaiveDate> {
    let day_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (day, rest) = s.split_at(day_len);
    if rest.len() != 7 {
        return None;
    }
    let (month, year) = rest.split_at(3);
    let day = match day_len {
        0 => 1,
        1 | 2 => number(day)?,
        _ => return None,
    };
    ymd(number(year)?, month_number(month)?, day)
}

/// A month's number from its English name or three-letter abbreviation, in any case.
pub fn month_number(name: &str) -> Option<u32> {
    name.parse::<chrono::Month>()
        .ok()
        .map(|m| m.number_from_month())
}

fn two_digit_year(yy: i32) -> i32 {
    if yy <= 68 { 2000 + yy } else { 1900 + yy }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Digits only: `str::parse` would also take a sign.
fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if all_digits(s) { s.parse().ok() } else { None }
}

fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parses_every_documented_example() {
        assert_eq!(parse_source_date("19740401"), Some(d(1974, 4, 1)));
        assert_eq!(parse_source_date("01SEP2017"), Some(d(2017, 9, 1)));
        assert_eq!(parse_source_date("01Jan2022"), Some(d(2022, 1, 1)));
        assert_eq!(parse_source_date("01-Apr-17"), Some(d(2017, 4, 1)));
        assert_eq!(parse_source_date("30/06/2023"), Some(d(2023, 6, 30)));
        assert_eq!(parse_source_date("2023-09-30"), Some(d(2023, 9, 30)));
        assert_eq!(parse_source_date("APR2023"), Some(d(2023, 4, 1)));
    }

    #[test]
    fn month_names_are_case_insensitive_and_input_is_trimmed() {
        assert_eq!(parse_source_date(" 01aug2025 "), Some(d(2025, 8, 1)));
        assert_eq!(parse_source_date("15-dEc-99"), Some(d(1999, 12, 15)));
        assert_eq!(parse_source_date("feb2020"), Some(d(2020, 2, 1)));
        assert_eq!(parse_source_date("1-Apr-2017"), Some(d(2017, 4, 1)));
        assert_eq!(parse_source_date("1/6/2023"), Some(d(2023, 6, 1)));
    }

    #[test]
    fn two_digit_years_pivot_like_python() {
        assert_eq!(parse_source_date("01-Jan-00"), Some(d(2000, 1, 1)));
        assert_eq!(parse_source_date("01-Jan-68"), Some(d(2068, 1, 1)));
        assert_eq!(parse_source_date("01-Jan-69"), Some(d(1969, 1, 1)));
        assert_eq!(parse_source_date("01-Jan-99"), Some(d(1999, 1, 1)));
    }

    #[test]
    fn empty_and_malformed_values_are_none() {
        for s in [
            "",
            "   ",
            "2019-13-01",
            "20190230",
            "2019011",
            "201901011",
            "31/02/2020",
            "30/06/23",
            "01-Foo-17",
            "01-Apr-017",
            "32JAN2020",
            "001JAN2020",
            "JANUARY2020",
            "APR23",
            "-1-Apr-17",
            "+2019-01-01",
            "2019-1-01",
            "01/02/2020/1",
            "£1JAN2020",
            "hello",
        ] {
            assert_eq!(parse_source_date(s), None, "{s:?}");
        }
    }

    #[test]
    fn last_day_of_month_handles_lengths_leap_years_and_december() {
        assert_eq!(last_day_of_month(d(2024, 2, 10)), d(2024, 2, 29));
        assert_eq!(last_day_of_month(d(2023, 2, 1)), d(2023, 2, 28));
        assert_eq!(last_day_of_month(d(1900, 2, 1)), d(1900, 2, 28));
        assert_eq!(last_day_of_month(d(2023, 4, 30)), d(2023, 4, 30));
        assert_eq!(last_day_of_month(d(2023, 12, 1)), d(2023, 12, 31));
        assert_eq!(last_day_of_month(d(2023, 1, 31)), d(2023, 1, 31));
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        // 1900-01-01 ..= 2099-12-31
        (0i64..73_049).prop_map(|n| d(1900, 1, 1) + chrono::Duration::days(n))
    }

    fn two_digit_year_date() -> impl Strategy<Value = NaiveDate> {
        // 1969-01-01 ..= 2068-12-31, the window a two-digit year can express
        (0i64..36_525).prop_map(|n| d(1969, 1, 1) + chrono::Duration::days(n))
    }

    fn month_name(date: NaiveDate, lower: bool) -> String {
        let name = date.format("%b").to_string().to_uppercase();
        if lower { name.to_lowercase() } else { name }
    }

    proptest! {
        #[test]
        fn yyyymmdd_round_trips(date in any_date()) {
            prop_assert_eq!(parse_source_date(&date.format("%Y%m%d").to_string()), Some(date));
        }

        #[test]
        fn ddmonyyyy_round_trips(date in any_date(), lower: bool) {
            let s = format!("{:02}{}{}", date.day(), month_name(date, lower), date.year());
            prop_assert_eq!(parse_source_date(&s), Some(date));
        }

        #[test]
        fn mixed_case_ddmonyyyy_round_trips(date in any_date()) {
            prop_assert_eq!(parse_source_date(&date.format("%d%b%Y").to_string()), Some(date));
        }

        #[test]
        fn dd_mon_yy_round_trips(date in two_digit_year_date()) {
            prop_assert_eq!(parse_source_date(&date.format("%d-%b-%y").to_string()), Some(date));
        }

        #[test]
        fn dd_mm_yyyy_round_trips(date in any_date()) {
            prop_assert_eq!(parse_source_date(&date.format("%d/%m/%Y").to_string()), Some(date));
        }

        #[test]
        fn iso_round_trips(date in any_date()) {
            prop_assert_eq!(parse_source_date(&date.format("%Y-%m-%d").to_string()), Some(date));
        }

        #[test]
        fn monyyyy_round_trips_to_the_first(date in any_date(), lower: bool) {
            let s = format!("{}{}", month_name(date, lower), date.year());
            prop_assert_eq!(parse_source_date(&s), date.with_day(1));
        }

        #[test]
        fn last_day_of_month_is_the_last_day(date in any_date()) {
            let last = last_day_of_month(date);
            prop_assert_eq!((last.year(), last.month()), (date.year(), date.month()));
            prop_assert!(last >= date);
            prop_assert_eq!(last.succ_opt().unwrap().day(), 1);
        }
    }
}
