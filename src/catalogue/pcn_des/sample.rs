//! Demo Network Contract DES files written from the synthetic world, in the publisher's
//! layouts: the monthly extracts of the five months before the last as bare
//! `NCDes<Month><YY>.csv` files, the last month's inside `NCDes<Month><YY>.zip`, the last month again as
//! `NCDes<Month><YY>_By_Ruleset.zip` (one CSV a ruleset; given after the national files, so the
//! import serves that month by ruleset), and a small annual IIF file for the previous
//! financial year with PCN and practice rows.
//!
//! Each practice open in a month has five indicators on eleven lines: CAN04 (numerator,
//! denominator, one PCA), HI21 (numerator, denominator, two PCAs), SMR01A (numerator,
//! denominator), ACC08 (MI Count) and NCDMI109 (Management Information). Counts are cumulative
//! from April. Suppression follows the producer's rules: with one PCA, a denominator under 2
//! and a PCA over 0 suppress both; with several, a denominator of 0 and PCAs summing to any
//! one of them suppress all the PCAs. About 11 × 6,300 × 7 = 485k monthly lines and 14k IIF
//! lines at national scale.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::source::dates::last_day_of_month;
use crate::source::financial_year::FinancialYear;
use crate::synthetic::{AS_OF, World, mix};

const MONTHLY_HEADER: &str =
    "PRACTICE_CODE,PRACTICE_NAME,QUALITY_SERVICE,ACH_DATE,IND_CODE,MEASURE,VALUE";

const IIF_HEADER: &str = "ORGANISATION_TYPE,ORGANISATION_CODE,ORGANISATION_NAME,\
QUALITY_SERVICE,ACH_DATE,IND_CODE,MEASURE,VALUE";

/// The rulesets of the demo's indicators, in the order the By_Ruleset zip holds them.
pub const RULESETS: [&str; 4] = ["CAN", "LD", "SMR", "ACC"];

/// A CSV field, quoted when it holds a comma or a quote.
fn field(value: &str) -> String {
    if value.contains([',', '"']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// `NCD2526`, the quality service of `year`.
fn quality_service(year: FinancialYear) -> String {
    let start = year.start_year();
    format!("NCD{:02}{:02}", start % 100, (start + 1) % 100)
}

/// `NCDesSeptember25`, the start of a month's file names.
fn stem(month: NaiveDate) -> String {
    format!("NCDes{}", month.format("%B%y"))
}

/// One published line: ruleset, indicator, measure and value (`*` where suppressed).
type Line = (&'static str, &'static str, &'static str, String);

/// A practice's lines for the financial year up to the end of `month`; `months` is how many
/// months of the year that is (1 in April).
fn practice_lines(world: &World, i: usize, month: NaiveDate, months: u64) -> Option<Vec<Line>> {
    let patients = world.practice_registrations(i, month)?.total();
    let key = mix(world.practices[i].list.key, 0x0DE5);
    let share = |per_thousand: u64| patients * per_thousand / 1000;
    let count = |n: u64| n.to_string();
    let mut lines = Vec::with_capacity(11);

    // Cancer care reviews: the eligible grow through the year; one PCA rule.
    let eligible = share(3 + key % 4) * months / 12 + key % 2;
    let eligible = if key.is_multiple_of(17) {
        key % 2
    } else {
        eligible
    };
    let reviewed = eligible * (55 + (key >> 8) % 40) / 100;
    let declined = (eligible - reviewed).min(1 + (key >> 12) % 3);
    if eligible < 2 && declined > 0 {
        lines.push(("CAN", "CAN04", "Denominator", "*".to_owned()));
        lines.push(("CAN", "CAN04", "Numerator", count(reviewed)));
        lines.push(("CAN", "CAN04", CAN_PCA, "*".to_owned()));
    } else {
        lines.push(("CAN", "CAN04", "Denominator", count(eligible)));
        lines.push(("CAN", "CAN04", "Numerator", count(reviewed)));
        lines.push(("CAN", "CAN04", CAN_PCA, count(declined)));
    }

    // Learning disability health checks: two PCA rules.
    let register = if key.is_multiple_of(13) {
        0
    } else {
        share(4 + key % 3)
    };
    let checked = register * (30 + (key >> 16) % 50) * months / 1200;
    let (declined, unsuitable) = if register == 0 {
        ((key >> 20) % 2, 0)
    } else {
        ((register - checked) / 10, (key >> 24) % 2)
    };
    let suppressed = register == 0 && (declined + unsuitable == declined.max(unsuitable));
    let pca = |n: u64| if suppressed { "*".to_owned() } else { count(n) };
    lines.push(("LD", "HI21", "Denominator", count(register)));
    lines.push(("LD", "HI21", "Numerator", count(checked)));
    lines.push(("LD", "HI21", LD_DECLINED, pca(declined)));
    lines.push(("LD", "HI21", LD_UNSUITABLE, pca(unsuitable)));

    // Structured medication reviews: no PCA.
    let frail = share(10 + key % 6);
    lines.push(("SMR", "SMR01A", "Denominator", count(frail)));
    lines.push((
        "SMR",
        "SMR01A",
        "Numerator",
        count(frail * (20 + (key >> 28) % 50) * months / 1200),
    ));

    // Management information: appointment counts, cumulative from April.
    lines.push((
        "ACC",
        "ACC08",
        "MI Count",
        count(patients * 4 * months / 12),
    ));
    lines.push((
        "ACC",
        "NCDMI109",
        "Management Information",
        count(share(2 + key % 5) * months / 12),
    ));
    Some(lines)
}

const CAN_PCA: &str = "PCA Count (Rule 2: CANCRDEC_DAT)";
const LD_DECLINED: &str = "PCA Count (Rule 1: LDHCDEC_DAT)";
const LD_UNSUITABLE: &str = "PCA Count (Rule 2: LDHCUNS_DAT)";

/// Months of the financial year up to and including `month`'s (1 in April).
fn months_into_year(month: NaiveDate) -> u64 {
    u64::from((month.month() + 8) % 12 + 1)
}

/// Every open practice's lines of `ruleset` (all rulesets when `None`) for `month`.
fn write_month(
    world: &World,
    month: NaiveDate,
    ruleset: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    write!(out, "{MONTHLY_HEADER}\r\n")?;
    let service = quality_service(FinancialYear::containing(month));
    let ach_date = last_day_of_month(month).format("%d/%m/%Y");
    let months = months_into_year(month);
    for (i, practice) in world.practices.iter().enumerate() {
        let Some(lines) = practice_lines(world, i, month, months) else {
            continue;
        };
        let name = field(&practice.name.to_uppercase());
        for (line_ruleset, indicator, measure, value) in lines {
            if ruleset.is_some_and(|r| r != line_ruleset) {
                continue;
            }
            write!(
                out,
                "{},{name},{service},{ach_date},{indicator},{measure},{value}\r\n",
                practice.code
            )?;
        }
    }
    Ok(())
}

/// The annual IIF file of the year before `month`'s: each PCN's ACC-10b baseline numerator
/// (rounded to 5, as published) and each practice's HI-03 numerator and denominator.
fn write_iif(world: &World, month: NaiveDate, out: &mut dyn Write) -> io::Result<()> {
    write!(out, "{IIF_HEADER}\r\n")?;
    let year_end = previous_year_end(month);
    let service = quality_service(FinancialYear::containing(year_end));
    let ach_date = year_end.format("%d/%m/%Y");
    let last_month = year_end.with_day(1).unwrap_or(year_end);
    let mut pcn_patients = vec![0u64; world.pcns.len()];
    for (i, practice) in world.practices.iter().enumerate() {
        let Some(patients) = world.practice_registrations(i, last_month) else {
            continue;
        };
        let patients = patients.total();
        if let Some(pcn) = world.pcn_at(i, year_end) {
            pcn_patients[pcn] += patients;
        }
        let key = mix(practice.list.key, 0x11F);
        let denominator = patients * (2 + key % 3) / 100;
        write!(
            out,
            "GP practice,{},{},{service},{ach_date},NCD005,Denominator,{denominator}\r\n\
             GP practice,{},{},{service},{ach_date},NCD005,Numerator,{}\r\n",
            practice.code,
            field(&practice.name.to_uppercase()),
            practice.code,
            field(&practice.name.to_uppercase()),
            denominator * (40 + (key >> 8) % 50) / 100,
        )?;
    }
    for (pcn, patients) in world.pcns.iter().zip(pcn_patients) {
        if patients == 0 {
            continue;
        }
        write!(
            out,
            "PCN,{},{},{service},{ach_date},NCDMI191,ACC-10b baseline non-standardised \
             numerator,{}\r\n",
            pcn.code,
            field(&pcn.name.to_uppercase()),
            patients / 40 / 5 * 5,
        )?;
    }
    Ok(())
}

/// The last day of the financial year before `month`'s.
fn previous_year_end(month: NaiveDate) -> NaiveDate {
    let start = FinancialYear::containing(month).start_year();
    NaiveDate::from_ymd_opt(start, 3, 31).expect("31 March exists")
}

/// The demo's files under `pcn_des/`, in the order they are to be imported.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = dir.join("pcn_des");
    std::fs::create_dir_all(&dir)?;
    let latest = AS_OF - Months::new(1);
    // The demo's files are written once and read once: speed matters more than their size.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));

    let mut files = Vec::new();
    for back in (1..=5).rev() {
        let month = latest - Months::new(back);
        let bare = dir.join(format!("{}.csv", stem(month)));
        let mut out = BufWriter::new(File::create(&bare)?);
        write_month(world, month, None, &mut out)?;
        out.flush()?;
        files.push(bare);
    }

    let zipped = dir.join(format!("{}.zip", stem(latest)));
    let ruleset_zip = dir.join(format!("{}_By_Ruleset.zip", stem(latest)));
    let members: Vec<(Option<&str>, String)> = std::iter::once((None, String::new()))
        .chain(RULESETS.iter().map(|r| (Some(*r), format!("_{r}"))))
        .collect();
    for (path, members) in [(&zipped, &members[..1]), (&ruleset_zip, &members[1..])] {
        let mut zip = ZipWriter::new(BufWriter::new(File::create(path)?));
        for (ruleset, suffix) in members {
            zip.start_file(format!("{}{suffix}.csv", stem(latest)), options)
                .map_err(io::Error::other)?;
            let mut out = BufWriter::with_capacity(1 << 16, &mut zip);
            write_month(world, latest, *ruleset, &mut out)?;
            out.flush()?;
        }
        zip.finish().map_err(io::Error::other)?.flush()?;
    }

    let previous = previous_year_end(latest).year();
    let iif = dir.join(format!(
        "IIF_indicators_annual_pub_{}_{:02}.csv",
        previous - 1,
        previous % 100
    ));
    let mut out = BufWriter::new(File::create(&iif)?);
    write_iif(world, latest, &mut out)?;
    out.flush()?;
    files.extend([zipped, ruleset_zip, iif]);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::pcn_des::parse::{Layout, Summary, read, ruleset_of};
    use crate::source::open_sources;

    #[test]
    fn demo_files_read_back_with_suppression_and_rulesets() {
        let world = World::generate(3, 0.02);
        let dir = tempfile::tempdir().unwrap();
        let files = demo(&world, dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "NCDesApril25.csv",
                "NCDesMay25.csv",
                "NCDesJune25.csv",
                "NCDesJuly25.csv",
                "NCDesAugust25.csv",
                "NCDesSeptember25.zip",
                "NCDesSeptember25_By_Ruleset.zip",
                "IIF_indicators_annual_pub_2024_25.csv"
            ]
        );
        let mut seen = Vec::new();
        for path in &files {
            for source in open_sources(path).unwrap() {
                let extract = read(&source).unwrap();
                let summaries: Vec<_> = extract.rows.iter().map(|r| extract.summarise(r)).collect();
                if extract.layout == Layout::Monthly && ruleset_of(source.name()).is_none() {
                    // Both suppression rules occur: one PCA with its denominator, and several.
                    let of = |code: &str| -> Vec<&Summary> {
                        extract
                            .rows
                            .iter()
                            .zip(&summaries)
                            .filter(|(r, _)| extract.indicators[r.indicator as usize] == code)
                            .map(|(_, s)| s)
                            .collect()
                    };
                    assert!(
                        of("CAN04")
                            .iter()
                            .any(|s| s.denominator.is_none() && s.pca.is_none()),
                        "{source}"
                    );
                    assert!(
                        of("HI21")
                            .iter()
                            .any(|s| s.pca.is_none() && s.measures.as_str().contains("null")),
                        "{source}"
                    );
                }
                seen.push((
                    source.name().to_owned(),
                    extract.layout,
                    extract
                        .dates
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>(),
                    extract.indicators.len(),
                ));
            }
        }
        let earlier = [
            ("April", "2025-04-30"),
            ("May", "2025-05-31"),
            ("June", "2025-06-30"),
            ("July", "2025-07-31"),
        ]
        .map(|(month, date)| {
            (
                format!("NCDes{month}25.csv"),
                Layout::Monthly,
                vec![date.to_owned()],
                5,
            )
        });
        assert_eq!(seen[..4], earlier);
        assert_eq!(
            seen[4..],
            [
                (
                    "NCDesAugust25.csv".to_owned(),
                    Layout::Monthly,
                    vec!["2025-08-31".to_owned()],
                    5
                ),
                (
                    "NCDesSeptember25.csv".to_owned(),
                    Layout::Monthly,
                    vec!["2025-09-30".to_owned()],
                    5
                ),
                (
                    "NCDesSeptember25_CAN.csv".to_owned(),
                    Layout::Monthly,
                    vec!["2025-09-30".to_owned()],
                    1
                ),
                (
                    "NCDesSeptember25_LD.csv".to_owned(),
                    Layout::Monthly,
                    vec!["2025-09-30".to_owned()],
                    1
                ),
                (
                    "NCDesSeptember25_SMR.csv".to_owned(),
                    Layout::Monthly,
                    vec!["2025-09-30".to_owned()],
                    1
                ),
                (
                    "NCDesSeptember25_ACC.csv".to_owned(),
                    Layout::Monthly,
                    vec!["2025-09-30".to_owned()],
                    2
                ),
                (
                    "IIF_indicators_annual_pub_2024_25.csv".to_owned(),
                    Layout::Iif,
                    vec!["2025-03-31".to_owned()],
                    2
                ),
            ]
        );
        assert_eq!(
            months_into_year(NaiveDate::from_ymd_opt(2025, 4, 1).unwrap()),
            1
        );
        assert_eq!(
            months_into_year(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
            12
        );
    }
}
