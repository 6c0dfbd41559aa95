//! The demo's GPAD release, written from the synthetic world in the publisher's layout: one
//! `Practice_Level_Crosstab_<Mon>_<YY>.zip` holding the latest month, an older month, a month
//! between them split into its `London_East_South` and `Midlands_North` halves, and
//! `Mapping.csv`. About a million rows a month at national scale, so the files are written
//! straight to the zip, one pre-rendered practice prefix per practice and month.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{Datelike, Months, NaiveDate};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::synthetic::{AS_OF, Rng, World, mix};

const HEADER: &str = "APPOINTMENT_MONTH_START_DATE,GP_CODE,GP_NAME,SUPPLIER,PCN_CODE,PCN_NAME,\
SUB_ICB_LOCATION_CODE,SUB_ICB_LOCATION_NAME,HCP_TYPE,APPT_MODE,NATIONAL_CATEGORY,\
TIME_BETWEEN_BOOK_AND_APPT,COUNT_OF_APPOINTMENTS,APPT_STATUS";

const MAPPING_HEADER: &str = "GP_CODE,GP_NAME,SUPPLIER,PCN_CODE,PCN_NAME,SUB_ICB_LOCATION_CODE,\
SUB_ICB_LOCATION_NAME,ICB_CODE,ICB_NAME,REGION_CODE,REGION_NAME";

/// Each dimension's published labels with a weight for how often a practice has rows of it.
const HCP_TYPES: [(&str, f64); 3] = [("GP", 5.0), ("Other Practice staff", 6.0), ("Unknown", 0.6)];
const MODES: [(&str, f64); 5] = [
    ("Face-to-Face", 6.0),
    ("Telephone", 3.0),
    ("Home Visit", 0.4),
    ("Video Conference/Online", 0.3),
    ("Unknown", 0.5),
];
const CATEGORIES: [(&str, f64); 20] = [
    ("General Consultation Routine", 5.0),
    ("General Consultation Acute", 4.0),
    ("Clinical Triage", 3.0),
    ("Planned Clinics", 3.0),
    ("Planned Clinical Procedure", 3.0),
    ("Unplanned Clinical Activity", 1.0),
    ("Patient contact during Care Home Round", 0.3),
    ("Home Visit", 0.5),
    ("Care Home Visit", 0.3),
    ("Structured Medication Review", 0.8),
    (
        "Service provided by organisation external to the practice",
        0.5,
    ),
    ("Social Prescribing Service", 0.4),
    ("Non-contractual chargeable work", 0.3),
    ("Walk-in", 0.2),
    (
        "Care Related Encounter but does not fit into any other category",
        0.6,
    ),
    ("Group Consultation and Group Education", 0.2),
    (
        "Care Home Needs Assessment & Personalised Care and Support Planning",
        0.2,
    ),
    ("Mental Health", 0.4),
    ("Inconsistent Mapping", 1.5),
    ("Unmapped", 1.0),
];
/// With the double spaces of the published file.
const LEAD_TIMES: [(&str, f64); 8] = [
    ("Same Day", 6.0),
    ("1 Day", 2.0),
    ("2 to 7 Days", 3.0),
    ("8  to 14 Days", 2.0),
    ("15  to 21 Days", 1.2),
    ("22  to 28 Days", 0.8),
    ("More than 28 Days", 0.8),
    ("Unknown / Data Quality", 0.2),
];
const STATUSES: [(&str, f64); 3] = [("Attended", 6.0), ("DNA", 1.5), ("Unknown", 1.0)];

const COMBINATIONS: usize =
    HCP_TYPES.len() * MODES.len() * CATEGORIES.len() * LEAD_TIMES.len() * STATUSES.len();

/// Rows a practice of average list size has in a month: about a million a month nationally.
const ROWS_PER_PRACTICE: f64 = 165.0;

/// The regions of the `London_East_South` half of a split month; the others are
/// `Midlands_North`.
const LONDON_EAST_SOUTH: [&str; 4] = ["London", "East of England", "South East", "South West"];

/// Whether a practice of the region (by name) goes into a member file.
type KeepRegion = fn(&str) -> bool;

/// The five labels of combination `index`, and the weight of drawing it.
fn labels(index: usize) -> ([&'static str; 5], f64) {
    let (rest, status) = (index / STATUSES.len(), index % STATUSES.len());
    let (rest, lead) = (rest / LEAD_TIMES.len(), rest % LEAD_TIMES.len());
    let (rest, category) = (rest / CATEGORIES.len(), rest % CATEGORIES.len());
    let (hcp, mode) = (rest / MODES.len(), rest % MODES.len());
    let picked = [
        HCP_TYPES[hcp],
        MODES[mode],
        CATEGORIES[category],
        LEAD_TIMES[lead],
        STATUSES[status],
    ];
    (
        picked.map(|(label, _)| label),
        picked.iter().map(|(_, w)| w).product(),
    )
}

/// Cumulative weights of every combination, for drawing one with a binary search.
static CUMULATIVE: LazyLock<Vec<f64>> = LazyLock::new(|| {
    let mut total = 0.0;
    (0..COMBINATIONS)
        .map(|i| {
            total += labels(i).1;
            total
        })
        .collect()
});

/// The rest of a row after its practice: the five labels between commas, in file order.
static SUFFIXES: LazyLock<Vec<[String; 2]>> = LazyLock::new(|| {
    (0..COMBINATIONS)
        .map(|i| {
            let [hcp, mode, category, lead, status] = labels(i).0;
            [
                format!("{hcp},{mode},{category},{lead},"),
                status.to_owned(),
            ]
        })
        .collect()
});

fn quoted(value: &str) -> String {
    if value.contains([',', '"']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// `Oct_25`, as the publisher's file names write a month.
fn name_month(month: NaiveDate) -> String {
    format!("{}_{:02}", month.format("%b"), month.year() % 100)
}

/// One month's crosstab rows for the practices `keep` accepts (by region name).
fn write_month<W: Write>(
    world: &World,
    month: NaiveDate,
    keep: impl Fn(&str) -> bool,
    out: &mut W,
) -> io::Result<()> {
    let registrations = world.registrations(month);
    let mean = registrations.iter().map(|r| r.total() as f64).sum::<f64>()
        / registrations.len().max(1) as f64;
    let published = month.format("%d%b%Y").to_string().to_uppercase();
    let cumulative = &*CUMULATIVE;
    let total_weight = cumulative[COMBINATIONS - 1];
    let suffixes = &*SUFFIXES;
    writeln!(out, "{HEADER}")?;
    let mut drawn: Vec<u16> = Vec::new();
    for registration in &registrations {
        let practice = &world.practices[registration.practice];
        if !keep(&world.regions[practice.region].name) {
            continue;
        }
        let sub = &world.sub_icbs[practice.sub_icb];
        let (pcn_code, pcn_name) = world
            .pcn_at(registration.practice, month)
            .map(|p| (world.pcns[p].code.as_str(), quoted(&world.pcns[p].name)))
            .unwrap_or_default();
        let prefix = format!(
            "{published},{},{},{},{pcn_code},{pcn_name},{},{},",
            practice.code,
            quoted(&practice.name.to_uppercase()),
            practice.supplier,
            sub.code,
            quoted(&sub.name),
        );
        let patients = registration.total() as f64;
        let wanted = ((ROWS_PER_PRACTICE * patients / mean).round() as usize).clamp(10, 1_500);
        let mut rng = Rng::new(mix(
            practice.list.key,
            u64::from(month.year() as u32 * 12 + month.month()),
        ));
        drawn.clear();
        // Draws repeat, most often for the common combinations: draw again for what is
        // missing, a few rounds at most.
        for _ in 0..4 {
            let missing = wanted.saturating_sub(drawn.len());
            if missing == 0 {
                break;
            }
            for _ in 0..missing * 2 {
                let target = rng.unit() * total_weight;
                let index = cumulative.partition_point(|c| *c <= target);
                drawn.push(index.min(COMBINATIONS - 1) as u16);
            }
            drawn.sort_unstable();
            drawn.dedup();
        }
        drawn.truncate(wanted);
        // Bigger lists book more appointments in each combination.
        let scale = (patients / 2_000.0).max(1.0) as u64;
        for &index in &drawn {
            let count = 1 + rng.next_u64() % (scale * (1 + u64::from(index % 7)));
            let [labels, status] = &suffixes[usize::from(index)];
            writeln!(out, "{prefix}{labels}{count},{status}")?;
        }
    }
    Ok(())
}

fn write_mapping<W: Write>(world: &World, month: NaiveDate, out: &mut W) -> io::Result<()> {
    writeln!(out, "{MAPPING_HEADER}")?;
    for registration in world.registrations(month) {
        let practice = &world.practices[registration.practice];
        let sub = &world.sub_icbs[practice.sub_icb];
        let icb = &world.icbs[practice.icb];
        let region = &world.regions[practice.region];
        let (pcn_code, pcn_name) = world
            .pcn_at(registration.practice, month)
            .map(|p| (world.pcns[p].code.as_str(), quoted(&world.pcns[p].name)))
            .unwrap_or_default();
        // The published ICB_NAME is cut at 50 characters.
        let icb_name: String = icb.name.to_uppercase().chars().take(50).collect();
        writeln!(
            out,
            "{},{},{},{pcn_code},{pcn_name},{},{},{},{},{},{}",
            practice.code,
            quoted(&practice.name.to_uppercase()),
            practice.supplier,
            sub.code,
            quoted(&sub.name),
            icb.code,
            quoted(&icb_name),
            region.code,
            quoted(&region.name.to_uppercase()),
        )?;
    }
    Ok(())
}

/// Writes `Practice_Level_Crosstab_<Mon>_<YY>.zip` for the latest month, `AS_OF`.
pub fn demo(world: &World, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let latest = AS_OF;
    let month_back = |n: u32| {
        latest
            .checked_sub_months(Months::new(n))
            .expect("a month within chrono's range")
    };
    let (split, older) = (month_back(1), month_back(2));
    let path = dir.join(format!(
        "Practice_Level_Crosstab_{}.zip",
        name_month(latest)
    ));
    let mut zip = ZipWriter::new(BufWriter::new(File::create(&path)?));
    // The fastest deflate level: the demo writes a few hundred megabytes.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    let members: [(String, NaiveDate, KeepRegion); 4] = [
        (name_month(latest), latest, |_| true),
        (name_month(older), older, |_| true),
        (
            format!("London_East_South_{}", name_month(split)),
            split,
            |region| LONDON_EAST_SOUTH.contains(&region),
        ),
        (
            format!("Midlands_North_{}", name_month(split)),
            split,
            |region| !LONDON_EAST_SOUTH.contains(&region),
        ),
    ];
    for (name, month, keep) in members {
        zip.start_file(format!("Practice_Level_Crosstab_{name}.csv"), options)?;
        let mut out = BufWriter::with_capacity(1 << 20, &mut zip);
        write_month(world, month, keep, &mut out)?;
        out.flush()?;
    }
    zip.start_file("Mapping.csv", options)?;
    let mut out = BufWriter::new(&mut zip);
    write_mapping(world, latest, &mut out)?;
    out.flush()?;
    drop(out);
    zip.finish()?.flush()?;
    Ok(vec![path])
}
