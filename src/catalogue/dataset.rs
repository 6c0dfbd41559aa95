//! What a dataset is: the tables it owns, the endpoints that serve them, the publications that
//! load them and the derivations that rebuild its served tables.

use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use indicatif::ProgressBar;
use sea_query::{Alias, Expr, ExprTrait, Query, Value};

use crate::db::{Loader, TableRow, Tx};
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
    pub publication: &'static Publication,
}

/// The NHS publication a dataset's files come from, as `datasets/` names it.
pub struct Publication {
    pub name: &'static str,
    /// The publication's page on the publisher's site.
    pub url: &'static str,
    /// How often a new reporting period is published; `None` for a snapshot (ODS), which is
    /// replaced whole and has no period to fall behind.
    pub cadence: Option<Cadence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    Monthly,
    Quarterly,
    Annual,
}

/// What loading one file produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rows: u64,
    /// Reporting periods the file held (ISO dates or years); empty for snapshots such as ODS.
    pub periods: BTreeSet<String>,
}

/// What a loader knows of the import run it is part of.
pub struct LoadContext {
    /// The `imports` row of the file being loaded; every loaded row carries it.
    pub import_id: i64,
    pub progress: ProgressBar,
    /// The slices this run has emptied, with the file that loaded each part of them.
    replaced: Arc<Mutex<HashMap<String, HashMap<String, i64>>>>,
    notes: Arc<Mutex<Vec<String>>>,
    options: Arc<Options>,
    /// The members the run loads after this one, nearest first, as many as may be read ahead.
    following: Vec<SourceFile>,
    /// Reads of the following members started while earlier ones were loaded (see
    /// `read_ahead`).
    ahead: Arc<Mutex<Vec<ReadAhead>>>,
}

/// The most members after the one being loaded that a loader may have read meanwhile (see
/// `read_ahead`).
const MOST_AHEAD: usize = 2;

/// A read of one member running on a thread of its own: a
/// `JoinHandle<Result<T, ImportError>>` for the `T` its loader reads the member as.
struct ReadAhead {
    file: SourceFile,
    read: Box<dyn Any + Send>,
}

/// What the command line told the run beyond its files (`haresign import <source> --option
/// name=value`), for what a file does not say of itself (the year of a payments file whose name
/// lacks it). A source reads the options it knows; one no loader read fails the run, so a
/// mistyped option is never silently ignored.
#[derive(Debug, Default)]
struct Options {
    given: BTreeMap<String, String>,
    read: Mutex<BTreeSet<String>>,
}

/// The rows a file replaces: those of `table` whose columns have these values (a period, and
/// where a publication is split into files by kind or region, the kind or region too). Empty
/// means the whole table (a snapshot).
pub type Slice<'s> = &'s [(&'static str, Value)];

/// How a file's slice stood when the file claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// First met in this run: what earlier imports loaded of it is gone.
    New,
    /// Another part of a slice this run has already begun (a month published in two regional
    /// files): the file adds to it.
    Added,
    /// An earlier file of this run loaded the same part of the slice; its rows are gone and
    /// this file's take their place, so nothing is loaded twice and the later file wins.
    Again,
}

impl LoadContext {
    /// A context for one run; `for_file` makes each file's.
    pub fn new(progress: ProgressBar) -> Self {
        LoadContext {
            import_id: 0,
            progress,
            replaced: Arc::default(),
            notes: Arc::default(),
            options: Arc::default(),
            following: Vec::new(),
            ahead: Arc::default(),
        }
    }

    /// The run's context with the options given on the command line, `(name, value)`; a name
    /// given twice keeps its last value.
    pub fn with_options(self, options: &[(String, String)]) -> Self {
        LoadContext {
            options: Arc::new(Options {
                given: options.iter().cloned().collect(),
                read: Mutex::default(),
            }),
            ..self
        }
    }

    /// The value of the option `name`, if the command gave it.
    pub fn option(&self, name: &str) -> Option<&str> {
        let value = self.options.given.get(name)?;
        self.options
            .read
            .lock()
            .expect("no loader panics holding it")
            .insert(name.to_owned());
        Some(value)
    }

    /// The options given that no loader of the run has read.
    pub fn unread_options(&self) -> Vec<String> {
        let read = self
            .options
            .read
            .lock()
            .expect("no loader panics holding it");
        self.options
            .given
            .keys()
            .filter(|name| !read.contains(*name))
            .cloned()
            .collect()
    }

    /// The context of a member of the run's file whose `imports` row is `import_id`; `rest`
    /// holds the members the run loads after it, in order.
    pub fn for_member(&self, import_id: i64, rest: &[&SourceFile]) -> Self {
        LoadContext {
            import_id,
            progress: self.progress.clone(),
            replaced: Arc::clone(&self.replaced),
            notes: Arc::clone(&self.notes),
            options: Arc::clone(&self.options),
            following: rest.iter().take(MOST_AHEAD).map(|f| (*f).clone()).collect(),
            ahead: Arc::clone(&self.ahead),
        }
    }

    /// `read(file)`, for a loader that reads a whole member before writing it: the reads of the
    /// run's next `ahead` members (at most `MOST_AHEAD`) are started on threads of their own
    /// before this one is returned, so they overlap the writing of this one and the cores of a
    /// small machine all work. One member ahead suits a loader whose members each hold a large
    /// part of what is read; two suit members that alternate small and large (a month's
    /// practice map, then its 28 MB age-band file), so the large one's read overlaps the writing
    /// of the large one before it, not only of the small one between them. A member read ahead
    /// is taken from its thread (its error, naming the file, is this call's); one whose loader
    /// never asks for it is joined and dropped once the run has passed it. At most `ahead + 1`
    /// members' reads exist at once.
    pub fn read_ahead<T: Send + 'static>(
        &self,
        file: &SourceFile,
        ahead: usize,
        read: fn(&SourceFile) -> Result<T, ImportError>,
    ) -> Result<T, ImportError> {
        let following = &self.following[..ahead.min(self.following.len())];
        let mut reads = self.ahead.lock().expect("no loader panics holding it");
        let mut started = None;
        for earlier in std::mem::take(&mut *reads) {
            if following.contains(&earlier.file) {
                reads.push(earlier);
                continue;
            }
            let mine = earlier.file == *file;
            match earlier
                .read
                .downcast::<JoinHandle<Result<T, ImportError>>>()
            {
                Ok(thread) if mine => started = Some(thread),
                Ok(thread) => {
                    let _ = thread.join();
                }
                // Read as another type, which only its own loader could take: its thread is
                // left to finish on its own.
                Err(_) => {}
            }
        }
        for next in following {
            if reads.iter().any(|running| running.file == *next) {
                continue;
            }
            let thread = std::thread::Builder::new()
                .name("read-ahead".into())
                .spawn({
                    let next = next.clone();
                    move || read(&next)
                })
                .map_err(|source| ImportError::Io {
                    file: next.to_string(),
                    source,
                })?;
            reads.push(ReadAhead {
                file: next.clone(),
                read: Box::new(thread),
            });
        }
        drop(reads);
        match started {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => read(file),
        }
    }

    /// Tells the user something about the run in the import summary (a disagreement between
    /// file kinds, a period met twice), one sentence.
    pub fn note(&self, note: String) {
        self.notes
            .lock()
            .expect("no loader panics holding it")
            .push(note);
    }

    /// What the run's loaders asked to tell the user.
    pub fn notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .expect("no loader panics holding it")
            .clone()
    }

    /// A loader into `table` that advances the run's progress.
    pub fn loader<'t, R: TableRow>(
        &self,
        tx: &'t mut Tx,
        table: &'static Table,
    ) -> Result<Loader<'t, R>, sqlx::Error> {
        Ok(tx.loader::<R>(table)?.counting(self.progress.clone()))
    }

    /// Loads `rows` into `table` in one pass over the file. `new_slice` sees each row before it
    /// is loaded, and returns the columns and values of the slice the row opens when it is the
    /// first row of that slice the file holds: the slice is made room for then (`replace`),
    /// without the rows already loaded from this file. So a file whose slices are known only
    /// from its rows is read once; a row that fails to read fails the import, whose
    /// transaction then leaves everything as it was.
    pub async fn load_replacing<T, R: TableRow>(
        &self,
        tx: &mut Tx,
        table: &'static Table,
        rows: impl Iterator<Item = Result<T, ImportError>>,
        mut new_slice: impl FnMut(&T) -> Option<Vec<(&'static str, Value)>>,
        record: impl Fn(T, i64) -> R,
    ) -> Result<u64, ImportError> {
        let mut rows = rows;
        let mut loaded = 0;
        let mut opening = None;
        loop {
            let mut loader = self.loader::<R>(tx, table)?;
            if let Some(row) = opening.take() {
                loader.push(record(row, self.import_id)).await?;
            }
            let mut slice = None;
            for row in rows.by_ref() {
                let row = row?;
                slice = new_slice(&row);
                if slice.is_some() {
                    opening = Some(row);
                    break;
                }
                loader.push(record(row, self.import_id)).await?;
            }
            loaded += loader.finish().await?;
            let Some(slice) = slice else {
                return Ok(loaded);
            };
            self.replace(tx, table, &slice, "").await?;
        }
    }

    /// Makes room for the file being loaded: the first file of the run that meets `slice` of
    /// `table` empties it; a file holding another `part` of it ("" for all of it) adds to it;
    /// a file holding a part an earlier file of the run loaded replaces that file's rows.
    pub async fn replace(
        &self,
        tx: &mut Tx,
        table: &'static Table,
        slice: Slice<'_>,
        part: &str,
    ) -> Result<Claimed, sqlx::Error> {
        let key = std::iter::once(table.name.to_owned())
            .chain(slice.iter().map(|(c, v)| format!("{c}={v:?}")))
            .collect::<Vec<_>>()
            .join("\u{1f}");
        let (claimed, earlier) = {
            let mut replaced = self.replaced.lock().expect("no loader panics holding it");
            match replaced.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(HashMap::from([(part.to_owned(), self.import_id)]));
                    (Claimed::New, None)
                }
                Entry::Occupied(mut entry) => {
                    match entry.get_mut().insert(part.to_owned(), self.import_id) {
                        None => (Claimed::Added, None),
                        Some(earlier) => (Claimed::Again, Some(earlier)),
                    }
                }
            }
        };
        let by_file: Vec<(&'static str, Value)>;
        let rows = match earlier {
            None if claimed == Claimed::Added => return Ok(claimed),
            None => slice,
            Some(earlier) => {
                let described: Vec<String> =
                    slice.iter().map(|(c, v)| format!("{c} {v}")).collect();
                self.note(format!(
                    "{} {}{}: held by more than one file; the later file's rows were kept",
                    table.name,
                    described.join(", "),
                    if part.is_empty() {
                        String::new()
                    } else {
                        format!(" ({part})")
                    },
                ));
                by_file = slice
                    .iter()
                    .cloned()
                    .chain([("import_id", Value::from(earlier))])
                    .collect();
                &by_file
            }
        };
        // Never this file's own rows: a loader streaming a file may meet a slice after it has
        // loaded rows of another that overlaps it.
        let mut delete = Query::delete();
        delete.from_table(Alias::new(table.name));
        for (column, value) in rows {
            delete.and_where(Expr::col(Alias::new(*column)).eq(value.clone()));
        }
        if table.column("import_id").is_some() {
            delete.and_where(Expr::col(Alias::new("import_id")).ne(self.import_id));
        }
        tx.delete(&delete).await?;
        Ok(claimed)
    }
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

/// Brings served tables up to date from the tables they read, in an import's transaction,
/// whenever one of those tables has changed.
pub struct Derivation {
    pub reads: &'static [&'static Table],
    pub writes: &'static [&'static Table],
    pub how: Derive,
}

/// How a derivation writes its tables. Plain SQL that both SQLite and PostgreSQL accept.
pub enum Derive {
    /// Every row of its one table, replaced by the rows the select returns: every column the
    /// table declares, in their declared order. PostgreSQL builds such a table beside the one it
    /// replaces, indexes it once its rows are in, and puts it in place at the commit (see
    /// `db::rebuild`).
    Rows(&'static str),
    /// Statements run as written, changing rows in place.
    Statements(&'static [&'static str]),
}

#[cfg(test)]
mod tests {
    use sea_query::Func;

    use super::*;
    use crate::db::Db;
    use crate::schema::{Kind, col};

    static VISITS: Table = Table {
        name: "visits",
        columns: &[
            col("month", Kind::Text, "Month"),
            col("practice", Kind::Text, "Practice"),
            col("import_id", Kind::Integer, "Import"),
        ],
        primary_key: &[],
        indexes: &[],
    };

    crate::table_row! {
        struct Visit {
            month: &'static str,
            practice: &'static str,
            import_id: i64,
        }
    }

    /// Loads one file: claims `month` for `part`, then pushes a row per practice.
    async fn file(
        tx: &mut Tx,
        ctx: &LoadContext,
        month: &'static str,
        part: &str,
        practices: &[&'static str],
    ) -> Claimed {
        let claimed = ctx
            .replace(tx, &VISITS, &[("month", month.into())], part)
            .await
            .unwrap();
        let mut loader = ctx.loader::<Visit>(tx, &VISITS).unwrap();
        for practice in practices {
            let import_id = ctx.import_id;
            loader
                .push(Visit {
                    month,
                    practice,
                    import_id,
                })
                .await
                .unwrap();
        }
        loader.finish().await.unwrap();
        claimed
    }

    async fn visits(db: &Db, month: &str) -> i64 {
        let mut count = Query::select();
        count
            .expr(Func::count(Expr::cust("*")))
            .from(Alias::new("visits"))
            .and_where(Expr::col(Alias::new("month")).eq(month));
        db.fetch_i64(&count).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_run_replaces_a_slice_once_and_keeps_the_later_copy_of_a_part() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("replace.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate(&[&VISITS], &[], 1).await.unwrap();

        let earlier = LoadContext::new(ProgressBar::hidden());
        let mut tx = db.begin().await.unwrap();
        let first = earlier.for_member(1, &[]);
        assert_eq!(
            file(&mut tx, &first, "2025-10", "", &["A", "B", "C"]).await,
            Claimed::New
        );
        tx.commit().await.unwrap();

        let run = LoadContext::new(ProgressBar::hidden());
        let mut tx = db.begin().await.unwrap();
        let north = run.for_member(2, &[]);
        let south = run.for_member(3, &[]);
        let reissue = run.for_member(4, &[]);
        assert_eq!(
            file(&mut tx, &north, "2025-10", "north", &["A"]).await,
            Claimed::New
        );
        assert_eq!(
            file(&mut tx, &south, "2025-10", "south", &["D", "E"]).await,
            Claimed::Added
        );
        assert_eq!(
            file(&mut tx, &reissue, "2025-10", "south", &["D"]).await,
            Claimed::Again
        );
        tx.commit().await.unwrap();

        assert_eq!(
            visits(&db, "2025-10").await,
            2,
            "A from north, D from the reissue"
        );
        assert_eq!(run.notes().len(), 1, "{:?}", run.notes());
        assert!(run.notes()[0].contains("visits month"), "{:?}", run.notes());
    }

    #[tokio::test]
    async fn a_file_never_empties_its_own_rows() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("own.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate(&[&VISITS], &[], 1).await.unwrap();
        let run = LoadContext::new(ProgressBar::hidden());
        let mut tx = db.begin().await.unwrap();
        let earlier = run.for_member(1, &[]);
        file(&mut tx, &earlier, "2025-11", "", &["A"]).await;
        let streaming = run.for_member(2, &[]);
        file(&mut tx, &streaming, "2025-10", "north", &["B", "C"]).await;
        // A slice met later in the same file that takes in rows the file already loaded.
        assert_eq!(
            streaming
                .replace(&mut tx, &VISITS, &[], "everything")
                .await
                .unwrap(),
            Claimed::New
        );
        tx.commit().await.unwrap();
        assert_eq!(visits(&db, "2025-10").await, 2, "the file's own rows stay");
        assert_eq!(visits(&db, "2025-11").await, 0, "another file's rows go");
    }

    /// Which members `read_text` read, and on which thread.
    static READS: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());

    fn read_text(file: &SourceFile) -> Result<String, ImportError> {
        let thread = std::thread::current().name().map(str::to_owned);
        READS.lock().unwrap().push((file.name().to_owned(), thread));
        let text = String::from_utf8(file.bytes()?).unwrap();
        if text.starts_with("bad") {
            return Err(ImportError::unrecognised(file.name(), "a bad member"));
        }
        Ok(text)
    }

    /// For each member's name, whether each read of it ran ahead of its loader.
    type ReadThreads = Vec<(String, Vec<bool>)>;

    /// Loads `a, b, skipped, c, d` (c fails to read) reading `ahead` members ahead; returns each
    /// asked-for member's read, and which reads ran ahead.
    fn run_reading_ahead(ahead: usize) -> (Vec<Result<String, String>>, ReadThreads) {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a.csv", "b.csv", "skipped.csv", "c.csv", "d.csv"];
        let texts = ["a", "b", "s", "bad c", "d"];
        let members: Vec<SourceFile> = names
            .iter()
            .zip(texts)
            .map(|(name, text)| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).unwrap();
                crate::source::open_sources(&path).unwrap().remove(0)
            })
            .collect();
        READS.lock().unwrap().clear();
        let run = LoadContext::new(ProgressBar::hidden());
        let mut read = Vec::new();
        let all: Vec<&SourceFile> = members.iter().collect();
        for (place, member) in members.iter().enumerate() {
            let ctx = run.for_member(1, &all[place + 1..]);
            // A loader that skips its member (a workbook in a zip of CSVs) never asks for it.
            if member.name() == "skipped.csv" {
                continue;
            }
            read.push(
                ctx.read_ahead(member, ahead, read_text)
                    .map_err(|e| e.to_string()),
            );
        }
        let reads = READS.lock().unwrap().clone();
        let threads = names
            .iter()
            .map(|name| {
                let ran_ahead = reads
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, thread)| thread.as_deref() == Some("read-ahead"))
                    .collect();
                (name.to_string(), ran_ahead)
            })
            .collect();
        (read, threads)
    }

    #[test]
    fn each_member_is_read_once_and_the_next_ones_ahead() {
        let expected = |c_ahead: bool| {
            [
                ("a.csv", vec![false]),
                ("b.csv", vec![true]),
                ("skipped.csv", vec![true]),
                ("c.csv", vec![c_ahead]),
                ("d.csv", vec![true]),
            ]
            .map(|(name, ahead)| (name.to_string(), ahead))
            .to_vec()
        };
        // One ahead: while b was written the skipped member was read, not c; the skipped
        // member's read is dropped.
        // Two ahead: c was read while b was written too.
        for (ahead, c_ahead) in [(1, false), (2, true)] {
            let (read, threads) = run_reading_ahead(ahead);
            assert_eq!(read[0], Ok("a".to_owned()));
            assert_eq!(read[1], Ok("b".to_owned()));
            let error = read[2].clone().unwrap_err();
            assert!(error.contains("c.csv"), "{error}");
            assert_eq!(read[3], Ok("d".to_owned()));
            assert_eq!(read.len(), 4);
            assert_eq!(threads, expected(c_ahead), "{ahead} ahead");
        }
    }
}
