//! Demo QOF zips written from the synthetic world in the publisher's layout: `QOF<yyyy>.zip`
//! holding the seven regional achievement files, prevalence, the indicator mapping, the NHS
//! geographies mapping and the organisation reference. The indicator set is modelled on the
//! 2023-24 publication (27 indicator groups and 78 indicators worth 635 points across the
//! clinical, public health and quality improvement domains), so a national demo year carries
//! about 1.6M achievement rows in the files and 490k served practice × indicator rows.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::source::financial_year::FinancialYear;
use crate::synthetic::{AS_OF, World, mix};

#[derive(Clone, Copy)]
enum Domain {
    Clinical,
    PublicHealth,
    QualityImprovement,
}

impl Domain {
    fn code(self) -> &'static str {
        match self {
            Domain::Clinical => "CL",
            Domain::PublicHealth => "PH",
            Domain::QualityImprovement => "QI",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Domain::Clinical => "Clinical",
            Domain::PublicHealth => "Public health",
            Domain::QualityImprovement => "Quality improvement",
        }
    }
}

/// Who an indicator group's outcome indicators count.
#[derive(Clone, Copy)]
enum Base {
    /// Patients on the group's register, a share (percent) of the list that is published as
    /// the group's prevalence.
    Register { prevalence: f64 },
    /// A share of the list that has no register (women of screening age, children due a
    /// vaccination).
    Population { share: f64 },
    /// Points only, no patient counts (quality improvement).
    Points,
}

/// An indicator group, as in the mapping's `GROUP_CODE`.
struct Group {
    code: &'static str,
    description: &'static str,
    domain: Domain,
    list_type: &'static str,
    base: Base,
    /// The register indicator and its points, for groups whose register earns points.
    register: Option<(&'static str, u32)>,
}

const fn group(
    code: &'static str,
    description: &'static str,
    domain: Domain,
    list_type: &'static str,
    base: Base,
    register: Option<(&'static str, u32)>,
) -> Group {
    Group {
        code,
        description,
        domain,
        list_type,
        base,
        register,
    }
}

const fn register(prevalence: f64) -> Base {
    Base::Register { prevalence }
}

const fn population(share: f64) -> Base {
    Base::Population { share }
}

use Domain::{Clinical as CL, PublicHealth as PH, QualityImprovement as QI};

const GROUPS: [Group; 27] = [
    group(
        "AF",
        "Atrial fibrillation",
        CL,
        "TOTAL",
        register(2.2),
        Some(("AF001", 5)),
    ),
    group(
        "AST",
        "Asthma",
        CL,
        "06OV",
        register(6.5),
        Some(("AST005", 4)),
    ),
    group("BP", "Blood pressure", PH, "45OV", population(48.0), None),
    group(
        "CAN",
        "Cancer",
        CL,
        "TOTAL",
        register(3.6),
        Some(("CAN001", 5)),
    ),
    group(
        "CHD",
        "Coronary heart disease",
        CL,
        "TOTAL",
        register(3.0),
        Some(("CHD001", 4)),
    ),
    group(
        "CHOL",
        "Cholesterol control and lipid management",
        CL,
        "TOTAL",
        population(9.0),
        None,
    ),
    group(
        "CKD",
        "Chronic kidney disease",
        CL,
        "18OV",
        register(4.1),
        Some(("CKD005", 6)),
    ),
    group(
        "COPD",
        "Chronic obstructive pulmonary disease",
        CL,
        "TOTAL",
        register(1.9),
        Some(("COPD015", 9)),
    ),
    group(
        "CS",
        "Cervical screening",
        PH,
        "25_64_F",
        population(28.0),
        None,
    ),
    group(
        "DEM",
        "Dementia",
        CL,
        "TOTAL",
        register(0.7),
        Some(("DEM001", 5)),
    ),
    group("DEP", "Depression", CL, "18OV", register(13.2), None),
    group(
        "DM",
        "Diabetes mellitus",
        CL,
        "17OV",
        register(7.7),
        Some(("DM017", 6)),
    ),
    group(
        "EP",
        "Epilepsy",
        CL,
        "18OV",
        register(0.8),
        Some(("EP001", 1)),
    ),
    group(
        "HF",
        "Heart failure",
        CL,
        "TOTAL",
        register(1.1),
        Some(("HF001", 4)),
    ),
    group(
        "HYP",
        "Hypertension",
        CL,
        "TOTAL",
        register(14.4),
        Some(("HYP001", 3)),
    ),
    group(
        "LD",
        "Learning disability",
        CL,
        "TOTAL",
        register(0.6),
        Some(("LD004", 4)),
    ),
    group(
        "MH",
        "Mental health",
        CL,
        "TOTAL",
        register(1.0),
        Some(("MH001", 4)),
    ),
    group(
        "NDH",
        "Non-diabetic hyperglycaemia",
        CL,
        "18OV",
        register(7.0),
        None,
    ),
    group(
        "OB",
        "Obesity",
        PH,
        "18OV",
        register(8.9),
        Some(("OB002", 8)),
    ),
    group(
        "OST",
        "Osteoporosis: secondary prevention of fragility fractures",
        CL,
        "50OV",
        register(0.9),
        Some(("OST004", 3)),
    ),
    group(
        "PAD",
        "Peripheral arterial disease",
        CL,
        "TOTAL",
        register(0.6),
        Some(("PAD001", 2)),
    ),
    group(
        "PC",
        "Palliative care",
        CL,
        "TOTAL",
        register(0.5),
        Some(("PC001", 3)),
    ),
    group("QI", "Quality improvement", QI, "TOTAL", Base::Points, None),
    group(
        "RA",
        "Rheumatoid arthritis",
        CL,
        "16OV",
        register(0.8),
        Some(("RA001", 1)),
    ),
    group("SMOK", "Smoking", PH, "15OV", register(12.0), None),
    group(
        "STIA",
        "Stroke and transient ischaemic attack",
        CL,
        "TOTAL",
        register(1.9),
        Some(("STIA001", 2)),
    ),
    group(
        "VI",
        "Vaccination and immunisations",
        PH,
        "TOTAL",
        population(1.2),
        None,
    ),
];

/// An outcome indicator: code, group, points, lower and upper payment thresholds and the
/// typical achievement (percent).
type Outcome = (&'static str, &'static str, u32, f64, f64, f64);

const OUTCOMES: [Outcome; 59] = [
    ("AF006", "AF", 12, 40.0, 70.0, 78.0),
    ("AF008", "AF", 12, 70.0, 95.0, 88.0),
    ("AST007", "AST", 20, 45.0, 70.0, 66.0),
    ("AST008", "AST", 6, 45.0, 80.0, 72.0),
    ("AST011", "AST", 4, 45.0, 70.0, 55.0),
    ("BP002", "BP", 15, 50.0, 90.0, 88.0),
    ("CAN004", "CAN", 2, 50.0, 90.0, 70.0),
    ("CAN005", "CAN", 9, 50.0, 90.0, 64.0),
    ("CHD005", "CHD", 7, 56.0, 96.0, 94.0),
    ("CHD015", "CHD", 22, 38.0, 74.0, 73.0),
    ("CHD016", "CHD", 7, 46.0, 86.0, 82.0),
    ("CHOL001", "CHOL", 12, 50.0, 95.0, 84.0),
    ("CHOL002", "CHOL", 12, 20.0, 50.0, 45.0),
    ("COPD008", "COPD", 2, 40.0, 90.0, 76.0),
    ("COPD010", "COPD", 9, 50.0, 90.0, 80.0),
    ("COPD014", "COPD", 2, 40.0, 90.0, 80.0),
    ("CS005", "CS", 7, 45.0, 80.0, 72.0),
    ("CS006", "CS", 7, 45.0, 80.0, 75.0),
    ("DEM004", "DEM", 26, 35.0, 70.0, 68.0),
    ("DEP004", "DEP", 10, 45.0, 80.0, 60.0),
    ("DM006", "DM", 3, 57.0, 97.0, 85.0),
    ("DM012", "DM", 4, 50.0, 90.0, 82.0),
    ("DM014", "DM", 6, 40.0, 90.0, 50.0),
    ("DM020", "DM", 17, 35.0, 75.0, 62.0),
    ("DM021", "DM", 10, 52.0, 92.0, 84.0),
    ("DM022", "DM", 4, 50.0, 90.0, 78.0),
    ("DM023", "DM", 2, 50.0, 90.0, 85.0),
    ("DM033", "DM", 10, 38.0, 78.0, 70.0),
    ("DM034", "DM", 4, 38.0, 78.0, 72.0),
    ("DM035", "DM", 4, 38.0, 78.0, 66.0),
    ("DM036", "DM", 4, 38.0, 78.0, 74.0),
    ("HF003", "HF", 6, 60.0, 92.0, 84.0),
    ("HF006", "HF", 6, 60.0, 92.0, 82.0),
    ("HF007", "HF", 6, 60.0, 92.0, 80.0),
    ("HF008", "HF", 4, 60.0, 92.0, 78.0),
    ("HYP008", "HYP", 40, 40.0, 77.0, 69.0),
    ("HYP009", "HYP", 12, 35.0, 72.0, 80.0),
    ("LD005", "LD", 2, 40.0, 90.0, 75.0),
    ("MH002", "MH", 6, 40.0, 90.0, 60.0),
    ("MH003", "MH", 4, 50.0, 90.0, 75.0),
    ("MH006", "MH", 4, 50.0, 90.0, 70.0),
    ("MH007", "MH", 4, 50.0, 90.0, 72.0),
    ("MH011", "MH", 4, 50.0, 90.0, 68.0),
    ("MH012", "MH", 4, 50.0, 90.0, 66.0),
    ("MH021", "MH", 4, 50.0, 90.0, 72.0),
    ("NDH002", "NDH", 9, 50.0, 90.0, 72.0),
    ("OST005", "OST", 3, 30.0, 70.0, 60.0),
    ("QI011", "QI", 37, 0.0, 100.0, 95.0),
    ("QI012", "QI", 37, 0.0, 100.0, 93.0),
    ("RA002", "RA", 5, 40.0, 90.0, 60.0),
    ("SMOK002", "SMOK", 25, 50.0, 90.0, 91.0),
    ("SMOK004", "SMOK", 6, 40.0, 90.0, 82.0),
    ("SMOK005", "SMOK", 12, 56.0, 96.0, 90.0),
    ("STIA007", "STIA", 4, 57.0, 97.0, 92.0),
    ("STIA014", "STIA", 3, 40.0, 77.0, 70.0),
    ("STIA015", "STIA", 2, 40.0, 77.0, 82.0),
    ("VI001", "VI", 12, 89.0, 96.0, 92.0),
    ("VI002", "VI", 12, 86.0, 95.0, 89.0),
    ("VI003", "VI", 12, 80.0, 90.0, 85.0),
];

fn group_of(code: &str) -> (usize, &'static Group) {
    GROUPS
        .iter()
        .enumerate()
        .find(|(_, g)| g.code == code)
        .expect("every outcome names a declared group")
}

/// The file-name form of a financial year starting in `start`: `2324`.
pub fn year_suffix(start: i32) -> String {
    format!("{:02}{:02}", start % 100, (start + 1) % 100)
}

/// `QOF2324.zip`.
pub fn zip_name(start: i32) -> String {
    format!("QOF{}.zip", year_suffix(start))
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

/// Scaled-by-100 points as the files write them (`27.5`, `29`).
fn points_text(hundredths: u64) -> String {
    if hundredths.is_multiple_of(100) {
        (hundredths / 100).to_string()
    } else {
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// One practice in the year's data.
struct PracticeYear {
    practice: usize,
    list: u64,
    key: u64,
}

/// QOF years in the demo, ending with the last complete financial year before `AS_OF`.
const DEMO_YEARS: i32 = 3;

/// The demo's QOF zips under `qof/`.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let qof_dir = dir.join("qof");
    std::fs::create_dir_all(&qof_dir)?;
    let last_year = FinancialYear::containing(AS_OF).start_year() - 1;
    (last_year + 1 - DEMO_YEARS..=last_year)
        .map(|start| write_year_zip(world, start, &qof_dir))
        .collect()
}

/// Writes the QOF zip for the financial year starting in April of `start` into `dir`.
/// Practices are those with a registration extract in the January of the year.
pub fn write_year_zip(world: &World, start: i32, dir: &Path) -> io::Result<PathBuf> {
    let january = NaiveDate::from_ymd_opt(start + 1, 1, 1).expect("valid date");
    let practices: Vec<PracticeYear> = world
        .registrations(january)
        .iter()
        .map(|r| PracticeYear {
            practice: r.practice,
            list: r.total(),
            key: mix(world.practices[r.practice].list.key, start as u64),
        })
        .collect();
    let suffix = year_suffix(start);
    let path = dir.join(zip_name(start));
    let mut zip = ZipWriter::new(File::create(&path)?);
    // The fastest deflate level: the demo writes these files once, to import them at once.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    for (r, region) in world.regions.iter().enumerate() {
        let token = region.name.to_uppercase().replace(' ', "_");
        zip.start_file(format!("ACHIEVEMENT_{token}_{suffix}.csv"), options)
            .map_err(io::Error::other)?;
        let in_region: Vec<&PracticeYear> = practices
            .iter()
            .filter(|p| world.practices[p.practice].region == r)
            .collect();
        write_achievement(world, &in_region, &mut zip)?;
    }
    zip.start_file(format!("PREVALENCE_{suffix}.csv"), options)
        .map_err(io::Error::other)?;
    write_prevalence(world, &practices, &mut zip)?;
    zip.start_file(format!("MAPPING_INDICATORS_{suffix}.csv"), options)
        .map_err(io::Error::other)?;
    write_mapping(&mut zip)?;
    zip.start_file(format!("MAPPING_NHS_GEOGRAPHIES_{suffix}.csv"), options)
        .map_err(io::Error::other)?;
    write_geographies(world, &practices, january, &mut zip)?;
    zip.start_file(format!("ORGANISATION_REFERENCE_{suffix}.csv"), options)
        .map_err(io::Error::other)?;
    write_reference(world, &practices, &mut zip)?;
    zip.finish().map_err(io::Error::other)?;
    Ok(path)
}

/// The list a group counts from, as a share of the practice's whole list.
fn list_share(list_type: &str) -> f64 {
    match list_type {
        "TOTAL" => 1.0,
        "06OV" => 0.94,
        "15OV" => 0.83,
        "16OV" => 0.82,
        "45OV" => 0.48,
        "50OV" => 0.4,
        "25_64_F" => 0.27,
        // 17OV and 18OV.
        _ => 0.8,
    }
}

/// A practice's count of patients that `group`'s outcome indicators start from (its register,
/// or the eligible population) and the list it is counted within, varying around the national
/// figure.
fn base_size(practice: &PracticeYear, index: usize, group: &Group) -> (u64, u64) {
    let percent = match group.base {
        Base::Register { prevalence } => prevalence,
        Base::Population { share } => share,
        Base::Points => 0.0,
    };
    let draw = mix(practice.key, index as u64);
    let list = (practice.list as f64 * list_share(group.list_type)).round() as u64;
    let jitter = 0.6 + 0.8 * (draw % 1000) as f64 / 1000.0;
    let size = (practice.list as f64 * percent / 100.0 * jitter).round() as u64;
    (size.min(list), list)
}

fn write_achievement<W: Write>(
    world: &World,
    practices: &[&PracticeYear],
    out: W,
) -> io::Result<()> {
    let mut csv = csv_writer(out);
    csv.write_record(["PRACTICE_CODE", "INDICATOR_CODE", "MEASURE", "VALUE"])?;
    let outcome_groups: Vec<(usize, &Group)> = OUTCOMES.iter().map(|o| group_of(o.1)).collect();
    for practice in practices {
        let code = &world.practices[practice.practice].code;
        let bases: Vec<u64> = GROUPS
            .iter()
            .enumerate()
            .map(|(i, g)| base_size(practice, i, g).0)
            .collect();
        for (i, group) in GROUPS.iter().enumerate() {
            let Some((indicator, points)) = group.register else {
                continue;
            };
            let achieved = if bases[i] > 0 { points } else { 0 };
            csv.write_record([code, indicator, "ACHIEVED_POINTS", &achieved.to_string()])?;
            csv.write_record([code, indicator, "REGISTER", &bases[i].to_string()])?;
        }
        for (o, (indicator, _, points, lower, upper, typical)) in OUTCOMES.iter().enumerate() {
            let (g, group) = outcome_groups[o];
            let draw = mix(practice.key, 100 + o as u64);
            if matches!(group.base, Base::Points) {
                let done = ((draw % 100) as f64) < *typical;
                let achieved = if done { points * 100 } else { 0 };
                csv.write_record([
                    code.as_str(),
                    indicator,
                    "ACHIEVED_POINTS",
                    &points_text(achieved.into()),
                ])?;
                continue;
            }
            let base = bases[g];
            let pcas = base * (draw % 7) / 100;
            let denominator = base - pcas;
            let rate = (typical + ((draw >> 16) % 2000) as f64 / 100.0 - 10.0).clamp(0.0, 100.0);
            let numerator = (denominator as f64 * rate / 100.0).round() as u64;
            let share = if denominator == 0 {
                0.0
            } else {
                ((numerator as f64 * 100.0 / denominator as f64 - lower) / (upper - lower))
                    .clamp(0.0, 1.0)
            };
            let achieved = (f64::from(*points) * share * 100.0).round() as u64;
            for (measure, value) in [
                ("ACHIEVED_POINTS", points_text(achieved)),
                ("NUMERATOR", numerator.to_string()),
                ("DENOMINATOR", denominator.to_string()),
                ("PCAS", pcas.to_string()),
            ] {
                csv.write_record([code.as_str(), indicator, measure, &value])?;
            }
        }
    }
    csv.flush()
}

/// One row per practice and register group (groups counted from a register only).
fn write_prevalence<W: Write>(world: &World, practices: &[PracticeYear], out: W) -> io::Result<()> {
    let mut csv = csv_writer(out);
    csv.write_record([
        "PRACTICE_CODE",
        "GROUP_CODE",
        "REGISTER",
        "PATIENT_LIST_TYPE",
        "PRACTICE_LIST_SIZE",
    ])?;
    for practice in practices {
        let code = &world.practices[practice.practice].code;
        for (i, group) in GROUPS.iter().enumerate() {
            if !matches!(group.base, Base::Register { .. }) {
                continue;
            }
            let (size, list) = base_size(practice, i, group);
            csv.write_record([
                code.as_str(),
                group.code,
                &size.to_string(),
                group.list_type,
                &list.to_string(),
            ])?;
        }
    }
    csv.flush()
}

/// The published layout, with the description and sub-domain columns.
fn write_mapping<W: Write>(out: W) -> io::Result<()> {
    let mut csv = csv_writer(out);
    csv.write_record([
        "INDICATOR_CODE",
        "INDICATOR_DESCRIPTION",
        "INDICATOR_POINT_VALUE",
        "GROUP_CODE",
        "GROUP_DESCRIPTION",
        "SUB_DOMAIN_CODE",
        "SUB_DOMAIN_DESCRIPTION",
        "DOMAIN_CODE",
        "DOMAIN_DESCRIPTION",
        "PATIENT_LIST_TYPE",
    ])?;
    let registers = GROUPS.iter().filter_map(|g| {
        let (code, points) = g.register?;
        let description = format!(
            "The contractor establishes and maintains a register of patients: {}",
            g.description.to_lowercase()
        );
        Some((code, description, points, g))
    });
    let outcomes = OUTCOMES.iter().map(|(code, group, points, _, _, _)| {
        let (_, g) = group_of(group);
        let description = match g.base {
            Base::Register { .. } => format!(
                "The percentage of patients on the {} register meeting the indicator",
                g.description.to_lowercase()
            ),
            Base::Population { .. } => format!(
                "The percentage of eligible patients meeting the {} indicator",
                g.description.to_lowercase()
            ),
            Base::Points => format!("{}: the practice completes the activity", g.description),
        };
        (*code, description, *points, g)
    });
    for (code, description, points, group) in registers.chain(outcomes) {
        csv.write_record([
            code,
            &description,
            &points.to_string(),
            group.code,
            group.description,
            group.code,
            group.description,
            group.domain.code(),
            group.domain.description(),
            group.list_type,
        ])?;
    }
    csv.flush()
}

fn write_geographies<W: Write>(
    world: &World,
    practices: &[PracticeYear],
    day: NaiveDate,
    out: W,
) -> io::Result<()> {
    let mut csv = csv_writer(out);
    csv.write_record([
        "PRACTICE_CODE",
        "PRACTICE_NAME",
        "PCN_ODS_CODE",
        "PCN_NAME",
        "CCG_ODS_CODE",
        "CCG_ONS_CODE",
        "CCG_NAME",
        "STP_ODS_CODE",
        "STP_ONS_CODE",
        "STP_NAME",
        "REGION_ODS_CODE",
        "REGION_ONS_CODE",
        "REGION_NAME",
        "NAT_CODE",
        "NAT_ONS_CODE",
        "NAT_COUNTRY",
    ])?;
    for practice in practices {
        let p = &world.practices[practice.practice];
        let sub = &world.sub_icbs[p.sub_icb];
        let icb = &world.icbs[p.icb];
        let region = &world.regions[p.region];
        let (pcn_code, pcn_name) = match world.pcn_at(practice.practice, day) {
            Some(i) => (
                world.pcns[i].code.clone(),
                world.pcns[i].name.to_uppercase(),
            ),
            None => ("U".to_owned(), "Unallocated".to_owned()),
        };
        csv.write_record([
            p.code.as_str(),
            &p.name.to_uppercase(),
            &pcn_code,
            &pcn_name,
            &sub.code,
            &sub.ons_code,
            &sub.name,
            &icb.code,
            &icb.ons_code,
            &icb.name,
            &region.code,
            &region.ons_code,
            &region.name.to_uppercase(),
            "ENG",
            "E92000001",
            "ENGLAND",
        ])?;
    }
    csv.flush()
}

fn write_reference<W: Write>(world: &World, practices: &[PracticeYear], out: W) -> io::Result<()> {
    let total: u32 = GROUPS
        .iter()
        .filter_map(|g| g.register.map(|(_, points)| points))
        .chain(OUTCOMES.iter().map(|o| o.2))
        .sum();
    let mut csv = csv_writer(out);
    csv.write_record(["PRACTICE_CODE", "REVISED_MAX_POINTS"])?;
    for practice in practices {
        csv.write_record([
            world.practices[practice.practice].code.as_str(),
            &total.to_string(),
        ])?;
    }
    csv.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::qof::parse::{QofFile, identify, read_achievement, read_indicators};
    use crate::source::open_sources;

    /// Indicators in the year's mapping: each group's register indicator, then the outcomes.
    fn indicator_count() -> usize {
        GROUPS.iter().filter(|g| g.register.is_some()).count() + OUTCOMES.len()
    }

    #[test]
    fn demo_zips_read_back_through_the_parsers() {
        let world = World::generate(7, 0.01);
        let dir = tempfile::tempdir().unwrap();
        let path = write_year_zip(&world, 2023, dir.path()).unwrap();
        assert_eq!(path.file_name().unwrap(), "QOF2324.zip");
        let sources = open_sources(&path).unwrap();
        assert_eq!(sources.len(), 11);
        let mut achievement = 0;
        for source in &sources {
            let (kind, year) = identify(source).unwrap();
            assert_eq!(year, "2023/24");
            match kind {
                QofFile::Achievement { .. } => {
                    achievement += read_achievement(source).unwrap().len();
                }
                QofFile::MappingIndicators => {
                    assert_eq!(read_indicators(source).unwrap().len(), indicator_count());
                }
                _ => {}
            }
        }
        let january = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert_eq!(
            achievement,
            world.registrations(january).len() * indicator_count()
        );
    }
}
