//! Demo GP Patient Survey files written from the synthetic world, in the publisher's two header
//! schemes: the 2025 practice file (2024+ scheme, UTF-8 with a BOM, 109 question columns of
//! fourteen questions where the real file has over a thousand) and the 2023 file (the earlier
//! scheme: `Practice_Code`, ICS columns and 111 `Q<n>…` question columns of fifteen questions). One row per practice open in
//! January of the survey year in each; a question is suppressed (`-97`) now and then and an
//! unasked one written `/`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::synthetic::{Rng, World, mix};

/// A question of the 2024+ questionnaire: its stem, its number of answer options, and for an
/// evaluative question how many of the first options count as positive (`.pcteval`).
struct Question {
    stem: &'static str,
    options: usize,
    positive: Option<usize>,
}

const QUESTIONS_2025: &[Question] = &[
    Question {
        stem: "overallexp",
        options: 5,
        positive: Some(2),
    },
    Question {
        stem: "gpcontactoverall",
        options: 5,
        positive: Some(2),
    },
    Question {
        stem: "localgpservicesphone",
        options: 4,
        positive: Some(2),
    },
    Question {
        stem: "localgpserviceswebsite",
        options: 4,
        positive: Some(2),
    },
    Question {
        stem: "localgpservicesprefhpsee",
        options: 3,
        positive: Some(2),
    },
    Question {
        stem: "lastgpapptneeds",
        options: 3,
        positive: Some(1),
    },
    Question {
        stem: "lastgpapptconf",
        options: 3,
        positive: Some(1),
    },
    Question {
        stem: "lastgpapptwhen",
        options: 6,
        positive: None,
    },
    Question {
        stem: "lastgpapptlistened",
        options: 5,
        positive: Some(2),
    },
    Question {
        stem: "lastgpappttime",
        options: 5,
        positive: Some(2),
    },
    Question {
        stem: "lastgpapptcare",
        options: 5,
        positive: Some(2),
    },
    Question {
        stem: "localgpservicesapp",
        options: 4,
        positive: Some(2),
    },
    Question {
        stem: "dv_ethnicityband",
        options: 5,
        positive: None,
    },
    Question {
        stem: "aboutyouagemerged",
        options: 8,
        positive: None,
    },
];

/// The identifier columns of the 2024+ scheme, in the order this demo writes them.
const BASE_2025: &[&str] = &[
    "ad_practicecode",
    "ad_practicename",
    "ad_icscode",
    "ad_icsname",
    "ad_icscodeons",
    "ad_commissioningregioncode",
    "ad_commissioningregionname",
    "ad_pcncode",
    "ad_pcnname",
    "distributed",
    "received",
    "resprate",
    "popsize",
];

/// Questions of the 2023 questionnaire: number, options and positive options (the `_12pct`
/// share is options 1 and 2).
const QUESTIONS_2023: &[(u32, usize)] = &[
    (28, 5),
    (18, 5),
    (3, 4),
    (9, 3),
    (90, 3),
    (1, 4),
    (2, 4),
    (4, 5),
    (5, 5),
    (6, 4),
    (10, 5),
    (11, 5),
    (12, 5),
    (13, 4),
    (14, 5),
];

const BASE_2023: &[&str] = &[
    "Practice_Code",
    "Practice_Name",
    "ICS_Code",
    "ICS_Name",
    "distributed",
    "received",
    "resprate",
];

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// A share as the survey writes it: a fraction with up to 6 places.
fn share(value: f64) -> String {
    let text = format!("{:.6}", value.clamp(0.0, 1.0));
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// One practice's sample in a survey year.
struct Sample {
    distributed: i64,
    received: i64,
    /// How well the practice does, shifting every evaluative share.
    quality: f64,
}

impl Sample {
    fn draw(rng: &mut Rng, population: u64) -> Sample {
        let distributed = (population as f64 * 0.04).clamp(60.0, 700.0).round() as i64;
        let received = (distributed as f64 * (0.18 + 0.25 * rng.unit())).round() as i64;
        Sample {
            distributed,
            received,
            quality: 0.08 * rng.normal(),
        }
    }
}

/// The answer shares of one question: a positive share near `level`, split over the options.
fn answers(rng: &mut Rng, options: usize, positive: usize, level: f64) -> (f64, Vec<f64>) {
    let eval = level.clamp(0.05, 0.99);
    let mut weights: Vec<f64> = (0..options).map(|_| 0.2 + rng.unit()).collect();
    let (pos, neg) = weights.split_at_mut(positive.min(options));
    for (part, total) in [(pos, eval), (neg, 1.0 - eval)] {
        let sum: f64 = part.iter().sum();
        for w in part.iter_mut() {
            *w = *w / sum * total;
        }
    }
    (eval, weights)
}

fn row(out: &mut impl Write, cells: &[String]) -> io::Result<()> {
    writeln!(out, "{}", cells.join(","))
}

/// Writes the demo's two survey files under `dir`.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let recent = dir.join("GPPS_2025_Practice_data_(weighted)_(csv)_PUBLIC.csv");
    write_2025(world, &recent)?;
    let older = dir.join("GPPS_2023_Practice_data_(weighted)_(csv)_PUBLIC.csv");
    write_2023(world, &older)?;
    Ok(vec![recent, older])
}

fn fieldwork(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 1, 1).expect("a real day")
}

fn write_2025(world: &World, path: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut header: Vec<String> = BASE_2025.iter().map(|n| (*n).to_owned()).collect();
    for q in QUESTIONS_2025 {
        header.extend((1..=q.options).map(|o| format!("{}_{o}.pct", q.stem)));
        if q.positive.is_some() {
            for suffix in ["pcteval", "baseevalw", "lowileval", "hiwileval"] {
                header.push(format!("{}.{suffix}", q.stem));
            }
        }
    }
    row(&mut out, &header)?;
    let day = fieldwork(2025);
    for (i, practice) in world.practices.iter().enumerate() {
        let Some(registrations) = world.practice_registrations(i, day) else {
            continue;
        };
        let mut rng = Rng::new(mix(practice.list.key, 2025));
        let sample = Sample::draw(&mut rng, registrations.total());
        let icb = &world.icbs[practice.icb];
        let region = &world.regions[practice.region];
        let (pcn_code, pcn_name) = match world.pcn_at(i, day) {
            Some(p) => (world.pcns[p].code.clone(), world.pcns[p].name.clone()),
            None => ("U".to_owned(), "Unallocated".to_owned()),
        };
        // Now and then a practice's population is not published.
        let popsize = if rng.chance(0.01) {
            "-99".to_owned()
        } else {
            registrations.total().to_string()
        };
        let mut cells = vec![
            practice.code.clone(),
            field(&practice.name),
            icb.code.clone(),
            field(&icb.name),
            icb.ons_code.clone(),
            region.code.clone(),
            field(&region.name),
            pcn_code,
            field(&pcn_name),
            sample.distributed.to_string(),
            sample.received.to_string(),
            share(sample.received as f64 / sample.distributed as f64),
            popsize,
        ];
        let base = sample.received as f64;
        for (n, q) in QUESTIONS_2025.iter().enumerate() {
            let suppressed = rng.chance(0.02);
            let unasked = q.positive.is_none() && rng.chance(0.01);
            let level = 0.72 + sample.quality - 0.05 * n as f64 + 0.04 * rng.normal();
            let (eval, shares) = answers(&mut rng, q.options, q.positive.unwrap_or(1), level);
            let mark = |value: String| {
                if suppressed {
                    "-97".to_owned()
                } else if unasked {
                    "/".to_owned()
                } else {
                    value
                }
            };
            cells.extend(shares.iter().map(|s| mark(share(*s))));
            if q.positive.is_some() {
                let weighted = (base * (0.85 + 0.1 * rng.unit())).round();
                let margin = 1.96 * (eval * (1.0 - eval) / weighted.max(1.0)).sqrt();
                cells.push(mark(share(eval)));
                cells.push(mark(format!("{weighted}")));
                cells.push(mark(share(eval - margin)));
                cells.push(mark(share(eval + margin)));
            }
        }
        row(&mut out, &cells)?;
    }
    out.flush()
}

fn write_2023(world: &World, path: &Path) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut header: Vec<String> = BASE_2023.iter().map(|n| (*n).to_owned()).collect();
    for (q, options) in QUESTIONS_2023 {
        header.push(format!("Q{q}base"));
        header.extend((1..=*options).map(|o| format!("Q{q}_{o}pct")));
        header.push(format!("Q{q}_12"));
        header.push(format!("Q{q}_12pct"));
    }
    row(&mut out, &header)?;
    let day = fieldwork(2023);
    for (i, practice) in world.practices.iter().enumerate() {
        let Some(registrations) = world.practice_registrations(i, day) else {
            continue;
        };
        let mut rng = Rng::new(mix(practice.list.key, 2023));
        let sample = Sample::draw(&mut rng, registrations.total());
        let icb = &world.icbs[practice.icb];
        let mut cells = vec![
            practice.code.clone(),
            field(&practice.name),
            icb.code.clone(),
            field(&icb.name),
            sample.distributed.to_string(),
            sample.received.to_string(),
            share(sample.received as f64 / sample.distributed as f64),
        ];
        for (n, (_, options)) in QUESTIONS_2023.iter().enumerate() {
            let base = (sample.received as f64 * (0.8 + 0.15 * rng.unit())).round();
            let level = 0.70 + sample.quality - 0.06 * n as f64 + 0.04 * rng.normal();
            let (eval, shares) = answers(&mut rng, *options, 2, level);
            if rng.chance(0.02) {
                cells.extend(std::iter::repeat_n("-97".to_owned(), options + 3));
                continue;
            }
            cells.push(format!("{base}"));
            cells.extend(shares.iter().map(|s| share(*s)));
            cells.push(format!("{}", (eval * base).round()));
            cells.push(share(eval));
        }
        row(&mut out, &cells)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::gpps::parse::{Scheme, read};
    use crate::source::open_sources;

    #[test]
    fn demo_files_read_back_in_their_schemes() {
        let world = World::generate(7, 0.01);
        let dir = tempfile::tempdir().unwrap();
        let files = demo(&world, dir.path()).unwrap();
        let mut schemes = Vec::new();
        for path in &files {
            let source = &open_sources(path).unwrap()[0];
            let (scheme, rows) = read(source).unwrap();
            let rows: Vec<_> = rows.map(Result::unwrap).collect();
            assert!(rows.len() > 40, "{} rows", rows.len());
            let measured = rows
                .iter()
                .filter(|r| r.overall_experience.is_some())
                .count();
            assert!(
                measured > rows.len() * 9 / 10,
                "{measured} of {}",
                rows.len()
            );
            assert!(
                rows.iter()
                    .filter_map(|r| r.overall_experience)
                    .all(|v| (0.0..=1.0).contains(&v))
            );
            assert!(rows.iter().all(|r| r.ics_code.is_some()));
            let questions = rows[0].measures.as_str().matches("\":").count();
            assert!(questions >= 100, "{questions} question columns");
            schemes.push(scheme);
        }
        assert_eq!(schemes, [Scheme::From2024, Scheme::To2023]);
    }
}
