//! Import runs end to end: provenance, idempotence, replacement, atomicity and zipped input.

use std::io::Write;
use std::path::{Path, PathBuf};

use sea_query::{Alias, Expr, ExprTrait, Order, Query};

use crate::common::{Backend, TestApp, fixture};
use haresign::db::Cell;
use haresign::import::run::Outcome;
use haresign::schema::Kind;

crate::trials! {
    each_backend: [
        imports_are_recorded_and_reimporting_the_same_file_changes_nothing,
        a_new_file_for_the_same_period_replaces_it_without_duplicates,
        a_missing_column_names_the_file_and_changes_nothing,
        one_bad_file_aborts_the_whole_run,
        a_runs_files_are_recorded_with_their_digests,
        zipped_files_import_like_bare_ones,
        the_wrong_kind_of_file_is_refused_clearly,
        a_replaced_file_given_again_is_loaded_again,
        a_runs_files_given_again_in_their_order_are_unchanged,
        a_run_whose_process_ended_is_recorded_as_failed_by_the_next,
        an_interrupted_import_keeps_nothing_and_is_recorded_as_failed,
    ],
    postgres: [
        an_import_refreshes_the_statistics_of_the_tables_it_wrote,
    ],
    current_thread: [
        an_import_on_sqlite_analyses_the_tables_it_wrote,
    ],
}

async fn count(app: &TestApp) -> i64 {
    app.get("/api/v1/practices/").await.json()["count"]
        .as_i64()
        .unwrap()
}

async fn imports(app: &TestApp) -> Vec<Vec<Cell>> {
    let mut select = Query::select();
    select
        .columns(
            [
                "source",
                "file_name",
                "sha256",
                "periods",
                "row_count",
                "status",
                "error",
            ]
            .map(Alias::new),
        )
        .from(Alias::new("imports"))
        .order_by(Alias::new("id"), Order::Asc);
    let kinds = [
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Integer,
        Kind::Text,
        Kind::Text,
    ];
    app.db.fetch_cells(&select, &kinds).await.unwrap()
}

fn text(cell: &Cell) -> &str {
    match cell {
        Cell::Text(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

fn copy_without_lines(from: &Path, dir: &Path, name: &str, drop: impl Fn(&str) -> bool) -> PathBuf {
    let content = std::fs::read_to_string(from).unwrap();
    let kept: String = content.split_inclusive('\n').filter(|l| !drop(l)).collect();
    let path = dir.join(name);
    std::fs::write(&path, kept).unwrap();
    path
}

async fn imports_are_recorded_and_reimporting_the_same_file_changes_nothing(backend: Backend) {
    with_app!(backend, |app| {
        let outcome = app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        assert!(
            matches!(outcome, Outcome::Imported { rows: 8, .. }),
            "{outcome:?}"
        );
        let outcome = app
            .import(
                "registrations",
                &["api/gp-reg-pat-prac-quin-age-2025-04.csv"],
            )
            .await
            .unwrap();
        match outcome {
            Outcome::Imported { periods, .. } => assert_eq!(periods, ["2025-04-01"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            app.import("epraccur", &["api/epraccur.csv"]).await.unwrap(),
            Outcome::Unchanged
        ));
        assert_eq!(count(&app).await, 8);
        let rows = imports(&app).await;
        assert_eq!(rows.len(), 2, "an unchanged re-import records nothing");
        assert_eq!(text(&rows[0][0]), "epraccur");
        assert_eq!(text(&rows[0][1]), "epraccur.csv");
        let digest = haresign::source::sha256_file(&fixture("api/epraccur.csv")).unwrap();
        assert_eq!(text(&rows[0][2]), digest);
        assert_eq!(rows[0][4], Cell::Int(8));
        assert_eq!(text(&rows[0][5]), "succeeded");
        assert_eq!(text(&rows[1][3]), "2025-04-01");
    });
}

async fn a_new_file_for_the_same_period_replaces_it_without_duplicates(backend: Backend) {
    with_app!(backend, |app| {
        let dir = tempfile::tempdir().unwrap();
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        app.import(
            "registrations",
            &["api/gp-reg-pat-prac-quin-age-2025-05.csv"],
        )
        .await
        .unwrap();
        let before = app.get("/api/v1/practices/?search=a81001").await.json();
        assert_eq!(before["results"][0]["list_size"], 3216);

        let smaller = copy_without_lines(
            &fixture("api/epraccur.csv"),
            dir.path(),
            "epraccur.csv",
            |l| l.starts_with("\"Y01063\""),
        );
        app.import_paths("epraccur", &[smaller]).await.unwrap();
        assert_eq!(count(&app).await, 7);

        // The same month again, with A81001's rows gone: the month is replaced, not appended to.
        let fewer = copy_without_lines(
            &fixture("api/gp-reg-pat-prac-quin-age-2025-05.csv"),
            dir.path(),
            "gp-reg-pat-prac-quin-age.csv",
            |l| l.contains(",GP,A81001,"),
        );
        app.import_paths("registrations", &[fewer]).await.unwrap();
        let after = app.get("/api/v1/practices/?search=a81001").await.json();
        assert_eq!(after["results"][0]["list_size"], serde_json::Value::Null);
        let other = app.get("/api/v1/practices/?search=a81002").await.json();
        assert_eq!(other["results"][0]["list_size"], 2746);
    });
}

async fn a_missing_column_names_the_file_and_changes_nothing(backend: Backend) {
    with_app!(backend, |app| {
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        app.import("epcn", &["api/epcncorepartnerdetails.csv"])
            .await
            .unwrap();
        app.import("registrations", &["api/gp-reg-pat-prac-map.csv"])
            .await
            .unwrap();
        let before = app.get("/api/v1/practices/").await.text();

        let dir = tempfile::tempdir().unwrap();
        let content = std::fs::read_to_string(fixture("api/gp-reg-pat-prac-map.csv")).unwrap();
        let broken: String = content
            .lines()
            .map(|l| {
                let mut fields: Vec<&str> = l.split(',').collect();
                fields.remove(12);
                fields.join(",") + "\r\n"
            })
            .collect();
        let path = dir.path().join("gp-reg-pat-prac-map.csv");
        std::fs::write(&path, broken).unwrap();
        let error = app
            .import_paths("registrations", &[path])
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("gp-reg-pat-prac-map.csv"), "{error}");
        assert!(error.contains("ICB_NAME"), "{error}");
        assert_eq!(app.get("/api/v1/practices/").await.text(), before);
        let rows = imports(&app).await;
        let last = rows.last().unwrap();
        assert_eq!(text(&last[5]), "failed");
        assert!(text(&last[6]).contains("ICB_NAME"));
    });
}

/// What `haresign import` does on SIGTERM or Ctrl-C: the run stops, its transaction is rolled
/// back, and it is recorded as failed.
async fn an_interrupted_import_keeps_nothing_and_is_recorded_as_failed(backend: Backend) {
    with_app!(backend, |app| {
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        let before = app.get("/api/v1/practices/").await.text();
        let dir = tempfile::tempdir().unwrap();
        let fewer = copy_without_lines(
            &fixture("api/epraccur.csv"),
            dir.path(),
            "epraccur.csv",
            |l| l.starts_with("\"A81002\""),
        );
        let source = haresign::catalogue::source("epraccur").unwrap();
        let error = haresign::import::run::import_until(
            &app.db,
            source,
            &[fewer],
            &[],
            false,
            std::future::ready(()),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, haresign::source::error::ImportError::Interrupted),
            "{error}"
        );
        assert_eq!(app.get("/api/v1/practices/").await.text(), before);
        let rows = imports(&app).await;
        let last = rows.last().unwrap();
        assert_eq!(text(&last[5]), "failed");
        assert!(text(&last[6]).contains("interrupted"), "{:?}", last[6]);
    });
}

async fn one_bad_file_aborts_the_whole_run(backend: Backend) {
    with_app!(backend, |app| {
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("gp-reg-pat-prac-quin-age.csv");
        let content =
            std::fs::read_to_string(fixture("api/gp-reg-pat-prac-quin-age-2025-04.csv")).unwrap();
        let target = ",GP,A81001,,TS18 1HU,MALE,0_4,";
        assert!(content.contains(target));
        std::fs::write(&bad, content.replacen(target, &format!("{target}x"), 1)).unwrap();
        let good = fixture("api/gp-reg-pat-prac-quin-age-2025-05.csv");
        let error = app
            .import_paths("registrations", &[good, bad])
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("gp-reg-pat-prac-quin-age.csv"), "{error}");
        let body = app.get("/api/v1/practices/?search=a81001").await.json();
        assert_eq!(
            body["results"][0]["list_size"],
            serde_json::Value::Null,
            "the good file was rolled back too"
        );
    });
}

/// A run that loads hashes the files before the first changed one (found from the last file
/// back) while they load: each file's record still gets its own digest, in the order given. A
/// run that fails keeps the digests it had taken before it began loading.
async fn a_runs_files_are_recorded_with_their_digests(backend: Backend) {
    with_app!(backend, |app| {
        let run = [
            "api/gp-reg-pat-prac-map.csv",
            "api/gp-reg-pat-prac-quin-age-2025-03.csv",
            "api/gp-reg-pat-prac-quin-age-2025-04.csv",
        ];
        app.import("registrations", &run).await.unwrap();
        let recorded: Vec<(String, String, String)> = imports(&app)
            .await
            .iter()
            .map(|row| {
                let [file, sha256, status] = [&row[1], &row[2], &row[5]].map(text);
                (file.to_owned(), sha256.to_owned(), status.to_owned())
            })
            .collect();
        let given: Vec<(String, String, String)> = run
            .iter()
            .map(|f| {
                let name = f.rsplit('/').next().unwrap().to_owned();
                let digest = haresign::source::sha256_file(&fixture(f)).unwrap();
                (name, digest, "succeeded".to_owned())
            })
            .collect();
        assert_eq!(recorded, given);

        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("gp-reg-pat-prac-all.csv");
        std::fs::write(&bad, "not,a,registrations,file\n").unwrap();
        let good = fixture("api/gp-reg-pat-prac-quin-age-2025-05.csv");
        app.import_paths("registrations", &[bad, good.clone()])
            .await
            .unwrap_err();
        let rows = imports(&app).await;
        let failed: Vec<(&str, &str)> = rows[run.len()..]
            .iter()
            .map(|row| (text(&row[2]), text(&row[5])))
            .collect();
        let good_digest = haresign::source::sha256_file(&good).unwrap();
        assert_eq!(
            failed,
            [("", "failed"), (good_digest.as_str(), "failed")],
            "the last file was hashed before the run began loading; the first was not"
        );
    });
}

async fn zipped_files_import_like_bare_ones(backend: Backend) {
    with_app!(backend, |app| {
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("epraccur.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("epraccur.pdf", options).unwrap();
        zip.write_all(b"%PDF-1.4 description").unwrap();
        zip.start_file("epraccur.csv", options).unwrap();
        zip.write_all(&std::fs::read(fixture("api/epraccur.csv")).unwrap())
            .unwrap();
        zip.finish().unwrap();
        app.import_paths("epraccur", &[zip_path]).await.unwrap();
        assert_eq!(count(&app).await, 8);
    });
}

async fn the_wrong_kind_of_file_is_refused_clearly(backend: Backend) {
    with_app!(backend, |app| {
        let error = app
            .import("epraccur", &["api/gp-reg-pat-prac-map.csv"])
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("gp-reg-pat-prac-map.csv"), "{error}");
        let error = app
            .import("registrations", &["api/epraccur.csv"])
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("epraccur.csv"), "{error}");
        assert_eq!(count(&app).await, 0);
    });
}

/// A → B → A: the first file was replaced by the second, so giving it again is a change, and
/// its data is served again; given a fourth time, it is unchanged.
async fn a_replaced_file_given_again_is_loaded_again(backend: Backend) {
    with_app!(backend, |app| {
        let dir = tempfile::tempdir().unwrap();
        let a = fixture("api/epraccur.csv");
        let b = copy_without_lines(&a, dir.path(), "epraccur.csv", |l| {
            l.starts_with("\"Y01063\"")
        });
        app.import_paths("epraccur", std::slice::from_ref(&a))
            .await
            .unwrap();
        app.import_paths("epraccur", &[b]).await.unwrap();
        assert_eq!(count(&app).await, 7);
        let again = app
            .import_paths("epraccur", std::slice::from_ref(&a))
            .await
            .unwrap();
        assert!(matches!(again, Outcome::Imported { .. }), "{again:?}");
        assert_eq!(count(&app).await, 8);
        let fourth = app.import_paths("epraccur", &[a]).await.unwrap();
        assert!(matches!(fourth, Outcome::Unchanged), "{fourth:?}");

        let months = |month: &str| format!("api/gp-reg-pat-prac-quin-age-2025-{month}.csv");
        let (april, may) = (months("04"), months("05"));
        app.import("registrations", &[&april]).await.unwrap();
        app.import("registrations", &[&may]).await.unwrap();
        let april_again = app.import("registrations", &[&april]).await.unwrap();
        assert!(
            matches!(april_again, Outcome::Unchanged),
            "another month's import does not replace April: {april_again:?}"
        );
    });
}

/// A run's files hold the same periods (a month's practice map and its populations; two
/// editions of a snapshot): given again together, in their order, they are unchanged; in
/// another order, or the replaced one alone, they load again.
async fn a_runs_files_given_again_in_their_order_are_unchanged(backend: Backend) {
    with_app!(backend, |app| {
        let month = [
            "api/gp-reg-pat-prac-map.csv",
            "api/gp-reg-pat-prac-quin-age-2025-05.csv",
        ];
        app.import("registrations", &month).await.unwrap();
        let again = app.import("registrations", &month).await.unwrap();
        assert!(matches!(again, Outcome::Unchanged), "{again:?}");

        let dir = tempfile::tempdir().unwrap();
        let a = fixture("api/epraccur.csv");
        let b = copy_without_lines(&a, dir.path(), "epraccur.csv", |l| {
            l.starts_with("\"Y01063\"")
        });
        let (a_then_b, b_then_a) = ([a.clone(), b.clone()], [b, a.clone()]);
        app.import_paths("epraccur", &a_then_b).await.unwrap();
        assert_eq!(count(&app).await, 7, "the later file is the one loaded");
        let again = app.import_paths("epraccur", &a_then_b).await.unwrap();
        assert!(matches!(again, Outcome::Unchanged), "{again:?}");
        let alone = app
            .import_paths("epraccur", std::slice::from_ref(&a))
            .await
            .unwrap();
        assert!(matches!(alone, Outcome::Imported { .. }), "{alone:?}");
        assert_eq!(count(&app).await, 8);
        app.import_paths("epraccur", &a_then_b).await.unwrap();
        let reversed = app.import_paths("epraccur", &b_then_a).await.unwrap();
        assert!(matches!(reversed, Outcome::Imported { .. }), "{reversed:?}");
        assert_eq!(count(&app).await, 8);
    });
}

/// This process's host, boot and start time as `/proc` gives them (Linux), for runner records.
fn proc_identity() -> Option<(String, String, String)> {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|t| t.trim().to_owned());
    let stat = read("/proc/self/stat")?;
    let start = stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(19)?
        .to_owned();
    Some((
        read("/proc/sys/kernel/hostname")?,
        read("/proc/sys/kernel/random/boot_id")?,
        start,
    ))
}

async fn a_run_whose_process_ended_is_recorded_as_failed_by_the_next(backend: Backend) {
    with_app!(backend, |app| {
        let mut ended = std::process::Command::new("true").spawn().unwrap();
        let ended_pid = ended.id();
        ended.wait().unwrap();
        let runners = match proc_identity() {
            Some((host, boot, start)) => [
                // Killed mid-import on this machine.
                format!("{host}/{boot}/{ended_pid}/{start}"),
                // Still running: this very process.
                format!("{host}/{boot}/{}/{start}", std::process::id()),
                // Another machine's: this one cannot see its processes.
                format!("elsewhere/{boot}/{ended_pid}/{start}"),
            ],
            // Without /proc nothing is judged; every run stays as recorded.
            None => ["a".into(), "b".into(), "c".into()],
        };
        let mut tx = app.db.begin().await.unwrap();
        for (n, runner) in runners.iter().enumerate() {
            tx.execute_raw(&format!(
                "INSERT INTO imports (source, file_name, sha256, status, started_at, runner) \
                 VALUES ('epraccur', 'run{n}.csv', 'x', 'running', '2026-01-01T00:00:00Z', '{runner}')"
            ))
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        app.import("epraccur", &["api/epraccur.csv"])
            .await
            .expect("import");
        let mut select = Query::select();
        select
            .columns(["file_name", "status", "error"].map(Alias::new))
            .from(Alias::new("imports"))
            .and_where(Expr::col(Alias::new("sha256")).eq("x"))
            .order_by(Alias::new("file_name"), Order::Asc);
        let runs: Vec<(String, String)> = app
            .db
            .fetch_cells(&select, &[Kind::Text, Kind::Text, Kind::Text])
            .await
            .unwrap()
            .into_iter()
            .map(|row| match &row[..] {
                [Cell::Text(file), Cell::Text(status), error] => (
                    file.clone(),
                    match error {
                        Cell::Text(error) => format!("{status}: {error}"),
                        _ => status.clone(),
                    },
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        let expected_first = if proc_identity().is_some() {
            format!(
                "failed: abandoned: process {ended_pid} ended before the import finished; \
                 nothing it loaded was kept"
            )
        } else {
            "running".to_owned()
        };
        assert_eq!(
            runs,
            [
                ("run0.csv".to_owned(), expected_first),
                ("run1.csv".to_owned(), "running".to_owned()),
                ("run2.csv".to_owned(), "running".to_owned()),
            ]
        );
    });
}

async fn an_import_refreshes_the_statistics_of_the_tables_it_wrote() {
    with_app!(Backend::Postgres, |app| {
        // PostgreSQL records a table's row estimate when it is vacuumed or analysed: -1 before.
        let reltuples = |table: &str| {
            format!("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass('{table}')")
        };
        let read = |sql: String| {
            let db = app.db.clone();
            async move {
                let mut select = Query::select();
                select.expr(Expr::cust(format!("({sql})")));
                db.fetch_i64(&select).await.unwrap()
            }
        };
        assert_eq!(read(reltuples("ods_practices")).await, Some(-1));
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        assert_eq!(read(reltuples("ods_practices")).await, Some(8));
        // The served table its derivation rebuilt, too.
        assert!(read(reltuples("practices")).await.unwrap_or(-1) >= 0);
    });
}

async fn an_import_on_sqlite_analyses_the_tables_it_wrote() {
    with_app!(Backend::Sqlite, |app| {
        let read = |sql: &'static str| {
            let db = app.db.clone();
            async move {
                let mut select = Query::select();
                select.expr(Expr::cust(format!("({sql})")));
                db.fetch_i64(&select).await.unwrap()
            }
        };
        // SQLite keeps what `ANALYZE` finds in `sqlite_stat1`, made by the first `ANALYZE`.
        let statistics =
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'";
        assert_eq!(read(statistics).await, Some(0));
        app.import("epraccur", &["api/epraccur.csv"]).await.unwrap();
        let ods = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'ods_practices'";
        assert!(read(ods).await > Some(0));
        // The served table its derivation rebuilt, too.
        let served = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'practices'";
        assert!(read(served).await > Some(0));
    });
}
