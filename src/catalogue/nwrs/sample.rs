//! Demo General Practice Workforce zips written from the synthetic world, in the publisher's
//! layout: `GPWPracticeCSV.MMYYYY.zip` holding the detailed practice-level CSV and, optionally,
//! the high-level one, named with the real en dash.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::source::dates::last_day_of_month;
use crate::synthetic::{AS_OF, World, mix, month_start, months_ending};

/// Staff roles the demo publishes: detailed-file token, high-level group and role, and staff
/// per 10,000 patients. Group totals are written too, as the publisher does. A handful of the
/// roles the publication has, one or more per group, keeps the demo import quick.
const ROLES: [(&str, &str, &str, f64); 6] = [
    ("GP_PTNR_PROV", "GP", "Partner/Provider", 3.0),
    ("GP_SAL_BY_PRAC", "GP", "Salaried By Practice", 2.2),
    ("GP_TRN_GR", "GP", "GP in Training Grade", 0.8),
    ("N_PRAC_NURSE", "Nurses", "Practice Nurse", 3.5),
    ("DPC_PHARMA", "Direct Patient Care", "Pharmacist", 0.9),
    ("ADMIN_RECEPT", "Admin/Non-Clinical", "Receptionist", 9.0),
];

/// Detailed-file group tokens and their high-level names, in column order.
const GROUPS: [(&str, &str); 4] = [
    ("GP", "GP"),
    ("NURSES", "Nurses"),
    ("DPC", "Direct Patient Care"),
    ("ADMIN", "Admin/Non-Clinical"),
];

const LEADING: &str = "PRAC_CODE,PRAC_NAME,PCN_CODE,PCN_NAME,SUB_ICB_CODE,SUB_ICB_NAME,ICB_CODE,\
ICB_NAME,REGION_CODE,REGION_NAME";

/// One practice in one snapshot: headcount and FTE (ten-thousandths) per role of `ROLES`, `None`
/// where the practice did not return data for the role's group.
struct Staffing {
    leading: [String; 10],
    patients: u64,
    male: u64,
    female: u64,
    roles: [Option<(u64, u64)>; ROLES.len()],
}

impl Staffing {
    fn group_total(&self, group: &str) -> Option<(u64, u64)> {
        ROLES
            .iter()
            .zip(&self.roles)
            .filter(|((_, g, _, _), _)| *g == group)
            .try_fold((0, 0), |(h, f), (_, role)| {
                role.map(|(rh, rf)| (h + rh, f + rf))
            })
    }
}

fn staffing(world: &World, month: NaiveDate) -> Vec<Staffing> {
    world
        .registrations(month)
        .iter()
        .map(|registration| {
            let practice = &world.practices[registration.practice];
            let sub = &world.sub_icbs[practice.sub_icb];
            let icb = &world.icbs[practice.icb];
            let region = &world.regions[practice.region];
            let (pcn_code, pcn_name) = match world.pcn_at(registration.practice, month) {
                Some(i) => (
                    world.pcns[i].code.clone(),
                    world.pcns[i].name.to_uppercase(),
                ),
                None => ("U".to_owned(), "Unallocated".to_owned()),
            };
            let male: u64 = registration.male.iter().map(|n| u64::from(*n)).sum();
            let female: u64 = registration.female.iter().map(|n| u64::from(*n)).sum();
            let patients = male + female;
            let key = mix(
                practice.list.key,
                u64::from(month.year() as u32 * 12 + month.month()),
            );
            // About one practice in forty has no valid direct patient care return (`NA`).
            let dpc_missing = key.is_multiple_of(40);
            let mut roles = [None; ROLES.len()];
            for (r, (slot, (_, group, _, per_10k))) in roles.iter_mut().zip(&ROLES).enumerate() {
                if dpc_missing && *group == "Direct Patient Care" {
                    continue;
                }
                let draw = mix(key, r as u64);
                let expected = patients as f64 * per_10k / 10_000.0;
                let jitter = 0.7 + 0.6 * (draw % 1000) as f64 / 1000.0;
                let headcount = (expected * jitter).round() as u64;
                let hours_share = 5_000 + (draw >> 20) % 5_000;
                *slot = Some((headcount, headcount * hours_share));
            }
            Staffing {
                leading: [
                    practice.code.clone(),
                    practice.name.to_uppercase(),
                    pcn_code,
                    pcn_name,
                    sub.code.clone(),
                    sub.name.clone(),
                    icb.code.clone(),
                    icb.name.clone(),
                    region.code.clone(),
                    region.name.clone(),
                ],
                patients,
                male,
                female,
                roles,
            }
        })
        .collect()
}

fn fte_text(ten_thousandths: u64) -> String {
    format!(
        "{}.{:04}",
        ten_thousandths / 10_000,
        ten_thousandths % 10_000
    )
}

fn measures(value: Option<(u64, u64)>) -> [String; 2] {
    match value {
        Some((headcount, fte)) => [headcount.to_string(), fte_text(fte)],
        None => ["NA".to_owned(), "NA".to_owned()],
    }
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

fn write_detailed<W: Write>(rows: &[Staffing], out: W) -> io::Result<()> {
    let mut header: Vec<String> = LEADING.split(',').map(str::to_owned).collect();
    header.extend(["TOTAL_PATIENTS", "GP_SOURCE", "TOTAL_MALE", "TOTAL_FEMALE"].map(str::to_owned));
    for (token, _) in GROUPS {
        header.push(format!("TOTAL_{token}_HC"));
        header.push(format!("TOTAL_{token}_FTE"));
    }
    for (token, _, _, _) in ROLES {
        header.push(format!("TOTAL_{token}_HC"));
        header.push(format!("TOTAL_{token}_FTE"));
    }
    // FTE by age band, published since January 2023; the importer skips it.
    header.extend(["TOTAL_GP_FTE_UNDER30", "TOTAL_GP_FTE_70PLUS"].map(str::to_owned));
    let mut csv = csv_writer(out);
    csv.write_record(&header)?;
    for row in rows {
        let mut record: Vec<String> = row.leading.to_vec();
        record.extend([
            row.patients.to_string(),
            "NWRS".to_owned(),
            row.male.to_string(),
            row.female.to_string(),
        ]);
        for (_, group) in GROUPS {
            record.extend(measures(row.group_total(group)));
        }
        for value in &row.roles {
            record.extend(measures(*value));
        }
        record.extend(["NA".to_owned(), "NA".to_owned()]);
        csv.write_record(&record)?;
    }
    csv.flush()
}

fn write_high_level<W: Write>(rows: &[Staffing], out: W) -> io::Result<()> {
    let mut csv = csv_writer(out);
    let mut header: Vec<&str> = LEADING.split(',').collect();
    header.extend(["STAFF_GROUP", "DETAILED_STAFF_ROLE", "MEASURE", "VALUE"]);
    csv.write_record(&header)?;
    for row in rows {
        for (_, group) in GROUPS {
            let roles = ROLES
                .iter()
                .zip(&row.roles)
                .filter(|((_, g, _, _), _)| *g == group)
                .map(|((_, _, role, _), value)| (*role, *value));
            for (role, value) in std::iter::once(("Total", row.group_total(group))).chain(roles) {
                let [headcount, fte] = measures(value);
                for (measure, value) in [("FTE", fte), ("Headcount", headcount)] {
                    let mut record: Vec<&str> = row.leading.iter().map(String::as_str).collect();
                    record.extend([group, role, measure, &value]);
                    csv.write_record(&record)?;
                }
            }
        }
    }
    csv.flush()
}

/// `GPWPracticeCSV.092023.zip`.
pub fn zip_name(snapshot: NaiveDate) -> String {
    format!(
        "GPWPracticeCSV.{:02}{}.zip",
        snapshot.month(),
        snapshot.year()
    )
}

/// `1 General Practice – September 2023 Practice Level - Detailed.csv` and the high-level file.
fn member_names(snapshot: NaiveDate) -> (String, String) {
    let month = snapshot.format("%B %Y");
    (
        format!("1 General Practice – {month} Practice Level - Detailed.csv"),
        format!("3 General Practice – {month} Practice Level - High level.csv"),
    )
}

/// Monthly workforce snapshots in the demo, ending with the month before `AS_OF`.
const DEMO_SNAPSHOTS: usize = 12;

/// The demo's workforce zips under `nwrs/`. The latest snapshot also carries the high-level
/// file, so the demo exercises both layouts and the preference between them without doubling
/// every month's rows.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let workforce_dir = dir.join("nwrs");
    std::fs::create_dir_all(&workforce_dir)?;
    let last = AS_OF
        .checked_sub_months(Months::new(1))
        .expect("month within chrono's range");
    let snapshots = months_ending(last, DEMO_SNAPSHOTS);
    let mut files = Vec::new();
    for (i, month) in snapshots.iter().enumerate() {
        let high_level = i + 1 == snapshots.len();
        files.push(write_practice_zip(
            world,
            *month,
            high_level,
            &workforce_dir,
        )?);
    }
    Ok(files)
}

/// Writes the workforce zip for the snapshot at the end of `month` into `dir`: the detailed CSV
/// and, when `high_level`, the high-level CSV. Practices are those open at the month's
/// registration extract.
pub fn write_practice_zip(
    world: &World,
    month: NaiveDate,
    high_level: bool,
    dir: &Path,
) -> io::Result<PathBuf> {
    let snapshot = last_day_of_month(month_start(month));
    let rows = staffing(world, month);
    let path = dir.join(zip_name(snapshot));
    let mut zip = ZipWriter::new(File::create(&path)?);
    // The fastest deflate level: the demo writes these files once, to import them at once.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    let (detailed, long) = member_names(snapshot);
    zip.start_file(detailed, options)
        .map_err(io::Error::other)?;
    write_detailed(&rows, &mut zip)?;
    if high_level {
        zip.start_file(long, options).map_err(io::Error::other)?;
        write_high_level(&rows, &mut zip)?;
    }
    zip.finish().map_err(io::Error::other)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::catalogue::nwrs::parse::{
        Layout, detect, read_detailed, read_high_level, snapshot_of,
    };
    use crate::source::open_sources;

    /// Practice, group, role, headcount and FTE.
    type StaffRow = (String, String, String, Option<i64>, Option<i64>);

    /// Both files of a demo zip read back through the importer's parsers with the same staff
    /// groups and roles, so the high-level file overrides the detailed one row for row.
    #[test]
    fn demo_zips_read_back_with_matching_roles() {
        let world = World::generate(7, 0.01);
        let dir = tempfile::tempdir().unwrap();
        let month = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        let path = write_practice_zip(&world, month, true, dir.path()).unwrap();
        assert_eq!(path.file_name().unwrap(), "GPWPracticeCSV.092025.zip");
        let sources = open_sources(&path).unwrap();
        assert_eq!(sources.len(), 2);
        let mut keys = Vec::new();
        for src in &sources {
            assert_eq!(
                snapshot_of(src).unwrap(),
                NaiveDate::from_ymd_opt(2025, 9, 30).unwrap()
            );
            let practices = match detect(src).unwrap() {
                Layout::Detailed => read_detailed(src)
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                Layout::HighLevel => read_high_level(src).unwrap(),
            };
            assert_eq!(practices.len(), world.registrations(month).len());
            let roles: BTreeSet<StaffRow> = practices
                .iter()
                .flat_map(|p| {
                    p.staff.iter().map(|s| {
                        (
                            p.geography.practice_code.clone(),
                            s.staff_group.to_string(),
                            s.staff_role.to_string(),
                            s.headcount,
                            s.fte,
                        )
                    })
                })
                .collect();
            assert_eq!(roles.len(), practices.len() * (ROLES.len() + GROUPS.len()));
            keys.push(roles);
        }
        assert_eq!(keys[0], keys[1]);
    }

    #[test]
    fn names_follow_the_publication() {
        let snapshot = NaiveDate::from_ymd_opt(2023, 9, 30).unwrap();
        assert_eq!(zip_name(snapshot), "GPWPracticeCSV.092023.zip");
        assert_eq!(
            member_names(snapshot).0,
            "1 General Practice – September 2023 Practice Level - Detailed.csv"
        );
    }
}
