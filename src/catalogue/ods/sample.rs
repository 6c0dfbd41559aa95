//! Demo ODS files written from the synthetic world, in the publishers' layouts: the legacy
//! `epraccur.csv` and the DSE `epcncorepartnerdetails.csv`.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use crate::synthetic::{Practice, PracticeStatus, Rng, World, mix};

const EPRACCUR_COLUMNS: usize = 27;

/// Prescribing setting of a GP practice in epraccur column 26.
const GP_SETTING: &str = "4";

/// The demo's practices: `ods/epraccur.csv` under `dir`.
pub fn epraccur_demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    Ok(vec![write_epraccur(world, &ods_dir(dir)?)?])
}

/// The demo's PCNs: `ods/epcncorepartnerdetails.csv` under `dir`.
pub fn epcn_demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    Ok(vec![write_epcn_core_partner_csv(world, &ods_dir(dir)?)?])
}

fn ods_dir(dir: &Path) -> io::Result<PathBuf> {
    let ods = dir.join("ods");
    std::fs::create_dir_all(&ods)?;
    Ok(ods)
}

/// Writes `epraccur.csv`: no header, 27 double-quoted columns, CRLF, sorted by code. Besides
/// the world's practices it holds other prescribing cost centres (walk-in centres, out of
/// hours, public health, care homes, prisons) and a few Welsh practices, as the real file does.
pub fn write_epraccur(world: &World, dir: &Path) -> io::Result<PathBuf> {
    let mut rows: Vec<[String; EPRACCUR_COLUMNS]> = world
        .practices
        .iter()
        .enumerate()
        .map(|(i, p)| practice_row(world, i, p))
        .collect();
    rows.extend(other_cost_centres(world));
    rows.extend(welsh_practices());
    rows.sort_by(|a, b| a[0].cmp(&b[0]));

    let path = dir.join("epraccur.csv");
    let mut out = BufWriter::new(File::create(&path)?);
    for row in &rows {
        write_quoted_row(&mut out, row)?;
    }
    out.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok(path)
}

/// Writes the DSE `epcncorepartnerdetails.csv`: a UTF-8 BOM, no header, one row per
/// practice–PCN membership spell with 11 double-quoted columns, CRLF.
pub fn write_epcn_core_partner_csv(world: &World, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join("epcncorepartnerdetails.csv");
    let mut out = BufWriter::new(File::create(&path)?);
    out.write_all("\u{feff}".as_bytes())?;
    for m in &world.memberships {
        let practice = &world.practices[m.practice];
        let pcn = &world.pcns[m.pcn];
        let practice_sub = &world.sub_icbs[practice.sub_icb];
        let pcn_sub = &world.sub_icbs[pcn.sub_icb];
        let same_sub = if practice.sub_icb == pcn.sub_icb {
            "Y"
        } else {
            "N"
        };
        write_quoted_row(
            &mut out,
            &[
                practice.code.as_str(),
                &practice.name.to_uppercase(),
                &practice_sub.code,
                &practice_sub.name.to_uppercase(),
                &pcn.code,
                &pcn.name.to_uppercase(),
                &pcn_sub.code,
                &pcn_sub.name.to_uppercase(),
                &yyyymmdd(m.start),
                &m.end.map(yyyymmdd).unwrap_or_default(),
                same_sub,
            ],
        )?;
    }
    out.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok(path)
}

fn practice_row(world: &World, index: usize, p: &Practice) -> [String; EPRACCUR_COLUMNS] {
    let sub = &world.sub_icbs[p.sub_icb];
    let mut row: [String; EPRACCUR_COLUMNS] = Default::default();
    row[0] = p.code.clone();
    row[1] = p.name.to_uppercase();
    row[2] = world.regions[p.region].code.clone();
    row[3] = world.icbs[p.icb].code.clone();
    for (slot, line) in row[4..9].iter_mut().zip(&p.address) {
        *slot = line.to_uppercase();
    }
    row[9] = p.postcode.clone();
    row[10] = yyyymmdd(p.open_date);
    row[11] = p.close_date.map(yyyymmdd).unwrap_or_default();
    row[12] = p.status.code().to_owned();
    row[13] = "B".to_owned();
    row[14] = sub.code.clone();
    // A practice joins its commissioner when either comes into being, never after closing.
    let joined = p.open_date.max(sub.open_date);
    row[15] = yyyymmdd(p.close_date.map_or(joined, |close| joined.min(close)));
    row[16] = row[11].clone();
    row[17] = p.phone.clone();
    // ODS flags records changed since the previous release; a few per release is typical.
    row[21] = if mix(world.seed, index as u64).is_multiple_of(40) {
        "1"
    } else {
        "0"
    }
    .to_owned();
    row[23] = sub.code.clone();
    row[25] = GP_SETTING.to_owned();
    row
}

const CARE_HOMES: &[&str] = &[
    "THE ELMS",
    "ROSEWOOD",
    "BRAMBLE LODGE",
    "MEADOW VIEW",
    "HAWTHORN HOUSE",
    "THE BEECHES",
    "ASHLEIGH",
    "WILLOWBANK",
];

/// Non-GP cost centres sited alongside real practices; importers must skip them.
fn other_cost_centres(world: &World) -> Vec<[String; EPRACCUR_COLUMNS]> {
    let hosts: Vec<&Practice> = world
        .practices
        .iter()
        .filter(|p| p.status == PracticeStatus::Active)
        .collect();
    if hosts.is_empty() {
        return Vec::new();
    }
    let mut rng = Rng::new(mix(world.seed, 0x0E9A_CC0E));
    let mut codes = HashSet::new();
    let count = (world.practices.len() / 60).max(5);
    (0..count)
        .map(|_| {
            let host = *rng.pick(&hosts);
            let town = host.town().to_uppercase();
            let (setting, name) = match rng.below(20) {
                0..=2 => ("1", format!("{town} WALK-IN CENTRE")),
                3..=5 => ("2", format!("{town} OUT OF HOURS SERVICE")),
                6..=10 if rng.chance(0.5) => ("8", format!("{town} SEXUAL HEALTH SERVICE")),
                6..=10 => ("8", format!("{town} SUBSTANCE MISUSE SERVICE")),
                11..=16 => ("14", format!("{} NURSING HOME", rng.pick(CARE_HOMES))),
                _ => ("25", format!("HMP {town}")),
            };
            // Practice `Y` codes stay below Y20000, so these never collide with them.
            let code = loop {
                let code = format!("Y{}", rng.between(60_000, 99_999));
                if codes.insert(code.clone()) {
                    break code;
                }
            };
            let sub = &world.sub_icbs[host.sub_icb];
            let open =
                NaiveDate::from_ymd_opt(rng.between(1995, 2020) as i32, 4, 1).expect("valid date");
            let close = rng
                .chance(0.1)
                .then(|| NaiveDate::from_ymd_opt(2023, 3, 31).expect("valid date"));
            let mut row: [String; EPRACCUR_COLUMNS] = Default::default();
            row[0] = code;
            row[1] = name;
            row[2] = world.regions[host.region].code.clone();
            row[3] = world.icbs[host.icb].code.clone();
            for (slot, line) in row[4..9].iter_mut().zip(&host.address) {
                *slot = line.to_uppercase();
            }
            row[9] = host.postcode.clone();
            row[10] = yyyymmdd(open);
            row[11] = close.map(yyyymmdd).unwrap_or_default();
            row[12] = if close.is_some() { "C" } else { "A" }.to_owned();
            row[13] = "B".to_owned();
            row[14] = sub.code.clone();
            row[15] = yyyymmdd(open.max(sub.open_date));
            row[16] = row[11].clone();
            row[21] = "0".to_owned();
            row[23] = sub.code.clone();
            row[25] = setting.to_owned();
            row
        })
        .collect()
}

/// epraccur covers England and Wales; Welsh practices sit under national grouping W00 and a
/// health board, outside the world's English geography.
fn welsh_practices() -> Vec<[String; EPRACCUR_COLUMNS]> {
    const WELSH: [[&str; 8]; 3] = [
        [
            "W00005",
            "MEDDYGFA TEIFI",
            "7A2",
            "STRYD Y BONT",
            "LLANBEDR PONT STEFFAN",
            "SA48 7BD",
            "19740401",
            "01570 422665",
        ],
        [
            "W91042",
            "CANOLFAN IECHYD PENRHOS",
            "7A1",
            "FFORDD Y CASTELL",
            "BANGOR",
            "LL57 2NP",
            "19740401",
            "01248 370540",
        ],
        [
            "W97003",
            "ROATH LOCK MEDICAL CENTRE",
            "7A4",
            "12 CLIFTON STREET",
            "CARDIFF",
            "CF24 1LR",
            "20040401",
            "029 2048 3311",
        ],
    ];
    WELSH
        .iter()
        .map(|[code, name, board, street, town, postcode, open, phone]| {
            let mut row: [String; EPRACCUR_COLUMNS] = Default::default();
            row[0] = (*code).to_owned();
            row[1] = (*name).to_owned();
            row[2] = "W00".to_owned();
            row[3] = (*board).to_owned();
            row[4] = (*street).to_owned();
            row[5] = (*town).to_owned();
            row[9] = (*postcode).to_owned();
            row[10] = (*open).to_owned();
            row[12] = "A".to_owned();
            row[13] = "B".to_owned();
            row[14] = (*board).to_owned();
            row[15] = "20090401".to_owned();
            row[17] = (*phone).to_owned();
            row[21] = "0".to_owned();
            row[23] = (*board).to_owned();
            row[25] = GP_SETTING.to_owned();
            row
        })
        .collect()
}

fn yyyymmdd(date: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

/// Every field double-quoted (inner quotes doubled), CRLF-terminated, as ODS writes them.
fn write_quoted_row<S: AsRef<str>>(out: &mut impl Write, fields: &[S]) -> io::Result<()> {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\"")?;
        out.write_all(field.as_ref().replace('"', "\"\"").as_bytes())?;
        out.write_all(b"\"")?;
    }
    out.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::AS_OF;

    fn read(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("readable file")
    }

    fn records(bytes: &[u8]) -> Vec<csv::StringRecord> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .collect::<Result<_, _>>()
            .expect("valid CSV")
    }

    #[test]
    fn epraccur_has_27_quoted_fields_per_crlf_line() {
        let world = World::generate(7, 0.05);
        let dir = tempfile::tempdir().unwrap();
        let bytes = read(&write_epraccur(&world, dir.path()).unwrap());
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.ends_with("\r\n"));
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        for line in &lines {
            assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
            assert!(line.starts_with('"') && line.ends_with('"'), "{line}");
            // No field contains a double quote, so quotes come in pairs around the 27 fields.
            assert_eq!(line.matches('"').count(), 2 * EPRACCUR_COLUMNS, "{line}");
        }
        let rows = records(&bytes);
        assert_eq!(rows.len(), lines.len());
        assert!(rows.iter().all(|r| r.len() == EPRACCUR_COLUMNS));
        let codes: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert!(
            codes.windows(2).all(|w| w[0] < w[1]),
            "sorted, unique codes"
        );
    }

    #[test]
    fn epraccur_holds_every_practice_and_rows_to_skip() {
        let world = World::generate(7, 0.2);
        let dir = tempfile::tempdir().unwrap();
        let rows = records(&read(&write_epraccur(&world, dir.path()).unwrap()));
        let english_gp: Vec<&csv::StringRecord> = rows
            .iter()
            .filter(|r| &r[25] == "4" && &r[2] != "W00")
            .collect();
        assert_eq!(english_gp.len(), world.practices.len());
        for (row, p) in english_gp.iter().zip(&world.practices) {
            assert_eq!(&row[0], p.code);
            assert_eq!(&row[1], p.name.to_uppercase());
            assert_eq!(&row[2], world.regions[p.region].code);
            assert_eq!(&row[3], world.icbs[p.icb].code);
            assert_eq!(&row[9], p.postcode);
            assert_eq!(&row[12], p.status.code());
            assert_eq!(&row[14], world.sub_icbs[p.sub_icb].code);
            assert_eq!(row[11].is_empty(), p.close_date.is_none());
            assert_eq!(row[10].len(), 8);
            if !row[16].is_empty() {
                assert!(row[15] <= row[16], "joined after leaving: {row:?}");
            }
        }
        let settings: HashSet<&str> = rows.iter().map(|r| &r[25]).collect();
        for setting in ["1", "2", "4", "8", "14", "25"] {
            assert!(settings.contains(setting), "setting {setting}");
        }
        let welsh = rows.iter().filter(|r| &r[2] == "W00").count();
        assert!((2..=5).contains(&welsh));
        let statuses: HashSet<&str> = english_gp.iter().map(|r| &r[12]).collect();
        assert!(statuses.is_superset(&HashSet::from(["A", "C"])));
    }

    #[test]
    fn epcn_core_partner_rows_follow_memberships() {
        let world = World::generate(11, 1.0);
        let dir = tempfile::tempdir().unwrap();
        let bytes = read(&write_epcn_core_partner_csv(&world, dir.path()).unwrap());
        assert!(bytes.starts_with("\u{feff}\"".as_bytes()));
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(text.split_terminator("\r\n").all(|l| l.starts_with('"')));
        let rows = records(&bytes[3..]);
        assert_eq!(rows.len(), world.memberships.len());
        assert!(rows.iter().all(|r| r.len() == 11));
        let ended = rows.iter().filter(|r| !r[9].is_empty()).count();
        assert!(ended > 0, "some spells have ended");
        assert!(rows.iter().any(|r| &r[10] == "N"));
        assert!(rows.iter().filter(|r| &r[10] == "N").count() < rows.len() / 20);
        for (row, m) in rows.iter().zip(&world.memberships) {
            assert_eq!(&row[0], world.practices[m.practice].code);
            assert_eq!(&row[4], world.pcns[m.pcn].code);
            assert_eq!(row[9].is_empty(), m.end.is_none());
            assert_eq!(&row[10] == "Y", row[2] == row[6]);
            if let Some(end) = m.end {
                assert!(end < AS_OF);
            }
        }
    }

    #[test]
    fn files_are_deterministic() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let a = World::generate(3, 0.1);
        let b = World::generate(3, 0.1);
        assert_eq!(
            read(&write_epraccur(&a, first.path()).unwrap()),
            read(&write_epraccur(&b, second.path()).unwrap())
        );
        assert_eq!(
            read(&write_epcn_core_partner_csv(&a, first.path()).unwrap()),
            read(&write_epcn_core_partner_csv(&b, second.path()).unwrap())
        );
    }

    #[test]
    fn tiny_world_still_writes_valid_files() {
        let world = World::generate(5, 0.0005);
        let dir = tempfile::tempdir().unwrap();
        let rows = records(&read(&write_epraccur(&world, dir.path()).unwrap()));
        assert!(rows.iter().filter(|r| &r[25] == "4").count() >= 1);
        let partners = read(&write_epcn_core_partner_csv(&world, dir.path()).unwrap());
        let partners = records(&partners[3..]);
        assert!(!partners.is_empty());
    }
}
