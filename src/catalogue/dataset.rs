//! What a dataset is: the tables it owns, the endpoints that serve them, the publications that
//! load them and the derivations that rebuild its served tables.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use indicatif::ProgressBar;

use crate::db::Tx;
use crate::schema::{Endpoint, Table};
use crate::source::SourceFile;
use crate::source::error::ImportError;
use crate::synthetic::World;

/// One source publication (or a family of them) and everything served from it.
pub struct Dataset {
    pub name: &'static str,
    /// The scope a key can be limited to (`keys create --scope`) to read these endpoints.
    pub scope: &'static str,
    /// Source tables first, then the served tables derived from them.
    pub tables: &'static [&'static Table],
    pub endpoints: &'static [&'static Endpoint],
    pub sources: &'static [&'static Source],
    /// Each after any derivation whose tables it reads.
    pub derivations: &'static [&'static Derivation],
}

/// What loading one file produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rows: u64,
    /// Reporting periods the file held (ISO dates or years); empty for snapshots such as ODS.
    pub periods: BTreeSet<String>,
}

pub struct LoadContext {
    pub import_id: i64,
    pub progress: ProgressBar,
}

pub type LoadFuture<'a> = Pin<Box<dyn Future<Output = Result<Loaded, ImportError>> + Send + 'a>>;

/// A publication `haresign import <name>` accepts.
pub struct Source {
    pub name: &'static str,
    /// The files it accepts, for `haresign import --help`.
    pub description: &'static str,
    /// The tables its loader writes: the derivations that read them run after an import.
    pub writes: &'static [&'static Table],
    /// Replaces the periods the file holds with its rows, inside the import's transaction.
    pub load: for<'a> fn(&'a mut Tx, &'a SourceFile, &'a LoadContext) -> LoadFuture<'a>,
    /// Writes the demo's files of this publication from the synthetic England under `dir`.
    pub sample: fn(&World, &Path) -> std::io::Result<Vec<PathBuf>>,
}

/// Statements that rebuild served tables from the tables they read, run in an import's
/// transaction whenever one of those tables has changed.
pub struct Derivation {
    pub reads: &'static [&'static Table],
    pub writes: &'static [&'static Table],
    pub statements: &'static [&'static str],
}
