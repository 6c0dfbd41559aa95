//! Reading the QOF raw-data CSVs. Every file is read by header name, so the extra leading
//! columns some releases add to the achievement files, and the two indicator-mapping layouts,
//! need no special cases. The year comes from the file name's `<yyyy>` suffix.

use std::collections::BTreeMap;

use crate::source::error::ImportError;
use crate::source::financial_year::FinancialYear;
use crate::source::values::{present, scaled};
use crate::source::{SourceFile, code, for_each_record, text};

/// The commissioning regions the achievement data is split by, as named in the files.
pub const REGIONS: [&str; 7] = [
    "EAST_OF_ENGLAND",
    "LONDON",
    "MIDLANDS",
    "NORTH_EAST_AND_YORKSHIRE",
    "NORTH_WEST",
    "SOUTH_EAST",
    "SOUTH_WEST",
];

/// Which QOF file a source is, from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QofFile {
    Achievement {
        region: String,
    },
    Prevalence,
    MappingIndicators,
    MappingGeographies,
    OrganisationReference,
    /// Published alongside the data but not served (`PRACTICE_VALIDATION_OUTCOMES`).
    Ignored,
}

/// The file's kind and normalised year, from names like `ACHIEVEMENT_LONDON_2324.csv`.
pub fn identify(file: &SourceFile) -> Result<(QofFile, String), ImportError> {
    let name = file.base_name_lower().to_ascii_uppercase();
    let stem = name
        .strip_suffix(".CSV")
        .ok_or_else(|| ImportError::unrecognised(&file.to_string(), "expected a QOF CSV file"))?;
    let (kind, year) = stem.rsplit_once('_').ok_or_else(|| {
        ImportError::unrecognised(&file.to_string(), "the name does not end in a year (_2324)")
    })?;
    let year = FinancialYear::parse_published(year)
        .map(|y| y.to_string())
        .ok_or_else(|| {
            ImportError::unrecognised(
                &file.to_string(),
                format!("{year:?} is not a QOF year (2324, 2023-24)"),
            )
        })?;
    let kind = match kind {
        "PREVALENCE" => QofFile::Prevalence,
        "MAPPING_INDICATORS" => QofFile::MappingIndicators,
        "MAPPING_NHS_GEOGRAPHIES" => QofFile::MappingGeographies,
        "ORGANISATION_REFERENCE" => QofFile::OrganisationReference,
        "PRACTICE_VALIDATION_OUTCOMES" => QofFile::Ignored,
        other => match other.strip_prefix("ACHIEVEMENT_") {
            Some(region) if REGIONS.contains(&region) => QofFile::Achievement {
                region: region.to_owned(),
            },
            _ => {
                return Err(ImportError::unrecognised(
                    &file.to_string(),
                    "not a QOF achievement, prevalence, mapping or organisation file",
                ));
            }
        },
    };
    Ok((kind, year))
}

/// One practice's results for one indicator; points scaled by 100.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Achievement {
    pub achieved_points: Option<i64>,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub pcas: Option<i64>,
    pub register: Option<i64>,
}

impl Achievement {
    /// numerator / denominator as a percentage; none without a positive denominator.
    pub fn percent(&self) -> Option<f64> {
        match (self.numerator, self.denominator) {
            (Some(n), Some(d)) if d > 0 => Some(n as f64 * 100.0 / d as f64),
            _ => None,
        }
    }
}

fn count(file: &str, line: u64, column: &str, value: &str) -> Result<Option<i64>, ImportError> {
    let Some(value) = present(value) else {
        return Ok(None);
    };
    // Counts are sometimes written as `12.0`.
    scaled(value, 3)
        .filter(|v| v % 1000 == 0)
        .map(|v| Some(v / 1000))
        .ok_or_else(|| ImportError::bad_value(file, line, column, value, "a count"))
}

fn points(file: &str, line: u64, column: &str, value: &str) -> Result<Option<i64>, ImportError> {
    let Some(value) = present(value) else {
        return Ok(None);
    };
    scaled(value, 2)
        .map(Some)
        .ok_or_else(|| ImportError::bad_value(file, line, column, value, "points"))
}

/// Reads a regional achievement file (long: one row per practice, indicator and measure) into
/// one value per practice and indicator. Blank values stay missing.
pub fn read_achievement(
    file: &SourceFile,
) -> Result<BTreeMap<(String, String), Achievement>, ImportError> {
    let (header, mut reader) = file.csv_with_header()?;
    let name = header.file().to_owned();
    let [practice_at, indicator_at, measure_at, value_at] = header.require([
        &["PRACTICE_CODE"],
        &["INDICATOR_CODE"],
        &["MEASURE"],
        &["VALUE"],
    ])?;
    let mut rows: BTreeMap<(String, String), Achievement> = BTreeMap::new();
    for_each_record(&mut reader, &name, |record, line| {
        let cell = |i: usize| record.get(i).unwrap_or("");
        let practice = code(cell(practice_at)).ok_or_else(|| {
            ImportError::bad_value(&name, line, "PRACTICE_CODE", "", "a practice code")
        })?;
        let indicator = code(cell(indicator_at)).ok_or_else(|| {
            ImportError::bad_value(&name, line, "INDICATOR_CODE", "", "an indicator code")
        })?;
        let measure = cell(measure_at).to_ascii_uppercase();
        let value = cell(value_at);
        let row = rows.entry((practice, indicator)).or_default();
        let (slot, parsed) = match measure.as_str() {
            "ACHIEVED_POINTS" => (
                &mut row.achieved_points,
                points(&name, line, "VALUE", value)?,
            ),
            "NUMERATOR" => (&mut row.numerator, count(&name, line, "VALUE", value)?),
            "DENOMINATOR" => (&mut row.denominator, count(&name, line, "VALUE", value)?),
            "PCAS" => (&mut row.pcas, count(&name, line, "VALUE", value)?),
            "REGISTER" => (&mut row.register, count(&name, line, "VALUE", value)?),
            _ => {
                return Err(ImportError::bad_value(
                    &name,
                    line,
                    "MEASURE",
                    cell(measure_at),
                    "ACHIEVED_POINTS, NUMERATOR, DENOMINATOR, PCAS or REGISTER",
                ));
            }
        };
        *slot = parsed;
        Ok(())
    })?;
    Ok(rows)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prevalence {
    pub practice_code: String,
    pub group_code: String,
    pub patient_list_type: Option<String>,
    pub register: Option<i64>,
    pub list_size: Option<i64>,
}

impl Prevalence {
    pub fn percent(&self) -> Option<f64> {
        match (self.register, self.list_size) {
            (Some(r), Some(l)) if l > 0 => Some(r as f64 * 100.0 / l as f64),
            _ => None,
        }
    }
}

pub fn read_prevalence(file: &SourceFile) -> Result<Vec<Prevalence>, ImportError> {
    let (header, mut reader) = file.csv_with_header()?;
    let name = header.file().to_owned();
    let [
        practice_at,
        group_at,
        register_at,
        list_type_at,
        list_size_at,
    ] = header.require([
        &["PRACTICE_CODE"],
        &["GROUP_CODE", "INDICATOR_GROUP_CODE"],
        &["REGISTER"],
        &["PATIENT_LIST_TYPE"],
        &["PRACTICE_LIST_SIZE"],
    ])?;
    let mut rows = Vec::new();
    for_each_record(&mut reader, &name, |record, line| {
        let cell = |i: usize| record.get(i).unwrap_or("");
        rows.push(Prevalence {
            practice_code: code(cell(practice_at)).ok_or_else(|| {
                ImportError::bad_value(&name, line, "PRACTICE_CODE", "", "a practice code")
            })?,
            group_code: code(cell(group_at)).ok_or_else(|| {
                ImportError::bad_value(&name, line, "GROUP_CODE", "", "a group code")
            })?,
            patient_list_type: code(cell(list_type_at)),
            register: count(&name, line, "REGISTER", cell(register_at))?,
            list_size: count(&name, line, "PRACTICE_LIST_SIZE", cell(list_size_at))?,
        });
        Ok(())
    })?;
    Ok(rows)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub indicator_code: String,
    pub description: Option<String>,
    pub points: Option<i64>,
    pub group_code: Option<String>,
    pub group_description: Option<String>,
    pub domain_code: Option<String>,
    pub domain_description: Option<String>,
    pub patient_list_type: Option<String>,
}

/// Reads either mapping layout: the published one (`GROUP_CODE`, with `INDICATOR_DESCRIPTION`)
/// or the older input one (`INDICATOR_GROUP_CODE`, no description).
pub fn read_indicators(file: &SourceFile) -> Result<Vec<Indicator>, ImportError> {
    let (header, mut reader) = file.csv_with_header()?;
    let name = header.file().to_owned();
    let [
        code_at,
        points_at,
        group_at,
        group_desc_at,
        domain_at,
        domain_desc_at,
        list_type_at,
    ] = header.require([
        &["INDICATOR_CODE"],
        &["INDICATOR_POINT_VALUE"],
        &["GROUP_CODE", "INDICATOR_GROUP_CODE"],
        &["GROUP_DESCRIPTION", "INDICATOR_GROUP_DESCRIPTION"],
        &["DOMAIN_CODE"],
        &["DOMAIN_DESCRIPTION"],
        &["PATIENT_LIST_TYPE"],
    ])?;
    let description_at = header.find(&["INDICATOR_DESCRIPTION"]);
    let mut rows = Vec::new();
    for_each_record(&mut reader, &name, |record, line| {
        let cell = |i: usize| record.get(i).unwrap_or("");
        rows.push(Indicator {
            indicator_code: code(cell(code_at)).ok_or_else(|| {
                ImportError::bad_value(&name, line, "INDICATOR_CODE", "", "an indicator code")
            })?,
            description: description_at.and_then(|i| text(cell(i))),
            points: points(&name, line, "INDICATOR_POINT_VALUE", cell(points_at))?,
            group_code: code(cell(group_at)),
            group_description: text(cell(group_desc_at)),
            domain_code: code(cell(domain_at)),
            domain_description: text(cell(domain_desc_at)),
            patient_list_type: code(cell(list_type_at)),
        });
        Ok(())
    })?;
    Ok(rows)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeGeography {
    pub practice_code: String,
    pub practice_name: Option<String>,
    pub pcn_code: Option<String>,
    pub sub_icb_code: Option<String>,
    pub icb_code: Option<String>,
    pub region_code: Option<String>,
}

/// `MAPPING_NHS_GEOGRAPHIES`: the "CCG" and "STP" columns hold sub-ICB and ICB codes since 2022.
pub fn read_geographies(file: &SourceFile) -> Result<Vec<PracticeGeography>, ImportError> {
    let (header, mut reader) = file.csv_with_header()?;
    let name = header.file().to_owned();
    let [practice_at, name_at, pcn_at, sub_icb_at, icb_at, region_at] = header.require([
        &["PRACTICE_CODE"],
        &["PRACTICE_NAME"],
        &["PCN_ODS_CODE", "PCN_CODE"],
        &["CCG_ODS_CODE", "SUB_ICB_LOC_ODS_CODE", "SUB_ICB_ODS_CODE"],
        &["STP_ODS_CODE", "ICB_ODS_CODE"],
        &["REGION_ODS_CODE"],
    ])?;
    let mut rows = Vec::new();
    for_each_record(&mut reader, &name, |record, line| {
        let cell = |i: usize| record.get(i).unwrap_or("");
        rows.push(PracticeGeography {
            practice_code: code(cell(practice_at)).ok_or_else(|| {
                ImportError::bad_value(&name, line, "PRACTICE_CODE", "", "a practice code")
            })?,
            practice_name: text(cell(name_at)),
            pcn_code: code(cell(pcn_at)),
            sub_icb_code: code(cell(sub_icb_at)),
            icb_code: code(cell(icb_at)),
            region_code: code(cell(region_at)),
        });
        Ok(())
    })?;
    Ok(rows)
}

/// `ORGANISATION_REFERENCE`: each practice's revised maximum points, scaled by 100.
pub fn read_practice_points(file: &SourceFile) -> Result<Vec<(String, Option<i64>)>, ImportError> {
    let (header, mut reader) = file.csv_with_header()?;
    let name = header.file().to_owned();
    let [practice_at, points_at] = header.require([&["PRACTICE_CODE"], &["REVISED_MAX_POINTS"]])?;
    let mut rows = Vec::new();
    for_each_record(&mut reader, &name, |record, line| {
        let cell = |i: usize| record.get(i).unwrap_or("");
        let practice = code(cell(practice_at)).ok_or_else(|| {
            ImportError::bad_value(&name, line, "PRACTICE_CODE", "", "a practice code")
        })?;
        rows.push((
            practice,
            points(&name, line, "REVISED_MAX_POINTS", cell(points_at))?,
        ));
        Ok(())
    })?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::open_sources;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> SourceFile {
        let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/qof")
            .join(name);
        open_sources(&path).unwrap().remove(0)
    }

    #[test]
    fn files_are_identified_by_name() {
        let (kind, year) = identify(&fixture("2324/ACHIEVEMENT_LONDON_2324.csv")).unwrap();
        assert_eq!(
            kind,
            QofFile::Achievement {
                region: "LONDON".into()
            }
        );
        assert_eq!(year, "2023/24");
        let (kind, _) = identify(&fixture("2324/MAPPING_INDICATORS_2324.csv")).unwrap();
        assert_eq!(kind, QofFile::MappingIndicators);
    }

    #[test]
    fn achievement_pivots_measures_and_keeps_blanks_missing() {
        let rows = read_achievement(&fixture("2324/ACHIEVEMENT_LONDON_2324.csv")).unwrap();
        let af = &rows[&("A81001".to_owned(), "AF001".to_owned())];
        assert_eq!(
            *af,
            Achievement {
                achieved_points: Some(2900),
                numerator: None,
                denominator: None,
                pcas: None,
                register: Some(210),
            }
        );
        let chol = &rows[&("A81001".to_owned(), "CHOL003".to_owned())];
        assert_eq!(chol.achieved_points, Some(1875));
        assert_eq!(chol.numerator, Some(150));
        assert_eq!(chol.denominator, Some(200));
        assert_eq!(chol.pcas, None, "blank VALUE cell");
        assert_eq!(chol.percent(), Some(75.0));
    }

    #[test]
    fn achievement_reads_by_header_with_extra_leading_columns() {
        let rows = read_achievement(&fixture("2425/ACHIEVEMENT_LONDON_2425.csv")).unwrap();
        let row = &rows[&("A81001".to_owned(), "AF001".to_owned())];
        assert_eq!(row.achieved_points, Some(2950));
        assert_eq!(row.register, Some(215));
        let zero = &rows[&("A81002".to_owned(), "CHOL003".to_owned())];
        assert_eq!(zero.denominator, Some(0));
        assert_eq!(zero.percent(), None);
    }

    #[test]
    fn both_mapping_layouts() {
        let old = read_indicators(&fixture("2324/MAPPING_INDICATORS_2324.csv")).unwrap();
        assert_eq!(old[0].indicator_code, "AF001");
        assert_eq!(old[0].description, None);
        assert_eq!(old[0].points, Some(2900));
        assert_eq!(old[0].group_code.as_deref(), Some("AF"));
        assert_eq!(
            old[0].group_description.as_deref(),
            Some("Atrial fibrillation")
        );
        let new = read_indicators(&fixture("2425/MAPPING_INDICATORS_2425.csv")).unwrap();
        let af = new.iter().find(|i| i.indicator_code == "AF001").unwrap();
        assert!(
            af.description
                .as_deref()
                .unwrap()
                .starts_with("The percentage")
        );
        assert_eq!(af.domain_code.as_deref(), Some("CL"));
        assert_eq!(af.group_code.as_deref(), Some("AF"));
    }

    #[test]
    fn a_missing_column_names_file_and_column() {
        let err = read_achievement(&fixture("broken/ACHIEVEMENT_NORTH_WEST_2324.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ACHIEVEMENT_NORTH_WEST_2324.csv"), "{err}");
        assert!(err.contains("MEASURE"), "{err}");
    }

    #[test]
    fn prevalence_percent() {
        let rows = read_prevalence(&fixture("2324/PREVALENCE_2324.csv")).unwrap();
        assert_eq!(rows[0].practice_code, "A81001");
        assert_eq!(rows[0].group_code, "AF");
        assert_eq!(rows[0].percent(), Some(2.1));
    }
}
