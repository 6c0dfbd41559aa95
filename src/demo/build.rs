//! `haresign demo`: a synthetic England written as publisher files, then imported through the
//! same importers real files go through.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

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
    /// Time spent writing the files, alongside the imports.
    pub writing: Duration,
    /// From the start to the last import's commit.
    pub elapsed: Duration,
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

/// Writes the demo files under `dir` and imports them into `db` (already migrated). Each
/// publication's files are written on a thread of their own while the publication before is
/// imported, one publication ahead at most.
pub async fn build(
    db: &Db,
    dir: &Path,
    seed: u64,
    scale: f64,
    show_progress: bool,
) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let world = Arc::new(World::generate(seed, scale));
    std::fs::create_dir_all(dir)?;
    let (written, mut to_import) = mpsc::channel(1);
    let writer = {
        let world = Arc::clone(&world);
        let dir = dir.to_owned();
        std::thread::spawn(move || {
            let mut writing = Duration::ZERO;
            for source in catalogue::sources() {
                let began = Instant::now();
                let files = (source.sample)(&world, &dir);
                writing += began.elapsed();
                let failed = files.is_err();
                if written.blocking_send((source, files)).is_err() || failed {
                    break;
                }
            }
            writing
        })
    };
    let mut rows = 0;
    let mut files = 0;
    let imported = async {
        while let Some((source, paths)) = to_import.recv().await {
            let paths = paths?;
            let began = Instant::now();
            let outcome = run::import(db, source, &paths, show_progress)
                .await
                .map_err(|error| DemoError::Import {
                    source_name: source.name,
                    error,
                })?;
            files += paths.len();
            let imported = match outcome {
                Outcome::Imported { rows: n, .. } => n,
                Outcome::Unchanged => 0,
            };
            rows += imported;
            tracing::debug!(
                source = source.name,
                files = paths.len(),
                rows = imported,
                seconds = began.elapsed().as_secs_f64(),
                "imported"
            );
        }
        Ok::<(), DemoError>(())
    }
    .await;
    // Stops the writer at its next publication if an import failed.
    drop(to_import);
    let writing = writer
        .join()
        .expect("the demo's file writer does not panic");
    imported?;
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
        writing,
        elapsed: started.elapsed(),
    })
}
