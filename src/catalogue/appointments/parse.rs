//! Reading the practice-level GPAD files: the crosstab CSVs (one month each, national or one
//! regional half) and `Mapping.csv` (practice → ICB and region). Members are told apart by
//! their header, never by their name; the name only says which regional half a split month's
//! file holds.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;

use chrono::{Datelike, NaiveDate};

use crate::source::dates::{month_number, parse_source_date};
use crate::source::error::ImportError;
use crate::source::{CsvReader, Header, SourceFile, code, is_blank, line_of, single_spaced, text};

/// The crosstab's columns in the published order (checked against the November 2025 file);
/// `APPT_STATUS` is absent from the December 2022 and January 2023 releases.
const CROSSTAB: [&str; 14] = [
    "APPOINTMENT_MONTH_START_DATE",
    "GP_CODE",
    "GP_NAME",
    "SUPPLIER",
    "PCN_CODE",
    "PCN_NAME",
    "SUB_ICB_LOCATION_CODE",
    "SUB_ICB_LOCATION_NAME",
    "HCP_TYPE",
    "APPT_MODE",
    "NATIONAL_CATEGORY",
    "TIME_BETWEEN_BOOK_AND_APPT",
    "COUNT_OF_APPOINTMENTS",
    "APPT_STATUS",
];

/// What a CSV of the release is, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Crosstab,
    Mapping,
}

/// Tells a crosstab from a `Mapping.csv`; anything else is refused, naming the file, since a
/// CSV in a GPAD release is data and loading only part of a release would go unnoticed.
pub fn identify(header: &Header) -> Result<Member, ImportError> {
    let has = |name: &str| header.find(&[name]).is_some();
    if has("COUNT_OF_APPOINTMENTS") {
        Ok(Member::Crosstab)
    } else if has("GP_CODE") && has("ICB_CODE") && has("REGION_CODE") {
        Ok(Member::Mapping)
    } else {
        Err(ImportError::unrecognised(
            header.file(),
            "not a GP appointments practice-level crosstab (no COUNT_OF_APPOINTMENTS column) \
             nor a Mapping.csv (GP_CODE, ICB_CODE, REGION_CODE)",
        ))
    }
}

/// A practice's ICB and region as `Mapping.csv` (or ODS) gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geography {
    pub icb_code: Option<String>,
    pub region_code: Option<String>,
}

/// Reads `Mapping.csv` into practice code → geography.
pub fn read_mapping(file: &SourceFile) -> Result<HashMap<String, Geography>, ImportError> {
    let (header, mut reader) = file.csv_with_header()?;
    let name = header.file().to_owned();
    let [practice_at, icb_at, region_at] =
        header.require([&["GP_CODE"], &["ICB_CODE"], &["REGION_CODE"]])?;
    let mut mapping = HashMap::new();
    crate::source::for_each_record(&mut reader, &name, |record, line| {
        let cell = |i: usize| record.get(i).unwrap_or("");
        let practice = code(cell(practice_at))
            .ok_or_else(|| ImportError::bad_value(&name, line, "GP_CODE", "", "a practice code"))?;
        let geography = Geography {
            icb_code: code(cell(icb_at)),
            region_code: code(cell(region_at)),
        };
        if mapping.insert(practice.clone(), geography).is_some() {
            return Err(ImportError::bad_value(
                &name,
                line,
                "GP_CODE",
                &practice,
                "each practice once",
            ));
        }
        Ok(())
    })?;
    Ok(mapping)
}

/// `APPOINTMENT_MONTH_START_DATE` as published (`01NOV2025`; `NOV2025` and the other source
/// date forms are read too): the first day of a month.
pub fn month(value: &str) -> Option<NaiveDate> {
    parse_source_date(value).filter(|d| d.day() == 1)
}

/// The booking lead-time bands in the spelling of the current release (`8  to 14 Days` with two
/// spaces), keyed by their single-spaced lower-case form.
const LEAD_TIMES: [(&str, &str); 9] = [
    ("same day", "Same Day"),
    ("1 day", "1 Day"),
    ("2 to 7 days", "2 to 7 Days"),
    ("8 to 14 days", "8  to 14 Days"),
    ("15 to 21 days", "15  to 21 Days"),
    ("22 to 28 days", "22  to 28 Days"),
    ("more than 28 days", "More than 28 Days"),
    ("unknown / data quality", "Unknown / Data Quality"),
    // The older releases' name for the same band.
    ("unknown / data issue", "Unknown / Data Quality"),
];

/// `TIME_BETWEEN_BOOK_AND_APPT` in the current release's spelling, whatever the edition's
/// spacing or case; a band not known here keeps its published words, single-spaced.
pub fn lead_time(value: &str) -> String {
    let single = single_spaced(value);
    let key = single.to_lowercase();
    LEAD_TIMES
        .iter()
        .find(|(known, _)| *known == key)
        .map_or(single, |(_, published)| (*published).to_owned())
}

/// The words of a regional file's name and the part of a split month each stands for.
const REGION_WORDS: [&str; 5] = ["LONDON", "EAST", "SOUTH", "MIDLANDS", "NORTH"];

/// The regional parts of a month a crosstab holds, from its name:
/// `Practice_Level_Crosstab_London_East_South_Oct_25.csv` holds `LONDON`, `EAST` and `SOUTH`;
/// a name with no region word before its month (`Practice_Level_Crosstab_Oct_25.csv`, or any
/// other name) holds the whole month, every part.
pub fn regional_parts(file_name: &str) -> Vec<&'static str> {
    let stem = file_name.rsplit_once('.').map_or(file_name, |(s, _)| s);
    let words: Vec<String> = stem
        .split(['_', ' ', '-'])
        .map(str::to_ascii_uppercase)
        .collect();
    let month_at = words
        .windows(2)
        .position(|pair| {
            month_number(&pair[0]).is_some()
                && matches!(pair[1].len(), 2 | 4)
                && pair[1].bytes().all(|b| b.is_ascii_digit())
        })
        .unwrap_or(words.len());
    let named: Vec<&'static str> = REGION_WORDS
        .iter()
        .copied()
        .filter(|region| words[..month_at].iter().any(|w| w == region))
        .collect();
    if named.is_empty() {
        REGION_WORDS.to_vec()
    } else {
        named
    }
}

/// One crosstab row, its labels in their stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub month: NaiveDate,
    pub practice_code: String,
    pub practice_name: Option<String>,
    pub supplier: Option<String>,
    pub pcn_code: Option<String>,
    pub sub_icb_code: Option<String>,
    pub hcp_type: String,
    pub appt_mode: String,
    pub national_category: String,
    pub time_between_book_and_appt: String,
    pub appt_status: String,
    pub count: i64,
}

impl Appointment {
    /// A hash of the row's key within its month, to find a row given twice.
    pub fn key_hash(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        (
            &self.practice_code,
            &self.hcp_type,
            &self.appt_mode,
            &self.national_category,
            &self.time_between_book_and_appt,
            &self.appt_status,
        )
            .hash(&mut hasher);
        hasher.finish()
    }
}

/// Reads a crosstab row by row, one record buffer reused.
pub struct Crosstab {
    file: String,
    reader: CsvReader<Box<dyn Read + Send>>,
    record: csv::StringRecord,
    width: usize,
    at: [usize; 13],
    status_at: Option<usize>,
}

/// The status of every row of a release without `APPT_STATUS`: those rows count appointments
/// of any status, which is what the publisher's own `Unknown` says.
const NO_STATUS: &str = "Unknown";

impl Crosstab {
    pub fn open(file: &SourceFile) -> Result<Self, ImportError> {
        let (header, reader) = file.csv_with_header()?;
        let mut wanted: [&[&str]; 13] = [&[]; 13];
        for (slot, name) in wanted.iter_mut().zip(&CROSSTAB) {
            *slot = std::slice::from_ref(name);
        }
        let at = header.require(wanted)?;
        Ok(Crosstab {
            file: header.file().to_owned(),
            reader,
            record: csv::StringRecord::new(),
            width: header.len(),
            at,
            status_at: header.find(&[CROSSTAB[13]]),
        })
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// The next row, `None` at the end; blank lines are skipped.
    pub fn next_row(&mut self) -> Result<Option<(Appointment, u64)>, ImportError> {
        loop {
            if !self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| ImportError::from_csv(&self.file, e))?
            {
                return Ok(None);
            }
            if !is_blank(&self.record) {
                break;
            }
        }
        let record = &self.record;
        let file = self.file.as_str();
        let line = line_of(record);
        if record.len() != self.width {
            return Err(ImportError::bad_value(
                file,
                line,
                "(number of fields)",
                &record.len().to_string(),
                "as many fields as the header",
            ));
        }
        let cell = |i: usize| record.get(self.at[i]).unwrap_or("");
        let required = |i: usize, expected: &'static str| {
            text(cell(i))
                .ok_or_else(|| ImportError::bad_value(file, line, CROSSTAB[i], cell(i), expected))
        };
        let month = month(cell(0)).ok_or_else(|| {
            ImportError::bad_value(
                file,
                line,
                CROSSTAB[0],
                cell(0),
                "a month start (01NOV2025)",
            )
        })?;
        let practice_code = code(cell(1)).ok_or_else(|| {
            ImportError::bad_value(file, line, CROSSTAB[1], "", "a practice code")
        })?;
        let count = cell(12)
            .parse::<u32>()
            .ok()
            .filter(|_| cell(12).bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ImportError::bad_value(
                    file,
                    line,
                    CROSSTAB[12],
                    cell(12),
                    "a count of appointments",
                )
            })?;
        let appt_status = match self.status_at {
            Some(at) => text(record.get(at).unwrap_or(""))
                .map(|s| single_spaced(&s))
                .ok_or_else(|| {
                    ImportError::bad_value(file, line, CROSSTAB[13], "", "an appointment status")
                })?,
            None => NO_STATUS.to_owned(),
        };
        let appointment = Appointment {
            month,
            practice_code,
            practice_name: text(cell(2)),
            supplier: code(cell(3)),
            pcn_code: code(cell(4)),
            sub_icb_code: code(cell(6)),
            hcp_type: single_spaced(&required(8, "an HCP type")?),
            appt_mode: single_spaced(&required(9, "an appointment mode")?),
            national_category: single_spaced(&required(10, "a national category")?),
            time_between_book_and_appt: lead_time(&required(11, "a booking lead time")?),
            appt_status,
            count: i64::from(count),
        };
        Ok(Some((appointment, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn months_are_read_as_published_and_must_be_a_first() {
        assert_eq!(month("01NOV2025"), Some(d(2025, 11, 1)));
        assert_eq!(month("01Nov2025"), Some(d(2025, 11, 1)));
        assert_eq!(month("NOV2025"), Some(d(2025, 11, 1)));
        assert_eq!(month(" 2025-11-01 "), Some(d(2025, 11, 1)));
        assert_eq!(month("15NOV2025"), None);
        assert_eq!(month("NOV25"), None);
        assert_eq!(month(""), None);
    }

    #[test]
    fn lead_times_take_the_current_spelling_whatever_the_edition() {
        assert_eq!(lead_time("8  to 14 Days"), "8  to 14 Days");
        assert_eq!(lead_time("8 to 14 Days"), "8  to 14 Days");
        assert_eq!(lead_time(" 15   to 21 days "), "15  to 21 Days");
        assert_eq!(lead_time("2  to 7 Days"), "2 to 7 Days");
        assert_eq!(lead_time("Unknown / Data Issue"), "Unknown / Data Quality");
        assert_eq!(
            lead_time("Unknown /  Data Quality"),
            "Unknown / Data Quality"
        );
        assert_eq!(lead_time("Same Day"), "Same Day");
        assert_eq!(lead_time("Next  Week"), "Next Week");
    }

    #[test]
    fn labels_keep_their_words_with_single_spaces() {
        assert_eq!(
            single_spaced("  Other Practice  staff "),
            "Other Practice staff"
        );
        assert_eq!(
            single_spaced("Video Conference/Online"),
            "Video Conference/Online"
        );
    }

    #[test]
    fn regional_parts_come_from_the_words_before_the_month() {
        let all = REGION_WORDS.to_vec();
        assert_eq!(
            regional_parts("Practice_Level_Crosstab_London_East_South_Oct_25.csv"),
            ["LONDON", "EAST", "SOUTH"]
        );
        assert_eq!(
            regional_parts("Practice_Level_Crosstab_Midlands_North_Oct_25_v2.csv"),
            ["MIDLANDS", "NORTH"]
        );
        assert_eq!(regional_parts("Practice_Level_Crosstab_Oct_25.csv"), all);
        assert_eq!(regional_parts("appointments.csv"), all);
        // A word after the month is not a region (a reissue suffix, say).
        assert_eq!(
            regional_parts("Practice_Level_Crosstab_Oct_25_North.csv"),
            all
        );
    }

    fn header(names: &[&str]) -> Header {
        Header::new("f.csv", names)
    }

    #[test]
    fn members_are_told_apart_by_header() {
        assert_eq!(identify(&header(&CROSSTAB)).unwrap(), Member::Crosstab);
        assert_eq!(
            identify(&header(&CROSSTAB[..13])).unwrap(),
            Member::Crosstab
        );
        let mapping = [
            "GP_CODE",
            "GP_NAME",
            "SUPPLIER",
            "PCN_CODE",
            "PCN_NAME",
            "SUB_ICB_LOCATION_CODE",
            "SUB_ICB_LOCATION_NAME",
            "ICB_CODE",
            "ICB_NAME",
            "REGION_CODE",
            "REGION_NAME",
        ];
        assert_eq!(identify(&header(&mapping)).unwrap(), Member::Mapping);
        let coverage = ["SUB_ICB_LOCATION_CODE", "ICB_ONS_CODE", "REGION_CODE"];
        assert!(
            identify(&header(&coverage))
                .unwrap_err()
                .to_string()
                .starts_with("f.csv: unrecognised file: not a GP appointments")
        );
    }
}
