//! Demo QOF zips written from the synthetic world in the publisher's layout: `QOF<yyyy>.zip`
//! holding the seven regional achievement files, prevalence, the indicator mapping, the NHS
//! geographies mapping and the organisation reference. The real publication has about 75
//! indicators; the demo publishes 24 of them (14 registers and 10 outcome indicators), enough
//! for every domain and measure while keeping the demo import quick.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::demo::world::{World, mix};

/// A register: group code, description, patient list type, share of that list on the register.
struct Register {
    group: &'static str,
    description: &'static str,
    list_type: &'static str,
    /// Share of the practice list on the register, as the national prevalence (percent).
    prevalence: f64,
    points: u32,
}

const REGISTERS: [Register; 14] = [
    reg("AF", "Atrial fibrillation", "TOTAL", 2.2, 5),
    reg("AST", "Asthma", "06OV", 6.5, 6),
    reg("CAN", "Cancer", "TOTAL", 3.6, 9),
    reg("CHD", "Coronary heart disease", "TOTAL", 3.0, 4),
    reg("CKD", "Chronic kidney disease", "18OV", 4.1, 6),
    reg(
        "COPD",
        "Chronic obstructive pulmonary disease",
        "TOTAL",
        1.9,
        9,
    ),
    reg("DEM", "Dementia", "TOTAL", 0.7, 3),
    reg("DM", "Diabetes mellitus", "17OV", 7.7, 6),
    reg("HF", "Heart failure", "TOTAL", 1.1, 4),
    reg("HYP", "Hypertension", "TOTAL", 14.4, 3),
    reg("MH", "Mental health", "TOTAL", 1.0, 4),
    reg("OB", "Obesity", "18OV", 8.9, 8),
    reg(
        "STIA",
        "Stroke and transient ischaemic attack",
        "TOTAL",
        1.9,
        2,
    ),
    reg("SMOK", "Smoking", "15OV", 12.0, 0),
];

const fn reg(
    group: &'static str,
    description: &'static str,
    list_type: &'static str,
    prevalence: f64,
    points: u32,
) -> Register {
    Register {
        group,
        description,
        list_type,
        prevalence,
        points,
    }
}

/// An outcome indicator: code, register group, points, lower and upper payment thresholds and
/// the typical achievement (percent).
const OUTCOMES: [(&str, &str, u32, f64, f64, f64); 10] = [
    ("AF006", "AF", 12, 40.0, 70.0, 78.0),
    ("AST007", "AST", 20, 45.0, 70.0, 66.0),
    ("CHD015", "CHD", 22, 38.0, 74.0, 73.0),
    ("COPD010", "COPD", 9, 50.0, 90.0, 80.0),
    ("DEM004", "DEM", 39, 35.0, 70.0, 68.0),
    ("DM020", "DM", 17, 35.0, 75.0, 62.0),
    ("HF003", "HF", 10, 60.0, 92.0, 84.0),
    ("HYP008", "HYP", 40, 40.0, 77.0, 69.0),
    ("MH021", "MH", 8, 50.0, 90.0, 72.0),
    ("SMOK002", "SMOK", 25, 50.0, 90.0, 91.0),
];

fn register_code(group: &str) -> String {
    format!("{group}001")
}

fn domain(group: &str) -> (&'static str, &'static str) {
    match group {
        "SMOK" | "OB" => ("PH", "Public health"),
        _ => ("CL", "Clinical"),
    }
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
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
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

/// A practice's register and list for `register`, varying around the national prevalence.
fn register_size(practice: &PracticeYear, index: usize, register: &Register) -> (u64, u64) {
    let draw = mix(practice.key, index as u64);
    let list_share = match register.list_type {
        "TOTAL" => 1.0,
        "06OV" => 0.94,
        "15OV" => 0.83,
        // 17OV and 18OV.
        _ => 0.8,
    };
    let list = (practice.list as f64 * list_share).round() as u64;
    let jitter = 0.6 + 0.8 * (draw % 1000) as f64 / 1000.0;
    let size = (practice.list as f64 * register.prevalence / 100.0 * jitter).round() as u64;
    (size.min(list), list)
}

fn write_achievement<W: Write>(
    world: &World,
    practices: &[&PracticeYear],
    out: W,
) -> io::Result<()> {
    let mut csv = csv_writer(out);
    csv.write_record(["PRACTICE_CODE", "INDICATOR_CODE", "MEASURE", "VALUE"])?;
    for practice in practices {
        let code = &world.practices[practice.practice].code;
        let registers: Vec<u64> = REGISTERS
            .iter()
            .enumerate()
            .map(|(i, r)| register_size(practice, i, r).0)
            .collect();
        for (i, register) in REGISTERS.iter().enumerate() {
            let achieved = if registers[i] > 0 { register.points } else { 0 };
            let indicator = register_code(register.group);
            csv.write_record([code, &indicator, "ACHIEVED_POINTS", &achieved.to_string()])?;
            csv.write_record([code, &indicator, "REGISTER", &registers[i].to_string()])?;
        }
        for (o, (indicator, group, points, lower, upper, typical)) in OUTCOMES.iter().enumerate() {
            let register = REGISTERS
                .iter()
                .position(|r| r.group == *group)
                .map_or(0, |i| registers[i]);
            let draw = mix(practice.key, 100 + o as u64);
            let pcas = register * (draw % 7) / 100;
            let denominator = register - pcas;
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
        for (i, register) in REGISTERS.iter().enumerate() {
            let (size, list) = register_size(practice, i, register);
            csv.write_record([
                code.as_str(),
                register.group,
                &size.to_string(),
                register.list_type,
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
    let find = |group: &str| {
        REGISTERS
            .iter()
            .find(|r| r.group == group)
            .expect("outcome groups are registers")
    };
    let rows = REGISTERS
        .iter()
        .map(|r| {
            (
                register_code(r.group),
                format!(
                    "The contractor establishes and maintains a register of patients: {}",
                    r.description.to_lowercase()
                ),
                r.points,
                r,
            )
        })
        .chain(OUTCOMES.iter().map(|(code, group, points, _, _, _)| {
            let r = find(group);
            (
                (*code).to_owned(),
                format!(
                    "The percentage of patients on the {} register meeting the indicator",
                    r.description.to_lowercase()
                ),
                *points,
                r,
            )
        }));
    for (code, description, points, register) in rows {
        let (domain_code, domain_description) = domain(register.group);
        csv.write_record([
            code.as_str(),
            &description,
            &points.to_string(),
            register.group,
            register.description,
            register.group,
            register.description,
            domain_code,
            domain_description,
            register.list_type,
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
    let total: u32 =
        REGISTERS.iter().map(|r| r.points).sum::<u32>() + OUTCOMES.iter().map(|o| o.2).sum::<u32>();
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
    use crate::import::source::open_sources;

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
                    assert_eq!(
                        read_indicators(source).unwrap().len(),
                        REGISTERS.len() + OUTCOMES.len()
                    );
                }
                _ => {}
            }
        }
        let january = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert_eq!(
            achievement,
            world.registrations(january).len() * (REGISTERS.len() + OUTCOMES.len())
        );
    }
}
