//! Reporting periods as `datasets/` and `practices/{ods_code}/` show them, and how old a
//! dataset's latest period may be before it is stale.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, Months, NaiveDate};

use crate::catalogue::Cadence;
use crate::db::Cell;
use crate::schema::FilterKind;

/// A stored period (a date, a financial year, a survey year, as text) as its endpoint's filter
/// takes it: a month as `2025-10`, a date as `2025-10-31`, a financial year as `2024/25`, a year
/// as `2025`.
pub fn shown(kind: &FilterKind, stored: &str) -> String {
    match kind {
        FilterKind::Month(_) => stored.get(..7).unwrap_or(stored).to_owned(),
        _ => stored.to_owned(),
    }
}

/// A period read from its column, as text (`None` for NULL).
pub fn stored(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Date(date) => Some(date.format("%Y-%m-%d").to_string()),
        Cell::Text(text) => Some(text.clone()),
        Cell::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The last day a shown period covers: a month's last day, the date itself, 31 March of a
/// financial year, 31 December of a year.
pub fn end(kind: &FilterKind, shown: &str) -> Option<NaiveDate> {
    let year = |s: &str| s.get(..4)?.parse::<i32>().ok();
    match kind {
        FilterKind::Month(_) => {
            let first = NaiveDate::parse_from_str(&format!("{shown}-01"), "%Y-%m-%d").ok()?;
            first.checked_add_months(Months::new(1))?.pred_opt()
        }
        FilterKind::Date(_) => NaiveDate::parse_from_str(shown, "%Y-%m-%d").ok(),
        FilterKind::FinancialYear(_) => NaiveDate::from_ymd_opt(year(shown)? + 1, 3, 31),
        FilterKind::Year(_) => NaiveDate::from_ymd_opt(year(shown)?, 12, 31),
        _ => None,
    }
}

/// How many days past the end of its latest period a dataset of each cadence may be before it
/// is stale (`serve --stale-after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleAfter {
    pub monthly: u64,
    pub quarterly: u64,
    pub annual: u64,
}

impl Default for StaleAfter {
    fn default() -> Self {
        StaleAfter {
            monthly: 70,
            quarterly: 130,
            annual: 400,
        }
    }
}

impl StaleAfter {
    fn days(&self, cadence: Cadence) -> u64 {
        match cadence {
            Cadence::Monthly => self.monthly,
            Cadence::Quarterly => self.quarterly,
            Cadence::Annual => self.annual,
        }
    }

    /// Whether a period ending on `end` is older on `today` than `cadence` allows.
    pub fn is_stale(&self, cadence: Cadence, end: NaiveDate, today: NaiveDate) -> bool {
        end.checked_add_days(Days::new(self.days(cadence)))
            .is_none_or(|limit| today > limit)
    }
}

/// `monthly=70,quarterly=130,annual=400`, in days; a cadence left out keeps its default.
impl FromStr for StaleAfter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = StaleAfter::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, days) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not cadence=days"))?;
            let days: u64 = days
                .trim()
                .parse()
                .map_err(|_| format!("`{days}` is not a number of days"))?;
            match name.trim() {
                "monthly" => out.monthly = days,
                "quarterly" => out.quarterly = days,
                "annual" => out.annual = days,
                other => {
                    return Err(format!(
                        "unknown cadence `{other}`: monthly, quarterly or annual"
                    ));
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for StaleAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "monthly={},quarterly={},annual={}",
            self.monthly, self.quarterly, self.annual
        )
    }
}

/// The UTC day of a clock reading in seconds since the Unix epoch.
pub fn day_of(seconds: f64) -> NaiveDate {
    chrono::DateTime::from_timestamp(seconds.floor() as i64, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// The cadence's name on the wire.
pub fn cadence_name(cadence: Cadence) -> &'static str {
    match cadence {
        Cadence::Monthly => "monthly",
        Cadence::Quarterly => "quarterly",
        Cadence::Annual => "annual",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_are_shown_as_their_filters_take_them_and_end_on_their_last_day() {
        let month = FilterKind::Month("month");
        assert_eq!(shown(&month, "2025-10-01"), "2025-10");
        assert_eq!(end(&month, "2025-02"), Some(date("2025-02-28")));
        assert_eq!(end(&month, "2025-12"), Some(date("2025-12-31")));
        let fy = FilterKind::FinancialYear("year");
        assert_eq!(shown(&fy, "2024/25"), "2024/25");
        assert_eq!(end(&fy, "2024/25"), Some(date("2025-03-31")));
        assert_eq!(
            end(&FilterKind::Year("year"), "2025"),
            Some(date("2025-12-31"))
        );
        assert_eq!(
            end(&FilterKind::Date("date"), "2025-06-30"),
            Some(date("2025-06-30"))
        );
        assert_eq!(end(&month, "garbage"), None);
    }

    #[test]
    fn stale_counts_days_from_the_periods_end() {
        let allowed = StaleAfter::default();
        let end = date("2025-10-31");
        assert!(!allowed.is_stale(Cadence::Monthly, end, date("2026-01-09")));
        assert!(allowed.is_stale(Cadence::Monthly, end, date("2026-01-10")));
        assert!(!allowed.is_stale(Cadence::Annual, end, date("2026-01-10")));
    }

    #[test]
    fn allowances_parse_in_part_and_refuse_nonsense() {
        assert_eq!(
            "quarterly=100".parse::<StaleAfter>(),
            Ok(StaleAfter {
                quarterly: 100,
                ..StaleAfter::default()
            })
        );
        let all: StaleAfter = "monthly=1, quarterly=2, annual=3".parse().unwrap();
        assert_eq!(all.to_string(), "monthly=1,quarterly=2,annual=3");
        assert!("weekly=7".parse::<StaleAfter>().is_err());
        assert!("monthly=soon".parse::<StaleAfter>().is_err());
        assert!("monthly".parse::<StaleAfter>().is_err());
    }

    #[test]
    fn a_clock_reading_is_a_utc_day() {
        assert_eq!(day_of(0.0), date("1970-01-01"));
        assert_eq!(day_of(86_400.0 * 365.0 + 0.5), date("1971-01-01"));
    }
}
