//! `haresign demo`: a synthetic England written as publisher files, then imported through the
//! same importers real files go through.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::catalogue;
use crate::db::Db;
use crate::import::run::{self, Outcome};
use crate::source::error::ImportError;
use crate::synthetic::{AS_OF, PracticeStatus, World};

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
    let mut batches = Vec::new();
    for source in catalogue::sources() {
        batches.push((source, (source.sample)(&world, dir)?));
    }
    let generate = started.elapsed();
    let started = Instant::now();
    let mut rows = 0;
    let mut files = 0;
    for (source, paths) in &batches {
        let outcome = run::import(db, source, paths, show_progress)
            .await
            .map_err(|error| DemoError::Import {
                source_name: source.name,
                error,
            })?;
        files += paths.len();
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
