//! Reading the Network Contract DES files (DATASETS.md §10). A file is recognised by its
//! header, never by its name:
//! - a monthly extract (`NCDes<Month><YY>.csv`, or a `_By_Ruleset` member
//!   `NCDes<Month><YY>_<RULESET_ID>.csv`): `PRACTICE_CODE, PRACTICE_NAME, QUALITY_SERVICE,
//!   ACH_DATE, IND_CODE, MEASURE, VALUE`, one line per practice, indicator, date and measure;
//! - the annual IIF file (`IIF_indicators_annual_pub_2023_24.csv`): `ORGANISATION_TYPE,
//!   ORGANISATION_CODE, ORGANISATION_NAME, QUALITY_SERVICE, ACH_DATE, IND_CODE, MEASURE, VALUE`,
//!   its organisations PCNs or GP practices.
//!
//! The one thing taken from a name is the ruleset of a `_By_Ruleset` member, which no column
//! holds. `ACH_DATE` is `DD/MM/YYYY`, ISO or `YYYYMMDD`; `VALUE` `*` is suppressed (null).
//!
//! The measures of one row arrive on several lines, and the file is not assumed to be sorted,
//! so a file is gathered in memory before any row is written: each line's texts are interned
//! (organisations, indicators, measures, dates) and a row keeps four indexes and its
//! (measure, value) pairs, about 100 bytes a row, some 25 MB for a national month.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use chrono::NaiveDate;

use crate::db::JsonObject;
use crate::schema::fold_label;
use crate::source::dates::month_number;
use crate::source::error::ImportError;
use crate::source::named::{Columns, FieldIndex, NamedRecords, Need, name_in};
use crate::source::values::{present, whole_count};
use crate::source::{Header, SourceFile, code, date, single_spaced, text};

/// What a file holds, told by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A monthly extract, national or one ruleset's: practice rows.
    Monthly,
    /// The annual IIF file: PCN and practice rows.
    Iif,
}

impl Layout {
    /// The `publication` the rows are served under.
    pub fn publication(self) -> &'static str {
        match self {
            Layout::Monthly => "monthly",
            Layout::Iif => "iif_annual",
        }
    }

    fn columns(self) -> Columns<Field> {
        match self {
            Layout::Monthly => MONTHLY,
            Layout::Iif => IIF,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    OrganisationType,
    OrganisationCode,
    OrganisationName,
    PracticeCode,
    PracticeName,
    QualityService,
    AchDate,
    Indicator,
    Measure,
    Value,
}

impl FieldIndex for Field {
    fn index(self) -> usize {
        self as usize
    }
}

use Field::*;
use Need::{Optional, Required};

/// The monthly extract, as NHSDigital/ncdes writes it (and its By_Ruleset members).
const MONTHLY: Columns<Field> = &[
    (PracticeCode, "PRACTICE_CODE", Required),
    (PracticeName, "PRACTICE_NAME", Optional),
    (QualityService, "QUALITY_SERVICE", Required),
    (AchDate, "ACH_DATE", Required),
    (Indicator, "IND_CODE", Required),
    (Measure, "MEASURE", Required),
    (Value, "VALUE", Required),
];

/// The annual IIF file, as read whole from the 2023-24 publication.
const IIF: Columns<Field> = &[
    (OrganisationType, "ORGANISATION_TYPE", Required),
    (OrganisationCode, "ORGANISATION_CODE", Required),
    (OrganisationName, "ORGANISATION_NAME", Optional),
    (QualityService, "QUALITY_SERVICE", Required),
    (AchDate, "ACH_DATE", Required),
    (Indicator, "IND_CODE", Required),
    (Measure, "MEASURE", Required),
    (Value, "VALUE", Required),
];

/// Tells the layout from the header: an organisation type column marks the IIF file, a
/// practice code column the monthly extract.
pub fn identify(header: &Header) -> Result<Layout, ImportError> {
    let has = |columns, field| header.find(&[name_in(columns, field)]).is_some();
    if has(IIF, OrganisationType) {
        Ok(Layout::Iif)
    } else if has(MONTHLY, PracticeCode) {
        Ok(Layout::Monthly)
    } else {
        Err(ImportError::unrecognised(
            header.file(),
            format!(
                "expected a Network Contract DES file: a monthly NCDes extract ({}) or the \
                 annual IIF file ({})",
                names(MONTHLY),
                names(IIF)
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

/// The ruleset a By_Ruleset member holds, from its name `NCDes<Month><YY>_<RULESET_ID>.csv`
/// (upper-cased); `None` for any other name, the national extract's included.
pub fn ruleset_of(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base
        .len()
        .checked_sub(4)
        .filter(|&at| base.is_char_boundary(at) && base[at..].eq_ignore_ascii_case(".csv"))
        .map(|at| &base[..at])?;
    let rest = stem
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("ncdes"))
        .map(|_| &stem[5..])?;
    let (period, ruleset) = rest.split_once('_')?;
    let month = period.trim_end_matches(|c: char| c.is_ascii_digit());
    let year = &period[month.len()..];
    (year.len() == 2 && month_number(month).is_some())
        .then(|| code(ruleset))
        .flatten()
}

/// Whether a row is a practice's or a whole PCN's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrganisationType {
    Practice,
    Pcn,
}

impl OrganisationType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationType::Practice => "practice",
            OrganisationType::Pcn => "pcn",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub kind: OrganisationType,
    pub code: String,
    /// The first name the file gives it.
    pub name: Option<String>,
}

/// What a measure is served as, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Numerator,
    Denominator,
    /// `PCA Count (Rule n: …)`.
    Pca,
    /// Anything else, served in `measures` by its name.
    Other,
}

impl Role {
    fn of(measure: &str) -> Role {
        let key = fold_label(measure);
        if key == "NUMERATOR" {
            Role::Numerator
        } else if key == "DENOMINATOR" {
            Role::Denominator
        } else if key.starts_with("PCACOUNT") {
            Role::Pca
        } else {
            Role::Other
        }
    }
}

/// One row: indexes into the extract's interned lists, and the measures in the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathered {
    pub date: u32,
    pub organisation: u32,
    pub quality_service: u32,
    pub indicator: u32,
    pub values: Vec<(u32, Option<f64>)>,
}

/// A file's rows, gathered and sorted into the served order.
#[derive(Debug)]
pub struct Extract {
    pub layout: Layout,
    pub dates: Vec<NaiveDate>,
    pub organisations: Vec<Organisation>,
    pub quality_services: Vec<String>,
    pub indicators: Vec<String>,
    /// Each measure's published name (the first spelling met) and role.
    pub measures: Vec<(String, Role)>,
    pub rows: Vec<Gathered>,
}

/// A row's served values.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub pca: Option<i64>,
    pub achievement: Option<f64>,
    pub measures: JsonObject,
}

impl Extract {
    /// The served values of `row`: see the table's column descriptions.
    pub fn summarise(&self, row: &Gathered) -> Summary {
        let count = |value: Option<f64>| value.map(|v| v as i64);
        let (mut numerator, mut denominator) = (None, None);
        let pcas: Vec<Option<f64>> = row
            .values
            .iter()
            .filter(|(m, _)| self.measures[*m as usize].1 == Role::Pca)
            .map(|(_, v)| *v)
            .collect();
        let mut measures = JsonObject::builder();
        for &(measure, value) in &row.values {
            let (name, role) = &self.measures[measure as usize];
            match role {
                Role::Numerator => numerator = count(value),
                Role::Denominator => denominator = count(value),
                Role::Pca if pcas.len() == 1 => {}
                Role::Pca | Role::Other => {
                    measures.number(name, value);
                }
            }
        }
        let pca = match pcas.as_slice() {
            [one] => count(*one),
            several => several
                .iter()
                .copied()
                .sum::<Option<f64>>()
                .filter(|_| !several.is_empty())
                .and_then(|sum| count(Some(sum))),
        };
        let achievement = match (numerator, denominator) {
            (Some(n), Some(d)) if d > 0 => Some(n as f64 * 100.0 / d as f64),
            _ => None,
        };
        Summary {
            numerator,
            denominator,
            pca,
            achievement,
            measures: measures.finish(),
        }
    }
}

/// Distinct values, numbered in the order met.
struct Interner<K> {
    index: HashMap<K, u32>,
}

impl<K: Hash + Eq> Interner<K> {
    fn new() -> Self {
        Interner {
            index: HashMap::new(),
        }
    }

    /// The number of `key`, and whether it is new.
    fn intern(&mut self, key: K) -> (u32, bool) {
        let next = self.index.len() as u32;
        match self.index.entry(key) {
            Entry::Occupied(entry) => (*entry.get(), false),
            Entry::Vacant(entry) => (*entry.insert(next), true),
        }
    }
}

/// Reads and gathers the whole of `file`.
pub fn read(file: &SourceFile) -> Result<Extract, ImportError> {
    let (header, reader) = file.csv_with_header()?;
    let layout = identify(&header)?;
    let mut records = NamedRecords::new(file, &header, reader, layout.columns())?;
    let mut extract = Extract {
        layout,
        dates: Vec::new(),
        organisations: Vec::new(),
        quality_services: Vec::new(),
        indicators: Vec::new(),
        measures: Vec::new(),
        rows: Vec::new(),
    };
    let mut dates = Interner::new();
    let mut organisations = Interner::new();
    let mut quality_services = Interner::new();
    let mut indicators = Interner::new();
    let mut measures = Interner::new();
    let mut rows: Interner<(u32, u32, u32, u32)> = Interner::new();
    while let Some(record) = records.advance() {
        record?;
        let line = Line(&records);
        let day = line.date()?;
        let (kind, organisation_code, name) = line.organisation(layout)?;
        let quality_service = line.required(QualityService, text, "a quality service")?;
        let indicator = line.required(Indicator, code, "an indicator code")?;
        let measure = single_spaced(&line.required(Measure, text, "a measure")?);

        let (date_at, new) = dates.intern(day);
        if new {
            extract.dates.push(day);
        }
        let (organisation, new) = organisations.intern((kind, organisation_code.clone()));
        if new {
            extract.organisations.push(Organisation {
                kind,
                code: organisation_code,
                name: None,
            });
        }
        let known = &mut extract.organisations[organisation as usize];
        if known.name.is_none() {
            known.name = name;
        }
        let (quality_service_at, new) = quality_services.intern(quality_service.clone());
        if new {
            extract.quality_services.push(quality_service);
        }
        let (indicator_at, new) = indicators.intern(indicator.clone());
        if new {
            extract.indicators.push(indicator);
        }
        let (measure_at, new) = measures.intern(fold_label(&measure));
        if new {
            let role = Role::of(&measure);
            extract.measures.push((measure, role));
        }
        let value = line.value(extract.measures[measure_at as usize].1)?;

        let (row, new) = rows.intern((date_at, organisation, quality_service_at, indicator_at));
        if new {
            extract.rows.push(Gathered {
                date: date_at,
                organisation,
                quality_service: quality_service_at,
                indicator: indicator_at,
                values: Vec::with_capacity(3),
            });
        }
        let values = &mut extract.rows[row as usize].values;
        match values.iter().find(|(m, _)| *m == measure_at) {
            None => values.push((measure_at, value)),
            // A line the file repeats word for word adds nothing.
            Some((_, earlier)) if *earlier == value => {}
            Some(_) => {
                return Err(records.bad(
                    Measure,
                    "each measure once per organisation, indicator and date (this one was \
                     given before with another value)",
                ));
            }
        }
    }
    let mut rows = std::mem::take(&mut extract.rows);
    let Extract {
        dates,
        organisations,
        indicators,
        quality_services,
        ..
    } = &extract;
    rows.sort_by(|a, b| {
        let (oa, ob) = (
            &organisations[a.organisation as usize],
            &organisations[b.organisation as usize],
        );
        dates[a.date as usize]
            .cmp(&dates[b.date as usize])
            .then_with(|| oa.kind.as_str().cmp(ob.kind.as_str()))
            .then_with(|| oa.code.cmp(&ob.code))
            .then_with(|| indicators[a.indicator as usize].cmp(&indicators[b.indicator as usize]))
            .then_with(|| {
                quality_services[a.quality_service as usize]
                    .cmp(&quality_services[b.quality_service as usize])
            })
    });
    extract.rows = rows;
    Ok(extract)
}

/// The current record of a file, read field by field.
struct Line<'r>(&'r NamedRecords);

impl Line<'_> {
    fn required(
        &self,
        field: Field,
        read: fn(&str) -> Option<String>,
        expected: &'static str,
    ) -> Result<String, ImportError> {
        read(self.0.cell(field)).ok_or_else(|| self.0.bad(field, expected))
    }

    fn date(&self) -> Result<NaiveDate, ImportError> {
        let records = self.0;
        date(
            records.file(),
            records.line(),
            records.name(AchDate),
            records.cell(AchDate),
        )?
        .ok_or_else(|| records.bad(AchDate, "a date"))
    }

    fn organisation(
        &self,
        layout: Layout,
    ) -> Result<(OrganisationType, String, Option<String>), ImportError> {
        match layout {
            Layout::Monthly => Ok((
                OrganisationType::Practice,
                self.required(PracticeCode, code, "a practice code")?,
                text(self.0.cell(PracticeName)),
            )),
            Layout::Iif => {
                let kind = match fold_label(self.0.cell(OrganisationType)).as_str() {
                    "PCN" => OrganisationType::Pcn,
                    "GPPRACTICE" => OrganisationType::Practice,
                    _ => return Err(self.0.bad(OrganisationType, "PCN or GP practice")),
                };
                Ok((
                    kind,
                    self.required(OrganisationCode, code, "an organisation code")?,
                    text(self.0.cell(OrganisationName)),
                ))
            }
        }
    }

    /// A count for the numerator, denominator and PCA measures, any finite number for the
    /// others; `None` where suppressed (`*`).
    fn value(&self, role: Role) -> Result<Option<f64>, ImportError> {
        let Some(value) = present(self.0.cell(Value)) else {
            return Ok(None);
        };
        if role == Role::Other {
            return value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| self.0.bad(Value, "a number, or * where suppressed"));
        }
        whole_count(value.as_bytes())
            .filter(|n| *n < 1 << 53)
            .map(|n| Some(n as f64))
            .ok_or_else(|| self.0.bad(Value, "a whole count, or * where suppressed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::open_sources;

    fn extract_of(name: &str, content: &str) -> Result<Extract, ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        read(&open_sources(&path).unwrap()[0])
    }

    const HEADER: &str =
        "PRACTICE_CODE,PRACTICE_NAME,QUALITY_SERVICE,ACH_DATE,IND_CODE,MEASURE,VALUE";

    /// Each row as `date|organisation|indicator|numerator|denominator|pca|measures`.
    fn served(extract: &Extract) -> Vec<String> {
        extract
            .rows
            .iter()
            .map(|row| {
                let s = extract.summarise(row);
                let show = |v: Option<i64>| v.map_or("null".to_owned(), |v| v.to_string());
                format!(
                    "{}|{}|{}|{}|{}|{}|{}",
                    extract.dates[row.date as usize],
                    extract.organisations[row.organisation as usize].code,
                    extract.indicators[row.indicator as usize],
                    show(s.numerator),
                    show(s.denominator),
                    show(s.pca),
                    s.measures.as_str()
                )
            })
            .collect()
    }

    #[test]
    fn lines_of_a_row_are_gathered_whatever_their_order() {
        let csv = format!(
            "\u{feff}{HEADER}\r\n\
             b82001,OAK,NCD2425,2024-06-30,can04,Numerator,3\r\n\
             A81001,ELM,NCD2425,30/06/2024,CAN04,Numerator,7\r\n\
             B82001,OAK,NCD2425,20240630,CAN04,Denominator,4\r\n\
             A81001,ELM,NCD2425,30/06/2024,CAN04,Denominator,10\r\n\
             A81001,ELM,NCD2425,30/06/2024,CAN04,MI  Count,2\r\n\
             A81001,ELM,NCD2425,30/06/2024,CAN04,PCA Count (Rule 1: X),1\r\n\
             A81001,ELM,NCD2425,31/05/2024,CAN04,Numerator,5\r\n"
        );
        let extract = extract_of("NCDesJune24.csv", &csv).unwrap();
        assert_eq!(extract.layout, Layout::Monthly);
        assert_eq!(
            served(&extract),
            [
                "2024-05-31|A81001|CAN04|5|null|null|{}",
                r#"2024-06-30|A81001|CAN04|7|10|1|{"MI Count":2}"#,
                "2024-06-30|B82001|CAN04|3|4|null|{}",
            ]
        );
        let row = &extract.rows[1];
        assert_eq!(extract.summarise(row).achievement, Some(70.0));
    }

    #[test]
    fn several_pcas_are_summed_unless_one_is_suppressed() {
        let csv = format!(
            "{HEADER}\n\
             A81001,ELM,NCD2425,30/06/2024,HI21,PCA Count (Rule 1: A),2\n\
             A81001,ELM,NCD2425,30/06/2024,HI21,PCA Count (Rule 2: B),3\n\
             A81001,ELM,NCD2425,30/06/2024,HI21,Denominator,0\n\
             A81001,ELM,NCD2425,30/06/2024,HI21,Numerator,0\n\
             B82001,OAK,NCD2425,30/06/2024,HI21,PCA Count (Rule 1: A),*\n\
             B82001,OAK,NCD2425,30/06/2024,HI21,PCA Count (Rule 2: B),0\n"
        );
        let extract = extract_of("x.csv", &csv).unwrap();
        assert_eq!(
            served(&extract),
            [
                r#"2024-06-30|A81001|HI21|0|0|5|{"PCA Count (Rule 1: A)":2,"PCA Count (Rule 2: B)":3}"#,
                r#"2024-06-30|B82001|HI21|null|null|null|{"PCA Count (Rule 1: A)":null,"PCA Count (Rule 2: B)":0}"#,
            ]
        );
        // A zero denominator leaves the achievement null.
        assert_eq!(extract.summarise(&extract.rows[0]).achievement, None);
    }

    #[test]
    fn iif_rows_are_pcns_or_practices() {
        let csv = "ORGANISATION_TYPE,ORGANISATION_CODE,ORGANISATION_NAME,QUALITY_SERVICE,ACH_DATE,\
IND_CODE,MEASURE,VALUE\n\
PCN,U00070,WEST MERTON PCN,NCD2324,31/03/2024,NCDMI191,ACC-10b baseline non-standardised numerator,190\n\
GP practice,A81001,ELM,NCD2324,31/03/2024,NCD005,Numerator,10\n";
        let extract = extract_of("IIF_indicators_annual_pub_2023_24.csv", csv).unwrap();
        assert_eq!(extract.layout, Layout::Iif);
        let kinds: Vec<_> = extract
            .rows
            .iter()
            .map(|r| extract.organisations[r.organisation as usize].kind)
            .collect();
        // Sorted as served: organisation type pcn before practice.
        assert_eq!(kinds, [OrganisationType::Pcn, OrganisationType::Practice]);
        assert_eq!(
            extract.organisations[extract.rows[0].organisation as usize].name,
            Some("WEST MERTON PCN".to_owned())
        );
    }

    #[test]
    fn bad_values_name_line_and_column() {
        let good = "A81001,ELM,NCD2425,30/06/2024,CAN04,Numerator,1";
        let cases = [
            (
                "A81001,ELM,NCD2425,31/02/2024,CAN04,Numerator,1",
                "ACH_DATE",
            ),
            ("A81001,ELM,NCD2425,,CAN04,Numerator,1", "ACH_DATE"),
            ("A81001,ELM,NCD2425,30/06/2024,CAN04,Numerator,1.5", "VALUE"),
            (
                "A81001,ELM,NCD2425,30/06/2024,CAN04,Denominator,-1",
                "VALUE",
            ),
            ("A81001,ELM,NCD2425,30/06/2024,CAN04,MI Count,lots", "VALUE"),
            ("A81001,ELM,NCD2425,30/06/2024,CAN04,Numerator,2", "MEASURE"),
            (",ELM,NCD2425,30/06/2024,CAN04,Numerator,1", "PRACTICE_CODE"),
            (
                "A81001,ELM,,30/06/2024,CAN04,Numerator,1",
                "QUALITY_SERVICE",
            ),
            ("A81001,ELM,NCD2425,30/06/2024,,Numerator,1", "IND_CODE"),
            ("A81001,ELM,NCD2425,30/06/2024,CAN04,,1", "MEASURE"),
            ("A81001,ELM,NCD2425,30/06/2024", "(number of fields)"),
        ];
        for (row, column) in cases {
            let csv = format!("{HEADER}\n{good}\n{good}\n{row}\n");
            match extract_of("bad.csv", &csv).unwrap_err() {
                ImportError::BadValue {
                    line, column: c, ..
                } => assert_eq!((line, c.as_str()), (4, column), "{row}"),
                other => panic!("{row}: {other}"),
            }
        }
        let iif = "ORGANISATION_TYPE,ORGANISATION_CODE,QUALITY_SERVICE,ACH_DATE,IND_CODE,MEASURE,VALUE\n\
ICB,QHM,NCD2324,31/03/2024,NCD005,Numerator,1\n";
        match extract_of("iif.csv", iif).unwrap_err() {
            ImportError::BadValue { line, column, .. } => {
                assert_eq!((line, column.as_str()), (2, "ORGANISATION_TYPE"))
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn headers_name_the_layout_and_every_missing_column() {
        let err = extract_of("x.csv", "A,B\n1,2\n").unwrap_err().to_string();
        assert!(
            err.starts_with("x.csv: unrecognised file: expected a Network Contract DES file"),
            "{err}"
        );
        let err = extract_of("x.csv", "PRACTICE_CODE,VALUE\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "x.csv: missing column(s): QUALITY_SERVICE, ACH_DATE, IND_CODE, MEASURE"
        );
    }

    #[test]
    fn the_ruleset_comes_from_a_by_ruleset_member_name() {
        assert_eq!(
            ruleset_of("NCDesSeptember24_CVD_PRE.csv").as_deref(),
            Some("CVD_PRE")
        );
        assert_eq!(
            ruleset_of("folder/ncdesjuly24_acc.CSV").as_deref(),
            Some("ACC")
        );
        for name in [
            "NCDesSeptember24.csv",
            "NCDesSeptember24_.csv",
            "NCDesSeptember24_CAN.xlsx",
            "NCDesSept_CAN.csv",
            "NCDesSmarch24_CAN.csv",
            "IIF_indicators_annual_pub_2023_24.csv",
            "NCD",
        ] {
            assert_eq!(ruleset_of(name), None, "{name}");
        }
    }
}
