//! Readers for "Patients Registered at a GP Practice": the practice → PCN → sub-ICB → ICB →
//! region map, registrations by five-year age band for every organisation level, and practice
//! totals. Columns are found by header name, accepting the CCG/STP names used before July 2022.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::source::error::ImportError;
use crate::source::{
    self, Header, SourceFile, check_field_count, code, for_each_record, is_blank, line_of,
    postcode, text,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeMapping {
    pub extract_date: NaiveDate,
    pub practice_code: String,
    pub practice_name: String,
    pub practice_postcode: Option<String>,
    /// `None` for practices in no PCN (published as `U` / `Unallocated`).
    pub pcn_code: Option<String>,
    pub pcn_name: Option<String>,
    pub sub_icb_code: String,
    pub sub_icb_ons_code: Option<String>,
    pub sub_icb_name: String,
    pub icb_code: String,
    pub icb_ons_code: Option<String>,
    pub icb_name: String,
    pub region_code: String,
    pub region_ons_code: Option<String>,
    pub region_name: String,
    /// The clinical system supplier, published from July 2022.
    pub supplier: Option<String>,
}

/// Map columns, current name first, then the name used before July 2022.
const MAP_COLUMNS: [&[&str]; 15] = [
    &["EXTRACT_DATE"],
    &["PRACTICE_CODE"],
    &["PRACTICE_NAME"],
    &["PRACTICE_POSTCODE"],
    &["PCN_CODE"],
    &["PCN_NAME"],
    &["SUB_ICB_LOCATION_CODE", "CCG_CODE"],
    &["ONS_SUB_ICB_LOCATION_CODE", "ONS_CCG_CODE"],
    &["SUB_ICB_LOCATION_NAME", "CCG_NAME"],
    &["ICB_CODE", "STP_CODE"],
    &["ONS_ICB_CODE", "ONS_STP_CODE"],
    &["ICB_NAME", "STP_NAME"],
    &["COMM_REGION_CODE"],
    &["ONS_COMM_REGION_CODE"],
    &["COMM_REGION_NAME"],
];

/// Reads the practice map row by row.
pub fn read_practice_map(
    src: &SourceFile,
) -> Result<impl Iterator<Item = Result<PracticeMapping, ImportError>> + Send + use<>, ImportError>
{
    let (header, reader) = src.csv_with_header()?;
    let columns = header.require(MAP_COLUMNS)?;
    let supplier = header.find(&["SUPPLIER_NAME"]);
    let width = header.len();
    let file = header.file().to_owned();
    Ok(reader.into_records().filter_map(move |row| match row {
        Ok(record) if is_blank(&record) => None,
        Ok(record) => Some(mapping(&file, &record, width, &columns, supplier)),
        Err(e) => Some(Err(ImportError::from_csv(&file, e))),
    }))
}

fn mapping(
    file: &str,
    record: &csv::StringRecord,
    width: usize,
    columns: &[usize; 15],
    supplier: Option<usize>,
) -> Result<PracticeMapping, ImportError> {
    check_field_count(file, record, width, "as many fields as the header")?;
    let line = line_of(record);
    let field = |i: usize| &record[columns[i]];
    let required_code = |i: usize, expected| {
        code(field(i)).ok_or_else(|| {
            ImportError::bad_value(file, line, MAP_COLUMNS[i][0], field(i), expected)
        })
    };
    let extract_date = source::date(file, line, "EXTRACT_DATE", field(0))?
        .ok_or_else(|| ImportError::bad_value(file, line, "EXTRACT_DATE", "", "a date"))?;
    let pcn_code = code(field(4));
    let unallocated = pcn_code.as_deref().is_none_or(|c| c == "U")
        || field(5).eq_ignore_ascii_case("Unallocated");
    Ok(PracticeMapping {
        extract_date,
        practice_code: required_code(1, "a practice code")?,
        practice_name: field(2).to_owned(),
        practice_postcode: postcode(field(3)),
        pcn_code: if unallocated { None } else { pcn_code },
        pcn_name: if unallocated { None } else { text(field(5)) },
        sub_icb_code: required_code(6, "a sub-ICB code")?,
        sub_icb_ons_code: code(field(7)),
        sub_icb_name: field(8).to_owned(),
        icb_code: required_code(9, "an ICB code")?,
        icb_ons_code: code(field(10)),
        icb_name: field(11).to_owned(),
        region_code: required_code(12, "a region code")?,
        region_ons_code: code(field(13)),
        region_name: field(14).to_owned(),
        supplier: supplier.and_then(|i| text(&record[i])),
    })
}

/// Sorts in the order organisations nest, practice first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgType {
    Practice,
    Pcn,
    SubIcb,
    Icb,
    Region,
}

impl OrgType {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrgType::Practice => "practice",
            OrgType::Pcn => "pcn",
            OrgType::SubIcb => "sub_icb",
            OrgType::Icb => "icb",
            OrgType::Region => "region",
        }
    }

    /// The published `ORG_TYPE` / `TYPE` labels, current and pre-July-2022 (`CCG`, `STP`).
    fn parse(label: &str) -> Option<OrgType> {
        Some(
            match label.trim().to_ascii_uppercase().replace(' ', "_").as_str() {
                "GP" => OrgType::Practice,
                "PCN" => OrgType::Pcn,
                "SUB_ICB_LOCATION_CODE" | "SUB_ICB_LOCATION" | "CCG" => OrgType::SubIcb,
                "ICB" | "STP" => OrgType::Icb,
                "COMM_REGION" => OrgType::Region,
                _ => return None,
            },
        )
    }
}

/// Registered patients of one organisation at one extract date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPopulation {
    pub extract_date: NaiveDate,
    pub org_type: OrgType,
    pub org_code: String,
    pub ons_code: Option<String>,
    pub postcode: Option<String>,
    pub total: Option<i64>,
    pub male: Option<i64>,
    pub female: Option<i64>,
    /// Persons in each band of `AGE_BANDS`.
    pub bands: [Option<i64>; 20],
}

/// Suffixes naming the five-year bands of `OrgPopulation::bands`, in order.
pub const AGE_BANDS: [&str; 20] = [
    "0_4", "5_9", "10_14", "15_19", "20_24", "25_29", "30_34", "35_39", "40_44", "45_49", "50_54",
    "55_59", "60_64", "65_69", "70_74", "75_79", "80_84", "85_89", "90_94", "95_plus",
];

/// Reads `gp-reg-pat-prac-quin-age`, one result per organisation and extract date, sorted by
/// (extract date, org type, org code). Rows are aggregated as they stream past, so memory grows
/// with the number of organisations, not rows.
///
/// Persons come from the `SEX = ALL` rows; a value with no such row is the sum of its `MALE` and
/// `FEMALE` rows. Male and female totals come from their `AGE = ALL` rows, else the sum of their
/// bands; the overall total from the `ALL`/`ALL` row, else male + female, else the sum of the
/// person bands. A sum covers the rows present; it is `None` only when none is.
pub fn read_quinary_age(src: &SourceFile) -> Result<Vec<OrgPopulation>, ImportError> {
    read_populations(src, Layout::QuinaryAge)
}

/// Reads `gp-reg-pat-prac-all` (practice totals; `bands` are all `None`), with the same rules
/// and order as `read_quinary_age`.
pub fn read_practice_totals(src: &SourceFile) -> Result<Vec<OrgPopulation>, ImportError> {
    read_populations(src, Layout::PracticeTotals)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    QuinaryAge,
    PracticeTotals,
}

/// Where a population file keeps each value, and the column names for messages.
struct PopulationColumns {
    date: usize,
    org_type: (usize, &'static str),
    org_code: (usize, &'static str),
    ons_code: Option<usize>,
    postcode: usize,
    sex: usize,
    age: (usize, &'static str),
    count: usize,
}

impl PopulationColumns {
    fn find(header: &Header, layout: Layout) -> Result<Self, ImportError> {
        Ok(match layout {
            Layout::QuinaryAge => {
                let [date, org_type, org_code, ons, postcode, sex, age, count] =
                    header.require([
                        &["EXTRACT_DATE"],
                        &["ORG_TYPE"],
                        &["ORG_CODE"],
                        &["ONS_CODE"],
                        &["POSTCODE"],
                        &["SEX"],
                        &["AGE_GROUP_5"],
                        &["NUMBER_OF_PATIENTS"],
                    ])?;
                PopulationColumns {
                    date,
                    org_type: (org_type, "ORG_TYPE"),
                    org_code: (org_code, "ORG_CODE"),
                    ons_code: Some(ons),
                    postcode,
                    sex,
                    age: (age, "AGE_GROUP_5"),
                    count,
                }
            }
            Layout::PracticeTotals => {
                let [date, org_type, org_code, postcode, sex, age, count] = header.require([
                    &["EXTRACT_DATE"],
                    &["TYPE"],
                    &["CODE"],
                    &["POSTCODE"],
                    &["SEX"],
                    &["AGE"],
                    &["NUMBER_OF_PATIENTS"],
                ])?;
                PopulationColumns {
                    date,
                    org_type: (org_type, "TYPE"),
                    org_code: (org_code, "CODE"),
                    ons_code: None,
                    postcode,
                    sex,
                    age: (age, "AGE"),
                    count,
                }
            }
        })
    }
}

fn read_populations(src: &SourceFile, layout: Layout) -> Result<Vec<OrgPopulation>, ImportError> {
    let (header, reader) = src.csv_with_header()?;
    let columns = PopulationColumns::find(&header, layout)?;
    let file = header.file();
    // A national file holds ~500k rows for ~8k organisations, each organisation's rows
    // together: the record buffer is reused, and the date and the organisation are only
    // parsed and looked up again when their raw text changes.
    let mut reader = reader;
    let mut entries: Vec<((NaiveDate, OrgType, String), OrgCounts)> = Vec::new();
    let mut index: HashMap<(NaiveDate, OrgType, String), usize> = HashMap::new();
    let mut last_date: Option<(String, NaiveDate)> = None;
    let mut last_org: Option<(String, String, String, usize)> = None;
    for_each_record(&mut reader, file, |record, line| {
        check_field_count(file, record, header.len(), "as many fields as the header")?;
        let bad = |column: &str, value: &str, expected| {
            ImportError::bad_value(file, line, column, value, expected)
        };
        let field = |i: usize| &record[i];

        let (type_col, type_name) = columns.org_type;
        let (code_col, code_name) = columns.org_code;
        let same_org = last_org.as_ref().is_some_and(|(d, t, c, _)| {
            d == field(columns.date) && t == field(type_col) && c == field(code_col)
        });
        let org_index = if let (true, Some((.., i))) = (same_org, &last_org) {
            *i
        } else {
            let date_text = field(columns.date);
            let date = match &last_date {
                Some((text, date)) if text == date_text => *date,
                _ => {
                    let date = source::date(file, line, "EXTRACT_DATE", date_text)?
                        .ok_or_else(|| bad("EXTRACT_DATE", "", "a date"))?;
                    last_date = Some((date_text.to_owned(), date));
                    date
                }
            };
            let org_type = OrgType::parse(field(type_col)).ok_or_else(|| {
                bad(
                    type_name,
                    field(type_col),
                    "GP, PCN, SUB_ICB_LOCATION_CODE, ICB, Comm Region, CCG or STP",
                )
            })?;
            let org_code =
                code(field(code_col)).ok_or_else(|| bad(code_name, "", "an organisation code"))?;
            let key = (date, org_type, org_code);
            let i = match index.get(&key) {
                Some(i) => *i,
                None => {
                    entries.push((key.clone(), OrgCounts::default()));
                    index.insert(key, entries.len() - 1);
                    entries.len() - 1
                }
            };
            last_org = Some((
                date_text.to_owned(),
                field(type_col).to_owned(),
                field(code_col).to_owned(),
                i,
            ));
            i
        };
        let sex = Sex::parse(field(columns.sex))
            .ok_or_else(|| bad("SEX", field(columns.sex), "ALL, MALE or FEMALE"))?;
        let (age_col, age_name) = columns.age;
        let age = match (layout, Age::parse(field(age_col))) {
            (Layout::QuinaryAge, Some(age)) | (Layout::PracticeTotals, Some(age @ Age::All)) => age,
            (Layout::QuinaryAge, _) => {
                return Err(bad(
                    age_name,
                    field(age_col),
                    "ALL or a band 0_4 … 90_94, 95+",
                ));
            }
            (Layout::PracticeTotals, _) => return Err(bad(age_name, field(age_col), "ALL")),
        };
        let count_text = field(columns.count);
        let count = count_text.parse::<u32>().map_err(|_| {
            bad(
                "NUMBER_OF_PATIENTS",
                count_text,
                "a whole number of patients",
            )
        })?;

        let org = &mut entries[org_index].1;
        if org.ons_code.is_none() {
            org.ons_code = columns.ons_code.and_then(|i| code(field(i)));
        }
        if org.postcode.is_none() {
            org.postcode = postcode(field(columns.postcode));
        }
        let counts = match sex {
            Sex::All => &mut org.all,
            Sex::Male => &mut org.male,
            Sex::Female => &mut org.female,
        };
        let slot = match age {
            Age::All => &mut counts.total,
            Age::Band(band) => &mut counts.bands[band],
        };
        if slot.is_some() {
            return Err(bad(
                "NUMBER_OF_PATIENTS",
                count_text,
                "one row per organisation, sex and age (this one repeats an earlier row)",
            ));
        }
        *slot = Some(count);
        Ok(())
    })?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries
        .into_iter()
        .map(|((extract_date, org_type, org_code), counts)| {
            counts.into_population(extract_date, org_type, org_code)
        })
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sex {
    All,
    Male,
    Female,
}

impl Sex {
    fn parse(value: &str) -> Option<Sex> {
        [
            ("ALL", Sex::All),
            ("MALE", Sex::Male),
            ("FEMALE", Sex::Female),
        ]
        .into_iter()
        .find(|(label, _)| label.eq_ignore_ascii_case(value))
        .map(|(_, sex)| sex)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Age {
    All,
    /// An index into `AGE_BANDS`.
    Band(usize),
}

impl Age {
    fn parse(value: &str) -> Option<Age> {
        // A band as published, `<from>_<to>`, is found from its first year without a search.
        if let Some((from, _)) = value.split_once('_')
            && let Ok(from) = from.parse::<usize>()
            && AGE_BANDS.get(from / 5) == Some(&value)
        {
            return Some(Age::Band(from / 5));
        }
        if value.eq_ignore_ascii_case("ALL") {
            return Some(Age::All);
        }
        if value == "95+" {
            return Some(Age::Band(AGE_BANDS.len() - 1));
        }
        AGE_BANDS
            .iter()
            .position(|band| band.eq_ignore_ascii_case(value))
            .map(Age::Band)
    }
}

/// Counts as published, in 32 bits: an organisation's counts take half a kilobyte, not one.
#[derive(Debug, Default)]
struct Counts {
    total: Option<u32>,
    bands: [Option<u32>; 20],
}

impl Counts {
    fn total(&self) -> Option<i64> {
        self.total.map(i64::from)
    }

    fn band(&self, band: usize) -> Option<i64> {
        self.bands[band].map(i64::from)
    }

    fn total_or_band_sum(&self) -> Option<i64> {
        self.total()
            .or_else(|| sum(self.bands.iter().map(|band| band.map(i64::from))))
    }
}

#[derive(Debug, Default)]
struct OrgCounts {
    ons_code: Option<String>,
    postcode: Option<String>,
    all: Counts,
    male: Counts,
    female: Counts,
}

impl OrgCounts {
    fn into_population(
        self,
        extract_date: NaiveDate,
        org_type: OrgType,
        org_code: String,
    ) -> OrgPopulation {
        let male = self.male.total_or_band_sum();
        let female = self.female.total_or_band_sum();
        let bands: [Option<i64>; 20] = std::array::from_fn(|i| {
            self.all
                .band(i)
                .or_else(|| sum([self.male.band(i), self.female.band(i)]))
        });
        let total = self
            .all
            .total()
            .or_else(|| sum([male, female]))
            .or_else(|| sum(bands));
        OrgPopulation {
            extract_date,
            org_type,
            org_code,
            ons_code: self.ons_code,
            postcode: self.postcode,
            total,
            male,
            female,
            bands,
        }
    }
}

/// The sum of the values present, `None` when there are none.
fn sum(values: impl IntoIterator<Item = Option<i64>>) -> Option<i64> {
    values.into_iter().flatten().reduce(|a, b| a + b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationFile {
    Map,
    QuinaryAge,
    PracticeTotals,
}

/// Recognises a registration file by its header, or failing that by its published name (so a
/// known file whose header changed is read, and fails with the missing columns).
pub fn detect_registration_file(src: &SourceFile) -> Result<RegistrationFile, ImportError> {
    if !src.is_xlsx() {
        let (header, _) = src.csv_with_header()?;
        let has = |names: &[&str]| header.find(names).is_some();
        if has(&["ORG_TYPE"]) && has(&["AGE_GROUP_5"]) {
            return Ok(RegistrationFile::QuinaryAge);
        }
        if has(&["PRACTICE_CODE"]) && has(&["SUB_ICB_LOCATION_CODE", "CCG_CODE"]) && !has(&["SEX"])
        {
            return Ok(RegistrationFile::Map);
        }
        if has(&["TYPE"]) && has(&["CODE"]) && has(&["SEX"]) && has(&["AGE"]) {
            return Ok(RegistrationFile::PracticeTotals);
        }
    }
    let name = src.base_name_lower();
    let by_name = [
        ("gp-reg-pat-prac-map", RegistrationFile::Map),
        ("gp-reg-pat-prac-quin-age", RegistrationFile::QuinaryAge),
        ("gp-reg-pat-prac-all", RegistrationFile::PracticeTotals),
    ];
    by_name
        .iter()
        .find(|(prefix, _)| {
            name.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(['.', '-', '_']))
        })
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            ImportError::unrecognised(
                &src.to_string(),
                "neither its header nor its name matches a known registration file",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> SourceFile {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/registrations")
            .join(name);
        let mut sources = source::open_sources(&path).unwrap();
        assert_eq!(sources.len(), 1);
        sources.remove(0)
    }

    fn temp_source(name: &str, contents: &str) -> (tempfile::TempDir, SourceFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let source = source::open_sources(&path).unwrap().remove(0);
        (dir, source)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn map(src: &SourceFile) -> Vec<PracticeMapping> {
        read_practice_map(src)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    /// Band counts the fixture generator writes for multiplier `m`.
    fn bands(per_band: impl Fn(i64) -> i64) -> [Option<i64>; 20] {
        std::array::from_fn(|i| Some(per_band(i as i64)))
    }

    const QUIN_HEADER: &str = "PUBLICATION,EXTRACT_DATE,ORG_TYPE,ORG_CODE,ONS_CODE,POSTCODE,SEX,AGE_GROUP_5,NUMBER_OF_PATIENTS\n";

    #[test]
    fn current_map_reads_every_field() {
        let rows = map(&fixture("gp-reg-pat-prac-map.csv"));
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            PracticeMapping {
                extract_date: date(2024, 4, 1),
                practice_code: "A81001".into(),
                practice_name: "THE DENSHAM SURGERY".into(),
                practice_postcode: Some("TS18 1HU".into()),
                pcn_code: Some("U12345".into()),
                pcn_name: Some("ALPHA PCN".into()),
                sub_icb_code: "16C".into(),
                sub_icb_ons_code: Some("E38000247".into()),
                sub_icb_name: "NHS North East and North Cumbria ICB - 16C".into(),
                icb_code: "QHM".into(),
                icb_ons_code: Some("E54000050".into()),
                icb_name: "NHS North East and North Cumbria Integrated Care Board".into(),
                region_code: "Y63".into(),
                region_ons_code: Some("E40000012".into()),
                region_name: "North East and Yorkshire".into(),
                supplier: Some("EMIS".into()),
            }
        );
    }

    #[test]
    fn map_unallocated_pcn_and_blank_values() {
        let rows = map(&fixture("gp-reg-pat-prac-map.csv"));
        let unallocated = &rows[1];
        assert_eq!(unallocated.practice_name, "DRS SMITH, JONES & PARTNERS");
        assert_eq!(
            (
                unallocated.pcn_code.as_deref(),
                unallocated.pcn_name.as_deref()
            ),
            (None, None)
        );
        assert_eq!(unallocated.supplier.as_deref(), Some("TPP"));

        let sparse = &rows[2];
        assert_eq!(sparse.practice_code, "A81006");
        assert_eq!(sparse.practice_postcode, None);
        assert_eq!(sparse.sub_icb_ons_code, None);
        assert_eq!(sparse.supplier, None);
        assert_eq!(sparse.pcn_code.as_deref(), Some("U23456"));
    }

    #[test]
    fn pre_july_2022_map_uses_ccg_and_stp_columns() {
        let rows = map(&fixture("gp-reg-pat-prac-map-jan-22.csv"));
        assert_eq!(rows.len(), 2);
        let first = &rows[0];
        assert_eq!(first.extract_date, date(2022, 1, 1));
        assert_eq!(
            (first.sub_icb_code.as_str(), first.sub_icb_name.as_str()),
            ("16C", "NHS TEES VALLEY CCG")
        );
        assert_eq!(first.sub_icb_ons_code.as_deref(), Some("E38000247"));
        assert_eq!(
            (first.icb_code.as_str(), first.icb_name.as_str()),
            ("QHM", "North East and North Cumbria")
        );
        assert_eq!(first.region_ons_code.as_deref(), Some("E40000009"));
        assert_eq!(first.supplier, None);
        assert_eq!(rows[1].pcn_code, None);
    }

    #[test]
    fn map_u_code_or_unallocated_name_means_no_pcn() {
        let header = "EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,PRACTICE_POSTCODE,PCN_CODE,PCN_NAME,\
             CCG_CODE,ONS_CCG_CODE,CCG_NAME,STP_CODE,ONS_STP_CODE,STP_NAME,COMM_REGION_CODE,\
             ONS_COMM_REGION_CODE,COMM_REGION_NAME\n";
        let rows = [
            "u,",
            "U,Some name",
            ",Unallocated",
            ",",
            "U77777,unallocated",
            "U77777,",
        ]
        .map(|pcn| format!("01Jan2022,A1,P,,{pcn},16C,,S,QHM,,I,Y63,,R\n"));
        let (_dir, src) = temp_source("map.csv", &(header.to_owned() + &rows.concat()));
        let pcns: Vec<(Option<String>, Option<String>)> = map(&src)
            .into_iter()
            .map(|m| (m.pcn_code, m.pcn_name))
            .collect();
        assert_eq!(
            pcns,
            vec![(None, None); 5]
                .into_iter()
                .chain([(Some("U77777".into()), None)])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn map_columns_are_found_by_name_in_any_order() {
        let (_dir, src) = temp_source(
            "gp-reg-pat-prac-map_v2.csv",
            "COMM_REGION_NAME,COMM_REGION_CODE,ONS_COMM_REGION_CODE,STP_NAME,STP_CODE,ONS_STP_CODE,\
             CCG_NAME,CCG_CODE,ONS_CCG_CODE,PCN_NAME,PCN_CODE,PRACTICE_POSTCODE,PRACTICE_NAME,\
             PRACTICE_CODE,EXTRACT_DATE,PUBLICATION\n\
             LONDON,Y56,E40000003,NORTH LONDON,QMJ,E54000028,NHS CAMDEN CCG,07R,E38000027,\
             CAMDEN PCN,U99999,NW1 1AA,CAMDEN SURGERY,F83001,01-Apr-20,GP_PRAC_PAT_LIST\n",
        );
        let row = map(&src).remove(0);
        assert_eq!(row.practice_code, "F83001");
        assert_eq!(row.extract_date, date(2020, 4, 1));
        assert_eq!(row.pcn_code.as_deref(), Some("U99999"));
        assert_eq!(row.sub_icb_code, "07R");
        assert_eq!(row.icb_ons_code.as_deref(), Some("E54000028"));
        assert_eq!(row.region_name, "LONDON");
    }

    #[test]
    fn map_missing_columns_are_listed_together() {
        let err = read_practice_map(&fixture("gp-reg-pat-prac-map-missing-columns.csv"))
            .err()
            .unwrap();
        match err {
            ImportError::MissingColumns { file, missing } => {
                assert_eq!(file, "gp-reg-pat-prac-map-missing-columns.csv");
                assert_eq!(missing, ["ICB_NAME or STP_NAME", "COMM_REGION_CODE"]);
            }
            other => panic!("expected MissingColumns, got {other:?}"),
        }
    }

    #[test]
    fn map_bad_rows_are_bad_values_with_lines() {
        let header = "EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,PRACTICE_POSTCODE,PCN_CODE,PCN_NAME,\
             SUB_ICB_LOCATION_CODE,ONS_SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_NAME,ICB_CODE,\
             ONS_ICB_CODE,ICB_NAME,COMM_REGION_CODE,ONS_COMM_REGION_CODE,COMM_REGION_NAME\n";
        let good = "01APR2024,A1,P,,U1,N,16C,,S,QHM,,I,Y63,,R\n";
        let contents = format!(
            "{header}{good}\
             APRIL 2024,A1,P,,U1,N,16C,,S,QHM,,I,Y63,,R\n\
             01APR2024,A1,P,,U1,N,,,S,QHM,,I,Y63,,R\n\
             01APR2024,A1,P\n"
        );
        let (_dir, src) = temp_source("gp-reg-pat-prac-map.csv", &contents);
        let results: Vec<_> = read_practice_map(&src).unwrap().collect();
        assert!(results[0].is_ok());
        let describe = |r: &Result<PracticeMapping, ImportError>| match r {
            Err(ImportError::BadValue { line, column, .. }) => (*line, column.clone()),
            other => panic!("expected BadValue, got {other:?}"),
        };
        assert_eq!(describe(&results[1]), (3, "EXTRACT_DATE".into()));
        assert_eq!(describe(&results[2]), (4, "SUB_ICB_LOCATION_CODE".into()));
        assert_eq!(describe(&results[3]), (5, "(number of fields)".into()));
    }

    #[test]
    fn quinary_age_aggregates_every_org_type_in_order() {
        let pops = read_quinary_age(&fixture("gp-reg-pat-prac-quin-age.csv")).unwrap();
        let keys: Vec<(OrgType, &str)> = pops
            .iter()
            .map(|p| (p.org_type, p.org_code.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                (OrgType::Practice, "A81001"),
                (OrgType::Practice, "A81002"),
                (OrgType::Pcn, "U12345"),
                (OrgType::SubIcb, "16C"),
                (OrgType::Icb, "QHM"),
                (OrgType::Region, "Y63"),
            ]
        );
        for p in &pops {
            let m = match p.org_code.as_str() {
                "A81001" => 1,
                "A81002" => 2,
                "U12345" => 3,
                "16C" => 10,
                "QHM" => 40,
                _ => 100,
            };
            assert_eq!(p.extract_date, date(2024, 4, 1));
            assert_eq!(
                (p.total, p.male, p.female),
                (Some(980 * m), Some(390 * m), Some(590 * m))
            );
            assert_eq!(p.bands, bands(|i| m * (30 + 2 * i)), "{}", p.org_code);
        }
    }

    #[test]
    fn quinary_age_keeps_codes_and_postcodes() {
        let pops = read_quinary_age(&fixture("gp-reg-pat-prac-quin-age.csv")).unwrap();
        assert_eq!(pops[0].postcode.as_deref(), Some("TS18 1HU"));
        assert_eq!(pops[0].ons_code, None);
        assert_eq!(pops[3].ons_code.as_deref(), Some("E38000247"));
        assert_eq!(pops[3].postcode, None);
        assert_eq!(pops[5].ons_code.as_deref(), Some("E40000012"));
        assert_eq!(pops[0].bands[19], Some(68));
        assert_eq!(pops[0].bands[0], Some(30));
    }

    #[test]
    fn pre_2022_quinary_age_labels_and_male_female_fallback() {
        let pops = read_quinary_age(&fixture("gp-reg-pat-prac-quin-age-apr-17.csv")).unwrap();
        let keys: Vec<(NaiveDate, OrgType, &str)> = pops
            .iter()
            .map(|p| (p.extract_date, p.org_type, p.org_code.as_str()))
            .collect();
        let d = date(2017, 4, 1);
        assert_eq!(
            keys,
            [
                (d, OrgType::Practice, "A81001"),
                (d, OrgType::SubIcb, "00K"),
                (d, OrgType::Icb, "E54000005"),
                (d, OrgType::Region, "Y54"),
            ]
        );
        // The practice has only MALE and FEMALE rows: persons are their sums.
        let practice = &pops[0];
        assert_eq!(
            (practice.total, practice.male, practice.female),
            (Some(980), Some(390), Some(590))
        );
        assert_eq!(practice.bands, bands(|i| 30 + 2 * i));
        assert_eq!(pops[1].total, Some(4900));
    }

    #[test]
    fn zipped_quinary_age_skips_the_pdf() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registrations");
        let sources = source::open_sources(&dir.join("gp-reg-pat-prac-quin-age.zip")).unwrap();
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].name(), "gp-reg-pat-prac-quin-age.csv");
        assert_eq!(
            detect_registration_file(&sources[0]).unwrap(),
            RegistrationFile::QuinaryAge
        );
        let zipped = read_quinary_age(&sources[0]).unwrap();
        let bare = read_quinary_age(&fixture("gp-reg-pat-prac-quin-age.csv")).unwrap();
        assert_eq!(zipped, bare);
    }

    #[test]
    fn partial_rows_sum_what_is_present() {
        let (_dir, src) = temp_source(
            "gp-reg-pat-prac-quin-age.csv",
            &format!(
                "{QUIN_HEADER}\
                 GP_PRAC_PAT_LIST,01APR2024,GP,A1,,,MALE,0_4,5\n\
                 GP_PRAC_PAT_LIST,01APR2024,GP,A1,,,MALE,95+,1\n\
                 GP_PRAC_PAT_LIST,01APR2024,GP,A1,,,FEMALE,0_4,7\n\
                 GP_PRAC_PAT_LIST,01APR2024,GP,A1,,,ALL,5_9,4\n"
            ),
        );
        let p = read_quinary_age(&src).unwrap().remove(0);
        assert_eq!((p.male, p.female), (Some(6), Some(7)));
        assert_eq!(p.total, Some(13));
        assert_eq!(&p.bands[..3], [Some(12), Some(4), None]);
        assert_eq!(p.bands[19], Some(1));
    }

    #[test]
    fn unknown_labels_and_counts_are_bad_values() {
        let cases = [
            ("PRISON", "MALE", "0_4", "5", "ORG_TYPE", "PRISON"),
            ("GP", "UNKNOWN", "0_4", "5", "SEX", "UNKNOWN"),
            ("GP", "MALE", "0_5", "5", "AGE_GROUP_5", "0_5"),
            ("GP", "MALE", "100+", "5", "AGE_GROUP_5", "100+"),
            ("GP", "MALE", "0_4", "5.5", "NUMBER_OF_PATIENTS", "5.5"),
            ("GP", "MALE", "0_4", "-3", "NUMBER_OF_PATIENTS", "-3"),
            ("GP", "MALE", "0_4", "", "NUMBER_OF_PATIENTS", ""),
        ];
        for (org_type, sex, age, count, want_column, want_value) in cases {
            let (_dir, src) = temp_source(
                "gp-reg-pat-prac-quin-age.csv",
                &format!(
                    "{QUIN_HEADER}GP_PRAC_PAT_LIST,01APR2024,GP,A1,,,ALL,ALL,9\n\
                     GP_PRAC_PAT_LIST,01APR2024,{org_type},A1,,,{sex},{age},{count}\n"
                ),
            );
            match read_quinary_age(&src).unwrap_err() {
                ImportError::BadValue {
                    line,
                    column,
                    value,
                    ..
                } => assert_eq!(
                    (line, column.as_str(), value.as_str()),
                    (3, want_column, want_value)
                ),
                other => panic!("expected BadValue, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_repeated_row_is_an_error_not_a_double_count() {
        let (_dir, src) = temp_source(
            "gp-reg-pat-prac-quin-age.csv",
            &format!(
                "{QUIN_HEADER}GP_PRAC_PAT_LIST,01APR2024,GP,A1,,,ALL,ALL,9\n\
                 GP_PRAC_PAT_LIST,01APR2024,GP,a1,,,all,all,9\n"
            ),
        );
        assert!(matches!(
            read_quinary_age(&src).unwrap_err(),
            ImportError::BadValue { line: 3, .. }
        ));
    }

    #[test]
    fn org_type_labels() {
        let cases = [
            ("GP", OrgType::Practice),
            ("pcn", OrgType::Pcn),
            ("SUB_ICB_LOCATION_CODE", OrgType::SubIcb),
            ("SUB_ICB_LOCATION", OrgType::SubIcb),
            ("CCG", OrgType::SubIcb),
            ("ICB", OrgType::Icb),
            ("STP", OrgType::Icb),
            ("Comm Region", OrgType::Region),
            ("COMM_REGION", OrgType::Region),
        ];
        for (label, want) in cases {
            assert_eq!(OrgType::parse(label), Some(want), "{label}");
        }
        assert_eq!(OrgType::parse("REGION"), None);
        let names: Vec<&str> = [
            OrgType::Practice,
            OrgType::Pcn,
            OrgType::SubIcb,
            OrgType::Icb,
            OrgType::Region,
        ]
        .iter()
        .map(OrgType::as_str)
        .collect();
        assert_eq!(names, ["practice", "pcn", "sub_icb", "icb", "region"]);
    }

    #[test]
    fn age_bands_parse_to_their_index() {
        assert_eq!(Age::parse("0_4"), Some(Age::Band(0)));
        assert_eq!(Age::parse("90_94"), Some(Age::Band(18)));
        assert_eq!(Age::parse("95+"), Some(Age::Band(19)));
        assert_eq!(Age::parse("95_PLUS"), Some(Age::Band(19)));
        assert_eq!(Age::parse("All"), Some(Age::All));
        assert_eq!(Age::parse("95"), None);
        assert_eq!(AGE_BANDS[10], "50_54");
        for (i, band) in AGE_BANDS.iter().enumerate() {
            assert_eq!(Age::parse(band), Some(Age::Band(i)), "{band}");
        }
        for wrong in ["05_9", "1_4", "5_4", "100_104", "_4", "0_", "0_4 "] {
            assert_eq!(Age::parse(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn sexes_parse_in_any_case() {
        assert_eq!(Sex::parse("ALL"), Some(Sex::All));
        assert_eq!(Sex::parse("Male"), Some(Sex::Male));
        assert_eq!(Sex::parse("female"), Some(Sex::Female));
        assert_eq!(Sex::parse("F"), None);
        assert_eq!(Sex::parse(""), None);
    }

    #[test]
    fn practice_totals_current_and_pre_2022() {
        let pops = read_practice_totals(&fixture("gp-reg-pat-prac-all.csv")).unwrap();
        let summary: Vec<_> = pops
            .iter()
            .map(|p| {
                (
                    p.org_code.as_str(),
                    p.postcode.as_deref(),
                    p.total,
                    p.male,
                    p.female,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("A81001", Some("TS18 1HU"), Some(980), None, None),
                ("A81002", Some("TS3 7EX"), Some(850), Some(400), Some(450)),
                ("A81004", Some("TS1 2AB"), Some(220), Some(100), Some(120)),
            ]
        );
        assert!(pops.iter().all(|p| p.bands == [None; 20]
            && p.org_type == OrgType::Practice
            && p.ons_code.is_none()
            && p.extract_date == date(2024, 4, 1)));

        let old = read_practice_totals(&fixture("gp-reg-pat-prac-all-jan-22.csv")).unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!(
            (old[0].extract_date, old[0].total),
            (date(2022, 1, 1), Some(975))
        );
    }

    #[test]
    fn practice_totals_reject_age_breakdowns() {
        let (_dir, src) = temp_source(
            "gp-reg-pat-prac-all.csv",
            "PUBLICATION,EXTRACT_DATE,TYPE,SUB_ICB_LOCATION_CODE,ONS_SUB_ICB_LOCATION_CODE,CODE,POSTCODE,SEX,AGE,NUMBER_OF_PATIENTS\n\
             GP_PRAC_PAT_LIST,01APR2024,GP,16C,E38000247,A81001,TS18 1HU,ALL,0_4,10\n",
        );
        assert!(matches!(
            read_practice_totals(&src).unwrap_err(),
            ImportError::BadValue { line: 2, column, value, .. } if column == "AGE" && value == "0_4"
        ));
    }

    #[test]
    fn detects_each_file_by_header() {
        let cases = [
            ("gp-reg-pat-prac-map.csv", RegistrationFile::Map),
            ("gp-reg-pat-prac-map-jan-22.csv", RegistrationFile::Map),
            ("gp-reg-pat-prac-quin-age.csv", RegistrationFile::QuinaryAge),
            (
                "gp-reg-pat-prac-quin-age-apr-17.csv",
                RegistrationFile::QuinaryAge,
            ),
            ("gp-reg-pat-prac-all.csv", RegistrationFile::PracticeTotals),
            (
                "gp-reg-pat-prac-all-jan-22.csv",
                RegistrationFile::PracticeTotals,
            ),
        ];
        for (name, want) in cases {
            assert_eq!(
                detect_registration_file(&fixture(name)).unwrap(),
                want,
                "{name}"
            );
        }
        let (_dir, renamed) = temp_source(
            "download (3).csv",
            "PUBLICATION,EXTRACT_DATE,TYPE,CCG_CODE,ONS_CCG_CODE,CODE,POSTCODE,SEX,AGE,NUMBER_OF_PATIENTS\n",
        );
        assert_eq!(
            detect_registration_file(&renamed).unwrap(),
            RegistrationFile::PracticeTotals
        );
    }

    #[test]
    fn detection_falls_back_to_the_name_then_gives_up() {
        let (_dir, src) = temp_source("gp-reg-pat-prac-map-jan-18.csv", "SOMETHING,ELSE\n");
        assert_eq!(
            detect_registration_file(&src).unwrap(),
            RegistrationFile::Map
        );
        assert!(matches!(
            read_practice_map(&src).err().unwrap(),
            ImportError::MissingColumns { missing, .. } if missing.len() == 15
        ));

        let (_dir, src) = temp_source(
            "gp-reg-pat-prac-sing-age-all.csv",
            "ORG_TYPE,ORG_CODE,SEX,AGE\n",
        );
        match detect_registration_file(&src).unwrap_err() {
            ImportError::Unrecognised { file, .. } => {
                assert_eq!(file, "gp-reg-pat-prac-sing-age-all.csv");
            }
            other => panic!("expected Unrecognised, got {other:?}"),
        }

        let (_dir, src) = temp_source("gp-reg-pat-prac-map.csv", "");
        assert!(matches!(
            detect_registration_file(&src).unwrap_err(),
            ImportError::Empty { .. }
        ));
    }
}
