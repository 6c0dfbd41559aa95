//! Readers for the General Practice Workforce practice-level CSVs.
//!
//! The snapshot is not a column: it is the last day of the month named in the file name
//! (`1 General Practice – September 2023 Practice Level - Detailed.csv`) or, failing that, in
//! the zip's name (`GPWPracticeCSV.092023.zip`).
//!
//! `NA` (no data, from February 2023) and `ND` (invalid data, before) are read as missing,
//! never as 0; so are blanks, `*` and `-`.
//!
//! # Detailed (wide) file
//! One row per practice. Every `TOTAL_<GROUP>_<ROLE>_HC` / `_FTE` column pair becomes one staff
//! row; `TOTAL_<GROUP>_HC` is the group's `Total`. Patient columns (`TOTAL_PATIENTS`,
//! `TOTAL_MALE`, `MALE_PATIENTS_0TO4`, …) and FTE by age band (`TOTAL_GP_FTE_UNDER30`, …) do not
//! match that pattern and are skipped. Group tokens: `GP` → GP, `NURSES` and `N` → Nurses,
//! `DPC` → Direct Patient Care, `ADMIN` → Admin/Non-Clinical. Role tokens are named as in the
//! high-level file where `ROLES` knows them (the GP subtotals `EXTG`, `EXL` and `EXTGL` become
//! `Total excluding …`); any other role keeps its token as published (`TOTAL_GP_NEWROLE_HC`
//! gives role `NEWROLE`), so no published column is lost.
//!
//! # High-level (long) file
//! One row per practice, staff group, role and measure (`FTE` or `Headcount`); group and role
//! are kept as published.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::source::dates::{last_day_of_month, month_number};
use crate::source::error::ImportError;
use crate::source::values::{present, scaled};
use crate::source::{
    Header, SourceFile, check_field_count, code, for_each_record, is_blank, line_of, text,
};

/// Which of the two practice-level files a CSV is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Detailed,
    HighLevel,
}

impl Layout {
    /// The value of `nwrs_staff.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Detailed => "detailed",
            Layout::HighLevel => "high_level",
        }
    }
}

/// A practice and its geography, from the file's leading columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PracticeGeography {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffCount {
    pub staff_group: Arc<str>,
    pub staff_role: Arc<str>,
    pub headcount: Option<i64>,
    /// Hundredths of a full-time equivalent.
    pub fte: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeStaff {
    pub geography: PracticeGeography,
    pub staff: Vec<StaffCount>,
}

/// The snapshot named in a file name: `<Month> <YYYY>`, else a `MMYYYY` token.
pub fn snapshot_in_name(name: &str) -> Option<NaiveDate> {
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let four_digits = |w: &str| w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit());
    let first_of = |year: i32, month: u32| NaiveDate::from_ymd_opt(year, month, 1);
    let named = words.windows(2).find_map(|pair| {
        let month = month_number(pair[0])?;
        four_digits(pair[1]).then(|| first_of(pair[1].parse().ok()?, month))?
    });
    let numeric = || {
        words.iter().find_map(|w| {
            if w.len() != 6 || !w.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let month: u32 = w[..2].parse().ok()?;
            let year: i32 = w[2..].parse().ok()?;
            (2000..=2100)
                .contains(&year)
                .then(|| first_of(year, month))?
        })
    };
    named.or_else(numeric).map(last_day_of_month)
}

/// The snapshot of a file: from its own name, else from the name of the zip it came in.
pub fn snapshot_of(src: &SourceFile) -> Result<NaiveDate, ImportError> {
    let zip_name = src
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    snapshot_in_name(src.name())
        .or_else(|| snapshot_in_name(&zip_name))
        .ok_or_else(|| {
            ImportError::unrecognised(
                &src.to_string(),
                "no snapshot month in the file name (expected \"<Month> <YYYY>\", as in \
                 \"1 General Practice – September 2023 Practice Level - Detailed.csv\", or \
                 GPWPracticeCSV.MMYYYY.zip)",
            )
        })
}

fn headcount(file: &str, line: u64, column: &str, value: &str) -> Result<Option<i64>, ImportError> {
    let Some(value) = present(value) else {
        return Ok(None);
    };
    // Some releases write counts as `3.0`.
    scaled(value, 3)
        .filter(|v| v % 1000 == 0)
        .map(|v| Some(v / 1000))
        .ok_or_else(|| ImportError::bad_value(file, line, column, value, "a headcount"))
}

fn fte(file: &str, line: u64, column: &str, value: &str) -> Result<Option<i64>, ImportError> {
    let Some(value) = present(value) else {
        return Ok(None);
    };
    scaled(value, 2)
        .map(Some)
        .ok_or_else(|| ImportError::bad_value(file, line, column, value, "an FTE"))
}

/// Where the leading practice and geography columns are; only code and name are required.
struct GeographyColumns {
    practice_code: usize,
    practice_name: usize,
    optional: [Option<usize>; 8],
}

const PRACTICE_COLUMNS: [&[&str]; 2] = [&["PRAC_CODE"], &["PRAC_NAME"]];

/// Geography columns, current name first, then the names used before July 2022.
const GEOGRAPHY_COLUMNS: [&[&str]; 8] = [
    &["PCN_CODE"],
    &["PCN_NAME"],
    &["SUB_ICB_CODE", "SUB_ICB_LOCATION_CODE", "CCG_CODE"],
    &["SUB_ICB_NAME", "SUB_ICB_LOCATION_NAME", "CCG_NAME"],
    &["ICB_CODE", "STP_CODE"],
    &["ICB_NAME", "STP_NAME"],
    &["REGION_CODE", "COMM_REGION_CODE"],
    &["REGION_NAME", "COMM_REGION_NAME"],
];

impl GeographyColumns {
    fn find(
        header: &Header,
        extra_required: &[&'static [&'static str]],
    ) -> Result<(Self, Vec<usize>), ImportError> {
        let mut wanted: Vec<&[&str]> = PRACTICE_COLUMNS.to_vec();
        wanted.extend_from_slice(extra_required);
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for names in &wanted {
            match header.find(names) {
                Some(i) => found.push(i),
                None => missing.push(names.join(" or ")),
            }
        }
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns {
                file: header.file().to_owned(),
                missing,
            });
        }
        let columns = GeographyColumns {
            practice_code: found[0],
            practice_name: found[1],
            optional: GEOGRAPHY_COLUMNS.map(|names| header.find(names)),
        };
        Ok((columns, found.split_off(2)))
    }

    fn read(
        &self,
        file: &str,
        record: &csv::StringRecord,
    ) -> Result<PracticeGeography, ImportError> {
        let value = |i: Option<usize>| i.and_then(|i| text(&record[i]));
        let codes = |i: Option<usize>| i.and_then(|i| code(&record[i]));
        let practice_code = code(&record[self.practice_code]).ok_or_else(|| {
            ImportError::bad_value(
                file,
                line_of(record),
                "PRAC_CODE",
                &record[self.practice_code],
                "a practice code",
            )
        })?;
        let [
            pcn_code,
            pcn_name,
            sub_code,
            sub_name,
            icb_code,
            icb_name,
            region_code,
            region_name,
        ] = self.optional;
        let pcn = codes(pcn_code);
        let unallocated = pcn.as_deref().is_none_or(|c| c == "U");
        Ok(PracticeGeography {
            practice_code,
            practice_name: text(&record[self.practice_name]),
            pcn_code: if unallocated { None } else { pcn },
            pcn_name: if unallocated { None } else { value(pcn_name) },
            sub_icb_code: codes(sub_code),
            sub_icb_name: value(sub_name),
            icb_code: codes(icb_code),
            icb_name: value(icb_name),
            region_code: codes(region_code),
            region_name: value(region_name),
        })
    }
}

/// Opens a CSV and says which layout it has: a `STAFF_GROUP` or `MEASURE` column makes it the
/// high-level file.
pub fn detect(src: &SourceFile) -> Result<Layout, ImportError> {
    let (header, _) = src.csv_with_header()?;
    Ok(
        if header.find(&["STAFF_GROUP"]).is_some() || header.find(&["MEASURE"]).is_some() {
            Layout::HighLevel
        } else {
            Layout::Detailed
        },
    )
}

const GROUPS: [(&str, &str); 5] = [
    ("GP", "GP"),
    ("NURSES", "Nurses"),
    ("N", "Nurses"),
    ("DPC", "Direct Patient Care"),
    ("ADMIN", "Admin/Non-Clinical"),
];

/// Role tokens of the detailed file and the names the high-level file uses for them.
const ROLES: &[(&str, &str, &str)] = &[
    ("GP", "", "Total"),
    ("GP", "EXTG", "Total excluding GPs in Training Grade"),
    ("GP", "EXL", "Total excluding Locums"),
    (
        "GP",
        "EXTGL",
        "Total excluding GPs in Training Grade and Locums",
    ),
    ("GP", "PTNR_PROV", "Partner/Provider"),
    ("GP", "SEN_PTNR", "Senior Partner"),
    ("GP", "SAL_BY_PRAC", "Salaried By Practice"),
    ("GP", "SAL_BY_OTH", "Salaried By Other"),
    ("GP", "RET", "GP Retainer"),
    ("GP", "LOCUM_VAC", "Locum (Vacancy)"),
    ("GP", "LOCUM_ABS", "Locum (Absence)"),
    ("GP", "LOCUM_OTH", "Locum (Other)"),
    ("GP", "TRN_GR", "GP in Training Grade"),
    ("GP", "TRN_GR_ST1", "GP in Training Grade ST1"),
    ("GP", "TRN_GR_ST2", "GP in Training Grade ST2"),
    ("GP", "TRN_GR_ST3", "GP in Training Grade ST3"),
    ("GP", "TRN_GR_ST4", "GP in Training Grade ST4"),
    ("Nurses", "", "Total"),
    ("Nurses", "PRAC_NURSE", "Practice Nurse"),
    ("Nurses", "ADV_NURSE_PRAC", "Advanced Nurse Practitioner"),
    ("Nurses", "NURSE_SPEC", "Nurse Specialist"),
    ("Nurses", "EXT_ROLE_NURSE", "Extended Role Practice Nurse"),
    ("Nurses", "TRAINEE_NURSE", "Trainee Nurse"),
    ("Nurses", "DISTRICT_NURSE", "District Nurse"),
    ("Direct Patient Care", "", "Total"),
    ("Direct Patient Care", "PHARMA", "Pharmacist"),
    ("Direct Patient Care", "PHARMT", "Pharmacy Technician"),
    ("Direct Patient Care", "PHYSIO", "Physiotherapist"),
    ("Direct Patient Care", "PARAMED", "Paramedic"),
    (
        "Direct Patient Care",
        "PHYSICIAN_ASSOC",
        "Physician Associate",
    ),
    ("Direct Patient Care", "HCA", "Health Care Assistant"),
    ("Direct Patient Care", "PHLEB", "Phlebotomist"),
    ("Direct Patient Care", "DISPENSER", "Dispenser"),
    ("Direct Patient Care", "NURSE_ASSOC", "Nursing Associate"),
    (
        "Direct Patient Care",
        "SOC_PRESC_LINK",
        "Social Prescribing Link Worker",
    ),
    ("Direct Patient Care", "OTH", "Other Direct Patient Care"),
    ("Admin/Non-Clinical", "", "Total"),
    ("Admin/Non-Clinical", "MANAGER", "Practice Manager"),
    ("Admin/Non-Clinical", "MANAGE_PTNR", "Managing Partner"),
    ("Admin/Non-Clinical", "RECEPT", "Receptionist"),
    ("Admin/Non-Clinical", "TELEPH", "Telephonist"),
    ("Admin/Non-Clinical", "SEC_TYPIST", "Secretary/Typist"),
    ("Admin/Non-Clinical", "MED_SECRETARY", "Medical Secretary"),
    ("Admin/Non-Clinical", "ESTATES_ANC", "Estates and Ancillary"),
    ("Admin/Non-Clinical", "OTH", "Other Admin/Non-Clinical"),
];

/// `TOTAL_<GROUP>[_<ROLE>]_(HC|FTE)` → (staff group, staff role, is FTE).
fn measure_column(name: &str) -> Option<(&'static str, String, bool)> {
    let name = name.trim().to_ascii_uppercase();
    let body = name.strip_prefix("TOTAL_")?;
    let (body, is_fte) = match body.strip_suffix("_FTE") {
        Some(b) => (b, true),
        None => (body.strip_suffix("_HC")?, false),
    };
    let (group, role) = GROUPS.iter().find_map(|(token, group)| {
        if body == *token {
            Some((*group, ""))
        } else {
            body.strip_prefix(token)?
                .strip_prefix('_')
                .map(|role| (*group, role))
        }
    })?;
    let role = ROLES
        .iter()
        .find(|(g, token, _)| *g == group && *token == role)
        .map_or_else(|| role.to_owned(), |(_, _, name)| (*name).to_owned());
    Some((group, role, is_fte))
}

/// One staff row of the detailed file: the header indexes of its headcount and FTE columns.
struct MeasurePair {
    staff_group: Arc<str>,
    staff_role: Arc<str>,
    headcount: Option<(usize, String)>,
    fte: Option<(usize, String)>,
}

/// Reads the detailed (wide) file, one practice per row, as it streams past.
pub fn read_detailed(
    src: &SourceFile,
) -> Result<impl Iterator<Item = Result<PracticeStaff, ImportError>> + Send + use<>, ImportError> {
    let file = src.to_string();
    let (first, reader) = src.csv_with_first_row()?;
    let header = Header::new(file.clone(), first.iter());
    let (geography, _) = GeographyColumns::find(&header, &[])?;
    let mut pairs: BTreeMap<(&'static str, String), MeasurePair> = BTreeMap::new();
    for (index, name) in first.iter().enumerate() {
        let Some((group, role, is_fte)) = measure_column(name) else {
            continue;
        };
        let pair = pairs
            .entry((group, role.clone()))
            .or_insert_with(|| MeasurePair {
                staff_group: group.into(),
                staff_role: role.into(),
                headcount: None,
                fte: None,
            });
        let slot = if is_fte {
            &mut pair.fte
        } else {
            &mut pair.headcount
        };
        // `TOTAL_NURSES_HC` and `TOTAL_N_HC` would name the same row; the first one wins.
        slot.get_or_insert_with(|| (index, name.trim().to_owned()));
    }
    if pairs.is_empty() {
        return Err(ImportError::unrecognised(
            &file,
            "no TOTAL_<GROUP>_<ROLE>_HC or _FTE columns (expected the detailed practice-level CSV)",
        ));
    }
    let pairs: Vec<MeasurePair> = pairs.into_values().collect();
    let width = header.len();
    Ok(reader.into_records().filter_map(move |row| match row {
        Ok(record) if is_blank(&record) => None,
        Ok(record) => Some(detailed_row(&file, &record, width, &geography, &pairs)),
        Err(e) => Some(Err(ImportError::from_csv(&file, e))),
    }))
}

fn detailed_row(
    file: &str,
    record: &csv::StringRecord,
    width: usize,
    geography: &GeographyColumns,
    pairs: &[MeasurePair],
) -> Result<PracticeStaff, ImportError> {
    check_field_count(file, record, width, "as many fields as the header")?;
    let line = line_of(record);
    let mut staff = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let headcount = match &pair.headcount {
            Some((i, name)) => headcount(file, line, name, &record[*i])?,
            None => None,
        };
        let fte = match &pair.fte {
            Some((i, name)) => fte(file, line, name, &record[*i])?,
            None => None,
        };
        staff.push(StaffCount {
            staff_group: pair.staff_group.clone(),
            staff_role: pair.staff_role.clone(),
            headcount,
            fte,
        });
    }
    Ok(PracticeStaff {
        geography: geography.read(file, record)?,
        staff,
    })
}

/// A practice of the high-level file and its staff rows so far, by group and role.
type PracticeRoles = (
    PracticeGeography,
    BTreeMap<(Arc<str>, Arc<str>), StaffCount>,
);

const LONG_COLUMNS: [&[&str]; 4] = [
    &["STAFF_GROUP"],
    &["DETAILED_STAFF_ROLE"],
    &["MEASURE"],
    &["VALUE"],
];

/// Reads the high-level (long) file, gathering each practice's FTE and headcount rows, in
/// practice code order.
pub fn read_high_level(src: &SourceFile) -> Result<Vec<PracticeStaff>, ImportError> {
    let (header, mut reader) = src.csv_with_header()?;
    let (geography, found) = GeographyColumns::find(&header, &LONG_COLUMNS)?;
    let [group_at, role_at, measure_at, value_at] = [found[0], found[1], found[2], found[3]];
    let width = header.len();
    let file = header.file().to_owned();
    let mut practices: BTreeMap<String, PracticeRoles> = BTreeMap::new();
    let mut names: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut interned = |value: &str| -> Arc<str> {
        names
            .entry(value.to_owned())
            .or_insert_with(|| value.into())
            .clone()
    };
    for_each_record(&mut reader, &file, |record, line| {
        check_field_count(&file, record, width, "as many fields as the header")?;
        let place = geography.read(&file, record)?;
        let group = text(&record[group_at]).ok_or_else(|| {
            ImportError::bad_value(&file, line, "STAFF_GROUP", "", "a staff group")
        })?;
        let role = text(&record[role_at]).ok_or_else(|| {
            ImportError::bad_value(&file, line, "DETAILED_STAFF_ROLE", "", "a staff role")
        })?;
        let (group, role) = (interned(&group), interned(&role));
        let measure = record[measure_at].trim();
        let value = &record[value_at];
        let (_, staff) = practices
            .entry(place.practice_code.clone())
            .or_insert_with(|| (place, BTreeMap::new()));
        let count = staff
            .entry((group.clone(), role.clone()))
            .or_insert_with(|| StaffCount {
                staff_group: group,
                staff_role: role,
                headcount: None,
                fte: None,
            });
        if measure.eq_ignore_ascii_case("FTE") {
            count.fte = fte(&file, line, "VALUE", value)?;
        } else if measure.eq_ignore_ascii_case("Headcount") || measure.eq_ignore_ascii_case("HC") {
            count.headcount = headcount(&file, line, "VALUE", value)?;
        } else {
            return Err(ImportError::bad_value(
                &file,
                line,
                "MEASURE",
                measure,
                "FTE or Headcount",
            ));
        }
        Ok(())
    })?;
    Ok(practices
        .into_values()
        .map(|(geography, staff)| PracticeStaff {
            geography,
            staff: staff.into_values().collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::source::open_sources;

    const SEPTEMBER: &str = "1 General Practice – September 2023 Practice Level - Detailed.csv";
    const SEPTEMBER_HIGH: &str =
        "3 General Practice – September 2023 Practice Level - High level.csv";

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/nwrs")
            .join(name)
    }

    fn only_source(name: &str) -> SourceFile {
        open_sources(&fixture(name)).unwrap().remove(0)
    }

    fn find<'a>(staff: &'a [StaffCount], group: &str, role: &str) -> &'a StaffCount {
        staff
            .iter()
            .find(|s| &*s.staff_group == group && &*s.staff_role == role)
            .unwrap_or_else(|| panic!("{group} / {role}"))
    }

    #[test]
    fn detailed_file_becomes_one_row_per_group_and_role() {
        let src = only_source(SEPTEMBER);
        assert_eq!(detect(&src).unwrap(), Layout::Detailed);
        assert_eq!(
            snapshot_of(&src).unwrap(),
            NaiveDate::from_ymd_opt(2023, 9, 30).unwrap()
        );
        let practices: Vec<PracticeStaff> = read_detailed(&src)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(practices.len(), 3);
        let first = &practices[0];
        assert_eq!(
            first.geography,
            PracticeGeography {
                practice_code: "A81001".into(),
                practice_name: Some("ELM TREE SURGERY".into()),
                pcn_code: Some("U22222".into()),
                pcn_name: Some("RIVERSIDE NORTH PCN".into()),
                sub_icb_code: Some("00L".into()),
                sub_icb_name: Some("NHS NORTH EAST AND NORTH CUMBRIA ICB - 00L".into()),
                icb_code: Some("QHM".into()),
                icb_name: Some("NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD".into()),
                region_code: Some("Y63".into()),
                region_name: Some("NORTH EAST AND YORKSHIRE".into()),
            }
        );
        // Nine HC/FTE pairs; patients and FTE by age band are not staff rows.
        assert_eq!(first.staff.len(), 9);
        let partners = find(&first.staff, "GP", "Partner/Provider");
        assert_eq!((partners.headcount, partners.fte), (Some(3), Some(240)));
        let subtotal = find(&first.staff, "GP", "Total excluding GPs in Training Grade");
        assert_eq!((subtotal.headcount, subtotal.fte), (Some(4), Some(310)));
        let receptionists = find(&first.staff, "Admin/Non-Clinical", "Receptionist");
        assert_eq!(receptionists.fte, Some(401));
        // NA and ND are missing, never 0; a published 0 stays 0.
        let dpc = find(&practices[1].staff, "Direct Patient Care", "Total");
        assert_eq!((dpc.headcount, dpc.fte), (None, None));
        let nurses = find(&practices[2].staff, "Nurses", "Practice Nurse");
        assert_eq!((nurses.headcount, nurses.fte), (None, None));
        let pharmacists = find(&practices[2].staff, "Direct Patient Care", "Pharmacist");
        assert_eq!((pharmacists.headcount, pharmacists.fte), (Some(0), Some(0)));
    }

    #[test]
    fn high_level_file_gathers_fte_and_headcount_rows() {
        let src = only_source(SEPTEMBER_HIGH);
        assert_eq!(detect(&src).unwrap(), Layout::HighLevel);
        let practices = read_high_level(&src).unwrap();
        let codes: Vec<&str> = practices
            .iter()
            .map(|p| p.geography.practice_code.as_str())
            .collect();
        assert_eq!(codes, ["A81001", "F83001"]);
        let staff = &practices[0].staff;
        assert_eq!(staff.len(), 4);
        let salaried = find(staff, "GP", "Salaried By Practice");
        assert_eq!((salaried.headcount, salaried.fte), (Some(2), Some(125)));
        let nurses = find(staff, "Nurses", "Practice Nurse");
        assert_eq!((nurses.headcount, nurses.fte), (None, None));
        assert_eq!(practices[1].geography.region_code.as_deref(), Some("Y56"));
    }

    #[test]
    fn zip_members_take_the_snapshot_from_their_en_dash_names() {
        let sources = open_sources(&fixture("GPWPracticeCSV.092023.zip")).unwrap();
        let csvs: Vec<&SourceFile> = sources.iter().filter(|s| !s.is_xlsx()).collect();
        assert_eq!(csvs.len(), 2);
        assert_eq!(csvs[0].name(), SEPTEMBER);
        assert_eq!(csvs[1].name(), SEPTEMBER_HIGH);
        for src in csvs {
            assert_eq!(
                snapshot_of(src).unwrap(),
                NaiveDate::from_ymd_opt(2023, 9, 30).unwrap()
            );
        }
    }

    #[test]
    fn a_missing_required_column_names_the_file_and_column() {
        let name =
            "3 General Practice – September 2023 Practice Level - High level (no MEASURE).csv";
        let src = only_source(name);
        assert_eq!(detect(&src).unwrap(), Layout::HighLevel);
        assert_eq!(
            read_high_level(&src).unwrap_err().to_string(),
            format!("{name}: missing column(s): MEASURE")
        );
    }

    #[test]
    fn a_file_name_without_a_month_is_refused() {
        let src = only_source("General Practice Practice Level - Detailed.csv");
        let message = snapshot_of(&src).unwrap_err().to_string();
        assert!(
            message.starts_with(
                "General Practice Practice Level - Detailed.csv: unrecognised file: no snapshot month"
            ),
            "{message}"
        );
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn snapshots_come_from_month_names_or_mmyyyy() {
        assert_eq!(
            snapshot_in_name("1 General Practice – September 2023 Practice Level - Detailed.csv"),
            Some(d(2023, 9, 30))
        );
        assert_eq!(
            snapshot_in_name("3 General Practice – February 2024 Practice Level - High level.csv"),
            Some(d(2024, 2, 29))
        );
        assert_eq!(
            snapshot_in_name("GPWPracticeCSV.092023.zip"),
            Some(d(2023, 9, 30))
        );
        assert_eq!(snapshot_in_name("GPWPracticeCSV.132023.zip"), None);
        assert_eq!(snapshot_in_name("practice level.csv"), None);
    }

    #[test]
    fn workforce_values_treat_markers_as_missing() {
        assert_eq!(fte("f", 2, "V", "NA").unwrap(), None);
        assert_eq!(fte("f", 2, "V", " nd ").unwrap(), None);
        assert_eq!(headcount("f", 2, "V", "0").unwrap(), Some(0));
        assert_eq!(headcount("f", 2, "V", "3.0").unwrap(), Some(3));
        assert_eq!(
            headcount("f", 2, "V", "3.5").unwrap_err().to_string(),
            "f, line 2: column V: invalid value \"3.5\" (expected a headcount)"
        );
    }

    #[test]
    fn measure_columns_map_to_groups_and_roles() {
        assert_eq!(
            measure_column("TOTAL_GP_HC"),
            Some(("GP", "Total".to_owned(), false))
        );
        assert_eq!(
            measure_column("TOTAL_N_PRAC_NURSE_FTE"),
            Some(("Nurses", "Practice Nurse".to_owned(), true))
        );
        assert_eq!(
            measure_column("TOTAL_NURSES_HC"),
            Some(("Nurses", "Total".to_owned(), false))
        );
        assert_eq!(
            measure_column("TOTAL_GP_EXTG_FTE"),
            Some((
                "GP",
                "Total excluding GPs in Training Grade".to_owned(),
                true
            ))
        );
        assert_eq!(
            measure_column("TOTAL_DPC_NEWROLE_HC"),
            Some(("Direct Patient Care", "NEWROLE".to_owned(), false))
        );
        assert_eq!(
            measure_column("TOTAL_ADMIN_RECEPT_HC"),
            Some(("Admin/Non-Clinical", "Receptionist".to_owned(), false))
        );
        assert_eq!(measure_column("TOTAL_GP_FTE_UNDER30"), None);
        assert_eq!(measure_column("TOTAL_PATIENTS"), None);
        assert_eq!(measure_column("TOTAL_MALE"), None);
        assert_eq!(measure_column("MALE_PATIENTS_0TO4"), None);
    }
}
