//! Reading the GP Contract CSVs (DATASETS.md §11). A file is recognised by its header, never by
//! its name (the publisher reissues files as `v2`):
//! - the Core GP Contract file: `QUALITY_SERVICE, PRACTICE_CODE, PRACTICE_NAME, ACH_DATE,
//!   IND_CODE, MEASURE, MEASURE_TYPE, VALUE` (the producer's output select), one row per
//!   practice, month, indicator and measure; `MEASURE_TYPE` may be missing, and is then the
//!   measure's first word;
//! - the unpaid carers file (2025-26 on), whose layout is ASSUMED, not yet seen: `CARERS` below
//!   is the one table to correct when a published file differs.
//!
//! `ACH_DATE` is ISO (`2023-09-30`), `DD/MM/YYYY` or `YYYYMMDD`; `VALUE` is a whole count, or
//! `*` where the publisher suppressed it (null, never 0).

use chrono::NaiveDate;

use crate::source::error::ImportError;
use crate::source::named::{Columns, FieldIndex, NamedRecords, Need, name_in};
use crate::source::values::{present, whole_count};
use crate::source::{Header, SourceFile, code, date, single_spaced, text};

/// What a file holds, told by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Core GP Contract: practice rows.
    Core,
    /// CGPCMI01 Unpaid Carers: sub-ICB rows by sex, age band and ethnicity.
    Carers,
}

/// The columns the files have, each read by header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    QualityService,
    PracticeCode,
    PracticeName,
    SubIcbCode,
    SubIcbName,
    AchDate,
    Indicator,
    Measure,
    MeasureType,
    Sex,
    Age,
    Ethnicity,
    Value,
}

impl FieldIndex for Field {
    fn index(self) -> usize {
        self as usize
    }
}

use Field::*;
use Need::{Optional, Required};

/// The Core GP Contract file, as NHS England's producer code writes it.
const CORE: Columns<Field> = &[
    (QualityService, "QUALITY_SERVICE", Required),
    (PracticeCode, "PRACTICE_CODE", Required),
    (PracticeName, "PRACTICE_NAME", Optional),
    (AchDate, "ACH_DATE", Required),
    (Indicator, "IND_CODE", Required),
    (Measure, "MEASURE", Required),
    (MeasureType, "MEASURE_TYPE", Optional),
    (Value, "VALUE", Required),
];

/// The CGPCMI01 Unpaid Carers file. ASSUMED, not checked against a published file: the
/// publication says it holds sub-ICB rows; these names follow the core file's, with one
/// column per breakdown. Correct this table (and the README) when a real file differs; the
/// breakdowns are required so that a file naming them otherwise is refused, not read as totals.
const CARERS: Columns<Field> = &[
    (QualityService, "QUALITY_SERVICE", Required),
    (SubIcbCode, "SUB_ICB_LOC_CODE", Required),
    (SubIcbName, "SUB_ICB_LOC_NAME", Optional),
    (AchDate, "ACH_DATE", Required),
    (Indicator, "IND_CODE", Required),
    (Measure, "MEASURE", Required),
    (Sex, "SEX", Required),
    (Age, "AGE_BAND", Required),
    (Ethnicity, "ETHNICITY", Required),
    (Value, "VALUE", Required),
];

/// What a row that totals a breakdown holds in it (published blank or `All`).
pub const TOTAL: &str = "All";

impl Layout {
    fn columns(self) -> Columns<Field> {
        match self {
            Layout::Core => CORE,
            Layout::Carers => CARERS,
        }
    }
}

/// Tells the layout from the header: a practice code column marks the core file, a sub-ICB
/// code column (without one) the carers file.
pub fn identify(header: &Header) -> Result<Layout, ImportError> {
    let has = |columns, field| header.find(&[name_in(columns, field)]).is_some();
    if has(CORE, PracticeCode) {
        Ok(Layout::Core)
    } else if has(CARERS, SubIcbCode) {
        Ok(Layout::Carers)
    } else {
        Err(ImportError::unrecognised(
            header.file(),
            format!(
                "expected a GP Contract file: a Core GP Contract CSV ({}) or a CGPCMI01 Unpaid \
                 Carers CSV ({})",
                names(CORE),
                names(CARERS)
            ),
        ))
    }
}

fn names(columns: Columns<Field>) -> String {
    columns
        .iter()
        .map(|(_, name, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// One row of the core file.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRow {
    pub date: NaiveDate,
    pub practice_code: String,
    pub practice_name: String,
    pub indicator: String,
    pub quality_service: String,
    pub measure: String,
    pub measure_type: String,
    pub value: Option<i64>,
}

/// One row of the carers file; breakdowns a row totals hold `TOTAL`.
#[derive(Debug, Clone, PartialEq)]
pub struct CarerRow {
    pub date: NaiveDate,
    pub sub_icb_code: String,
    pub sub_icb_name: Option<String>,
    pub indicator: String,
    pub quality_service: String,
    pub measure: String,
    pub sex: String,
    pub age: String,
    pub ethnicity: String,
    pub value: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Value(ValueRow),
    Carer(CarerRow),
}

impl Row {
    pub fn date(&self) -> NaiveDate {
        match self {
            Row::Value(row) => row.date,
            Row::Carer(row) => row.date,
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

/// The measure's first word, which is its type (`PCA Count (Rule 3: …)` is a `PCA`).
pub fn measure_type_of(measure: &str) -> &str {
    measure.split_whitespace().next().unwrap_or(measure)
}

/// A breakdown label as served: published blank or `All` (any case) is `TOTAL`.
fn breakdown(value: &str) -> String {
    match text(value) {
        Some(label) if !label.eq_ignore_ascii_case(TOTAL) => single_spaced(&label),
        _ => TOTAL.to_owned(),
    }
}

impl Rows {
    fn cell(&self, field: Field) -> &str {
        self.records.cell(field)
    }

    fn bad(&self, field: Field, expected: &'static str) -> ImportError {
        self.records.bad(field, expected)
    }

    fn required_code(&self, field: Field, expected: &'static str) -> Result<String, ImportError> {
        code(self.cell(field)).ok_or_else(|| self.bad(field, expected))
    }

    fn required_text(&self, field: Field, expected: &'static str) -> Result<String, ImportError> {
        text(self.cell(field))
            .map(|t| single_spaced(&t))
            .ok_or_else(|| self.bad(field, expected))
    }

    fn date(&self) -> Result<NaiveDate, ImportError> {
        date(
            self.records.file(),
            self.records.line(),
            self.records.name(AchDate),
            self.cell(AchDate),
        )?
        .ok_or_else(|| self.bad(AchDate, "a date"))
    }

    fn value(&self) -> Result<Option<i64>, ImportError> {
        let Some(value) = present(self.cell(Value)) else {
            return Ok(None);
        };
        whole_count(value.as_bytes())
            .and_then(|n| i64::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| self.bad(Value, "a whole count, or * where suppressed"))
    }

    fn parse(&self) -> Result<Row, ImportError> {
        let date = self.date()?;
        let quality_service = self.required_text(QualityService, "a quality service")?;
        let indicator = self.required_code(Indicator, "an indicator code")?;
        let measure = self.required_text(Measure, "a measure")?;
        let value = self.value()?;
        match self.layout {
            Layout::Core => {
                let measure_type = text(self.cell(MeasureType))
                    .unwrap_or_else(|| measure_type_of(&measure).to_owned());
                Ok(Row::Value(ValueRow {
                    date,
                    practice_code: self.required_code(PracticeCode, "a practice code")?,
                    practice_name: text(self.cell(PracticeName)).unwrap_or_default(),
                    indicator,
                    quality_service,
                    measure,
                    measure_type,
                    value,
                }))
            }
            Layout::Carers => Ok(Row::Carer(CarerRow {
                date,
                sub_icb_code: self.required_code(SubIcbCode, "a sub-ICB location code")?,
                sub_icb_name: text(self.cell(SubIcbName)),
                indicator,
                quality_service,
                measure,
                sex: breakdown(self.cell(Sex)),
                age: breakdown(self.cell(Age)),
                ethnicity: breakdown(self.cell(Ethnicity)),
                value,
            })),
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

    const CORE_HEADER: &str =
        "QUALITY_SERVICE,PRACTICE_CODE,PRACTICE_NAME,ACH_DATE,IND_CODE,MEASURE,MEASURE_TYPE,VALUE";
    const CARERS_HEADER: &str = "QUALITY_SERVICE,SUB_ICB_LOC_CODE,SUB_ICB_LOC_NAME,ACH_DATE,\
IND_CODE,MEASURE,SEX,AGE_BAND,ETHNICITY,VALUE";

    fn values(rows: &[Row]) -> Vec<&ValueRow> {
        rows.iter()
            .map(|r| match r {
                Row::Value(v) => v,
                Row::Carer(_) => panic!("{r:?}"),
            })
            .collect()
    }

    #[test]
    fn core_rows_keep_the_published_measure_and_suppression() {
        let csv = format!(
            "\u{feff}{CORE_HEADER}\r\n\
             Core GP Contract 2023-24,a81001,\"ELM, TREE\",30/06/2023,cgpcmi01,Numerator,Numerator,52\r\n\
             Core GP Contract 2023-24,A81001,ELM,2023-09-30,CCDCMI32,PCA Count (Rule 3: FRAILASSDEC_DAT),PCA,*\r\n\
             Core  GP Contract 2023-24,A81001,ELM,20231031,CCDCMI32,Denominator,,0\r\n"
        );
        let (layout, rows) = rows_of("Core GP Contract Q1 2023-24.csv", &csv).unwrap();
        assert_eq!(layout, Layout::Core);
        let rows = values(&rows);
        assert_eq!(
            rows[0],
            &ValueRow {
                date: NaiveDate::from_ymd_opt(2023, 6, 30).unwrap(),
                practice_code: "A81001".into(),
                practice_name: "ELM, TREE".into(),
                indicator: "CGPCMI01".into(),
                quality_service: "Core GP Contract 2023-24".into(),
                measure: "Numerator".into(),
                measure_type: "Numerator".into(),
                value: Some(52),
            }
        );
        assert_eq!(rows[1].date, NaiveDate::from_ymd_opt(2023, 9, 30).unwrap());
        assert_eq!(rows[1].value, None);
        assert_eq!(rows[1].measure_type, "PCA");
        // An empty MEASURE_TYPE cell falls back on the measure; an observed 0 stays 0.
        assert_eq!(rows[2].measure_type, "Denominator");
        assert_eq!(rows[2].value, Some(0));
        assert_eq!(rows[2].quality_service, "Core GP Contract 2023-24");
    }

    #[test]
    fn without_measure_type_the_type_is_the_measures_first_word() {
        let csv = "QUALITY_SERVICE,PRACTICE_CODE,PRACTICE_NAME,ACH_DATE,IND_CODE,MEASURE,VALUE\n\
Core GP Contract 2024-25,B82001,OAK,2024-04-30,CCDCMI37,Exclusion Count (Rule 1: X),3\n";
        let (_, rows) = rows_of("x.csv", csv).unwrap();
        assert_eq!(values(&rows)[0].measure_type, "Exclusion");
        assert_eq!(measure_type_of("Numerator"), "Numerator");
    }

    #[test]
    fn carers_rows_are_read_by_name_and_totals_are_all() {
        let csv = "VALUE,ETHNICITY,AGE_BAND,SEX,MEASURE,IND_CODE,ACH_DATE,SUB_ICB_LOC_CODE,QUALITY_SERVICE\n\
             120,,ALL,Female,Numerator,CGPCMI01,30/04/2025,00l,Core GP Contract 2025-26\n\
             *,White,18-24,all,Numerator,CGPCMI01,30/04/2025,00L,Core GP Contract 2025-26\n";
        let (layout, rows) = rows_of("CGPCMI01 Unpaid Carers Q1 2025-26 v2.csv", csv).unwrap();
        assert_eq!(layout, Layout::Carers);
        let Row::Carer(first) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert_eq!(first.sub_icb_code, "00L");
        assert_eq!(first.sub_icb_name, None);
        assert_eq!(
            (
                first.sex.as_str(),
                first.age.as_str(),
                first.ethnicity.as_str()
            ),
            ("Female", "All", "All")
        );
        assert_eq!(first.value, Some(120));
        let Row::Carer(second) = &rows[1] else {
            panic!("{rows:?}")
        };
        assert_eq!(
            (
                second.sex.as_str(),
                second.age.as_str(),
                second.ethnicity.as_str()
            ),
            ("All", "18-24", "White")
        );
        assert_eq!(second.value, None);
    }

    #[test]
    fn bad_values_name_line_and_column() {
        let cases = [
            ("Q,A81001,E,31/13/2023,X,Numerator,Numerator,1", "ACH_DATE"),
            ("Q,A81001,E,,X,Numerator,Numerator,1", "ACH_DATE"),
            ("Q,A81001,E,2023-06-30,X,Numerator,Numerator,1.5", "VALUE"),
            ("Q,A81001,E,2023-06-30,X,Numerator,Numerator,-1", "VALUE"),
            ("Q,,E,2023-06-30,X,Numerator,Numerator,1", "PRACTICE_CODE"),
            ("Q,A81001,E,2023-06-30,,Numerator,Numerator,1", "IND_CODE"),
            ("Q,A81001,E,2023-06-30,X,,Numerator,1", "MEASURE"),
            (
                ",A81001,E,2023-06-30,X,Numerator,Numerator,1",
                "QUALITY_SERVICE",
            ),
            ("Q,A81001,E,2023-06-30", "(number of fields)"),
        ];
        for (row, column) in cases {
            let csv =
                format!("{CORE_HEADER}\nQ,A81001,E,2023-06-30,X,Numerator,Numerator,1\n{row}\n");
            match rows_of("bad.csv", &csv).unwrap_err() {
                ImportError::BadValue {
                    line, column: c, ..
                } => assert_eq!((line, c.as_str()), (3, column), "{row}"),
                other => panic!("{row}: {other}"),
            }
        }
    }

    #[test]
    fn headers_name_the_layout_and_every_missing_column() {
        let err = rows_of("x.csv", "A,B\n1,2\n").unwrap_err().to_string();
        assert!(
            err.starts_with("x.csv: unrecognised file: expected a GP Contract file"),
            "{err}"
        );
        let err = rows_of("x.csv", "PRACTICE_CODE,VALUE\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "x.csv: missing column(s): QUALITY_SERVICE, ACH_DATE, IND_CODE, MEASURE"
        );
        let err = rows_of(
            "y.csv",
            "SUB_ICB_LOC_CODE,QUALITY_SERVICE,ACH_DATE,IND_CODE,MEASURE,VALUE,GENDER\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "y.csv: missing column(s): SEX, AGE_BAND, ETHNICITY");
        assert_eq!(
            identify(&Header::new("h", CARERS_HEADER.split(','))).unwrap(),
            Layout::Carers
        );
    }
}
