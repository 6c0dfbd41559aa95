//! Per-year QOF settings the publication does not carry: the value of a point, the points
//! available and which year is current. They live in `config/qof_years.csv`, built into the
//! binary; operators point `HARESIGN_QOF_SETTINGS` at their own copy to change them without a
//! release. Every QOF import that loads a file writes the settings of all years, so edits take
//! effect with the next such import.
//!
//! Columns: `year` (any form `FinancialYear::parse_published` accepts), `start_date`, `end_date` (ISO; blank
//! means 1 April to 31 March), `max_points` and `pound_per_point` (blank when unknown),
//! `is_current` (`true`/`false`).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::source::error::ImportError;
use crate::source::financial_year::FinancialYear;
use crate::source::values::scaled;
use crate::source::{CsvReader, Header, date, line_of};

/// The settings built into the binary.
const BUILT_IN: &str = include_str!("../../../config/qof_years.csv");

/// Names the operator's settings file, replacing the built-in one.
pub const SETTINGS_ENV: &str = "HARESIGN_QOF_SETTINGS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearSettings {
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// Scaled by 100.
    pub max_points: Option<i64>,
    /// Scaled by 100.
    pub pound_per_point: Option<i64>,
    pub is_current: bool,
}

impl YearSettings {
    /// What a year with no settings row gets: its financial-year dates and nothing else.
    pub fn default_for(year: &str) -> YearSettings {
        let start: i32 = year[..4].parse().expect("normalised year");
        YearSettings {
            start_date: NaiveDate::from_ymd_opt(start, 4, 1).expect("valid date"),
            end_date: NaiveDate::from_ymd_opt(start + 1, 3, 31).expect("valid date"),
            max_points: None,
            pound_per_point: None,
            is_current: false,
        }
    }
}

/// The settings in force: the operator's file if `HARESIGN_QOF_SETTINGS` names one, else the
/// built-in file.
pub fn current() -> Result<BTreeMap<String, YearSettings>, ImportError> {
    read(std::env::var_os(SETTINGS_ENV))
}

/// The settings in the file at `path`, or the built-in ones.
fn read(path: Option<std::ffi::OsString>) -> Result<BTreeMap<String, YearSettings>, ImportError> {
    match path {
        Some(path) => {
            let label = path.to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).map_err(|source| ImportError::Io {
                file: label.clone(),
                source,
            })?;
            parse(&label, &text)
        }
        None => parse("config/qof_years.csv", BUILT_IN),
    }
}

/// Reads a settings file; `label` names it in errors.
pub fn parse(label: &str, text: &str) -> Result<BTreeMap<String, YearSettings>, ImportError> {
    let mut reader = CsvReader::new(text.as_bytes());
    let mut records = reader.records();
    let Some(first) = records.next() else {
        return Err(ImportError::Empty {
            file: label.to_owned(),
        });
    };
    let first = first.map_err(|e| ImportError::from_csv(label, e))?;
    let header = Header::new(label, first.iter());
    let [year_at, start_at, end_at, max_at, pound_at, current_at] = header.require([
        &["year"],
        &["start_date"],
        &["end_date"],
        &["max_points"],
        &["pound_per_point"],
        &["is_current"],
    ])?;
    let mut years = BTreeMap::new();
    for record in records {
        let record = record.map_err(|e| ImportError::from_csv(label, e))?;
        let line = line_of(&record);
        let cell = |i: usize| record.get(i).unwrap_or("");
        if record.iter().all(str::is_empty) {
            continue;
        }
        let year = FinancialYear::parse_published(cell(year_at))
            .map(|y| y.to_string())
            .ok_or_else(|| ImportError::bad_value(label, line, "year", cell(year_at), "a year"))?;
        let defaults = YearSettings::default_for(&year);
        let points = |at: usize, column: &str| -> Result<Option<i64>, ImportError> {
            let value = cell(at);
            if value.is_empty() {
                return Ok(None);
            }
            scaled(value, 2)
                .map(Some)
                .ok_or_else(|| ImportError::bad_value(label, line, column, value, "a number"))
        };
        let is_current = match cell(current_at).to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" | "" => false,
            other => {
                return Err(ImportError::bad_value(
                    label,
                    line,
                    "is_current",
                    other,
                    "true or false",
                ));
            }
        };
        let settings = YearSettings {
            start_date: date(label, line, "start_date", cell(start_at))?
                .unwrap_or(defaults.start_date),
            end_date: date(label, line, "end_date", cell(end_at))?.unwrap_or(defaults.end_date),
            max_points: points(max_at, "max_points")?,
            pound_per_point: points(pound_at, "pound_per_point")?,
            is_current,
        };
        if years.insert(year.clone(), settings).is_some() {
            return Err(ImportError::unrecognised(
                label,
                format!("year {year} is listed more than once"),
            ));
        }
    }
    Ok(years)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_settings_parse() {
        let years = parse("built-in", BUILT_IN).unwrap();
        let current: Vec<_> = years.iter().filter(|(_, s)| s.is_current).collect();
        assert_eq!(current.len(), 1, "exactly one current year");
        assert_eq!(years["2023/24"].pound_per_point, Some(21343));
        assert_eq!(years["2023/24"].max_points, Some(63500));
    }

    #[test]
    fn an_operator_file_replaces_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qof_years.csv");
        std::fs::write(
            &path,
            "year,start_date,end_date,max_points,pound_per_point,is_current\r\n\
             2025-26,,,640,230.10,true\r\n",
        )
        .unwrap();
        let years = read(Some(path.into_os_string())).unwrap();
        assert_eq!(years.keys().collect::<Vec<_>>(), ["2025/26"]);
        assert_eq!(years["2025/26"].pound_per_point, Some(23010));
        assert!(years["2025/26"].is_current);
        assert_eq!(read(None).unwrap(), parse("built-in", BUILT_IN).unwrap());
        let missing = read(Some(dir.path().join("none.csv").into_os_string())).unwrap_err();
        assert!(missing.to_string().contains("none.csv"), "{missing}");
    }

    #[test]
    fn blanks_fall_back_to_the_financial_year() {
        let years = parse(
            "x.csv",
            "year,start_date,end_date,max_points,pound_per_point,is_current\n2324,,,,,\n",
        )
        .unwrap();
        assert_eq!(years["2023/24"], YearSettings::default_for("2023/24"));
    }

    #[test]
    fn a_bad_value_names_the_file_and_column() {
        let err = parse(
            "x.csv",
            "year,start_date,end_date,max_points,pound_per_point,is_current\n2023-24,,,lots,,\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("x.csv"), "{err}");
        assert!(err.to_string().contains("max_points"), "{err}");
    }
}
