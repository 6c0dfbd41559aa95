//! Demo payments files written from the synthetic world, in the publisher's layouts: the
//! 2024-25 practice file (spaced headers, one of them broken over two lines, a trailing space
//! and a footnote digit, UTF-8 with a BOM), the 2016-17 practice file (CamelCase headers with
//! `_£` in ISO-8859-1, amounts with `£` and thousands commas) and the 2024-25 PCN file, in the
//! column order this importer assumes for it. About one row per practice a year and one per PCN.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::synthetic::{Rng, World, mix};

/// The 2024-25 practice file's header, in the order this demo writes it. The publisher's own
/// order is not confirmed; the importer reads columns by name.
const PRACTICE_2425: &[&str] = &[
    "NHS England Region Code",
    "NHS England Region Name",
    "ICB Code",
    "ICB Name",
    "Sub-ICB Location Code",
    "Sub-ICB Location Name",
    "Practice Code",
    "Practice Name",
    "Practice Address",
    "Practice Postcode",
    "PCN Code",
    "PCN Name",
    "Practice Open Date",
    "Contract Type",
    "Dispensing Practice",
    "Practice Rurality",
    "Average Number of Registered Patients",
    "Average Number of\nWeighted Patients",
    "Global Sum",
    "Total QOF Payments",
    "PCN Participation",
    "Appraisal Costs ",
    "Other Payments1",
    "Total NHS Payments to General Practice",
    "Deductions for Pensions, Levies and Prescription Charge Income",
    "Total NHS Payments to General Practice Minus Deductions",
    "Average payments per registered patient",
    "Average payments per weighted patient",
];

const PRACTICE_1617: &[&str] = &[
    "NHSEnglandRegionCode",
    "CCGCode",
    "PracticeCode",
    "PracticeName",
    "ContractType",
    "DispensingPractice",
    "NumberOfRegisteredPatientsLastKnownFigure",
    "NumberOfWeightedPatientsLastKnownFigure",
    "GlobalSum_£",
    "TotalQOFPayments_£",
    "OtherPayments_£",
    "TotalNHSPaymentsToGeneralPractice_£",
];

const PCN_2425: &[&str] = &[
    "Region Code",
    "ICB Code",
    "PCN Code",
    "PCN Name",
    "Average Number of Registered Patients",
    "Average Number of Weighted Patients",
    "Total NHS Payments to PCN",
    "Additional Roles Reimbursement Scheme",
    "Investment and Impact Fund",
    "Capacity and Access Support Payment",
];

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Pence as a plain decimal (`1234.56`, `-12.05`).
fn pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let pence = pence.unsigned_abs();
    format!("{sign}{}.{:02}", pence / 100, pence % 100)
}

/// Pence as the 2016-17 file writes larger amounts: `£1,234.56`, quoted for the comma.
fn pounds_marked(pence: i64) -> String {
    let plain = pounds(pence);
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, "00"));
    let (sign, digits) = whole.split_at(usize::from(whole.starts_with('-')));
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    field(&format!("{sign}£{grouped}.{fraction}"))
}

/// One practice's payments in a year, in pence (patients in hundredths).
struct Payments {
    registered: i64,
    weighted: i64,
    global_sum: i64,
    qof: i64,
    pcn_participation: i64,
    appraisal: Option<i64>,
    other: i64,
}

impl Payments {
    fn draw(patients: u64, key: u64) -> Payments {
        let mut rng = Rng::new(key);
        let registered = patients as f64;
        let weighted = registered * (0.85 + 0.3 * rng.unit());
        let pence =
            |per_patient: f64, patients: f64| (per_patient * patients * 100.0).round() as i64;
        Payments {
            registered: (registered * 100.0) as i64,
            weighted: (weighted * 100.0).round() as i64,
            global_sum: pence(102.0 + 8.0 * rng.unit(), weighted),
            qof: pence(18.0 + 6.0 * rng.unit(), registered),
            pcn_participation: pence(1.76, weighted),
            appraisal: rng.chance(0.8).then(|| rng.between(50_000, 400_000)),
            // A clawback now and then makes the other payments negative.
            other: if rng.chance(0.05) {
                -rng.between(1_000, 200_000)
            } else {
                pence(20.0 * rng.unit(), registered)
            },
        }
    }

    fn total(&self) -> i64 {
        self.global_sum
            + self.qof
            + self.pcn_participation
            + self.appraisal.unwrap_or(0)
            + self.other
    }

    fn per(&self, patients: i64) -> i64 {
        if patients == 0 {
            0
        } else {
            (self.total() as f64 / (patients as f64 / 100.0)).round() as i64
        }
    }
}

/// The middle of a financial year, when its practices are counted.
fn mid_year(start: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(start, 10, 1).expect("a real day")
}

fn header(out: &mut impl Write, names: &[&str]) -> io::Result<()> {
    let fields: Vec<String> = names.iter().map(|n| field(n)).collect();
    writeln!(out, "{}", fields.join(","))
}

/// Writes the demo's three payments files under `dir`.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let recent = dir.join("nhspaymentsgp-24-25-prac-csv.csv");
    write_2425(world, &recent)?;
    let older = dir.join("nhspaymentsgp-16-17-csv.csv");
    write_1617(world, &older)?;
    let pcns = dir.join("nhspaymentsgp-24-25-pcn-csv.csv");
    write_pcns(world, &pcns)?;
    Ok(vec![recent, older, pcns])
}

fn write_2425(world: &World, path: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(b"\xEF\xBB\xBF")?;
    header(&mut out, PRACTICE_2425)?;
    let day = mid_year(2024);
    for (i, practice) in world.practices.iter().enumerate() {
        let Some(registrations) = world.practice_registrations(i, day) else {
            continue;
        };
        let key = mix(practice.list.key, 2024);
        let pay = Payments::draw(registrations.total(), key);
        let sub = &world.sub_icbs[practice.sub_icb];
        let icb = &world.icbs[practice.icb];
        let region = &world.regions[practice.region];
        let (pcn_code, pcn_name) = match world.pcn_at(i, day) {
            Some(p) => (world.pcns[p].code.clone(), world.pcns[p].name.clone()),
            None => ("U".to_owned(), "Unallocated".to_owned()),
        };
        let contract = ["GMS", "GMS", "GMS", "PMS", "APMS"][(key % 5) as usize];
        let dispensing = ["No", "No", "No", "No", "Yes", "Unknown"][(key / 5 % 6) as usize];
        let rurality = if (key / 30).is_multiple_of(5) {
            "Rural"
        } else {
            "Urban"
        };
        let deductions = pay.total() / 20;
        let row = [
            region.code.clone(),
            region.name.clone(),
            icb.code.clone(),
            icb.name.clone(),
            sub.code.clone(),
            sub.name.clone(),
            practice.code.clone(),
            practice.name.clone(),
            practice.address.join(", "),
            practice.postcode.clone(),
            pcn_code,
            pcn_name,
            practice.open_date.format("%d/%m/%Y").to_string(),
            contract.to_owned(),
            dispensing.to_owned(),
            rurality.to_owned(),
            pounds(pay.registered),
            pounds(pay.weighted),
            pounds(pay.global_sum),
            pounds(pay.qof),
            pounds(pay.pcn_participation),
            pay.appraisal.map_or_else(|| "-".to_owned(), pounds),
            pounds(pay.other),
            pounds(pay.total()),
            pounds(deductions),
            pounds(pay.total() - deductions),
            pounds(pay.per(pay.registered)),
            pounds(pay.per(pay.weighted)),
        ];
        let fields: Vec<String> = row.iter().map(|v| field(v)).collect();
        writeln!(out, "{}", fields.join(","))?;
    }
    out.flush()
}

fn write_1617(world: &World, path: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    // ISO-8859-1: `£` is the single byte 0xA3.
    let latin1 = |text: &str| -> Vec<u8> { text.chars().map(|c| c as u32 as u8).collect() };
    let names: Vec<String> = PRACTICE_1617.iter().map(|n| field(n)).collect();
    out.write_all(&latin1(&names.join(",")))?;
    out.write_all(b"\r\n")?;
    let day = mid_year(2016);
    for (i, practice) in world.practices.iter().enumerate() {
        let Some(registrations) = world.practice_registrations(i, day) else {
            continue;
        };
        let key = mix(practice.list.key, 2016);
        let pay = Payments::draw(registrations.total(), key);
        let contract = ["GMS", "GMS", "PMS", "APMS"][(key % 4) as usize];
        let dispensing = if (key / 4).is_multiple_of(6) {
            "Yes"
        } else {
            "No"
        };
        let row = [
            world.regions[practice.region].code.clone(),
            world.sub_icbs[practice.sub_icb].code.clone(),
            practice.code.clone(),
            field(&practice.name),
            contract.to_owned(),
            dispensing.to_owned(),
            (pay.registered / 100).to_string(),
            pounds(pay.weighted),
            pounds_marked(pay.global_sum),
            pounds_marked(pay.qof),
            pounds_marked(pay.other),
            pounds_marked(pay.total() - pay.pcn_participation),
        ];
        out.write_all(&latin1(&row.join(",")))?;
        out.write_all(b"\r\n")?;
    }
    out.flush()
}

fn write_pcns(world: &World, path: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(b"\xEF\xBB\xBF")?;
    header(&mut out, PCN_2425)?;
    let day = mid_year(2024);
    let mut patients = vec![0u64; world.pcns.len()];
    for i in 0..world.practices.len() {
        if let (Some(pcn), Some(registrations)) =
            (world.pcn_at(i, day), world.practice_registrations(i, day))
        {
            patients[pcn] += registrations.total();
        }
    }
    for (p, pcn) in world.pcns.iter().enumerate() {
        if patients[p] == 0 {
            continue;
        }
        let sub = &world.sub_icbs[pcn.sub_icb];
        let mut rng = Rng::new(mix(world.seed, mix(0x9C, p as u64)));
        let registered = patients[p] as f64;
        let weighted = registered * (0.9 + 0.2 * rng.unit());
        let pence = |per_patient: f64| (per_patient * registered * 100.0).round() as i64;
        let arrs = pence(25.0 + 10.0 * rng.unit());
        let iif = if rng.chance(0.1) {
            None
        } else {
            Some(pence(1.5 * rng.unit()))
        };
        let caps = pence(3.0 + rng.unit());
        let row = [
            world.regions[sub.region].code.clone(),
            world.icbs[sub.icb].code.clone(),
            pcn.code.clone(),
            field(&pcn.name),
            pounds(patients[p] as i64 * 100),
            pounds((weighted * 100.0).round() as i64),
            pounds(arrs + iif.unwrap_or(0) + caps),
            pounds(arrs),
            iif.map_or_else(|| "-".to_owned(), pounds),
            pounds(caps),
        ];
        writeln!(out, "{}", row.join(","))?;
    }
    out.flush()
}
