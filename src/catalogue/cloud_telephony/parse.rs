//! Reading the Cloud Based Telephony CSVs (DATASETS.md §9): which of the three file kinds a CSV
//! is, from its header, and its daily rows summed to months while streaming.
//!
//! A month is 3.5–4.2M raw rows (day × band) in the day-and-time file alone, so rows are read
//! as byte records and summed into a map keyed by one `u64` packing small ids (month, phone
//! account, indicator, band, core category); every distinct text (a practice and its
//! geography, an indicator, a band label) is stored once, when first met. Memory is the
//! aggregate (accounts × indicators × bands), whatever the file's length.
//!
//! Formats as checked against the published files: `Date` is ISO, possibly followed by a time
//! of day (`2026-08-03 00:00:00`); `Value` is text such as `1.0`, always a whole count; band
//! labels are kept as published (`08:00 - 09:59`, `121_180`, `>300`, `TOTAL`) and two spellings
//! of one label that differ only in spacing or case are one band (the first spelling met is
//! kept). `PRACTICE_CODE = Unassigned` marks a phone account shared by several practices: its
//! rows are summed by the geography they carry, never with a practice's.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{Datelike, NaiveDate};

use crate::schema::fold_label;
use crate::source::dates::parse_source_date;
use crate::source::error::ImportError;
use crate::source::values::whole_count;
use crate::source::{Header, SourceFile, for_each_byte_record};

/// The three files published each month, told apart by the column that holds their band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// "By Day and Time": `Time_Category`, the 2-hour band of the day.
    DayAndTime,
    /// "By Durations": `Duration`, the call-length (or wait) band in seconds, and `TOTAL`.
    Durations,
    /// "Calls Answered Metric" (from June 2026): `Wait_Time` and `Core_Category`.
    AnsweredMetric,
}

impl FileKind {
    /// The `dimension_type` its bands are served under.
    pub fn dimension_type(self) -> &'static str {
        match self {
            FileKind::DayAndTime => "time",
            FileKind::Durations => "duration",
            FileKind::AnsweredMetric => "wait",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            FileKind::DayAndTime => "By Day and Time",
            FileKind::Durations => "By Durations",
            FileKind::AnsweredMetric => "Calls Answered Metric",
        }
    }
}

/// The practice code that marks a shared phone account.
pub const UNASSIGNED: &str = "Unassigned";

/// The band label of the rows that hold a whole day's count in the durations and wait files.
pub const TOTAL_BAND: &str = "TOTAL";

/// Where a phone account sits: a practice with its geography, or an account shared by several
/// practices (`practice_code` `None`), with geography filled only as far down as they share it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    pub unassigned: bool,
    pub practice_code: Option<String>,
    pub region_code: Option<String>,
    pub icb_code: Option<String>,
    pub sub_icb_code: Option<String>,
    pub pcn_code: Option<String>,
}

/// One summed cell of a file: a month, an account, an indicator, a band and (wait file only) a
/// core-hours category, as indexes into `Aggregate`'s lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub month: usize,
    pub account: usize,
    pub indicator: usize,
    pub band: usize,
    pub core: Option<usize>,
    pub value: u64,
}

/// A whole file summed to months.
#[derive(Debug)]
pub struct Aggregate {
    pub kind: FileKind,
    pub months: Vec<NaiveDate>,
    pub accounts: Vec<Account>,
    pub indicators: Vec<String>,
    /// Band labels as first published (trimmed).
    pub bands: Vec<String>,
    pub core_categories: Vec<String>,
    /// Raw rows read.
    pub rows: u64,
    cells: HashMap<u64, u64, BuildHasherDefault<PackedHasher>>,
}

impl Aggregate {
    /// Every summed cell, in no particular order.
    pub fn cells(&self) -> impl Iterator<Item = Cell> + '_ {
        self.cells.iter().map(|(key, value)| {
            let core = (key & 0xFF) as usize;
            Cell {
                month: (key >> 56) as usize,
                account: ((key >> 32) & 0xFF_FFFF) as usize,
                indicator: ((key >> 24) & 0xFF) as usize,
                band: ((key >> 8) & 0xFFFF) as usize,
                core: core.checked_sub(1),
                value: *value,
            }
        })
    }

    /// The folded label of band `band`, as the `dimension` filter compares it.
    pub fn band_key(&self, band: usize) -> String {
        fold_label(&self.bands[band])
    }
}

/// The packed keys are already well spread in their low bits only by accident, so they are
/// mixed once (a multiply and a shift) rather than run through SipHash for every row.
#[derive(Default)]
struct PackedHasher(u64);

impl Hasher for PackedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        let mixed = (n ^ (n >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        self.0 = mixed ^ (mixed >> 32);
    }
}

/// The columns every kind has, current name first.
const DATE: &[&str] = &["Date"];
const REGION: &[&str] = &["REGION_CODE", "COMM_REGION_CODE"];
const ICB: &[&str] = &["ICB_CODE"];
const SUB_ICB: &[&str] = &["SUB_ICB_LOCATION_CODE", "SUB_ICB_CODE"];
const PCN: &[&str] = &["PCN_CODE"];
const PRACTICE: &[&str] = &["PRACTICE_CODE"];
const INDICATOR: &[&str] = &["Indicator"];
const VALUE: &[&str] = &["Value"];

/// Column positions of one file.
struct Columns {
    date: usize,
    region: usize,
    icb: usize,
    sub_icb: usize,
    pcn: usize,
    practice: usize,
    indicator: usize,
    band: usize,
    core: Option<usize>,
    value: usize,
    names: [&'static str; 10],
}

impl Columns {
    fn last(&self) -> usize {
        [
            self.date,
            self.region,
            self.icb,
            self.sub_icb,
            self.pcn,
            self.practice,
            self.indicator,
            self.band,
            self.core.unwrap_or(0),
            self.value,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

/// Which kind `header` is, with its columns; a CSV with none of the band columns is not a
/// telephony file.
fn columns(header: &Header) -> Result<(FileKind, Columns), ImportError> {
    let (kind, band_names, core) = if let Some(band) = header.find(&["Time_Category"]) {
        (FileKind::DayAndTime, (band, "Time_Category"), None)
    } else if let Some(band) = header.find(&["Wait_Time"]) {
        let [core] = header.require([&["Core_Category"]])?;
        (FileKind::AnsweredMetric, (band, "Wait_Time"), Some(core))
    } else if let Some(band) = header.find(&["Duration"]) {
        (FileKind::Durations, (band, "Duration"), None)
    } else {
        return Err(ImportError::unrecognised(
            header.file(),
            "not a Cloud Based Telephony file: expected a Time_Category (By Day and Time), \
             Duration (By Durations) or Wait_Time (Calls Answered Metric) column",
        ));
    };
    let [date, region, icb, sub_icb, pcn, practice, indicator, value] =
        header.require([DATE, REGION, ICB, SUB_ICB, PCN, PRACTICE, INDICATOR, VALUE])?;
    Ok((
        kind,
        Columns {
            date,
            region,
            icb,
            sub_icb,
            pcn,
            practice,
            indicator,
            band: band_names.0,
            core,
            value,
            names: [
                "Date",
                "REGION_CODE",
                "ICB_CODE",
                "SUB_ICB_LOCATION_CODE",
                "PCN_CODE",
                "PRACTICE_CODE",
                "Indicator",
                band_names.1,
                "Core_Category",
                "Value",
            ],
        },
    ))
}

/// Small texts met again and again (indicators, bands, core categories), each given an id the
/// first time; looked up by their bytes without allocating.
#[derive(Default)]
struct Interner {
    ids: HashMap<Box<[u8]>, usize>,
}

impl Interner {
    fn get(&self, bytes: &[u8]) -> Option<usize> {
        self.ids.get(bytes).copied()
    }

    fn insert(&mut self, bytes: &[u8], id: usize) {
        self.ids.insert(bytes.into(), id);
    }
}

/// A `Date` field: an ISO date (any form `parse_source_date` knows), possibly followed by a time
/// of day, which is dropped.
pub fn parse_day(value: &[u8]) -> Option<NaiveDate> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let date = match text.split_once([' ', 'T']) {
        Some((date, time))
            if !time.is_empty()
                && time
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b':' || b == b'.') =>
        {
            date
        }
        Some(_) => return None,
        None => text,
    };
    parse_source_date(date)
}

fn optional_code(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).to_ascii_uppercase())
}

/// The field limits the packed key imposes; no month of the publication comes near them.
const MAX_MONTHS: usize = 0xFF;
const MAX_ACCOUNTS: usize = 0xFF_FFFF;
const MAX_INDICATORS: usize = 0xFF;
const MAX_BANDS: usize = 0xFFFF;
const MAX_CORE: usize = 0xFE;

/// Reads a telephony CSV and sums its rows to months. Errors name the file, line and column.
pub fn read(file: &SourceFile) -> Result<Aggregate, ImportError> {
    let (header, mut reader) = file.byte_csv_with_header()?;
    let (kind, cols) = columns(&header)?;
    let name = header.file().to_owned();
    let mut aggregate = Aggregate {
        kind,
        months: Vec::new(),
        accounts: Vec::new(),
        indicators: Vec::new(),
        bands: Vec::new(),
        core_categories: Vec::new(),
        rows: 0,
        cells: HashMap::default(),
    };
    // The latest day each account was seen on: a practice's geography is the one on its
    // latest row, should it move within the month.
    let mut latest: Vec<NaiveDate> = Vec::new();
    let mut accounts: HashMap<Box<[u8]>, usize> = HashMap::new();
    let mut indicators = Interner::default();
    let mut bands = Interner::default();
    let mut folded_bands: HashMap<String, usize> = HashMap::new();
    let mut cores = Interner::default();
    let mut last_date: Vec<u8> = Vec::new();
    let mut day = NaiveDate::MIN;
    let mut month = 0usize;
    let mut scratch: Vec<u8> = Vec::with_capacity(64);
    let last = cols.last();
    let bad = |line: u64, column: usize, value: &[u8], expected: &'static str| {
        ImportError::bad_value(
            &name,
            line,
            cols.names[column],
            &String::from_utf8_lossy(value),
            expected,
        )
    };
    let too_many = |what: &str| {
        ImportError::unrecognised(
            &name,
            format!("more distinct {what} than one file can hold"),
        )
    };
    for_each_byte_record(&mut reader, &name, |record, line| {
        if record.len() <= last {
            return Err(ImportError::bad_value(
                &name,
                line,
                "(number of fields)",
                &record.len().to_string(),
                "one field per header column",
            ));
        }
        let field = |i: usize| &record[i];
        aggregate.rows += 1;

        let date_bytes = field(cols.date);
        if date_bytes != last_date.as_slice() {
            day = parse_day(date_bytes).ok_or_else(|| bad(line, 0, date_bytes, "an ISO date"))?;
            let first = day.with_day(1).unwrap_or(day);
            month = match aggregate.months.iter().position(|m| *m == first) {
                Some(i) => i,
                None if aggregate.months.len() < MAX_MONTHS => {
                    aggregate.months.push(first);
                    aggregate.months.len() - 1
                }
                None => return Err(too_many("months")),
            };
            last_date.clear();
            last_date.extend_from_slice(date_bytes);
        }

        let practice = field(cols.practice);
        if practice.is_empty() {
            return Err(bad(line, 5, practice, "a practice code or Unassigned"));
        }
        let unassigned = practice.eq_ignore_ascii_case(UNASSIGNED.as_bytes());
        scratch.clear();
        if unassigned {
            // A shared account is known by the geography its practices share.
            scratch.push(0);
            for i in [cols.region, cols.icb, cols.sub_icb, cols.pcn] {
                scratch.extend(field(i).iter().map(u8::to_ascii_uppercase));
                scratch.push(0x1f);
            }
        } else {
            scratch.extend(practice.iter().map(u8::to_ascii_uppercase));
        }
        let account_of_row = || Account {
            unassigned,
            practice_code: (!unassigned).then(|| String::from_utf8_lossy(&scratch).into_owned()),
            region_code: optional_code(field(cols.region)),
            icb_code: optional_code(field(cols.icb)),
            sub_icb_code: optional_code(field(cols.sub_icb)),
            pcn_code: optional_code(field(cols.pcn)),
        };
        let account = match accounts.get(scratch.as_slice()) {
            Some(&id) => {
                if day > latest[id] {
                    latest[id] = day;
                    if !unassigned {
                        let moved = account_of_row();
                        if moved != aggregate.accounts[id] {
                            aggregate.accounts[id] = moved;
                        }
                    }
                }
                id
            }
            None if aggregate.accounts.len() < MAX_ACCOUNTS => {
                let id = aggregate.accounts.len();
                aggregate.accounts.push(account_of_row());
                latest.push(day);
                accounts.insert(scratch.as_slice().into(), id);
                id
            }
            None => return Err(too_many("practices")),
        };

        let indicator_bytes = field(cols.indicator);
        let indicator = match indicators.get(indicator_bytes) {
            Some(id) => id,
            None if indicator_bytes.is_empty() => {
                return Err(bad(line, 6, indicator_bytes, "an indicator code"));
            }
            None if aggregate.indicators.len() < MAX_INDICATORS => {
                let id = aggregate.indicators.len();
                aggregate
                    .indicators
                    .push(String::from_utf8_lossy(indicator_bytes).to_ascii_uppercase());
                indicators.insert(indicator_bytes, id);
                id
            }
            None => return Err(too_many("indicators")),
        };

        let band_bytes = field(cols.band);
        let band = match bands.get(band_bytes) {
            Some(id) => id,
            None if band_bytes.is_empty() => return Err(bad(line, 7, band_bytes, "a band label")),
            None => {
                let label = String::from_utf8_lossy(band_bytes).into_owned();
                let id = match folded_bands.get(&fold_label(&label)) {
                    Some(&id) => id,
                    None if aggregate.bands.len() < MAX_BANDS => {
                        folded_bands.insert(fold_label(&label), aggregate.bands.len());
                        aggregate.bands.push(label);
                        aggregate.bands.len() - 1
                    }
                    None => return Err(too_many("bands")),
                };
                bands.insert(band_bytes, id);
                id
            }
        };

        let core = match cols.core.map(field) {
            None | Some(b"") => 0,
            Some(bytes) => match cores.get(bytes) {
                Some(id) => id + 1,
                None if aggregate.core_categories.len() < MAX_CORE => {
                    let id = aggregate.core_categories.len();
                    aggregate
                        .core_categories
                        .push(String::from_utf8_lossy(bytes).into_owned());
                    cores.insert(bytes, id);
                    id + 1
                }
                None => return Err(too_many("core categories")),
            },
        };

        let value_bytes = field(cols.value);
        let value = whole_count(value_bytes)
            .ok_or_else(|| bad(line, 9, value_bytes, "a whole count such as 12 or 12.0"))?;
        let key = (month as u64) << 56
            | (account as u64) << 32
            | (indicator as u64) << 24
            | (band as u64) << 8
            | core as u64;
        *aggregate.cells.entry(key).or_insert(0) += value;
        Ok(())
    })?;
    Ok(aggregate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::open_sources;

    fn read_text(name: &str, text: &str) -> Result<Aggregate, ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        read(&open_sources(&path).unwrap()[0])
    }

    /// `(month, practice or geography, indicator, band, core, value)`, sorted.
    fn summary(aggregate: &Aggregate) -> Vec<(String, String, String, String, String, u64)> {
        let mut rows: Vec<_> = aggregate
            .cells()
            .map(|c| {
                let account = &aggregate.accounts[c.account];
                (
                    aggregate.months[c.month].to_string(),
                    account.practice_code.clone().unwrap_or_else(|| {
                        format!(
                            "Unassigned {}",
                            account.pcn_code.clone().unwrap_or_default()
                        )
                    }),
                    aggregate.indicators[c.indicator].clone(),
                    aggregate.bands[c.band].clone(),
                    c.core
                        .map(|i| aggregate.core_categories[i].clone())
                        .unwrap_or_default(),
                    c.value,
                )
            })
            .collect();
        rows.sort();
        rows
    }

    const DAY_AND_TIME: &str = "Date,REGION_CODE,ICB_CODE,SUB_ICB_LOCATION_CODE,PCN_CODE,PRACTICE_CODE,Indicator,Time_Category,Value";

    #[test]
    fn days_sum_to_months_and_spacing_variants_are_one_band() {
        let text = format!(
            "{DAY_AND_TIME}\n\
             2026-08-03,Y56,QMJ,93C,U1,F81001,CBT001,08:00 - 09:59,3.0\n\
             2026-08-04 00:00:00,Y56,QMJ,93C,U1,F81001,CBT001,08:00-09:59,2.0\n\
             2026-08-04,Y56,QMJ,93C,U1,F81001,CBT001,18:30 - 23:59,1\n\
             2026-09-01,Y56,QMJ,93C,U1,F81001,CBT001,08:00 - 09:59,4.0\n\
             2026-08-04,Y56,QMJ,93C,U1,Unassigned,CBT001,08:00 - 09:59,5.0\n\
             ,,,,,,,,\n"
        );
        let aggregate = read_text("cbt.csv", &text).unwrap();
        assert_eq!(aggregate.kind, FileKind::DayAndTime);
        assert_eq!(aggregate.rows, 5);
        let row = |m: &str, p: &str, band: &str, v| {
            (
                m.to_owned(),
                p.to_owned(),
                "CBT001".to_owned(),
                band.to_owned(),
                String::new(),
                v,
            )
        };
        assert_eq!(
            summary(&aggregate),
            [
                row("2026-08-01", "F81001", "08:00 - 09:59", 5),
                row("2026-08-01", "F81001", "18:30 - 23:59", 1),
                row("2026-08-01", "Unassigned U1", "08:00 - 09:59", 5),
                row("2026-09-01", "F81001", "08:00 - 09:59", 4),
            ]
        );
        let shared = aggregate.accounts.iter().find(|a| a.unassigned).unwrap();
        assert_eq!(shared.practice_code, None);
        assert_eq!(shared.icb_code.as_deref(), Some("QMJ"));
        assert_eq!(aggregate.band_key(0), "08:00-09:59");
    }

    #[test]
    fn the_kind_comes_from_the_header_whatever_its_spacing() {
        let durations = " Date , REGION_CODE,ICB_CODE,SUB_ICB_LOCATION_CODE,PCN_CODE,PRACTICE_CODE,Indicator, Duration ,Value\n\
             2026-08-03,Y56,QMJ,93C,U1,F81001,CBT007,>300,1.0\n";
        assert_eq!(
            read_text("any name_v2.csv", durations).unwrap().kind,
            FileKind::Durations
        );
        let wait = "Date,REGION_CODE,ICB_CODE,SUB_ICB_LOCATION_CODE,PCN_CODE,PRACTICE_CODE,Indicator,Wait_Time,Core_Category,Value\n\
             2026-08-03,Y56,QMJ,93C,U1,F81001,CBT003,1_30,Core_8_10,2.0\n\
             2026-08-04,Y56,QMJ,93C,U1,F81001,CBT003,1_30,Core_8_10,1.0\n";
        let wait = read_text("w.csv", wait).unwrap();
        assert_eq!(wait.kind, FileKind::AnsweredMetric);
        assert_eq!(
            summary(&wait),
            [(
                "2026-08-01".into(),
                "F81001".into(),
                "CBT003".into(),
                "1_30".into(),
                "Core_8_10".into(),
                3
            )]
        );
        let other = read_text("x.csv", "Date,PRACTICE_CODE,Value\n").unwrap_err();
        assert!(other.to_string().contains("Time_Category"), "{other}");
        let partial = read_text("y.csv", "Date,Time_Category,Value\n").unwrap_err();
        assert!(partial.to_string().contains("PRACTICE_CODE"), "{partial}");
    }

    #[test]
    fn bad_values_name_line_and_column() {
        let cases = [
            ("2026-13-01,Y56,Q,S,U1,F81001,CBT001,TOTAL,1", "Date"),
            ("2026-08-01,Y56,Q,S,U1,F81001,CBT001,TOTAL,1.5", "Value"),
            ("2026-08-01,Y56,Q,S,U1,F81001,CBT001,TOTAL,", "Value"),
            ("2026-08-01,Y56,Q,S,U1,,CBT001,TOTAL,1", "PRACTICE_CODE"),
            ("2026-08-01,Y56,Q,S,U1,F81001,CBT001,,1", "Time_Category"),
            ("2026-08-01,Y56,Q,S,U1,F81001", "(number of fields)"),
        ];
        for (row, column) in cases {
            let text =
                format!("{DAY_AND_TIME}\n2026-08-01,Y56,Q,S,U1,F81001,CBT001,TOTAL,1\n{row}\n");
            match read_text("bad.csv", &text).unwrap_err() {
                ImportError::BadValue {
                    line, column: c, ..
                } => {
                    assert_eq!((line, c.as_str()), (3, column), "{row}");
                }
                other => panic!("{row}: {other}"),
            }
        }
    }

    #[test]
    fn dates_may_carry_a_time_of_day() {
        let day = NaiveDate::from_ymd_opt(2026, 8, 3);
        assert_eq!(parse_day(b"2026-08-03"), day);
        assert_eq!(parse_day(b"2026-08-03 00:00:00"), day);
        assert_eq!(parse_day(b"2026-08-03T00:00:00.000"), day);
        assert_eq!(parse_day(b"2026-08-03 noon"), None);
        assert_eq!(parse_day(b""), None);
    }

    #[test]
    fn a_practice_that_moves_keeps_its_latest_geography() {
        let text = format!(
            "{DAY_AND_TIME}\n\
             2026-08-20,Y56,QMJ,93C,U2,F81001,CBT001,TOTAL,1\n\
             2026-08-03,Y56,QMJ,93C,U1,F81001,CBT001,TOTAL,1\n"
        );
        let aggregate = read_text("m.csv", &text).unwrap();
        assert_eq!(aggregate.accounts.len(), 1);
        assert_eq!(aggregate.accounts[0].pcn_code.as_deref(), Some("U2"));
        assert_eq!(summary(&aggregate)[0].5, 2);
    }
}
