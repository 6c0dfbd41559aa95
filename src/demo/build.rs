//! `haresign demo`: a synthetic England written as publisher files, then imported through the
//! same importers real files go through.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Months;

use crate::catalogue::{self, nwrs, ods, qof, registrations};
use crate::db::Db;
use crate::import::run::{self, Outcome};
use crate::source::error::ImportError;
use crate::source::financial_year::FinancialYear;
use crate::synthetic::{AS_OF, PracticeStatus, World};

/// Monthly registration extracts generated (two financial years and more).
pub const MONTHS: usize = 24;

/// QOF years generated, ending with the last complete financial year before `AS_OF`.
pub const QOF_YEARS: i32 = 3;

/// Monthly workforce snapshots generated, ending with the month before `AS_OF`.
pub const WORKFORCE_SNAPSHOTS: usize = 12;

#[derive(Debug)]
pub struct DemoSummary {
    pub practices: usize,
    pub pcns: usize,
    /// An open practice, for example requests.
    pub example_practice: String,
    pub files: usize,
    pub rows: u64,
    pub generate: Duration,
    pub import: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("writing demo files: {0}")]
    Io(#[from] std::io::Error),
    #[error("{source_name}: {error}")]
    Import {
        source_name: &'static str,
        error: ImportError,
    },
}

struct Batch {
    source: &'static str,
    files: Vec<PathBuf>,
}

/// Writes the demo files under `dir` and imports them into `db` (already migrated).
pub async fn build(
    db: &Db,
    dir: &Path,
    seed: u64,
    scale: f64,
    show_progress: bool,
) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let world = World::generate(seed, scale);
    std::fs::create_dir_all(dir)?;
    let ods_dir = dir.join("ods");
    std::fs::create_dir_all(&ods_dir)?;
    let mut batches = vec![
        Batch {
            source: ods::load::EPRACCUR.name,
            files: vec![ods::sample::write_epraccur(&world, &ods_dir)?],
        },
        Batch {
            source: ods::load::EPCN.name,
            files: vec![ods::sample::write_epcn_core_partner_csv(&world, &ods_dir)?],
        },
    ];
    // All months in one run, as an operator catching up would: one transaction, one rebuild.
    let mut registration_files = Vec::new();
    for month in registrations::sample::demo_months(AS_OF, MONTHS) {
        let month_dir = dir
            .join("registrations")
            .join(month.format("%Y-%m").to_string());
        std::fs::create_dir_all(&month_dir)?;
        registration_files.extend(registrations::sample::write_registrations(
            &world, month, &month_dir,
        )?);
    }
    batches.push(Batch {
        source: registrations::load::REGISTRATIONS.name,
        files: registration_files,
    });
    let workforce_dir = dir.join("nwrs");
    std::fs::create_dir_all(&workforce_dir)?;
    let last_snapshot = AS_OF
        .checked_sub_months(Months::new(1))
        .expect("month within chrono's range");
    let snapshots = registrations::sample::demo_months(last_snapshot, WORKFORCE_SNAPSHOTS);
    let mut workforce_files = Vec::new();
    for (i, month) in snapshots.iter().enumerate() {
        // The latest snapshot also carries the high-level file, so the demo exercises both
        // layouts and the preference between them without doubling every month's rows.
        let high_level = i + 1 == snapshots.len();
        workforce_files.push(nwrs::sample::write_practice_zip(
            &world,
            *month,
            high_level,
            &workforce_dir,
        )?);
    }
    batches.push(Batch {
        source: nwrs::load::NWRS.name,
        files: workforce_files,
    });
    let qof_dir = dir.join("qof");
    std::fs::create_dir_all(&qof_dir)?;
    let last_year = FinancialYear::containing(AS_OF).start_year() - 1;
    let mut qof_files = Vec::new();
    for start in last_year + 1 - QOF_YEARS..=last_year {
        qof_files.push(qof::sample::write_year_zip(&world, start, &qof_dir)?);
    }
    batches.push(Batch {
        source: qof::load::QOF.name,
        files: qof_files,
    });
    let generate = started.elapsed();
    let started = Instant::now();
    let mut rows = 0;
    let mut files = 0;
    for batch in &batches {
        let source = catalogue::source(batch.source).expect("demo sources are catalogued");
        let outcome = run::import(db, source, &batch.files, show_progress)
            .await
            .map_err(|error| DemoError::Import {
                source_name: source.name,
                error,
            })?;
        files += batch.files.len();
        if let Outcome::Imported { rows: n, .. } = outcome {
            rows += n;
        }
    }
    Ok(DemoSummary {
        practices: world.practices.len(),
        pcns: world.pcns.len(),
        example_practice: world
            .practices
            .iter()
            .find(|p| p.status == PracticeStatus::Active && p.is_open_on(AS_OF))
            .map(|p| p.code.clone())
            .unwrap_or_default(),
        files,
        rows,
        generate,
        import: started.elapsed(),
    })
}
