//! Demo Cloud Based Telephony files from the synthetic world, in the publisher's layout: for
//! each month a By Day and Time, a By Durations and a Calls Answered Metric zip, each of seven
//! regional CSVs and an `Unmapped` one. Rows are daily, one per practice, day, indicator and
//! band with calls (no row where there were none, as published), about 3.5–4M day-and-time
//! rows a month at national scale. All three files are drawn from the same daily calls, so
//! their totals agree.
//!
//! A practice in 150 is published in the `Unmapped` member without geography; a PCN in 25 and
//! an ICB in 7 have a shared phone account (`Unassigned`), with geography down to the PCN or
//! the ICB.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate, Weekday};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use super::parse::{FileKind, UNASSIGNED};
use crate::source::dates::last_day_of_month;
use crate::synthetic::{AS_OF, World, mix, months_ending};

/// The 2-hour bands of the day-and-time file, with the share of a weekday's calls in each and
/// the core-hours category the answered-metric file puts them in.
const TIME_BANDS: [(&str, f64, usize); 9] = [
    ("00:00 - 05:59", 0.005, 2),
    ("06:00 - 07:59", 0.02, 2),
    ("08:00 - 09:59", 0.32, 0),
    ("10:00 - 11:59", 0.21, 1),
    ("12:00 - 13:59", 0.14, 1),
    ("14:00 - 15:59", 0.14, 1),
    ("16:00 - 17:59", 0.13, 1),
    ("18:00 - 18:29", 0.025, 1),
    ("18:30 - 23:59", 0.01, 2),
];

const CORE_CATEGORIES: [&str; 3] = ["Core_8_10", "Core_10_1830", "Non-Core"];

/// Seconds buckets of waits and call lengths, with the share of answered calls in each.
const WAIT_BUCKETS: [(&str, f64); 8] = [
    ("0", 0.25),
    ("1_30", 0.3),
    ("31_60", 0.15),
    ("61_120", 0.12),
    ("121_180", 0.07),
    ("181_240", 0.04),
    ("241_300", 0.03),
    (">300", 0.04),
];

const LENGTH_BUCKETS: [(&str, f64); 8] = [
    ("0", 0.01),
    ("1_30", 0.09),
    ("31_60", 0.2),
    ("61_120", 0.3),
    ("121_180", 0.18),
    ("181_240", 0.1),
    ("241_300", 0.05),
    (">300", 0.07),
];

/// Inbound calls a weekday per registered patient; a weekend day has a twentieth of that.
const CALLS_PER_PATIENT: f64 = 0.0032;

/// One phone account: its CSV leading fields (`REGION_CODE` … `PRACTICE_CODE`), how many
/// calls it takes and its seed.
struct Account {
    fields: String,
    patients: f64,
    key: u64,
}

/// A day's calls in one band, by indicator `CBT001`…`CBT007`.
type Calls = [u64; 7];

/// `expected` rounded up or down at random in proportion, so small counts are often zero.
fn draw(expected: f64, hash: u64) -> u64 {
    let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
    (expected + unit).floor() as u64
}

fn calls(account: &Account, day: NaiveDate, band: usize) -> Calls {
    let key = mix(
        account.key,
        u64::from(day.num_days_from_ce() as u32) * 16 + band as u64,
    );
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let share = TIME_BANDS[band].1 * if weekend { 0.05 } else { 1.0 };
    let inbound = draw(account.patients * CALLS_PER_PATIENT * share, key);
    let ivr = draw(inbound as f64 * 0.08, mix(key, 2));
    let answered = draw(inbound as f64 * 0.75, mix(key, 3)).min(inbound - ivr);
    let callback = draw(inbound as f64 * 0.04, mix(key, 5)).min(inbound - ivr - answered);
    let missed = inbound - ivr - answered - callback;
    let made = draw(callback as f64 * 0.85, mix(key, 6));
    [inbound, ivr, answered, missed, callback, made, answered]
}

/// Splits `total` over `buckets` by their shares; the parts add up to `total`.
fn split(total: u64, buckets: &[(&str, f64)], hash: u64) -> Vec<u64> {
    let mut left = total;
    let mut parts = Vec::with_capacity(buckets.len());
    for (i, (_, share)) in buckets.iter().enumerate() {
        let part = if i + 1 == buckets.len() {
            left
        } else {
            draw(total as f64 * share, mix(hash, i as u64)).min(left)
        };
        left -= part;
        parts.push(part);
    }
    parts
}

/// The accounts of each member: the seven regions in order, then `Unmapped`.
fn members(world: &World, month: NaiveDate) -> Vec<(String, Vec<Account>)> {
    let mut members: Vec<(String, Vec<Account>)> = world
        .regions
        .iter()
        .map(|r| (r.code.clone(), Vec::new()))
        .collect();
    let mut unmapped = Vec::new();
    let mut shared_pcns = BTreeMap::new();
    let mut icbs_met = BTreeSet::new();
    for registration in world.registrations(month) {
        let practice = &world.practices[registration.practice];
        let patients = registration.total() as f64;
        let key = mix(practice.list.key, 0xCB7);
        if key.is_multiple_of(150) {
            unmapped.push(Account {
                fields: format!(",,,,{}", practice.code),
                patients,
                key,
            });
            continue;
        }
        let pcn = world
            .pcn_at(registration.practice, month)
            .map_or("U", |i| world.pcns[i].code.as_str());
        let region = &world.regions[practice.region];
        let sub_icb = &world.sub_icbs[practice.sub_icb];
        let icb = &world.icbs[practice.icb];
        members[practice.region].1.push(Account {
            fields: format!(
                "{},{},{},{pcn},{}",
                region.code, icb.code, sub_icb.code, practice.code
            ),
            patients,
            key,
        });
        // The first PCN met in each region has a shared account too, so every region does.
        let first_in_region = members[practice.region].1.len() == 1;
        if pcn != "U" && (first_in_region || mix(key, 0x5AED).is_multiple_of(25)) {
            shared_pcns
                .entry(pcn.to_owned())
                .or_insert((
                    practice.region,
                    region.code.clone(),
                    icb.code.clone(),
                    sub_icb.code.clone(),
                    0.0,
                ))
                .4 += patients * 0.1;
        }
        icbs_met.insert(practice.icb);
    }
    for (pcn, (region_index, region, icb, sub_icb, patients)) in shared_pcns {
        members[region_index].1.push(Account {
            fields: format!("{region},{icb},{sub_icb},{pcn},{UNASSIGNED}"),
            patients,
            key: mix(patients.to_bits(), 0x5AED),
        });
    }
    for (i, icb) in world.icbs.iter().enumerate() {
        if icbs_met.contains(&i) && mix(world.seed, i as u64).is_multiple_of(7) {
            let region = &world.regions[icb.region];
            members[icb.region].1.push(Account {
                fields: format!("{},{},,,{UNASSIGNED}", region.code, icb.code),
                patients: 2_000.0,
                key: mix(world.seed, 0x1CB + i as u64),
            });
        }
    }
    members.push(("Unmapped".to_owned(), unmapped));
    members
}

const LEADING: &str =
    "Date,REGION_CODE,ICB_CODE,SUB_ICB_LOCATION_CODE,PCN_CODE,PRACTICE_CODE,Indicator";

/// Writes one member's rows for the month of `days`.
fn write_member<W: Write>(
    kind: FileKind,
    accounts: &[Account],
    days: &[NaiveDate],
    out: &mut W,
) -> io::Result<()> {
    match kind {
        FileKind::DayAndTime => write!(out, "{LEADING},Time_Category,Value\r\n")?,
        FileKind::Durations => write!(out, "{LEADING},Duration,Value\r\n")?,
        FileKind::AnsweredMetric => write!(out, "{LEADING},Wait_Time,Core_Category,Value\r\n")?,
    }
    for day in days {
        // The durations file writes its dates with a time of day, as some extracts do.
        let date = match kind {
            FileKind::Durations => format!("{day} 00:00:00"),
            _ => day.to_string(),
        };
        for account in accounts {
            let by_band: Vec<Calls> = (0..TIME_BANDS.len())
                .map(|b| calls(account, *day, b))
                .collect();
            let row_key = mix(account.key, u64::from(day.ordinal()));
            match kind {
                FileKind::DayAndTime => {
                    for (calls, (band, _, _)) in by_band.iter().zip(TIME_BANDS) {
                        for (i, value) in calls.iter().enumerate() {
                            if *value > 0 {
                                write!(
                                    out,
                                    "{date},{},CBT00{},{band},{value}.0\r\n",
                                    account.fields,
                                    i + 1
                                )?;
                            }
                        }
                    }
                }
                FileKind::Durations => {
                    for (indicator, buckets) in [(2, &WAIT_BUCKETS), (6, &LENGTH_BUCKETS)] {
                        let total: u64 = by_band.iter().map(|c| c[indicator]).sum();
                        if total == 0 {
                            continue;
                        }
                        let code = indicator + 1;
                        let parts = split(total, buckets, mix(row_key, code as u64));
                        for (value, (bucket, _)) in parts.iter().zip(buckets.iter()) {
                            if *value > 0 {
                                write!(
                                    out,
                                    "{date},{},CBT00{code},{bucket},{value}.0\r\n",
                                    account.fields
                                )?;
                            }
                        }
                        write!(
                            out,
                            "{date},{},CBT00{code},TOTAL,{total}.0\r\n",
                            account.fields
                        )?;
                    }
                }
                FileKind::AnsweredMetric => {
                    for (c, category) in CORE_CATEGORIES.iter().enumerate() {
                        let total: u64 = by_band
                            .iter()
                            .zip(TIME_BANDS)
                            .filter(|(_, (_, _, core))| *core == c)
                            .map(|(calls, _)| calls[2])
                            .sum();
                        if total == 0 {
                            continue;
                        }
                        let parts = split(total, &WAIT_BUCKETS, mix(row_key, 10 + c as u64));
                        for (value, (bucket, _)) in parts.iter().zip(WAIT_BUCKETS) {
                            if *value > 0 {
                                write!(
                                    out,
                                    "{date},{},CBT003,{bucket},{category},{value}.0\r\n",
                                    account.fields
                                )?;
                            }
                        }
                        write!(
                            out,
                            "{date},{},CBT003,TOTAL,{category},{total}.0\r\n",
                            account.fields
                        )?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::DayAndTime => "By_Day_and_Time",
        FileKind::Durations => "By_Durations",
        FileKind::AnsweredMetric => "Calls_Answered_Metric",
    }
}

/// `CBT_By_Day_and_Time_September_2025.zip`, holding `CBT_By_Day_and_Time_September_2025_Y56.csv`
/// … and `…_Unmapped.csv`.
fn write_zip(
    kind: FileKind,
    month: NaiveDate,
    members: &[(String, Vec<Account>)],
    dir: &Path,
) -> io::Result<PathBuf> {
    let stem = format!("CBT_{}_{}", kind_name(kind), month.format("%B_%Y"));
    let path = dir.join(format!("{stem}.zip"));
    let days: Vec<NaiveDate> = month
        .iter_days()
        .take_while(|d| *d <= last_day_of_month(month))
        .collect();
    let mut zip = ZipWriter::new(BufWriter::new(File::create(&path)?));
    // The demo's files are written once and read once: speed matters more than their size.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    for (suffix, accounts) in members {
        zip.start_file(format!("{stem}_{suffix}.csv"), options)
            .map_err(io::Error::other)?;
        let mut out = BufWriter::with_capacity(1 << 16, &mut zip);
        write_member(kind, accounts, &days, &mut out)?;
        out.flush()?;
    }
    zip.finish().map_err(io::Error::other)?.flush()?;
    Ok(path)
}

/// Months in the demo, ending with the month before `AS_OF`.
const DEMO_MONTHS: usize = 2;

/// The demo's telephony zips under `cloud_telephony/`: every file kind of every demo month,
/// written on as many threads as there are zips.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let out = dir.join("cloud_telephony");
    std::fs::create_dir_all(&out)?;
    let last = AS_OF
        .checked_sub_months(Months::new(1))
        .expect("month within chrono's range");
    let months = months_ending(last, DEMO_MONTHS);
    let accounts: Vec<_> = months.iter().map(|m| members(world, *m)).collect();
    let kinds = [
        FileKind::DayAndTime,
        FileKind::Durations,
        FileKind::AnsweredMetric,
    ];
    std::thread::scope(|scope| {
        let handles: Vec<_> = months
            .iter()
            .zip(&accounts)
            .flat_map(|(month, members)| {
                let out = &out;
                kinds.map(|kind| scope.spawn(move || write_zip(kind, *month, members, out)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::cloud_telephony::parse::{TOTAL_BAND, read};
    use crate::source::open_sources;

    #[test]
    fn split_parts_add_up() {
        for total in [0, 1, 7, 250] {
            assert_eq!(split(total, &WAIT_BUCKETS, 42).iter().sum::<u64>(), total);
        }
    }

    /// The three files of a demo month read back as the publisher's layout, and their totals
    /// agree: the durations and wait `TOTAL` rows of CBT003 match the day-and-time sum.
    #[test]
    fn demo_files_read_back_and_agree() {
        let world = World::generate(7, 0.01);
        let dir = tempfile::tempdir().unwrap();
        let paths = demo(&world, dir.path()).unwrap();
        assert_eq!(paths.len(), 6);
        let mut cbt003 = std::collections::BTreeMap::<(FileKind, String), u64>::new();
        for path in &paths[..3] {
            let members = open_sources(path).unwrap();
            assert_eq!(members.len(), 8);
            assert!(members[7].name().ends_with("_Unmapped.csv"));
            for member in &members {
                let aggregate = read(member).unwrap();
                assert_eq!(aggregate.months.len(), 1);
                for cell in aggregate.cells() {
                    let indicator = &aggregate.indicators[cell.indicator];
                    let total_row = aggregate.bands[cell.band] == TOTAL_BAND;
                    if indicator == "CBT003"
                        && (aggregate.kind == FileKind::DayAndTime || total_row)
                    {
                        let account = &aggregate.accounts[cell.account];
                        let who = format!("{account:?}");
                        *cbt003.entry((aggregate.kind, who)).or_default() += cell.value;
                    }
                }
                if aggregate.kind == FileKind::DayAndTime && !member.name().contains("Unmapped") {
                    assert!(aggregate.accounts.iter().any(|a| a.unassigned), "{member}");
                }
            }
        }
        let of = |kind| -> Vec<(String, u64)> {
            cbt003
                .iter()
                .filter(|((k, _), _)| *k == kind)
                .map(|((_, who), v)| (who.clone(), *v))
                .collect()
        };
        assert!(!of(FileKind::DayAndTime).is_empty());
        assert_eq!(of(FileKind::DayAndTime), of(FileKind::Durations));
        assert_eq!(of(FileKind::DayAndTime), of(FileKind::AnsweredMetric));
    }
}
