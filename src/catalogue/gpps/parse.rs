//! Reading the GP Patient Survey's practice-level results (`GPPS_<yyyy>_Practice_data_
//! (weighted)_(csv)_PUBLIC.csv`): one row per practice, 1,100 columns and more, read one row at
//! a time. The file is in one of two header schemes, told by its practice code column:
//! - from 2024 (the redesigned questionnaire): `ad_practicecode`, `ad_practicename`, ICS, region
//!   and PCN columns prefixed `ad_`, then `distributed`, `received`, `resprate`, `popsize`, and
//!   question columns named `<stem>.<suffix>` (`overallexp.pcteval`, `lastgpapptwhen_1.pct`);
//! - 2023 and earlier: `Practice_Code` (`Practice_code` in 2016–2017), `Practice_Name`,
//!   geography of its year (`CCG_Code` … to 2021, `STP_Code` and `CR_Code` in 2021, `ICS_Code`
//!   from 2022) and question columns such as `Q28_12pct`.
//!
//! `COLUMNS` is the one table of the columns read into a row's own fields, by scheme; every
//! column it does not name is a question column, kept in the row's `measures` by its published
//! name. Headers are matched ignoring case.
//!
//! Values are numbers as published: `.pct`/`.pcteval` and `…pct` columns are fractions 0–1,
//! never rescaled. Negative values (`-97`, `-98`, `-99`: too few responses, not asked,
//! suppressed), `/` and empty cells are missing. The survey year is not in the file: it comes
//! from the file name or from `--option year=2025`.

use std::collections::HashSet;
use std::io::Read;

use crate::db::JsonObject;
use crate::source::error::ImportError;
use crate::source::values::whole_count;
use crate::source::{CsvReader, SourceFile, code, line_of, text};

/// The header scheme of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// 2024 onwards: the redesigned questionnaire, `ad_` identifier columns.
    From2024,
    /// 2023 and earlier: `Practice_Code`, `Q<n>_…` question columns. Not comparable with 2024.
    To2023,
}

/// The columns read into a row's own fields; every other column is a question measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    PracticeCode,
    PracticeName,
    PcnCode,
    PcnName,
    IcsCode,
    IcsName,
    RegionCode,
    RegionName,
    Distributed,
    Received,
    ResponseRate,
    ListSize,
    OverallExperience,
    ContactExperience,
    PhoneEase,
    /// A descriptive column that is neither served nor a measure (ONS codes, CCG columns).
    Described,
}

use Field::*;

const FIELDS: usize = Described as usize;

/// Whether a file of a scheme must have a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Required,
    Optional,
}

use Need::{Optional, Required};

/// The one table of the columns read into fields: each field's headers in the 2024+ scheme and
/// in the 2023-and-earlier scheme (lower-case; the first of each list is named when missing).
/// Headline measures stay in `measures` too, under their published names.
///
/// Evidence: the 2024+ identifier columns were enforced by an importer run on the 2025 file;
/// `Practice_Code`/`Practice_code`, `Practice_Name`, `CCG_Code`, `ICS_Code`, `STP_Code`,
/// `CR_Code`, `distributed`, `received`, `resprate`, `Q28_12pct`, `Q18_12pct`, `Q3_12pct` are
/// read by analysts' scripts over the 2016–2023 files (reported, not seen here). Older files'
/// region, PCN and name columns other than these are not known: where a year lacks them the
/// field is null.
const COLUMNS: &[Entry] = &[
    (
        PracticeCode,
        &["ad_practicecode"],
        Required,
        &["practice_code"],
        Required,
    ),
    (
        PracticeName,
        &["ad_practicename"],
        Required,
        &["practice_name"],
        Required,
    ),
    (PcnCode, &["ad_pcncode"], Required, &["pcn_code"], Optional),
    (PcnName, &["ad_pcnname"], Required, &["pcn_name"], Optional),
    // STPs were the ICSs' forerunners under the same ODS codes (assumed for the 2021 file).
    (
        IcsCode,
        &["ad_icscode"],
        Required,
        &["ics_code", "stp_code"],
        Optional,
    ),
    (
        IcsName,
        &["ad_icsname"],
        Required,
        &["ics_name", "stp_name"],
        Optional,
    ),
    (
        RegionCode,
        &["ad_commissioningregioncode"],
        Required,
        &["cr_code", "commissioning_region_code", "region_code"],
        Optional,
    ),
    (
        RegionName,
        &["ad_commissioningregionname"],
        Required,
        &["cr_name", "commissioning_region_name", "region_name"],
        Optional,
    ),
    (
        Distributed,
        &["distributed"],
        Required,
        &["distributed"],
        Optional,
    ),
    (Received, &["received"], Required, &["received"], Optional),
    (
        ResponseRate,
        &["resprate"],
        Required,
        &["resprate"],
        Optional,
    ),
    (ListSize, &["popsize"], Required, &["popsize"], Optional),
    (
        OverallExperience,
        &["overallexp.pcteval"],
        Optional,
        &["q28_12pct"],
        Optional,
    ),
    (
        ContactExperience,
        &["gpcontactoverall.pcteval"],
        Optional,
        &["q18_12pct"],
        Optional,
    ),
    (
        PhoneEase,
        &["localgpservicesphone.pcteval"],
        Optional,
        &["q3_12pct"],
        Optional,
    ),
    (Described, &["ad_icscodeons"], Required, &[], Optional),
];

/// A field, its headers and need in the 2024+ scheme, then in the 2023-and-earlier scheme.
type Entry = (
    Field,
    &'static [&'static str],
    Need,
    &'static [&'static str],
    Need,
);

/// Whether a column `COLUMNS` does not name is descriptive rather than a question: the `ad_`
/// columns of 2024 on, and the `…_code` / `…_name` geography columns of earlier years
/// (`CCG_Code`, `CCG_Name`), which are neither served nor numbers.
fn descriptive(scheme: Scheme, key: &str) -> bool {
    match scheme {
        Scheme::From2024 => key.starts_with("ad_"),
        Scheme::To2023 => ["_code", "_name", "_code_ons", "_ons_code"]
            .iter()
            .any(|end| key.ends_with(end)),
    }
}

impl Scheme {
    /// The scheme of a header, told by its practice code column.
    fn of(names: &[String]) -> Option<Scheme> {
        let has = |wanted: &str| names.iter().any(|n| n == wanted);
        if has("ad_practicecode") {
            Some(Scheme::From2024)
        } else if has("practice_code") {
            Some(Scheme::To2023)
        } else {
            None
        }
    }

    /// A year on the wrong side of the 2024 redesign for the scheme is refused: it would file
    /// results under a year whose questions they do not answer (a mistyped `--option year`).
    pub fn check_year(self, file: &str, year: i64) -> Result<(), ImportError> {
        match self {
            Scheme::From2024 if year < 2024 => Err(ImportError::unrecognised(
                file,
                format!(
                    "the header is in the 2024 scheme (ad_practicecode), but the year is {year}"
                ),
            )),
            Scheme::To2023 if year >= 2024 => Err(ImportError::unrecognised(
                file,
                format!(
                    "the header is in the 2023-and-earlier scheme (Practice_Code), but the year \
                     is {year}"
                ),
            )),
            _ => Ok(()),
        }
    }

    fn columns(self, entry: &Entry) -> (&'static [&'static str], Need) {
        match self {
            Scheme::From2024 => (entry.1, entry.2),
            Scheme::To2023 => (entry.3, entry.4),
        }
    }
}

/// The survey year a file name states: the first run of exactly four digits that is a year
/// from 2007 on (`GPPS_2025_Practice_data_(weighted)_(csv)_PUBLIC.csv`,
/// `GPPS 2018 Practice data (weighted) (csv) PUBLIC.csv`).
pub fn year_in_name(name: &str) -> Option<i64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() == 4)
        .filter_map(|run| run.parse::<i64>().ok())
        .find(|year| (2007..=2100).contains(year))
}

/// The year of a file: `--option year=…` where given (it must agree with a year in the name),
/// else the year the file name states.
pub fn year_of(file: &SourceFile, given: Option<&str>) -> Result<i64, ImportError> {
    let named = year_in_name(&file.base_name_lower());
    let label = file.to_string();
    match given {
        Some(given) => {
            let year = given
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|y| (2007..=2100).contains(y))
                .ok_or_else(|| {
                    ImportError::unrecognised(
                        &label,
                        format!("--option year={given}: expected a survey year such as 2025"),
                    )
                })?;
            match named {
                Some(named) if named != year => Err(ImportError::unrecognised(
                    &label,
                    format!("the file name says {named}, but --option year says {year}"),
                )),
                _ => Ok(year),
            }
        }
        None => named.ok_or_else(|| {
            ImportError::unrecognised(
                &label,
                "the file name does not say its survey year (as in \
                 GPPS_2025_Practice_data_(weighted)_(csv)_PUBLIC.csv): give it with \
                 --option year=2025",
            )
        }),
    }
}

/// The list-size band of a practice population: bands start at their lower edge (5,000 is
/// `5k_10k`); `None` when the population is not published.
pub fn list_band(population: Option<i64>) -> Option<&'static str> {
    Some(match population? {
        p if p < 5_000 => "under_5k",
        p if p < 10_000 => "5k_10k",
        p if p < 15_000 => "10k_15k",
        p if p < 20_000 => "15k_20k",
        _ => "20k_plus",
    })
}

/// A published number with the survey's missing markers removed: empty, `/` and any negative
/// value (`-97`, `-99`) are `None`; anything else that is not a number is a `BadValue`.
pub fn measure(
    file: &str,
    line: u64,
    column: &str,
    value: &str,
) -> Result<Option<f64>, ImportError> {
    let value = value.trim();
    if value.is_empty() || value == "/" {
        return Ok(None);
    }
    let number = value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            ImportError::bad_value(
                file,
                line,
                column,
                value,
                "a number, / or a negative missing marker",
            )
        })?;
    Ok((number >= 0.0).then_some(number))
}

/// A published count: missing as for `measure`, else a whole number.
fn count(file: &str, line: u64, column: &str, value: &str) -> Result<Option<i64>, ImportError> {
    match measure(file, line, column, value)? {
        None => Ok(None),
        Some(_) => whole_count(value.trim().as_bytes())
            .and_then(|n| i64::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| ImportError::bad_value(file, line, column, value, "a whole number")),
    }
}

/// One practice's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    pub practice_code: String,
    pub practice_name: Option<String>,
    pub pcn_code: Option<String>,
    pub pcn_name: Option<String>,
    pub ics_code: Option<String>,
    pub ics_name: Option<String>,
    pub region_code: Option<String>,
    pub region_name: Option<String>,
    pub distributed: Option<i64>,
    pub received: Option<i64>,
    pub response_rate: Option<f64>,
    pub list_size: Option<i64>,
    pub overall_experience: Option<f64>,
    pub contact_experience: Option<f64>,
    pub phone_ease: Option<f64>,
    pub measures: JsonObject,
}

/// Where each header cell goes.
enum Target {
    Field(Field),
    Measure,
}

/// The rows of one file, read as they are iterated.
pub struct Rows {
    file: String,
    reader: CsvReader<Box<dyn Read + Send>>,
    record: csv::StringRecord,
    targets: Vec<Target>,
    /// Each column's name as published (trimmed), for `measures` and messages.
    names: Vec<String>,
    /// Practice codes met so far: a practice appears once a year.
    seen: HashSet<String>,
}

/// Opens `file`, tells its scheme from the header and checks that every column the scheme
/// needs is there (all missing ones named at once).
pub fn read(file: &SourceFile) -> Result<(Scheme, Rows), ImportError> {
    let label = file.to_string();
    let (header, reader) = file.csv_with_first_row()?;
    let names: Vec<String> = header.iter().map(|n| n.trim().to_owned()).collect();
    let keys: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let scheme = Scheme::of(&keys).ok_or_else(|| {
        ImportError::unrecognised(
            &label,
            "expected a GP Patient Survey practice file: a header with ad_practicecode (2024 \
             on) or Practice_Code (2023 and earlier)",
        )
    })?;
    let mut targets = Vec::with_capacity(keys.len());
    let mut distinct = HashSet::with_capacity(keys.len());
    for (key, name) in keys.iter().zip(&names) {
        if name.is_empty() {
            return Err(ImportError::unrecognised(
                &label,
                "a column has no name in the header",
            ));
        }
        if !distinct.insert(key.as_str()) {
            return Err(ImportError::unrecognised(
                &label,
                format!("two columns are both named {name:?}"),
            ));
        }
        let field = COLUMNS
            .iter()
            .find(|entry| scheme.columns(entry).0.contains(&key.as_str()))
            .map(|entry| entry.0);
        targets.push(match field {
            Some(field) => Target::Field(field),
            None if descriptive(scheme, key) => Target::Field(Described),
            None => Target::Measure,
        });
    }
    let missing: Vec<String> = COLUMNS
        .iter()
        .map(|entry| scheme.columns(entry))
        .filter(|(aliases, need)| {
            *need == Required && !aliases.iter().any(|a| keys.iter().any(|k| k == a))
        })
        .flat_map(|(aliases, _)| aliases.first().map(|a| (*a).to_owned()))
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns {
            file: label,
            missing,
        });
    }
    Ok((
        scheme,
        Rows {
            file: label,
            reader,
            record: csv::StringRecord::new(),
            targets,
            names,
            seen: HashSet::new(),
        },
    ))
}

impl Iterator for Rows {
    type Item = Result<Row, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Err(e) => return Some(Err(ImportError::from_csv(&self.file, e))),
                Ok(false) => return None,
                Ok(true) if self.record.iter().all(str::is_empty) => continue,
                Ok(true) => return Some(self.parse()),
            }
        }
    }
}

impl Rows {
    fn parse(&mut self) -> Result<Row, ImportError> {
        let record = &self.record;
        let line = line_of(record);
        let file = self.file.as_str();
        if record.len() != self.targets.len() {
            return Err(ImportError::bad_value(
                file,
                line,
                "(number of fields)",
                &record.len().to_string(),
                "as many fields as the header",
            ));
        }
        let mut texts: [Option<String>; FIELDS] = Default::default();
        let mut numbers: [Option<f64>; FIELDS] = [None; FIELDS];
        let mut counts: [Option<i64>; FIELDS] = [None; FIELDS];
        let mut measures = JsonObject::builder();
        for ((target, name), value) in self.targets.iter().zip(&self.names).zip(record.iter()) {
            match target {
                Target::Measure => {
                    measures.number(name, measure(file, line, name, value)?);
                }
                Target::Field(Described) => {}
                Target::Field(field @ (PracticeCode | PcnCode | IcsCode | RegionCode)) => {
                    texts[*field as usize] = code(value);
                }
                Target::Field(field @ (PracticeName | PcnName | IcsName | RegionName)) => {
                    texts[*field as usize] = text(value);
                }
                Target::Field(field @ (Distributed | Received | ListSize)) => {
                    counts[*field as usize] = count(file, line, name, value)?;
                }
                Target::Field(
                    field @ (ResponseRate | OverallExperience | ContactExperience | PhoneEase),
                ) => {
                    let number = measure(file, line, name, value)?;
                    numbers[*field as usize] = number;
                    if *field != ResponseRate {
                        measures.number(name, number);
                    }
                }
            }
        }
        let practice_code = texts[PracticeCode as usize].take().ok_or_else(|| {
            let at = self
                .targets
                .iter()
                .position(|t| matches!(t, Target::Field(PracticeCode)))
                .unwrap_or_default();
            ImportError::bad_value(file, line, &self.names[at], "", "a practice code")
        })?;
        if !self.seen.insert(practice_code.clone()) {
            let at = self
                .targets
                .iter()
                .position(|t| matches!(t, Target::Field(PracticeCode)))
                .unwrap_or_default();
            return Err(ImportError::bad_value(
                file,
                line,
                &self.names[at],
                &practice_code,
                "a practice not already listed in the file",
            ));
        }
        let mut take = |field: Field| texts[field as usize].take();
        Ok(Row {
            line,
            practice_code,
            practice_name: take(PracticeName),
            pcn_code: take(PcnCode),
            pcn_name: take(PcnName),
            ics_code: take(IcsCode),
            ics_name: take(IcsName),
            region_code: take(RegionCode),
            region_name: take(RegionName),
            distributed: counts[Distributed as usize],
            received: counts[Received as usize],
            response_rate: numbers[ResponseRate as usize],
            list_size: counts[ListSize as usize],
            overall_experience: numbers[OverallExperience as usize],
            contact_experience: numbers[ContactExperience as usize],
            phone_ease: numbers[PhoneEase as usize],
            measures: measures.finish(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_come_from_file_names() {
        for (name, year) in [
            (
                "gpps_2025_practice_data_(weighted)_(csv)_public.csv",
                Some(2025),
            ),
            (
                "gpps 2018 practice data (weighted) (csv) public.csv",
                Some(2018),
            ),
            ("july 2016 practice level data weighted csv.csv", Some(2016)),
            ("gpps_20250_practice.csv", None),
            ("practice-results-1999.csv", None),
            ("gpps-practice-results.csv", None),
        ] {
            assert_eq!(year_in_name(name), year, "{name}");
        }
    }

    #[test]
    fn list_bands_start_at_their_lower_edge() {
        for (population, band) in [
            (Some(0), Some("under_5k")),
            (Some(4_999), Some("under_5k")),
            (Some(5_000), Some("5k_10k")),
            (Some(9_999), Some("5k_10k")),
            (Some(10_000), Some("10k_15k")),
            (Some(15_000), Some("15k_20k")),
            (Some(19_999), Some("15k_20k")),
            (Some(20_000), Some("20k_plus")),
            (None, None),
        ] {
            assert_eq!(list_band(population), band, "{population:?}");
        }
    }

    #[test]
    fn measures_drop_missing_markers_and_refuse_text() {
        let read = |v: &str| measure("g.csv", 4, "overallexp.pcteval", v);
        assert_eq!(read("0.851").unwrap(), Some(0.851));
        assert_eq!(read(" 1 ").unwrap(), Some(1.0));
        assert_eq!(read("0").unwrap(), Some(0.0));
        for missing in ["", "/", "-97", "-98", "-99", "-0.5"] {
            assert_eq!(read(missing).unwrap(), None, "{missing:?}");
        }
        for bad in ["*", "n/a", "85%", "NaN", "inf"] {
            let err = read(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("g.csv, line 4: column overallexp.pcteval: invalid value"),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(count("g.csv", 4, "received", "120").unwrap(), Some(120));
        assert_eq!(count("g.csv", 4, "received", "-99").unwrap(), None);
        assert!(count("g.csv", 4, "received", "12.5").is_err());
    }

    #[test]
    fn every_alias_is_lower_case_and_names_one_field_per_scheme() {
        for scheme in [Scheme::From2024, Scheme::To2023] {
            let mut seen = HashSet::new();
            for entry in COLUMNS {
                for alias in scheme.columns(entry).0 {
                    assert_eq!(alias.to_lowercase(), *alias);
                    assert!(seen.insert(*alias), "{alias} is listed twice");
                }
            }
        }
    }
}
