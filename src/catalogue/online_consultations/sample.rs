//! Demo online consultation files written from the synthetic world, in the publisher's layout:
//! the practice zip of the latest edition (north and south regions CSVs, a 12-month back
//! series), and the day-and-time file in both layouts: weekday-aggregated (layout A) for the
//! month before the latest, dated rows split north and south (layout B) for the latest month.
//! Dated rows are about thirty times the size of a weekday-aggregated month, so the demo keeps
//! them to one month, and both day-and-time layouts leave out the time bands of a day (or
//! weekday) without submissions.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::source::dates::last_day_of_month;
use crate::synthetic::{AS_OF, World, mix, months_ending};

/// Months of the practice file's back series.
const DEMO_MONTHS: usize = 12;

/// Regions in the north regions file; the rest are in the south one.
const NORTH: [&str; 3] = ["Y60", "Y62", "Y63"];

/// Suppliers a practice may use, with how often they are chosen.
const SUPPLIERS: [(&str, u64); 4] = [
    ("ACCURX LIMITED", 55),
    ("ECONSULT HEALTH LIMITED", 20),
    ("PATCHS HEALTH LTD", 15),
    ("KLINIK HEALTHCARE SOLUTIONS LTD", 10),
];

/// Time bands as published, with the share of a day's submissions in each.
const BANDS: [(&str, f64); 9] = [
    ("00:00 - 05:59", 0.02),
    ("06:00 - 07:59", 0.05),
    ("08:00 - 09:59", 0.25),
    ("10:00 - 11:59", 0.21),
    ("12:00 - 13:59", 0.15),
    ("14:00 - 15:59", 0.13),
    ("16:00 - 17:59", 0.10),
    ("18:00 - 23:59", 0.07),
    ("Unknown", 0.02),
];

/// Day names, Monday first, with the share of a week's submissions on each.
const DAYS: [(&str, f64); 7] = [
    ("Monday", 0.25),
    ("Tuesday", 0.20),
    ("Wednesday", 0.18),
    ("Thursday", 0.16),
    ("Friday", 0.15),
    ("Saturday", 0.03),
    ("Sunday", 0.03),
];

const PRACTICE_HEADER: &str = "MONTH,GP_CODE,GP_NAME,PCN_CODE,PCN_NAME,SUB_ICB_LOCATION_CODE,\
SUB_ICB_LOCATION_NAME,ICB_CODE,ICB_NAME,REGION_CODE,REGION_NAME,SUPPLIER,METRIC,VALUE";

const WEEKDAY_HEADER: &str = "MONTH,GP_CODE,GP_NAME,SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_NAME,\
ICB_CODE,ICB_NAME,REGION_CODE,REGION_NAME,PCN_CODE,PCN_NAME,SUPPLIER,WEEKDAY,SUBMISSION_TIME,VALUE";

const DATED_HEADER: &str = "DATE,WEEKDAY,SUBMISSION_TIME,GP_CODE,GP_NAME,PCN_CODE,PCN_NAME,\
SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_NAME,ICB_CODE,ICB_NAME,REGION_CODE,REGION_NAME,SUPPLIER,\
CLINICAL,ADMIN,UNKNOWN_OTHER,TOTAL";

/// A CSV field, quoted when it holds a comma or a quote.
fn field(value: &str) -> String {
    if value.contains([',', '"']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One practice open in one month, with its geography as CSV fields.
struct Practice {
    code: String,
    name: String,
    pcn: [String; 2],
    sub_icb: [String; 2],
    icb: [String; 2],
    region: [String; 2],
    north: bool,
    patients: u64,
    /// Submission rows, one per supplier row the practice has this month: supplier as
    /// published and the month's submissions through it (`None` for no data).
    suppliers: Vec<(String, Option<u64>)>,
    key: u64,
}

fn month_key(month: NaiveDate) -> u64 {
    u64::from(month.year() as u32 * 12 + month.month())
}

fn practices(world: &World, month: NaiveDate, latest: NaiveDate) -> Vec<Practice> {
    (0..world.practices.len())
        .filter_map(|i| {
            let registrations = world.practice_registrations(i, month)?;
            let practice = &world.practices[i];
            let sub = &world.sub_icbs[practice.sub_icb];
            let icb = &world.icbs[practice.icb];
            let region = &world.regions[practice.region];
            let pcn = match world.pcn_at(i, month) {
                Some(p) => [
                    world.pcns[p].code.clone(),
                    field(&world.pcns[p].name.to_uppercase()),
                ],
                None => ["U".to_owned(), "Unallocated".to_owned()],
            };
            let patients = registrations.total();
            let key = mix(practice.list.key, month_key(month));
            let choice = mix(practice.list.key, 0x0C) % 100;
            let pick = |draw: u64| {
                let mut draw = draw % 100;
                SUPPLIERS
                    .iter()
                    .find(|(_, share)| {
                        let hit = draw < *share;
                        draw = draw.saturating_sub(*share);
                        hit
                    })
                    .map_or(SUPPLIERS[0].0, |(name, _)| *name)
            };
            // Submissions a month: 10 to 60 per 1,000 patients.
            let submissions = patients * (10 + key % 50) / 1000;
            let suppliers = if choice < 5 {
                // The placeholder was spelt `No Data` in older months of the series.
                let placeholder = if month < latest - Months::new(6) {
                    "No Data"
                } else {
                    "No data"
                };
                vec![(placeholder.to_owned(), None)]
            } else if choice < 12 {
                vec![(
                    format!("{}, {}", SUPPLIERS[0].0, SUPPLIERS[1].0),
                    Some(submissions),
                )]
            } else if choice < 15 {
                let first = submissions * 2 / 3;
                vec![
                    (SUPPLIERS[0].0.to_owned(), Some(first)),
                    (SUPPLIERS[2].0.to_owned(), Some(submissions - first)),
                ]
            } else {
                let name = pick(mix(practice.list.key, 0x5E));
                vec![(name.to_owned(), Some(submissions))]
            };
            Some(Practice {
                code: practice.code.clone(),
                name: field(&practice.name.to_uppercase()),
                pcn,
                sub_icb: [sub.code.clone(), field(&sub.name.to_uppercase())],
                icb: [icb.code.clone(), field(&icb.name.to_uppercase())],
                region: [region.code.clone(), field(&region.name.to_uppercase())],
                north: NORTH.contains(&region.code.as_str()),
                patients,
                suppliers,
                key,
            })
        })
        .collect()
}

/// A value as the publisher writes it: a float string (`1.0`, `19.768934531450576`).
fn float(value: f64) -> String {
    format!("{value:?}")
}

fn write_metrics(out: &mut dyn Write, month: NaiveDate, p: &Practice) -> io::Result<()> {
    for (supplier, submissions) in &p.suppliers {
        let lead = format!(
            "{month},{},{},{},{},{},{},{},{},{},{},{}",
            p.code,
            p.name,
            p.pcn[0],
            p.pcn[1],
            p.sub_icb[0],
            p.sub_icb[1],
            p.icb[0],
            p.icb[1],
            p.region[0],
            p.region[1],
            field(supplier),
        );
        let flag = |on: bool| if on { "1.0" } else { "0.0" };
        let participating = submissions.is_some() && !p.key.is_multiple_of(25);
        let counts = submissions.filter(|_| participating);
        let split = |share: u64| counts.map(|n| n * share / 100);
        let clinical = split(58);
        let admin = split(31);
        let other = counts.map(|n| n - n * 58 / 100 - n * 31 / 100);
        let count = |n: Option<u64>| n.map_or_else(String::new, |n| float(n as f64));
        let rate = counts
            .filter(|_| p.patients > 0)
            .map_or_else(String::new, |n| {
                float(n as f64 * 1000.0 / p.patients as f64)
            });
        let metrics = [
            ("OC_CAPABILITY", flag(submissions.is_some()).to_owned()),
            ("OC_PARTICIPATION", flag(participating).to_owned()),
            (
                "OC_SYSTEM_USAGE",
                flag(counts.is_some_and(|n| n > 0)).to_owned(),
            ),
            ("OC_TOTAL_SUBMISSIONS", count(counts)),
            ("OC_SUBMISSION_TYPE_CLINICAL", count(clinical)),
            ("OC_SUBMISSION_TYPE_ADMIN", count(admin)),
            ("OC_SUBMISSION_TYPE_OTHER", count(other)),
            ("PATIENTS_REGISTERED", float(p.patients as f64)),
            ("OC_RATE_PER_1000_REGISTERED_PATIENTS", rate),
        ];
        for (metric, value) in metrics {
            writeln!(out, "{lead},{metric},{value}")?;
        }
    }
    Ok(())
}

/// A whole count near `expected`, the same every run: the fraction decides by a hash.
fn draw(expected: f64, key: u64) -> u64 {
    let fraction = (key >> 11) as f64 / (1u64 << 53) as f64;
    (expected + fraction).floor() as u64
}

/// The month's submissions on one weekday in one band, summed over the month (layout A).
fn write_weekdays(out: &mut dyn Write, month: NaiveDate, p: &Practice) -> io::Result<()> {
    for (s, (supplier, submissions)) in p.suppliers.iter().enumerate() {
        let Some(submissions) = submissions else {
            continue;
        };
        for (d, (day, day_share)) in DAYS.iter().enumerate() {
            for (b, (band, band_share)) in BANDS.iter().enumerate() {
                let key = mix(p.key, (s * 100 + d * 10 + b) as u64);
                let value = draw(*submissions as f64 * day_share * band_share, key);
                if value == 0 {
                    continue;
                }
                writeln!(
                    out,
                    "{month},{},{},{},{},{},{},{},{},{},{},{},{day},{band},{}",
                    p.code,
                    p.name,
                    p.sub_icb[0],
                    p.sub_icb[1],
                    p.icb[0],
                    p.icb[1],
                    p.region[0],
                    p.region[1],
                    p.pcn[0],
                    p.pcn[1],
                    field(supplier),
                    float(value as f64),
                )?;
            }
        }
    }
    Ok(())
}

/// Each day's submissions by band and type (layout B), dates as `DD/MM/YYYY`.
fn write_days(out: &mut dyn Write, month: NaiveDate, p: &Practice) -> io::Result<()> {
    let last = last_day_of_month(month);
    for (s, (supplier, submissions)) in p.suppliers.iter().enumerate() {
        let Some(submissions) = submissions else {
            continue;
        };
        for day in month.iter_days().take_while(|d| *d <= last) {
            let weekday = day.weekday().num_days_from_monday() as usize;
            let (name, day_share) = DAYS[weekday];
            // A weekday's share of the month falls on the four or five days of its kind.
            let per_day = *submissions as f64 * day_share / 4.35;
            let date = day.format("%d/%m/%Y");
            for (b, (band, band_share)) in BANDS.iter().enumerate() {
                let key = mix(p.key, (s * 10_000 + day.day() as usize * 10 + b) as u64);
                let total = draw(per_day * band_share, key);
                if total == 0 {
                    continue;
                }
                let clinical = total * 58 / 100;
                let admin = total * 31 / 100;
                writeln!(
                    out,
                    "{date},{name},{band},{},{},{},{},{},{},{},{},{},{},{},{clinical},{admin},{},{total}",
                    p.code,
                    p.name,
                    p.pcn[0],
                    p.pcn[1],
                    p.sub_icb[0],
                    p.sub_icb[1],
                    p.icb[0],
                    p.icb[1],
                    p.region[0],
                    p.region[1],
                    field(supplier),
                    total - clinical - admin,
                )?;
            }
        }
    }
    Ok(())
}

/// Writes the rows of one practice in one month.
type RowWriter = fn(&mut dyn Write, NaiveDate, &Practice) -> io::Result<()>;

/// One CSV of a zip: its name and header, the months it holds (oldest first), the half it
/// holds (north or south, `None` for both) and how a practice's rows are written.
struct Member<'a> {
    name: String,
    header: &'static str,
    months: &'a [(NaiveDate, Vec<Practice>)],
    north: Option<bool>,
    rows: RowWriter,
}

fn write_zip(path: &Path, members: &[Member]) -> io::Result<()> {
    // The fastest deflate level: the demo writes these files once and reads them once.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    let mut zip = ZipWriter::new(File::create(path)?);
    for member in members {
        zip.start_file(member.name.as_str(), options)
            .map_err(io::Error::other)?;
        let mut out = BufWriter::with_capacity(1 << 20, &mut zip);
        write!(out, "{}\r\n", member.header)?;
        for (month, practices) in member.months {
            for p in practices
                .iter()
                .filter(|p| member.north.is_none_or(|north| p.north == north))
            {
                (member.rows)(&mut out, *month, p)?;
            }
        }
        out.flush()?;
    }
    zip.finish().map_err(io::Error::other)?;
    Ok(())
}

/// `Submissions via OC Systems in General Practice - September 2025`.
fn edition_name(month: NaiveDate) -> String {
    format!(
        "Submissions via OC Systems in General Practice - {}",
        month.format("%B %Y")
    )
}

fn day_and_time_name(month: NaiveDate) -> String {
    format!(
        "Submissions via OC Systems By Day and Time - {}",
        month.format("%B %Y")
    )
}

/// The demo's files under `online_consultations/`: the practice zip, then the day-and-time
/// zips (weekday-aggregated month, then the dated month).
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = dir.join("online_consultations");
    std::fs::create_dir_all(&dir)?;
    let latest = AS_OF
        .checked_sub_months(Months::new(1))
        .expect("month within chrono's range");
    let by_month: Vec<(NaiveDate, Vec<Practice>)> = months_ending(latest, DEMO_MONTHS)
        .into_iter()
        .map(|month| (month, practices(world, month, latest)))
        .collect();
    let edition = edition_name(latest);
    let practice_zip = dir.join(format!("{edition}.zip"));
    let halves = |name: &str, header, months, rows| {
        [(true, "north"), (false, "south")].map(|(north, half)| Member {
            name: format!("{name}_{half}_regions.csv"),
            header,
            months,
            north: Some(north),
            rows,
        })
    };
    write_zip(
        &practice_zip,
        &halves(&edition, PRACTICE_HEADER, &by_month, write_metrics),
    )?;
    let before = &by_month[DEMO_MONTHS - 2..DEMO_MONTHS - 1];
    let weekday_name = day_and_time_name(before[0].0);
    let weekday_zip = dir.join(format!("{weekday_name}.zip"));
    write_zip(
        &weekday_zip,
        &[Member {
            name: format!("{weekday_name}.csv"),
            header: WEEKDAY_HEADER,
            months: before,
            north: None,
            rows: write_weekdays,
        }],
    )?;
    let latest_month = &by_month[DEMO_MONTHS - 1..];
    let dated_name = day_and_time_name(latest_month[0].0);
    let dated_zip = dir.join(format!("{dated_name}.zip"));
    write_zip(
        &dated_zip,
        &halves(&dated_name, DATED_HEADER, latest_month, write_days),
    )?;
    Ok(vec![practice_zip, weekday_zip, dated_zip])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::catalogue::online_consultations::parse::{Layout, Row, read};
    use crate::source::open_sources;

    /// Every demo file reads back through the importer's parser: the layouts, the months and
    /// the halves the importer tells apart by the regions they cover.
    #[test]
    fn demo_files_read_back_in_their_layouts() {
        let world = World::generate(3, 0.01);
        let dir = tempfile::tempdir().unwrap();
        let files = demo(&world, dir.path()).unwrap();
        let mut seen = Vec::new();
        for path in &files {
            for source in open_sources(path).unwrap() {
                let (layout, rows) = read(&source).unwrap();
                let rows: Vec<Row> = rows.collect::<Result<_, _>>().unwrap();
                assert!(!rows.is_empty(), "{source}");
                let months: BTreeSet<NaiveDate> = rows.iter().map(Row::month).collect();
                let areas: BTreeSet<&str> = rows
                    .iter()
                    .map(|r| r.place().region_code.as_deref().unwrap())
                    .collect();
                let north = areas.iter().all(|a| NORTH.contains(a));
                seen.push((layout, months.len(), north, areas.len()));
            }
        }
        assert_eq!(
            seen,
            [
                (Layout::Practice, 12, true, 3),
                (Layout::Practice, 12, false, 4),
                (Layout::Weekday, 1, false, 7),
                (Layout::Dated, 1, true, 3),
                (Layout::Dated, 1, false, 4),
            ]
        );
    }

    #[test]
    fn names_follow_the_publication() {
        let month = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        assert_eq!(
            edition_name(month),
            "Submissions via OC Systems in General Practice - September 2025"
        );
        assert_eq!(
            day_and_time_name(month),
            "Submissions via OC Systems By Day and Time - September 2025"
        );
        assert_eq!(field("A, B"), "\"A, B\"");
    }
}
