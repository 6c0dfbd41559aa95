//! An import run: every file given to one `haresign import` is loaded in one transaction with
//! the served tables that read what it changed rebuilt, so a failure anywhere leaves served data
//! as it was.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::record;
use crate::catalogue::{self, Derive, LoadContext, Loaded, Source};
use crate::db::Db;
use crate::schema::Table;
use crate::source::error::ImportError;
use crate::source::{SourceFile, open_sources, sha256_file};
use crate::tally;

#[derive(Debug)]
pub enum Outcome {
    /// Every file had been imported before with the same content and still holds its
    /// periods: nothing changed.
    Unchanged,
    Imported {
        rows: u64,
        periods: Vec<String>,
        /// What the loaders found worth telling the user, one sentence each.
        notes: Vec<String>,
        elapsed: Duration,
    },
}

struct PendingFile {
    display: String,
    sources: Vec<SourceFile>,
}

/// Imports `paths` into `source`. `show_progress` draws a progress line on a terminal.
pub async fn import(
    db: &Db,
    source: &Source,
    paths: &[PathBuf],
    show_progress: bool,
) -> Result<Outcome, ImportError> {
    import_with_options(db, source, paths, &[], show_progress).await
}

/// `import` with options for the source's loader, `(name, value)` as `--option name=value`
/// gives them. Files are loaded again even if imported before, as an option may change what
/// they load; an option no loader reads fails the import.
pub async fn import_with_options(
    db: &Db,
    source: &Source,
    paths: &[PathBuf],
    options: &[(String, String)],
    show_progress: bool,
) -> Result<Outcome, ImportError> {
    import_until(
        db,
        source,
        paths,
        options,
        show_progress,
        std::future::pending(),
    )
    .await
}

/// `import_with_options` that gives up when `stop` completes (a signal): the transaction is
/// rolled back, and the run is recorded as failed.
pub async fn import_until(
    db: &Db,
    source: &Source,
    paths: &[PathBuf],
    options: &[(String, String)],
    show_progress: bool,
    stop: impl Future<Output = ()>,
) -> Result<Outcome, ImportError> {
    let started = Instant::now();
    record::abandoned(db).await?;
    let mut files = Vec::new();
    for path in paths {
        files.push(PendingFile {
            display: display_name(path),
            sources: open_sources(path)?,
        });
    }
    // A file's check reads the digests of the files given after it, so the files are hashed
    // from the last one back; the first changed file found means the run loads, and the files
    // before it are hashed while it does. A run of unchanged files is hashed whole, as it must.
    let mut digests: Vec<Option<String>> = vec![None; paths.len()];
    let mut unchanged = true;
    for place in (0..paths.len()).rev() {
        let digest = sha256_file(&paths[place])?;
        let after: Vec<&str> = digests[place + 1..]
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let served = record::still_served(db, source.name, &digest, &after).await?;
        digests[place] = Some(digest);
        if !served {
            unchanged = false;
            break;
        }
    }
    if unchanged && options.is_empty() && !files.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let mut ids = Vec::new();
    for (file, digest) in files.iter().zip(&digests) {
        let digest = digest.as_deref().unwrap_or(record::PENDING_DIGEST);
        ids.push(record::start(db, source.name, &file.display, digest).await?);
    }
    let hashing = Hashing::start(paths, digests);
    let progress = if show_progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {human_pos} rows ({per_sec})")
                .expect("valid progress template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let loaded = tokio::select! {
        biased;
        () = stop => Err(ImportError::Interrupted),
        loaded = load_all(db, source, &files, &ids, hashing, options, &progress) => loaded,
    };
    match loaded {
        Ok((per_file, notes)) => {
            progress.finish_and_clear();
            let mut rows = 0;
            let mut periods = std::collections::BTreeSet::new();
            for loaded in per_file {
                rows += loaded.rows;
                periods.extend(loaded.periods);
            }
            Ok(Outcome::Imported {
                rows,
                periods: periods.into_iter().collect(),
                notes,
                elapsed: started.elapsed(),
            })
        }
        Err(error) => {
            progress.abandon();
            let message = error.to_string();
            for id in &ids {
                record::failed(db, *id, &message).await?;
            }
            Err(error)
        }
    }
}

/// The digests not taken yet, computed on a thread of their own while the files load.
struct Hashing {
    task: tokio::task::JoinHandle<Result<Vec<String>, ImportError>>,
    /// Set when the run ends without them (failed or interrupted): the thread stops at its
    /// next file instead of reading the rest of the input for nothing, and the process, which
    /// waits for such threads when it exits, is not held up.
    abandoned: Arc<AtomicBool>,
}

impl Hashing {
    /// Hashes, on a blocking thread, the files whose digest is not in `digests` yet.
    fn start(paths: &[PathBuf], digests: Vec<Option<String>>) -> Hashing {
        let paths = paths.to_vec();
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&abandoned);
        let task = tokio::task::spawn_blocking(move || digests_of(&paths, digests, &stop));
        Hashing { task, abandoned }
    }

    /// Every file's digest, in order, once they are all known.
    async fn digests(&mut self) -> Result<Vec<String>, ImportError> {
        match (&mut self.task).await {
            Ok(digests) => digests,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(ImportError::Interrupted),
        }
    }
}

impl Drop for Hashing {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

/// Each file's digest, given or taken, in order; the first file still to hash once `abandoned`
/// is set ends it.
fn digests_of(
    paths: &[PathBuf],
    digests: Vec<Option<String>>,
    abandoned: &AtomicBool,
) -> Result<Vec<String>, ImportError> {
    paths
        .iter()
        .zip(digests)
        .map(|(path, digest)| match digest {
            Some(digest) => Ok(digest),
            None if abandoned.load(Ordering::Relaxed) => Err(ImportError::Interrupted),
            None => sha256_file(path),
        })
        .collect()
}

async fn load_all(
    db: &Db,
    source: &Source,
    files: &[PendingFile],
    ids: &[i64],
    mut hashing: Hashing,
    options: &[(String, String)],
    progress: &ProgressBar,
) -> Result<(Vec<Loaded>, Vec<String>), ImportError> {
    let mut tx = db.begin().await?;
    let mut per_file = Vec::new();
    let run = LoadContext::new(progress.clone()).with_options(options);
    let members: Vec<&SourceFile> = files.iter().flat_map(|f| &f.sources).collect();
    let mut place = 0;
    for (file, id) in files.iter().zip(ids) {
        let mut loaded = Loaded::default();
        for member in &file.sources {
            place += 1;
            let context = run.for_member(*id, members.get(place..).unwrap_or_default());
            progress.set_message(format!("{} {}", source.name, member.name()));
            let part = (source.load)(&mut tx, member, &context).await?;
            loaded.rows += part.rows;
            loaded.periods.extend(part.periods);
        }
        per_file.push(loaded);
    }
    let unread = run.unread_options();
    if !unread.is_empty() {
        return Err(ImportError::UnusedOptions {
            source_name: source.name,
            options: unread,
        });
    }
    let derivations = catalogue::derivations_after(source);
    let mut written: Vec<&'static Table> = source.writes.to_vec();
    let mut beside = Vec::new();
    let mut analyzed: Vec<&'static Table> = Vec::new();
    for (at, derivation) in derivations.iter().enumerate() {
        let stale: Vec<&Table> = derivation
            .reads
            .iter()
            .copied()
            .filter(|t| written.iter().any(|w| w.name == t.name))
            .collect();
        tx.analyze(&stale).await?;
        analyzed.extend(&stale);
        written.retain(|w| !stale.iter().any(|t| t.name == w.name));
        match derivation.how {
            Derive::Statements(statements) => {
                for statement in statements {
                    tx.execute_raw(statement).await?;
                }
            }
            Derive::Rows(select) => {
                let table = derivation.writes[0];
                // A later derivation of this import must read the new rows under the table's
                // own name.
                let read_later = derivations[at + 1..]
                    .iter()
                    .any(|later| later.reads.iter().any(|t| t.name == table.name));
                if read_later {
                    tx.replace_rows(table, select).await?;
                } else {
                    let searched = catalogue::searched_columns_of(table);
                    let built = tx.replace_rows_beside(table, select, &searched).await?;
                    beside.extend(built);
                }
            }
        }
        written.extend(derivation.writes);
    }
    let changed: Vec<&'static Table> = source
        .writes
        .iter()
        .chain(derivations.iter().flat_map(|d| d.writes))
        .copied()
        .collect();
    // Readers of the tables built beside wait from the moment they are put in place to the
    // commit, so what may take long comes first.
    let (swapped, kept): (Vec<&Table>, Vec<&Table>) = changed
        .iter()
        .partition(|t| beside.iter().any(|b| b.table().name == t.name));
    tally::refresh(&mut tx, kept).await?;
    let digests = hashing.digests().await?;
    tx.put_in_place(&beside).await?;
    tally::refresh(&mut tx, swapped).await?;
    for ((id, loaded), digest) in ids.iter().zip(&per_file).zip(&digests) {
        let listed: Vec<&str> = loaded.periods.iter().map(String::as_str).collect();
        let outcome = record::Success {
            run_id: ids[0],
            sha256: digest,
            rows: loaded.rows,
            periods: &listed.join(","),
        };
        record::succeeded(&mut tx, *id, &outcome).await?;
    }
    tx.commit().await?;
    // The data is in; what follows only makes it quicker to read.
    if let Err(error) = db
        .refresh_statistics(&statistics_to_refresh(&changed, &analyzed))
        .await
    {
        tracing::warn!(%error, "the imported tables' statistics were not refreshed");
    }
    Ok((per_file, run.notes()))
}

/// The tables of `changed` whose statistics are refreshed after the commit. A table no
/// endpoint reads only feeds derivations, and those analysed it in the transaction (`analyzed`);
/// on PostgreSQL autovacuum covers the rest of it. A registrations import's two source tables
/// were its slowest refreshes (0.5-0.65 s).
fn statistics_to_refresh<'t>(changed: &[&'t Table], analyzed: &[&Table]) -> Vec<&'t Table> {
    changed
        .iter()
        .copied()
        .filter(|t| catalogue::is_served(t) || !analyzed.iter().any(|a| a.name == t.name))
        .collect()
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_refreshed_for_served_tables_and_those_not_analysed_already() {
        use crate::catalogue::list_sizes::LIST_SIZES;
        use crate::catalogue::ods::{ODS_PRACTICES, PRACTICES};
        use crate::catalogue::registrations::{REG_POPULATIONS, REG_PRACTICE_MAP};
        let changed = [
            &REG_POPULATIONS,
            &REG_PRACTICE_MAP,
            &LIST_SIZES,
            &ODS_PRACTICES,
        ];
        let names = |tables: Vec<&Table>| tables.iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(
            names(statistics_to_refresh(
                &changed,
                &[&REG_POPULATIONS, &REG_PRACTICE_MAP, &LIST_SIZES]
            )),
            ["list_sizes", "ods_practices"]
        );
        // Served tables are refreshed though analysed: the analysis in the transaction covers
        // only their keyed columns on PostgreSQL.
        assert_eq!(
            names(statistics_to_refresh(
                &[&PRACTICES, &LIST_SIZES],
                &[&PRACTICES]
            )),
            ["practices", "list_sizes"]
        );
    }

    #[test]
    fn the_digests_still_to_take_are_taken_in_order_until_abandoned() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "A,B\n").unwrap();
        let missing = dir.path().join("missing.csv");
        let paths = [dir.path().join("given.csv"), file.clone()];
        let taken = digests_of(
            &paths,
            vec![Some("given".to_owned()), None],
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(taken, ["given".to_owned(), sha256_file(&file).unwrap()]);
        // Abandoned, the missing file is not even opened: reading it would fail with an I/O error.
        let abandoned = digests_of(
            &[file, missing],
            vec![Some("given".to_owned()), None],
            &AtomicBool::new(true),
        );
        assert!(
            matches!(abandoned, Err(ImportError::Interrupted)),
            "{abandoned:?}"
        );
    }
}
