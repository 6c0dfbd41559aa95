//! Reading the online consultation files. Every file is recognised by its header, never by its
//! name (the publisher reissues files under new names):
//! - the practice file (north and south halves alike): `MONTH, GP_CODE, …, SUPPLIER, METRIC,
//!   VALUE`, one row per month, practice, supplier and metric;
//! - the day-and-time file aggregated to weekdays (layout A): `MONTH, …, WEEKDAY,
//!   SUBMISSION_TIME, VALUE`;
//! - the dated day-and-time file (layout B): `DATE, WEEKDAY, SUBMISSION_TIME, CLINICAL, ADMIN,
//!   UNKNOWN_OTHER, TOTAL` with the practice and geography columns. Its column order and
//!   `DATE` form are not confirmed against a published file: columns are read by name (see
//!   `DATED`, the one table to correct), `DATE` may be ISO or `DD/MM/YYYY`, and a `WEEKDAY`
//!   that disagrees with the `DATE` is refused, which catches a day and month read the wrong
//!   way round.
//!
//! `MONTH` is ISO (`2024-05-01`) or `DD/MM/YYYY`, the first of the month. Values are numbers as
//! published (`1.0`, `19.768934531450576`); an empty cell is missing (null), never zero.

use chrono::{Datelike, NaiveDate};

use crate::source::error::ImportError;
use crate::source::named::{Columns, FieldIndex, NamedRecords, Need};
use crate::source::values::float;
use crate::source::{Header, SourceFile, code, date, text};

/// What a file holds, told by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Practice,
    /// Day-and-time layout A: weekday-aggregated months.
    Weekday,
    /// Day-and-time layout B: dated rows.
    Dated,
}

/// The columns the files have, each read by header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Month,
    Date,
    PracticeCode,
    PracticeName,
    PcnCode,
    PcnName,
    SubIcbCode,
    SubIcbName,
    IcbCode,
    IcbName,
    RegionCode,
    RegionName,
    Supplier,
    Metric,
    Value,
    Weekday,
    SubmissionTime,
    Clinical,
    Admin,
    UnknownOther,
    Total,
}

impl FieldIndex for Field {
    fn index(self) -> usize {
        self as usize
    }
}

use Field::*;
use Need::{Optional, Required};

/// The practice file's columns (seen in published files, in this order).
const PRACTICE: Columns<Field> = &[
    (Month, "MONTH", Required),
    (PracticeCode, "GP_CODE", Required),
    (PracticeName, "GP_NAME", Required),
    (PcnCode, "PCN_CODE", Required),
    (PcnName, "PCN_NAME", Required),
    (SubIcbCode, "SUB_ICB_LOCATION_CODE", Required),
    (SubIcbName, "SUB_ICB_LOCATION_NAME", Required),
    (IcbCode, "ICB_CODE", Required),
    (IcbName, "ICB_NAME", Required),
    (RegionCode, "REGION_CODE", Required),
    (RegionName, "REGION_NAME", Required),
    (Supplier, "SUPPLIER", Required),
    (Metric, "METRIC", Required),
    (Value, "VALUE", Required),
];

/// Day-and-time layout A (seen in published files, in this order: geography before PCN).
const WEEKDAY: Columns<Field> = &[
    (Month, "MONTH", Required),
    (PracticeCode, "GP_CODE", Required),
    (PracticeName, "GP_NAME", Required),
    (SubIcbCode, "SUB_ICB_LOCATION_CODE", Required),
    (SubIcbName, "SUB_ICB_LOCATION_NAME", Required),
    (IcbCode, "ICB_CODE", Required),
    (IcbName, "ICB_NAME", Required),
    (RegionCode, "REGION_CODE", Required),
    (RegionName, "REGION_NAME", Required),
    (PcnCode, "PCN_CODE", Required),
    (PcnName, "PCN_NAME", Required),
    (Supplier, "SUPPLIER", Required),
    (Weekday, "WEEKDAY", Required),
    (SubmissionTime, "SUBMISSION_TIME", Required),
    (Value, "VALUE", Required),
];

/// Day-and-time layout B. Reported, not seen: `DATE`, `SUBMISSION_TIME` and the four counts,
/// with the practice and geography columns under the names the other files use. Only what
/// the rows cannot do without is required; a missing `WEEKDAY` is worked out from the date and
/// a missing `SUPPLIER` is `No data`. Correct this table if a published file differs.
const DATED: Columns<Field> = &[
    (Date, "DATE", Required),
    (PracticeCode, "GP_CODE", Required),
    (PracticeName, "GP_NAME", Optional),
    (PcnCode, "PCN_CODE", Optional),
    (PcnName, "PCN_NAME", Optional),
    (SubIcbCode, "SUB_ICB_LOCATION_CODE", Optional),
    (SubIcbName, "SUB_ICB_LOCATION_NAME", Optional),
    (IcbCode, "ICB_CODE", Optional),
    (IcbName, "ICB_NAME", Optional),
    (RegionCode, "REGION_CODE", Optional),
    (RegionName, "REGION_NAME", Optional),
    (Supplier, "SUPPLIER", Optional),
    (Weekday, "WEEKDAY", Optional),
    (SubmissionTime, "SUBMISSION_TIME", Required),
    (Clinical, "CLINICAL", Required),
    (Admin, "ADMIN", Required),
    (UnknownOther, "UNKNOWN_OTHER", Required),
    (Total, "TOTAL", Required),
];

/// The publisher's placeholder for a practice whose supplier is not known; also stored where a
/// dated file has no supplier column or a cell is empty, so every row names one.
pub const NO_SUPPLIER: &str = "No data";

impl Layout {
    fn columns(self) -> Columns<Field> {
        match self {
            Layout::Practice => PRACTICE,
            Layout::Weekday => WEEKDAY,
            Layout::Dated => DATED,
        }
    }
}

/// Tells the layout from the header: `METRIC` marks the practice file, `DATE` the dated
/// day-and-time file, `WEEKDAY` with `VALUE` the weekday-aggregated one.
pub fn identify(header: &Header) -> Result<Layout, ImportError> {
    let has = |name: &str| header.find(&[name]).is_some();
    if has("METRIC") {
        Ok(Layout::Practice)
    } else if has("DATE") {
        Ok(Layout::Dated)
    } else if has("WEEKDAY") && has("VALUE") {
        Ok(Layout::Weekday)
    } else {
        Err(ImportError::unrecognised(
            header.file(),
            "expected an online consultations file: a practice file (MONTH, GP_CODE, …, \
             SUPPLIER, METRIC, VALUE) or a day-and-time file (MONTH, …, WEEKDAY, \
             SUBMISSION_TIME, VALUE, or DATE, …, CLINICAL, ADMIN, UNKNOWN_OTHER, TOTAL)",
        ))
    }
}

/// The practice and its geography, as the row gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub practice_code: String,
    pub practice_name: Option<String>,
    pub pcn_code: Option<String>,
    pub pcn_name: Option<String>,
    pub sub_icb_code: Option<String>,
    pub sub_icb_name: Option<String>,
    pub icb_code: Option<String>,
    pub icb_name: Option<String>,
    pub region_code: Option<String>,
    pub region_name: Option<String>,
}

impl Place {
    /// The widest area the row names, as the column holding it and its code: the region,
    /// else the ICB, else the sub-ICB location. A file replaces a month area by area, so the
    /// north and south halves of a month are loaded side by side.
    pub fn area(&self) -> Option<(&'static str, &str)> {
        [
            ("region_code", &self.region_code),
            ("icb_code", &self.icb_code),
            ("sub_icb_code", &self.sub_icb_code),
        ]
        .into_iter()
        .find_map(|(column, code)| code.as_deref().map(|code| (column, code)))
    }
}

/// One row of the practice file.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub month: NaiveDate,
    pub place: Place,
    pub supplier: String,
    pub metric: String,
    pub value: Option<f64>,
}

/// One row of either day-and-time layout.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRow {
    /// First day of the month the row falls in.
    pub month: NaiveDate,
    /// The day (layout B), or the month's first day for a weekday-aggregated row (layout A).
    pub date: NaiveDate,
    /// `day` (layout B) or `month` (layout A).
    pub date_type: &'static str,
    /// The day name as published (layout B without one: the date's).
    pub weekday: String,
    /// 1 (Monday) to 7 (Sunday), to order rows by.
    pub weekday_number: i64,
    pub place: Place,
    pub supplier: String,
    pub submission_time: String,
    pub clinical: Option<f64>,
    pub admin: Option<f64>,
    pub unknown_other: Option<f64>,
    pub total: Option<f64>,
}

/// A row of any layout, with the month it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Metric(MetricRow),
    Time(TimeRow),
}

impl Row {
    pub fn month(&self) -> NaiveDate {
        match self {
            Row::Metric(row) => row.month,
            Row::Time(row) => row.month,
        }
    }

    pub fn place(&self) -> &Place {
        match self {
            Row::Metric(row) => &row.place,
            Row::Time(row) => &row.place,
        }
    }
}

/// The rows of one file, read as they are iterated.
pub struct Rows {
    layout: Layout,
    records: NamedRecords,
}

/// Opens `file`, tells its layout from the header and checks that every column the layout
/// needs is there (all the missing ones are named at once).
pub fn read(file: &SourceFile) -> Result<(Layout, Rows), ImportError> {
    let (header, reader) = file.csv_with_header()?;
    let layout = identify(&header)?;
    let records = NamedRecords::new(file, &header, reader, layout.columns())?;
    Ok((layout, Rows { layout, records }))
}

impl Iterator for Rows {
    type Item = Result<Row, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.records.advance()?.and_then(|()| self.parse()))
    }
}

/// Day names as the files write them, Monday first.
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// 1 (Monday) to 7 (Sunday) for a full or three-letter day name, any case.
pub fn weekday_number(name: &str) -> Option<i64> {
    let name = name.trim();
    DAYS.iter()
        .position(|day| {
            day.eq_ignore_ascii_case(name) || name.len() == 3 && day[..3].eq_ignore_ascii_case(name)
        })
        .map(|i| i as i64 + 1)
}

impl Rows {
    fn cell(&self, field: Field) -> &str {
        self.records.cell(field)
    }

    fn bad(&self, field: Field, expected: &'static str) -> ImportError {
        self.records.bad(field, expected)
    }

    fn number(&self, field: Field) -> Result<Option<f64>, ImportError> {
        float(
            self.records.file(),
            self.records.line(),
            self.records.name(field),
            self.cell(field),
        )
    }

    fn date(&self, field: Field) -> Result<NaiveDate, ImportError> {
        date(
            self.records.file(),
            self.records.line(),
            self.records.name(field),
            self.cell(field),
        )?
        .ok_or_else(|| self.bad(field, "a date"))
    }

    fn month(&self) -> Result<NaiveDate, ImportError> {
        let month = self.date(Month)?;
        if month.day() != 1 {
            return Err(self.bad(Month, "the first day of a month"));
        }
        Ok(month)
    }

    fn required_text(&self, field: Field, expected: &'static str) -> Result<String, ImportError> {
        text(self.cell(field)).ok_or_else(|| self.bad(field, expected))
    }

    fn place(&self) -> Result<Place, ImportError> {
        Ok(Place {
            practice_code: code(self.cell(PracticeCode))
                .ok_or_else(|| self.bad(PracticeCode, "a practice code"))?,
            practice_name: text(self.cell(PracticeName)),
            pcn_code: code(self.cell(PcnCode)),
            pcn_name: text(self.cell(PcnName)),
            sub_icb_code: code(self.cell(SubIcbCode)),
            sub_icb_name: text(self.cell(SubIcbName)),
            icb_code: code(self.cell(IcbCode)),
            icb_name: text(self.cell(IcbName)),
            region_code: code(self.cell(RegionCode)),
            region_name: text(self.cell(RegionName)),
        })
    }

    fn supplier(&self) -> String {
        text(self.cell(Supplier)).unwrap_or_else(|| NO_SUPPLIER.to_owned())
    }

    fn parse(&self) -> Result<Row, ImportError> {
        match self.layout {
            Layout::Practice => Ok(Row::Metric(MetricRow {
                month: self.month()?,
                place: self.place()?,
                supplier: self.supplier(),
                metric: code(self.cell(Metric)).ok_or_else(|| self.bad(Metric, "a metric"))?,
                value: self.number(Value)?,
            })),
            Layout::Weekday => {
                let month = self.month()?;
                let weekday = self.required_text(Weekday, "a day name")?;
                let weekday_number =
                    weekday_number(&weekday).ok_or_else(|| self.bad(Weekday, "a day name"))?;
                Ok(Row::Time(TimeRow {
                    month,
                    date: month,
                    date_type: "month",
                    weekday,
                    weekday_number,
                    place: self.place()?,
                    supplier: self.supplier(),
                    submission_time: self.required_text(SubmissionTime, "a time band")?,
                    clinical: None,
                    admin: None,
                    unknown_other: None,
                    total: self.number(Value)?,
                }))
            }
            Layout::Dated => {
                let day = self.date(Date)?;
                let number = i64::from(day.weekday().number_from_monday());
                let weekday = match text(self.cell(Weekday)) {
                    None => DAYS[number as usize - 1].to_owned(),
                    Some(name) if weekday_number(&name) == Some(number) => name,
                    Some(_) => return Err(self.bad(Weekday, "the day of the week of DATE")),
                };
                Ok(Row::Time(TimeRow {
                    month: day.with_day(1).unwrap_or(day),
                    date: day,
                    date_type: "day",
                    weekday,
                    weekday_number: number,
                    place: self.place()?,
                    supplier: self.supplier(),
                    submission_time: self.required_text(SubmissionTime, "a time band")?,
                    clinical: self.number(Clinical)?,
                    admin: self.number(Admin)?,
                    unknown_other: self.number(UnknownOther)?,
                    total: self.number(Total)?,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::open_sources;

    fn rows_of(name: &str, content: &str) -> Result<(Layout, Vec<Row>), ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let file = &open_sources(&path).unwrap()[0];
        let (layout, rows) = read(file)?;
        Ok((layout, rows.collect::<Result<Vec<_>, _>>()?))
    }

    const PRACTICE_HEADER: &str = "MONTH,GP_CODE,GP_NAME,PCN_CODE,PCN_NAME,SUB_ICB_LOCATION_CODE,\
SUB_ICB_LOCATION_NAME,ICB_CODE,ICB_NAME,REGION_CODE,REGION_NAME,SUPPLIER,METRIC,VALUE";

    #[test]
    fn practice_rows_keep_supplier_lists_placeholders_and_missing_values() {
        let csv = format!(
            "\u{feff}{PRACTICE_HEADER}\r\n\
             2024-05-01,a81001,\"ELM, TREE SURGERY\",U1,PCN ONE,00L,SUB,QHM,ICB,Y63,NORTH,\"ACCURX LIMITED, ECONSULT HEALTH LIMITED\",OC_RATE_PER_1000_REGISTERED_PATIENTS,19.768934531450576\r\n\
             01/06/2024,A81001,ELM,U1,PCN ONE,00L,SUB,QHM,ICB,Y63,NORTH,No Data,OC_TOTAL_SUBMISSIONS,\r\n"
        );
        let (layout, rows) = rows_of("north_regions.csv", &csv).unwrap();
        assert_eq!(layout, Layout::Practice);
        let Row::Metric(first) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert_eq!(first.month, NaiveDate::from_ymd_opt(2024, 5, 1).unwrap());
        assert_eq!(first.place.practice_code, "A81001");
        assert_eq!(
            first.place.practice_name.as_deref(),
            Some("ELM, TREE SURGERY")
        );
        assert_eq!(first.supplier, "ACCURX LIMITED, ECONSULT HEALTH LIMITED");
        assert_eq!(first.value, Some(19.768934531450576));
        assert_eq!(first.place.area(), Some(("region_code", "Y63")));
        let Row::Metric(second) = &rows[1] else {
            panic!("{rows:?}")
        };
        assert_eq!(second.month, NaiveDate::from_ymd_opt(2024, 6, 1).unwrap());
        assert_eq!(second.supplier, "No Data");
        assert_eq!(second.value, None);
    }

    #[test]
    fn a_month_must_be_the_first_of_a_month_and_values_numbers() {
        let csv = format!(
            "{PRACTICE_HEADER}\n2024-05-02,A81001,E,U1,P,00L,S,QHM,I,Y63,N,X,OC_CAPABILITY,1.0\n"
        );
        let err = rows_of("p.csv", &csv).unwrap_err().to_string();
        assert_eq!(
            err,
            "p.csv, line 2: column MONTH: invalid value \"2024-05-02\" (expected the first day of a month)"
        );
        let csv = format!(
            "{PRACTICE_HEADER}\n2024-05-01,A81001,E,U1,P,00L,S,QHM,I,Y63,N,X,OC_CAPABILITY,yes\n"
        );
        let err = rows_of("p.csv", &csv).unwrap_err().to_string();
        assert!(err.contains("line 2: column VALUE"), "{err}");
        let csv = format!("{PRACTICE_HEADER}\n2024-05-01,A81001,E\n");
        let err = rows_of("p.csv", &csv).unwrap_err().to_string();
        assert!(err.contains("line 2: column (number of fields)"), "{err}");
    }

    #[test]
    fn weekday_rows_put_their_value_in_total_and_the_month_in_date() {
        let csv = "MONTH,GP_CODE,GP_NAME,SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_NAME,ICB_CODE,\
ICB_NAME,REGION_CODE,REGION_NAME,PCN_CODE,PCN_NAME,SUPPLIER,WEEKDAY,SUBMISSION_TIME,VALUE\n\
01/10/2025,A81001,ELM,00L,SUB,QHM,ICB,Y63,NORTH,U1,PCN,ACCURX LIMITED,Tuesday,08:00 - 09:59,12.0\n";
        let (layout, rows) =
            rows_of("Submissions via OC Systems By Day and Time.csv", csv).unwrap();
        assert_eq!(layout, Layout::Weekday);
        let Row::Time(row) = &rows[0] else {
            panic!("{rows:?}")
        };
        let october = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
        assert_eq!(
            (row.month, row.date, row.date_type),
            (october, october, "month")
        );
        assert_eq!((row.weekday.as_str(), row.weekday_number), ("Tuesday", 2));
        assert_eq!(row.place.pcn_code.as_deref(), Some("U1"));
        assert_eq!(row.submission_time, "08:00 - 09:59");
        assert_eq!((row.total, row.clinical), (Some(12.0), None));
    }

    #[test]
    fn dated_rows_are_read_by_header_name_in_any_order() {
        let csv = "TOTAL,ADMIN,CLINICAL,UNKNOWN_OTHER,SUBMISSION_TIME,GP_CODE,DATE\n\
7,2,4,1,Unknown,a81001,03/12/2025\n";
        let (layout, rows) = rows_of("dated.csv", csv).unwrap();
        assert_eq!(layout, Layout::Dated);
        let Row::Time(row) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert_eq!(row.date, NaiveDate::from_ymd_opt(2025, 12, 3).unwrap());
        assert_eq!(row.month, NaiveDate::from_ymd_opt(2025, 12, 1).unwrap());
        assert_eq!((row.weekday.as_str(), row.weekday_number), ("Wednesday", 3));
        assert_eq!(row.supplier, NO_SUPPLIER);
        assert_eq!(
            (row.clinical, row.admin, row.unknown_other, row.total),
            (Some(4.0), Some(2.0), Some(1.0), Some(7.0))
        );
        assert_eq!(row.place.area(), None);
    }

    #[test]
    fn a_weekday_that_is_not_the_dates_is_refused() {
        let csv = "DATE,WEEKDAY,SUBMISSION_TIME,GP_CODE,CLINICAL,ADMIN,UNKNOWN_OTHER,TOTAL\n\
2025-12-04,Thursday,Unknown,A81001,1,0,0,1\n\
12/04/2025,Thursday,Unknown,A81001,1,0,0,1\n";
        let err = rows_of("dated.csv", csv).unwrap_err().to_string();
        assert_eq!(
            err,
            "dated.csv, line 3: column WEEKDAY: invalid value \"Thursday\" (expected the day of the week of DATE)"
        );
    }

    #[test]
    fn headers_name_the_layout_and_every_missing_column() {
        let err = rows_of("x.csv", "A,B\n1,2\n").unwrap_err().to_string();
        assert!(err.starts_with("x.csv: unrecognised file"), "{err}");
        let err = rows_of("x.csv", "DATE,GP_CODE,TOTAL\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "x.csv: missing column(s): SUBMISSION_TIME, CLINICAL, ADMIN, UNKNOWN_OTHER"
        );
    }

    #[test]
    fn day_names_are_numbered_from_monday() {
        assert_eq!(weekday_number("Monday"), Some(1));
        assert_eq!(weekday_number(" sunday "), Some(7));
        assert_eq!(weekday_number("Thu"), Some(4));
        assert_eq!(weekday_number("Funday"), None);
    }
}
