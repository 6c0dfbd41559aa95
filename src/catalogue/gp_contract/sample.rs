//! Demo GP Contract files written from the synthetic world, in the publisher's layout: the
//! year's zip holding the last two quarters' Core GP Contract CSVs (three month ends each, the
//! earlier quarter's ACH_DATE as DD/MM/YYYY, the later's ISO, as releases differ), and the
//! latest quarter's CGPCMI01 Unpaid Carers CSV beside it, in the layout the importer assumes.
//!
//! Each practice open in a month has six rows: unpaid carers (CGPCMI01), an alcohol check
//! (ALCMI30: numerator and denominator) and a frailty assessment (CCDCMI32: numerator,
//! denominator and a PCA count); counts of 1 to 4 are suppressed (`*`). The carers file splits
//! each sub-ICB location's CGPCMI01 total by sex, by age band and by ethnicity, each beside
//! `All` in the other two breakdowns, with the total itself. About 6 × 6 × 6,300 = 230k core
//! rows and 4k carers rows at national scale.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::source::dates::last_day_of_month;
use crate::source::financial_year::FinancialYear;
use crate::synthetic::{AS_OF, World, mix};

const CORE_HEADER: &str =
    "QUALITY_SERVICE,PRACTICE_CODE,PRACTICE_NAME,ACH_DATE,IND_CODE,MEASURE,MEASURE_TYPE,VALUE";

const CARERS_HEADER: &str = "QUALITY_SERVICE,SUB_ICB_LOC_CODE,SUB_ICB_LOC_NAME,ACH_DATE,IND_CODE,\
MEASURE,SEX,AGE_BAND,ETHNICITY,VALUE";

/// The frailty indicator's PCA measure, as the producer names it.
const FRAILTY_PCA: &str = "PCA Count (Rule 3: FRAILASSDEC_DAT)";

/// Breakdowns of the carers file, each with its share of the total.
const SEXES: [(&str, u64); 2] = [("Female", 58), ("Male", 42)];
const AGES: [(&str, u64); 5] = [
    ("0-17", 4),
    ("18-24", 6),
    ("25-49", 30),
    ("50-64", 35),
    ("65+", 25),
];
const ETHNICITIES: [(&str, u64); 6] = [
    ("Asian", 9),
    ("Black", 4),
    ("Mixed", 2),
    ("Other", 2),
    ("White", 78),
    ("Unknown", 5),
];

/// A count as published: `*` for 1 to 4.
fn published(count: u64) -> String {
    if (1..5).contains(&count) {
        "*".to_owned()
    } else {
        count.to_string()
    }
}

/// A CSV field, quoted when it holds a comma or a quote.
fn field(value: &str) -> String {
    if value.contains([',', '"']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// `Core GP Contract 2025-26`, the year's quality service and the start of its file names.
fn quality_service(year: FinancialYear) -> String {
    let start = year.start_year();
    format!("Core GP Contract {start}-{:02}", (start + 1) % 100)
}

/// The quarter of its financial year a month falls in, 1 (April to June) to 4.
fn quarter_of(month: NaiveDate) -> u32 {
    (month.month() + 8) % 12 / 3 + 1
}

/// One quarter: its year, number and three month starts.
struct Quarter {
    year: FinancialYear,
    number: u32,
    months: [NaiveDate; 3],
}

impl Quarter {
    fn ending(last: NaiveDate) -> Quarter {
        let back = |n| last - Months::new(n);
        Quarter {
            year: FinancialYear::containing(last),
            number: quarter_of(last),
            months: [back(2), back(1), last],
        }
    }

    fn name(&self, prefix: &str) -> String {
        format!(
            "{prefix} Q{} {}.csv",
            self.number,
            &quality_service(self.year)["Core GP Contract ".len()..]
        )
    }
}

/// Patients and unpaid carers registered at practice `i` in the month starting `month`, or
/// `None` when the practice is not open then.
fn patients_and_carers(world: &World, i: usize, month: NaiveDate) -> Option<(u64, u64)> {
    let patients = world.practice_registrations(i, month)?.total();
    let key = mix(world.practices[i].list.key, month_key(month));
    // 1.5% to 3.5% of patients are recorded as unpaid carers.
    Some((patients, patients * (15 + key % 20) / 1000))
}

fn month_key(month: NaiveDate) -> u64 {
    u64::from(month.year() as u32 * 12 + month.month())
}

/// How a file writes ACH_DATE.
type DateForm = fn(NaiveDate) -> String;

/// Every open practice's rows for the quarter, ACH_DATE written by `date`.
fn write_core(
    world: &World,
    quarter: &Quarter,
    date: DateForm,
    out: &mut dyn Write,
) -> io::Result<()> {
    write!(out, "{CORE_HEADER}\r\n")?;
    let service = quality_service(quarter.year);
    for month in quarter.months {
        let ach_date = date(last_day_of_month(month));
        for (i, practice) in world.practices.iter().enumerate() {
            let Some((patients, carers)) = patients_and_carers(world, i, month) else {
                continue;
            };
            let key = mix(practice.list.key, month_key(month) ^ 0xC0);
            let new_patients = patients * (5 + key % 10) / 1000;
            let checked = new_patients * (60 + key % 30) / 100;
            let frail = patients * (8 + key % 8) / 1000;
            let assessed = frail * (50 + (key >> 8) % 40) / 100;
            let declined = (frail - assessed) * ((key >> 16) % 30) / 100;
            let rows = [
                ("CGPCMI01", "Numerator", "Numerator", carers),
                ("ALCMI30", "Numerator", "Numerator", checked),
                ("ALCMI30", "Denominator", "Denominator", new_patients),
                ("CCDCMI32", "Numerator", "Numerator", assessed),
                ("CCDCMI32", "Denominator", "Denominator", frail),
                ("CCDCMI32", FRAILTY_PCA, "PCA", declined),
            ];
            let name = field(&practice.name.to_uppercase());
            for (indicator, measure, measure_type, value) in rows {
                write!(
                    out,
                    "{service},{},{name},{ach_date},{indicator},{measure},{measure_type},{}\r\n",
                    practice.code,
                    published(value)
                )?;
            }
        }
    }
    Ok(())
}

/// Each sub-ICB location's carers for the quarter, by sex, age band and ethnicity.
fn write_carers(world: &World, quarter: &Quarter, out: &mut dyn Write) -> io::Result<()> {
    write!(out, "{CARERS_HEADER}\r\n")?;
    let service = quality_service(quarter.year);
    for month in quarter.months {
        let mut totals = vec![0u64; world.sub_icbs.len()];
        for (i, practice) in world.practices.iter().enumerate() {
            totals[practice.sub_icb] += patients_and_carers(world, i, month).map_or(0, |(_, c)| c);
        }
        let ach_date = last_day_of_month(month).format("%d/%m/%Y");
        for (sub_icb, total) in world.sub_icbs.iter().zip(totals) {
            let lead = format!(
                "{service},{},{},{ach_date},CGPCMI01,Numerator",
                sub_icb.code,
                field(&sub_icb.name.to_uppercase())
            );
            write!(out, "{lead},All,All,All,{}\r\n", published(total))?;
            let share = |percent: u64| published(total * percent / 100);
            for (sex, percent) in SEXES {
                write!(out, "{lead},{sex},All,All,{}\r\n", share(percent))?;
            }
            for (age, percent) in AGES {
                write!(out, "{lead},All,{age},All,{}\r\n", share(percent))?;
            }
            for (ethnicity, percent) in ETHNICITIES {
                write!(out, "{lead},All,All,{ethnicity},{}\r\n", share(percent))?;
            }
        }
    }
    Ok(())
}

/// The demo's files under `gp_contract/`: the year's zip of core CSVs, then the carers CSV.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = dir.join("gp_contract");
    std::fs::create_dir_all(&dir)?;
    let latest_month = AS_OF - Months::new(1);
    // Quarters end in June, September, December and March.
    let latest = Quarter::ending(latest_month - Months::new(latest_month.month() % 3));
    let before = |quarter: &Quarter| Quarter::ending(quarter.months[0] - Months::new(1));
    let q1 = before(&latest);
    let last_year_q4 = before(&q1);
    let last_year_q3 = before(&last_year_q4);
    // The two zip names the publisher has used, one per year.
    let last_year = last_year_q4.year.start_year();
    let last_year_zip = dir.join(format!(
        "Core_GP_Contract_{:02}{:02}_csv_files.zip",
        last_year % 100,
        (last_year + 1) % 100
    ));
    write_zip(
        world,
        &last_year_zip,
        &[
            (&last_year_q3, |d| d.to_string()),
            (&last_year_q4, |d| d.format("%d/%m/%Y").to_string()),
        ],
    )?;
    let this_year_zip = dir.join(format!("{} csv files.zip", quality_service(latest.year)));
    write_zip(
        world,
        &this_year_zip,
        &[
            (&q1, |d| d.format("%d/%m/%Y").to_string()),
            (&latest, |d| d.to_string()),
        ],
    )?;
    let mut files = vec![last_year_zip, this_year_zip];
    for quarter in [&q1, &latest] {
        let carers_path = dir.join(quarter.name("CGPCMI01 Unpaid Carers"));
        let mut out = BufWriter::new(File::create(&carers_path)?);
        write_carers(world, quarter, &mut out)?;
        out.flush()?;
        files.push(carers_path);
    }
    Ok(files)
}

/// A year's zip of quarterly core files, each with its own date form.
fn write_zip(world: &World, path: &Path, members: &[(&Quarter, DateForm)]) -> io::Result<()> {
    let mut zip = ZipWriter::new(BufWriter::new(File::create(path)?));
    // The demo's files are written once and read once: speed matters more than their size.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    for (quarter, date) in members {
        zip.start_file(quarter.name("Core GP Contract"), options)
            .map_err(io::Error::other)?;
        let mut out = BufWriter::with_capacity(1 << 16, &mut zip);
        write_core(world, quarter, *date, &mut out)?;
        out.flush()?;
    }
    zip.finish().map_err(io::Error::other)?.flush()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::catalogue::gp_contract::parse::{Layout, Row, read};
    use crate::source::open_sources;

    #[test]
    fn demo_files_read_back_in_their_layouts() {
        let world = World::generate(3, 0.01);
        let dir = tempfile::tempdir().unwrap();
        let files = demo(&world, dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "Core_GP_Contract_2425_csv_files.zip",
                "Core GP Contract 2025-26 csv files.zip",
                "CGPCMI01 Unpaid Carers Q1 2025-26.csv",
                "CGPCMI01 Unpaid Carers Q2 2025-26.csv"
            ]
        );
        let mut seen = Vec::new();
        for path in &files {
            for source in open_sources(path).unwrap() {
                let (layout, rows) = read(&source).unwrap();
                let rows: Vec<Row> = rows.collect::<Result<_, _>>().unwrap();
                let dates: BTreeSet<String> = rows.iter().map(|r| r.date().to_string()).collect();
                if layout == Layout::Core {
                    let suppressed = rows
                        .iter()
                        .filter(|r| matches!(r, Row::Value(v) if v.value.is_none()))
                        .count();
                    assert!(suppressed > 0, "{source}: nothing suppressed");
                }
                seen.push((
                    source.name().to_owned(),
                    layout,
                    dates.into_iter().collect::<Vec<_>>(),
                ));
            }
        }
        let q3 = ["2024-10-31", "2024-11-30", "2024-12-31"]
            .map(String::from)
            .to_vec();
        let q4 = ["2025-01-31", "2025-02-28", "2025-03-31"]
            .map(String::from)
            .to_vec();
        let q1 = ["2025-04-30", "2025-05-31", "2025-06-30"]
            .map(String::from)
            .to_vec();
        let q2 = ["2025-07-31", "2025-08-31", "2025-09-30"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            seen,
            [
                (
                    "Core GP Contract Q3 2024-25.csv".to_owned(),
                    Layout::Core,
                    q3
                ),
                (
                    "Core GP Contract Q4 2024-25.csv".to_owned(),
                    Layout::Core,
                    q4
                ),
                (
                    "Core GP Contract Q1 2025-26.csv".to_owned(),
                    Layout::Core,
                    q1.clone()
                ),
                (
                    "Core GP Contract Q2 2025-26.csv".to_owned(),
                    Layout::Core,
                    q2.clone()
                ),
                (
                    "CGPCMI01 Unpaid Carers Q1 2025-26.csv".to_owned(),
                    Layout::Carers,
                    q1
                ),
                (
                    "CGPCMI01 Unpaid Carers Q2 2025-26.csv".to_owned(),
                    Layout::Carers,
                    q2
                ),
            ]
        );
    }

    #[test]
    fn quarters_count_from_april() {
        let month = |m| NaiveDate::from_ymd_opt(2025, m, 1).unwrap();
        assert_eq!(
            [4, 6, 7, 9, 10, 12, 1, 3].map(|m| quarter_of(month(m))),
            [1, 1, 2, 2, 3, 3, 4, 4]
        );
        assert_eq!(published(4), "*");
        assert_eq!(published(0), "0");
        assert_eq!(published(5), "5");
    }
}
