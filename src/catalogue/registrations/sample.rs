//! Demo "Patients Registered at a GP Practice" extracts written from the synthetic world, in
//! the current (July 2022 onwards) layouts.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use crate::synthetic::{
    AGE_BANDS, AS_OF, BAND_COUNT, PracticeRegistrations, World, month_start, months_ending,
};

pub const MAP_FILE: &str = "gp-reg-pat-prac-map.csv";
pub const QUIN_AGE_FILE: &str = "gp-reg-pat-prac-quin-age.csv";

const PUBLICATION: &str = "GP_PRAC_PAT_LIST";

const MAP_HEADER: &str = "PUBLICATION,EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,PRACTICE_POSTCODE,\
PCN_CODE,PCN_NAME,ONS_SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_NAME,\
ONS_ICB_CODE,ICB_CODE,ICB_NAME,ONS_COMM_REGION_CODE,COMM_REGION_CODE,COMM_REGION_NAME,SUPPLIER_NAME";

const QUIN_AGE_HEADER: &str = "PUBLICATION,EXTRACT_DATE,ORG_TYPE,ORG_CODE,ONS_CODE,POSTCODE,SEX,AGE_GROUP_5,NUMBER_OF_PATIENTS";

/// Flush the quinary-age buffer to disk once it reaches this size.
const FLUSH_AT: usize = 1 << 20;

/// Monthly extracts in the demo: two financial years and more.
const DEMO_MONTHS: usize = 24;

/// The demo's extracts, one folder a month under `registrations/`, the latest for `AS_OF`; all
/// imported in one run, as an operator catching up would.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for month in months_ending(AS_OF, DEMO_MONTHS) {
        let month_dir = dir
            .join("registrations")
            .join(month.format("%Y-%m").to_string());
        std::fs::create_dir_all(&month_dir)?;
        files.extend(write_registrations(world, month, &month_dir)?);
    }
    Ok(files)
}

/// Writes one monthly extract (the 1st of `month`'s month) into `dir`:
/// `gp-reg-pat-prac-map.csv` and `gp-reg-pat-prac-quin-age.csv`, in that order. Only practices
/// open at the extract date appear; every higher level is the exact sum of its practices.
pub fn write_registrations(
    world: &World,
    month: NaiveDate,
    dir: &Path,
) -> io::Result<Vec<PathBuf>> {
    let month = month_start(month);
    let extract = extract_date(month);
    let registrations = world.registrations(month);
    let pcns: Vec<Option<usize>> = registrations
        .iter()
        .map(|r| world.pcn_at(r.practice, month))
        .collect();
    let map = write_map(world, &extract, &registrations, &pcns, dir)?;
    let quin_age = write_quin_age(world, &extract, &registrations, &pcns, dir)?;
    Ok(vec![map, quin_age])
}

/// `01APR2024`.
fn extract_date(month: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    format!(
        "{:02}{}{}",
        month.day(),
        MONTHS[month.month0() as usize],
        month.year()
    )
}

fn write_map(
    world: &World,
    extract: &str,
    registrations: &[PracticeRegistrations],
    pcns: &[Option<usize>],
    dir: &Path,
) -> io::Result<PathBuf> {
    let path = dir.join(MAP_FILE);
    let mut out = BufWriter::new(File::create(&path)?);
    writeln!(out, "{MAP_HEADER}")?;
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    for (registration, pcn) in registrations.iter().zip(pcns) {
        let practice = &world.practices[registration.practice];
        let sub = &world.sub_icbs[practice.sub_icb];
        let icb = &world.icbs[practice.icb];
        let region = &world.regions[practice.region];
        let (pcn_code, pcn_name) = match pcn {
            Some(i) => (
                world.pcns[*i].code.as_str(),
                world.pcns[*i].name.to_uppercase(),
            ),
            None => ("U", "Unallocated".to_owned()),
        };
        csv.write_record([
            PUBLICATION,
            extract,
            &practice.code,
            &practice.name.to_uppercase(),
            &practice.postcode,
            pcn_code,
            &pcn_name,
            &sub.ons_code,
            &sub.code,
            &sub.name,
            &icb.ons_code,
            &icb.code,
            &icb.name,
            &region.ons_code,
            &region.code,
            &region.name,
            &practice.supplier,
        ])?;
    }
    csv.into_inner()
        .map_err(|e| e.into_error())?
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    Ok(path)
}

/// Patients by sex and band for one organisation.
#[derive(Clone)]
struct Tally {
    male: [u64; BAND_COUNT],
    female: [u64; BAND_COUNT],
    practices: usize,
}

impl Tally {
    const EMPTY: Tally = Tally {
        male: [0; BAND_COUNT],
        female: [0; BAND_COUNT],
        practices: 0,
    };

    fn of(registration: &PracticeRegistrations) -> Tally {
        let mut tally = Tally::EMPTY;
        tally.add(registration);
        tally
    }

    fn add(&mut self, registration: &PracticeRegistrations) {
        for (sum, n) in self.male.iter_mut().zip(&registration.male) {
            *sum += u64::from(*n);
        }
        for (sum, n) in self.female.iter_mut().zip(&registration.female) {
            *sum += u64::from(*n);
        }
        self.practices += 1;
    }
}

fn write_quin_age(
    world: &World,
    extract: &str,
    registrations: &[PracticeRegistrations],
    pcns: &[Option<usize>],
    dir: &Path,
) -> io::Result<PathBuf> {
    let mut by_pcn = vec![Tally::EMPTY; world.pcns.len()];
    let mut by_sub = vec![Tally::EMPTY; world.sub_icbs.len()];
    let mut by_icb = vec![Tally::EMPTY; world.icbs.len()];
    let mut by_region = vec![Tally::EMPTY; world.regions.len()];
    for (registration, pcn) in registrations.iter().zip(pcns) {
        let practice = &world.practices[registration.practice];
        if let Some(pcn) = pcn {
            by_pcn[*pcn].add(registration);
        }
        by_sub[practice.sub_icb].add(registration);
        by_icb[practice.icb].add(registration);
        by_region[practice.region].add(registration);
    }

    let path = dir.join(QUIN_AGE_FILE);
    let mut file = File::create(&path)?;
    let mut out = QuinAgeWriter {
        buf: Vec::with_capacity(FLUSH_AT + (1 << 16)),
        extract,
    };
    out.buf.extend_from_slice(QUIN_AGE_HEADER.as_bytes());
    out.buf.push(b'\n');

    let mut regions: Vec<usize> = (0..world.regions.len()).collect();
    regions.sort_by_key(|&i| &world.regions[i].code);
    for i in regions {
        let region = &world.regions[i];
        out.org(
            &by_region[i],
            "Comm Region",
            &region.code,
            &region.ons_code,
            "",
        );
        out.flush_if_full(&mut file)?;
    }
    let mut icbs: Vec<usize> = (0..world.icbs.len()).collect();
    icbs.sort_by_key(|&i| &world.icbs[i].code);
    for i in icbs {
        let icb = &world.icbs[i];
        out.org(&by_icb[i], "ICB", &icb.code, &icb.ons_code, "");
        out.flush_if_full(&mut file)?;
    }
    let mut subs: Vec<usize> = (0..world.sub_icbs.len()).collect();
    subs.sort_by_key(|&i| &world.sub_icbs[i].code);
    for i in subs {
        let sub = &world.sub_icbs[i];
        out.org(
            &by_sub[i],
            "SUB_ICB_LOCATION_CODE",
            &sub.code,
            &sub.ons_code,
            "",
        );
        out.flush_if_full(&mut file)?;
    }
    for (pcn, tally) in world.pcns.iter().zip(&by_pcn) {
        out.org(tally, "PCN", &pcn.code, "", "");
        out.flush_if_full(&mut file)?;
    }
    for registration in registrations {
        let practice = &world.practices[registration.practice];
        let tally = Tally::of(registration);
        out.org(&tally, "GP", &practice.code, "", &practice.postcode);
        out.flush_if_full(&mut file)?;
    }
    file.write_all(&out.buf)?;
    Ok(path)
}

/// Formats quinary-age rows straight into a byte buffer: a national month is ~500k lines.
struct QuinAgeWriter<'a> {
    buf: Vec<u8>,
    extract: &'a str,
}

impl QuinAgeWriter<'_> {
    /// Writes the 63 rows (ALL, FEMALE, MALE × 20 bands and ALL) of one organisation, or
    /// nothing if it has no open practice this month.
    fn org(&mut self, tally: &Tally, org_type: &str, code: &str, ons_code: &str, postcode: &str) {
        if tally.practices == 0 {
            return;
        }
        let prefix = format!(
            "{PUBLICATION},{},{org_type},{code},{ons_code},{postcode},",
            self.extract
        );
        let mut all = [0u64; BAND_COUNT];
        for (sum, (m, f)) in all.iter_mut().zip(tally.male.iter().zip(&tally.female)) {
            *sum = m + f;
        }
        for (sex, counts) in [
            ("ALL", &all),
            ("FEMALE", &tally.female),
            ("MALE", &tally.male),
        ] {
            for (band, n) in AGE_BANDS.iter().zip(counts) {
                self.line(&prefix, sex, band, *n);
            }
            self.line(&prefix, sex, "ALL", counts.iter().sum());
        }
    }

    fn line(&mut self, prefix: &str, sex: &str, band: &str, n: u64) {
        self.buf.extend_from_slice(prefix.as_bytes());
        self.buf.extend_from_slice(sex.as_bytes());
        self.buf.push(b',');
        self.buf.extend_from_slice(band.as_bytes());
        self.buf.push(b',');
        push_decimal(&mut self.buf, n);
        self.buf.push(b'\n');
    }

    fn flush_if_full(&mut self, file: &mut File) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

fn push_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use super::*;
    use crate::synthetic::AS_OF;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn rows(path: &Path) -> Vec<HashMap<String, String>> {
        let mut reader = csv::Reader::from_path(path).expect("readable CSV");
        let headers = reader.headers().unwrap().clone();
        reader
            .records()
            .map(|r| {
                let r = r.expect("valid record");
                headers
                    .iter()
                    .zip(r.iter())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn extract_dates_are_upper_case_day_month_year() {
        assert_eq!(extract_date(ymd(2024, 4, 1)), "01APR2024");
        assert_eq!(extract_date(ymd(2025, 12, 1)), "01DEC2025");
    }

    #[test]
    fn push_decimal_formats_integers() {
        let mut buf = Vec::new();
        for n in [0, 7, 10, 9_000, u64::MAX] {
            push_decimal(&mut buf, n);
            buf.push(b' ');
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!("0 7 10 9000 {} ", u64::MAX)
        );
    }

    /// Checks one extract end to end: headers, practices, and that every level is the exact
    /// sum of the level below, using the map file for the hierarchy.
    fn check_extract(world: &World, month: NaiveDate) {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_registrations(world, month, dir.path()).unwrap();
        assert_eq!(paths[0].file_name().unwrap(), MAP_FILE);
        assert_eq!(paths[1].file_name().unwrap(), QUIN_AGE_FILE);
        let map_text = std::fs::read_to_string(&paths[0]).unwrap();
        assert_eq!(map_text.lines().next().unwrap(), MAP_HEADER);
        let quin_text = std::fs::read_to_string(&paths[1]).unwrap();
        assert_eq!(quin_text.lines().next().unwrap(), QUIN_AGE_HEADER);

        let extract = extract_date(month);
        let map = rows(&paths[0]);
        let open: Vec<&str> = world
            .practices
            .iter()
            .filter(|p| p.is_open_on(month))
            .map(|p| p.code.as_str())
            .collect();
        let mapped: Vec<&str> = map.iter().map(|r| r["PRACTICE_CODE"].as_str()).collect();
        assert_eq!(mapped, open);
        for row in &map {
            assert_eq!(row["PUBLICATION"], PUBLICATION);
            assert_eq!(row["EXTRACT_DATE"], extract);
            assert_eq!(row["PCN_CODE"] == "U", row["PCN_NAME"] == "Unallocated");
        }

        // counts[(org_type, code)][(sex, band)]
        let mut counts: BTreeMap<(String, String), HashMap<(String, String), u64>> =
            BTreeMap::new();
        for row in rows(&paths[1]) {
            assert_eq!(row["EXTRACT_DATE"], extract);
            assert_eq!(row["POSTCODE"].is_empty(), row["ORG_TYPE"] != "GP");
            let entry = counts
                .entry((row["ORG_TYPE"].clone(), row["ORG_CODE"].clone()))
                .or_default();
            let previous = entry.insert(
                (row["SEX"].clone(), row["AGE_GROUP_5"].clone()),
                row["NUMBER_OF_PATIENTS"].parse().unwrap(),
            );
            assert!(previous.is_none(), "duplicate row");
        }
        let bands: Vec<&str> = AGE_BANDS.iter().copied().chain(["ALL"]).collect();
        for (org, cells) in &counts {
            assert_eq!(cells.len(), 63, "{org:?}");
            for band in &bands {
                let get = |sex: &str| cells[&(sex.to_owned(), (*band).to_owned())];
                assert_eq!(get("ALL"), get("MALE") + get("FEMALE"), "{org:?} {band}");
            }
            for sex in ["ALL", "MALE", "FEMALE"] {
                let sum: u64 = AGE_BANDS
                    .iter()
                    .map(|b| cells[&(sex.to_owned(), (*b).to_owned())])
                    .sum();
                assert_eq!(sum, cells[&(sex.to_owned(), "ALL".to_owned())], "{org:?}");
            }
        }

        let gp: HashSet<&str> = counts
            .keys()
            .filter(|(t, _)| t == "GP")
            .map(|(_, c)| c.as_str())
            .collect();
        assert_eq!(gp, open.iter().copied().collect());

        // Sum practices up each level through the map's hierarchy and compare.
        let mut expected: BTreeMap<(String, String), HashMap<(String, String), u64>> =
            BTreeMap::new();
        for row in &map {
            let cells = counts[&("GP".to_owned(), row["PRACTICE_CODE"].clone())].clone();
            let mut parents = vec![
                (
                    "SUB_ICB_LOCATION_CODE",
                    row["SUB_ICB_LOCATION_CODE"].clone(),
                ),
                ("ICB", row["ICB_CODE"].clone()),
                ("Comm Region", row["COMM_REGION_CODE"].clone()),
            ];
            if row["PCN_CODE"] != "U" {
                parents.push(("PCN", row["PCN_CODE"].clone()));
            }
            for (org_type, code) in parents {
                let entry = expected.entry((org_type.to_owned(), code)).or_default();
                for (key, n) in &cells {
                    *entry.entry(key.clone()).or_default() += n;
                }
            }
        }
        let higher: BTreeMap<_, _> = counts.into_iter().filter(|((t, _), _)| t != "GP").collect();
        assert_eq!(higher, expected);
    }

    #[test]
    fn levels_sum_exactly_at_small_scale() {
        let world = World::generate(42, 0.05);
        check_extract(&world, AS_OF);
        check_extract(&world, ymd(2023, 11, 1));
    }

    #[test]
    fn tiny_world_writes_a_valid_extract() {
        let world = World::generate(1, 0.0005);
        check_extract(&world, AS_OF);
    }

    #[test]
    fn extracts_are_deterministic_and_change_month_to_month() {
        let a = World::generate(9, 0.02);
        let b = World::generate(9, 0.02);
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let months = months_ending(AS_OF, 2);
        let mut previous: Option<Vec<u8>> = None;
        for month in months {
            let pa = write_registrations(&a, month, first.path()).unwrap();
            let pb = write_registrations(&b, month, second.path()).unwrap();
            for (x, y) in pa.iter().zip(&pb) {
                assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
            }
            let quin = std::fs::read(&pa[1]).unwrap();
            assert_ne!(previous.as_ref(), Some(&quin));
            previous = Some(quin);
        }
    }
}
