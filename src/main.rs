//! The `haresign` command line.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use haresign::api::app::{AppState, Settings};
use haresign::api::overview::period::StaleAfter;
use haresign::catalogue;
use haresign::db::{ConnectOptions, Db};
use haresign::import::run::{self, Outcome};
use haresign::keys::{self, NewKey};
use haresign::server::{self, Limits, Timeouts};
use haresign::throttle::{Clock, MemoryStore, Rate, RedisStore, ThrottleStore};

// Serving allocates many short-lived cells and buffers across threads; mimalloc keeps that
// cheaper and returns freed memory to the system, where glibc's per-thread arenas hold it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "haresign",
    version,
    about = "Read-only JSON API for English NHS primary-care reference data",
    long_about = "Read-only JSON API for English NHS primary-care reference data (GP practices, PCNs, registrations and more), wire-compatible with the Django REST Framework service it replaces.\n\nStart with `haresign demo` to see it working on synthetic data."
)]
struct Cli {
    /// Database URL: sqlite://FILE (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "HARESIGN_DATABASE_URL")]
    db: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API over HTTP.
    Serve(ServeArgs),
    /// Create or update the database tables (safe to run repeatedly).
    Migrate,
    /// Import publisher files into the database, atomically, replacing the periods they hold.
    Import {
        /// Source publication (see `haresign import --help`).
        source: String,
        /// Files to import (CSV, XLSX or ZIP).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A setting for the source's importer, for what its files do not say themselves
        /// (e.g. `--option year=2024-25` for payments); repeatable. The sources below say
        /// which they read; one that no file uses fails the import.
        #[arg(long = "option", value_name = "NAME=VALUE")]
        options: Vec<String>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Generate a synthetic England in the publishers' formats, import it, create a key and serve.
    Demo(DemoArgs),
    /// Print the OpenAPI 3.0.3 document that `/api/schema/` serves (no database needed).
    Schema {
        /// Output format.
        #[arg(long, value_enum, default_value_t = SchemaFormat::Yaml)]
        format: SchemaFormat,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SchemaFormat {
    Yaml,
    Json,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", env = "HARESIGN_BIND")]
    bind: SocketAddr,
    /// Address to serve Prometheus metrics on (`GET /metrics`), apart from the API so that it is
    /// not public by accident; off when unset.
    #[arg(long, env = "HARESIGN_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// Build https:// links when a proxy sends `X-Forwarded-Proto: https`.
    #[arg(long, env = "HARESIGN_TRUST_FORWARDED_PROTO")]
    trust_forwarded_proto: bool,
    /// Hosts requests may name, comma-separated (Django's ALLOWED_HOSTS: `api.example.org`,
    /// `.example.org` for it and its subdomains, `*` for any); another `Host` gets a 400 and
    /// never reaches a link. Unset: any host (set it in production).
    #[arg(long, env = "HARESIGN_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Redis for throttle state shared by several API nodes (redis://host:6379); in-memory
    /// (per process) when unset. If Redis becomes unreachable requests are let through and a
    /// warning is logged.
    #[arg(long, env = "HARESIGN_REDIS_URL")]
    redis_url: Option<String>,
    /// Throttle rate of keys without their own (`<count>/<second|minute|hour|day>`).
    #[arg(long, env = "HARESIGN_KEY_RATE", default_value = haresign::api::app::DEFAULT_KEY_RATE)]
    key_rate: Rate,
    /// Throttle rate of anonymous requests to the public endpoints, per client address.
    #[arg(long, env = "HARESIGN_ANON_RATE", default_value = haresign::api::app::DEFAULT_ANON_RATE)]
    anon_rate: Rate,
    /// Trusted proxies in front of the server (DRF's NUM_PROXIES), for the client address that
    /// anonymous throttling counts: 0 uses the peer address. Behind a load balancer, set it to the
    /// number of proxies in front, so the client address is the n-th X-Forwarded-For entry from
    /// the right.
    #[arg(long, env = "HARESIGN_NUM_PROXIES", default_value_t = 0)]
    num_proxies: usize,
    /// Days past the end of its latest period after which `/api/v1/datasets/` calls a dataset
    /// stale, per publication cadence (`monthly=70,quarterly=130,annual=400`; a cadence left
    /// out keeps its default).
    #[arg(long, env = "HARESIGN_STALE_AFTER", default_value_t = StaleAfter::default())]
    stale_after: StaleAfter,
    /// Longest a request may take (e.g. 10s, 500ms); past it the client gets a 503. Also the
    /// longest a single database query may run.
    #[arg(long, env = "HARESIGN_REQUEST_TIMEOUT", default_value_t = DurationArg(haresign::api::app::DEFAULT_REQUEST_TIMEOUT))]
    request_timeout: DurationArg,
    /// How long a request waits for a database connection before it gets a 503.
    #[arg(long, env = "HARESIGN_DB_ACQUIRE_TIMEOUT", default_value_t = DurationArg(DB_ACQUIRE_TIMEOUT))]
    db_acquire_timeout: DurationArg,
    /// How long a client may take to send a request head, counted from its first byte (or from
    /// connecting); slower connections are closed.
    #[arg(long, env = "HARESIGN_HEADER_TIMEOUT", default_value_t = DurationArg(server::DEFAULT_HEADER_TIMEOUT))]
    header_timeout: DurationArg,
    /// How long a keep-alive connection may wait, with no request in flight, for its next
    /// request. Keep it above the idle timeout of a load balancer in front.
    #[arg(long, env = "HARESIGN_IDLE_TIMEOUT", default_value_t = DurationArg(server::DEFAULT_IDLE_TIMEOUT))]
    idle_timeout: DurationArg,
    /// Connections open at once; further ones are closed as soon as they are accepted.
    #[arg(long, env = "HARESIGN_MAX_CONNECTIONS", default_value_t = server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Connections open at once from one address (0: no cap of its own). Behind a load
    /// balancer every connection comes from it: raise this, or set 0.
    #[arg(long, env = "HARESIGN_MAX_CONNECTIONS_PER_PEER", default_value_t = server::DEFAULT_MAX_CONNECTIONS_PER_PEER)]
    max_connections_per_peer: usize,
    /// On SIGTERM or Ctrl-C, how long requests in flight may finish before the remaining
    /// connections are closed and the process exits.
    #[arg(long, env = "HARESIGN_SHUTDOWN_TIMEOUT", default_value_t = DurationArg(server::DEFAULT_SHUTDOWN_TIMEOUT))]
    shutdown_timeout: DurationArg,
}

/// How long a request waits for a database connection before it gets a 503: far shorter than
/// an import's wait, so that an outage is answered promptly.
const DB_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// A duration on the command line: `500ms`, `10s`, `2m`, or a bare number of seconds.
#[derive(Debug, Clone, Copy)]
struct DurationArg(Duration);

impl FromStr for DurationArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration such as 500ms, 10s or 2m"))?;
        let seconds = match unit.trim() {
            "ms" => value / 1000.0,
            "" | "s" => value,
            "m" => value * 60.0,
            other => return Err(format!("unknown unit {other:?}: use ms, s or m")),
        };
        Duration::try_from_secs_f64(seconds)
            .map(DurationArg)
            .map_err(|e| e.to_string())
    }
}

/// The form `--help` shows defaults in: whole seconds, else milliseconds.
impl fmt::Display for DurationArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}ms", self.0.as_millis())
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; it is printed once and only its SHA-256 digest is stored.
    Create {
        /// Who or what the key is for.
        #[arg(long)]
        name: String,
        /// Contact for the key holder.
        #[arg(long)]
        email: Option<String>,
        /// Last day the key works (YYYY-MM-DD); it is refused from midnight UTC after.
        #[arg(long)]
        expires: Option<NaiveDate>,
        /// Throttle rate of this key (e.g. 1000/hour); the server default when unset.
        #[arg(long)]
        rate: Option<Rate>,
        /// Dataset group the key may read (repeatable); every group when unset.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List keys: prefix, name, created, last used, expiry, active.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one key's record. KEY: its prefix as `keys list` shows it, or the whole key.
    Show { key: String },
    /// Revoke a key (its prefix or the whole key); it is refused from then on.
    Revoke { key: String },
    /// Make a revoked key work again (its prefix or the whole key).
    Reactivate { key: String },
    /// Give a key a new secret, keeping its record; the old secret stops working.
    Rotate { key: String },
    /// Requests per key per day (all keys, or the key with PREFIX).
    Usage {
        prefix: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Size of the synthetic England: 1.0 is national scale (~6,300 practices).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seed of the synthetic world; the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the generated publisher files are written.
    #[arg(long, default_value = "demo-data")]
    dir: PathBuf,
    /// Build the demo database and exit without serving.
    #[arg(long)]
    no_serve: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

const DEFAULT_DB: &str = "sqlite://haresign.db";
const DEMO_DB: &str = "sqlite://demo.db";

/// `haresign import --help`, listing every source the catalogue declares.
fn import_help() -> String {
    let mut help =
        "Import publisher files into the database. All files of one command load in one \
        transaction: if any file fails, nothing changes. Each file replaces the reporting periods \
        it holds; importing the same file again changes nothing.\n\nSources:"
            .to_owned();
    for source in catalogue::sources() {
        help.push_str(&format!("\n\n{}: {}", source.name, source.description));
    }
    help
}

fn main() -> Result<()> {
    let command =
        Cli::command().mut_subcommand("import", |import| import.long_about(import_help()));
    let cli = Cli::from_arg_matches(&command.get_matches())?;
    // Imports run long statements by design; sqlx's slow-statement warnings would only echo them.
    let filter = EnvFilter::try_from_env("HARESIGN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::query=error"));
    // The guard writes what is left when `main` returns.
    let (writer, _flush_on_exit) = haresign::logging::batched_stderr();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    // One JSON object per line suits log shippers; the default is for people.
    if std::env::var("HARESIGN_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn connect(url: &str) -> Result<Db> {
    connect_with(url, &ConnectOptions::default()).await
}

/// `connect` with options for the pool.
async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Db> {
    let db = Db::connect_with(url, options)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    haresign::migrate(&db)
        .await
        .context("migrating the database")?;
    Ok(db)
}

/// Database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn run(cli: Cli) -> Result<()> {
    let db_url = cli
        .db
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok());
    match cli.command {
        Command::Serve(args) => serve(db_url.as_deref().unwrap_or(DEFAULT_DB), &args).await,
        Command::Migrate => {
            connect(db_url.as_deref().unwrap_or(DEFAULT_DB)).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Import {
            source,
            files,
            options,
        } => {
            let options = options
                .iter()
                .map(|option| match option.split_once('=') {
                    Some((name, value)) if !name.trim().is_empty() => {
                        Ok((name.trim().to_owned(), value.trim().to_owned()))
                    }
                    _ => Err(anyhow::anyhow!(
                        "--option {option:?}: expected NAME=VALUE, such as year=2024-25"
                    )),
                })
                .collect::<Result<Vec<_>>>()?;
            let db = connect(db_url.as_deref().unwrap_or(DEFAULT_DB)).await?;
            let Some(source) = catalogue::source(&source) else {
                let names: Vec<_> = catalogue::sources().map(|s| s.name).collect();
                bail!(
                    "unknown source {source:?}; choose one of: {}",
                    names.join(", ")
                );
            };
            let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let stop = haresign::signal::terminated();
            match run::import_until(&db, source, &files, &options, show, stop).await? {
                Outcome::Unchanged => {
                    println!("{}: already imported, nothing changed", source.name)
                }
                Outcome::Imported {
                    rows,
                    periods,
                    notes,
                    elapsed,
                } => {
                    let periods = if periods.is_empty() {
                        "snapshot".to_owned()
                    } else {
                        periods.join(", ")
                    };
                    println!(
                        "{}: imported {} file(s), {rows} rows, periods {periods}, in {:.1} s",
                        source.name,
                        files.len(),
                        elapsed.as_secs_f64()
                    );
                    for note in notes {
                        println!("  note: {note}");
                    }
                }
            }
            Ok(())
        }
        Command::Keys { command } => {
            let db = connect(db_url.as_deref().unwrap_or(DEFAULT_DB)).await?;
            keys_command(&db, command).await
        }
        Command::Demo(args) => demo(db_url, args).await,
        Command::Schema { format } => {
            let rendered = &*haresign::api::openapi::RENDERED;
            let mut out = std::io::stdout().lock();
            match format {
                SchemaFormat::Yaml => out.write_all(&rendered.yaml)?,
                SchemaFormat::Json => {
                    out.write_all(&rendered.json)?;
                    out.write_all(b"\n")?;
                }
            }
            Ok(())
        }
    }
}

/// A key as the CLI repeats it: never more than its display prefix, so a whole key given on
/// the command line does not end up in a terminal log.
fn shown(key: &str) -> String {
    let prefix: String = key.chars().take(keys::DISPLAY_PREFIX_LEN).collect();
    format!("with prefix {prefix}")
}

async fn keys_command(db: &Db, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Create {
            name,
            email,
            expires,
            rate,
            scopes,
        } => {
            let known = catalogue::scopes();
            if let Some(unknown) = scopes.iter().find(|s| !known.contains(s.as_str())) {
                let known: Vec<_> = known.into_iter().collect();
                bail!(
                    "unknown scope {unknown:?}; choose from: {}",
                    known.join(", ")
                );
            }
            let new = NewKey {
                name,
                email,
                // The key works through the whole of its last day.
                expires_at: expires.and_then(|d| d.succ_opt()).map(keys::start_of),
                rate,
                scopes,
            };
            let key = keys::create(db, &new).await?;
            println!("{key}");
            eprintln!("Store this key now: it is not shown again.");
        }
        KeysCommand::List { json } => {
            let list = keys::list(db).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<12} {:<24} {:<17} {:<17} {:<11} ACTIVE",
                    "PREFIX", "NAME", "CREATED", "LAST USED", "EXPIRES"
                );
                for k in list {
                    println!(
                        "{:<12} {:<24} {:<17} {:<17} {:<11} {}",
                        k.prefix,
                        k.name,
                        k.created_at.format("%Y-%m-%d %H:%M"),
                        k.last_used_at.map_or_else(
                            || "never".to_owned(),
                            |t| t.format("%Y-%m-%d %H:%M").to_string()
                        ),
                        k.expires_at.map_or_else(
                            || "never".to_owned(),
                            |t| t.format("%Y-%m-%d").to_string()
                        ),
                        if k.is_active { "yes" } else { "no" }
                    );
                }
            }
        }
        KeysCommand::Show { key } => match keys::show(db, &key).await? {
            Some(record) => println!("{}", serde_json::to_string_pretty(&record)?),
            None => bail!("no key {}", shown(&key)),
        },
        KeysCommand::Revoke { key } => {
            if !keys::set_active(db, &key, false).await? {
                bail!("no key {}", shown(&key));
            }
            println!(
                "revoked {}; servers refuse it within 5 seconds",
                shown(&key)
            );
        }
        KeysCommand::Reactivate { key } => {
            if !keys::set_active(db, &key, true).await? {
                bail!("no key {}", shown(&key));
            }
            println!("reactivated {}", shown(&key));
        }
        KeysCommand::Rotate { key } => match keys::rotate(db, &key).await? {
            Some(key) => {
                println!("{key}");
                eprintln!(
                    "Store this key now: it is not shown again. The old secret is refused within 5 seconds."
                );
            }
            None => bail!("no key {}", shown(&key)),
        },
        KeysCommand::Usage { prefix, json } => {
            let rows = haresign::usage::usage(db, prefix.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<12} {:<24} {:<10} {:>10}",
                    "PREFIX", "NAME", "DAY", "REQUESTS"
                );
                for r in rows {
                    println!(
                        "{:<12} {:<24} {:<10} {:>10}",
                        r.prefix, r.name, r.day, r.requests
                    );
                }
            }
        }
    }
    Ok(())
}

/// Brings the schema up to date, then serves through a pool whose waits and queries are bounded
/// (the migration itself may run longer than a request may).
async fn serve(url: &str, args: &ServeArgs) -> Result<()> {
    let migrated = connect(url).await?;
    let abandoned = haresign::import::record::abandoned(&migrated)
        .await
        .context("marking abandoned imports")?;
    if abandoned > 0 {
        tracing::warn!(
            imports = abandoned,
            "imports whose process ended before they finished are recorded as failed"
        );
    }
    migrated.close().await;
    let options = ConnectOptions {
        acquire_timeout: args.db_acquire_timeout.0,
        query_timeout: Some(args.request_timeout.0),
        ..ConnectOptions::default()
    };
    let db = Db::connect_with(url, &options)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    let settings = Settings {
        trust_forwarded_proto: args.trust_forwarded_proto,
        allowed_hosts: args.allowed_hosts.clone(),
        key_rate: args.key_rate,
        anon_rate: args.anon_rate,
        num_proxies: args.num_proxies,
        request_timeout: args.request_timeout.0,
        stale_after: args.stale_after,
        ..Settings::default()
    };
    let store: Arc<dyn ThrottleStore> = match &args.redis_url {
        Some(url) => {
            let store =
                RedisStore::new(url).with_context(|| format!("Redis at {}", redact(url)))?;
            if let Err(e) = store.ping().await {
                tracing::warn!(error = %e, "Redis is not answering; throttling fails open until it does");
            }
            tracing::info!(redis = %redact(url), "throttle state in Redis");
            Arc::new(store)
        }
        None => Arc::new(MemoryStore::new()),
    };
    let state = AppState::with_throttle(db, settings, store, Clock::system());
    let limits = Limits {
        timeouts: Timeouts {
            header: args.header_timeout.0,
            idle: args.idle_timeout.0,
        },
        max_connections: args.max_connections,
        max_connections_per_peer: args.max_connections_per_peer,
        shutdown_timeout: args.shutdown_timeout.0,
    };
    server::serve(state, args.bind, args.metrics_bind, limits)
        .await
        .context("serving")
}

async fn demo(db_url: Option<String>, args: DemoArgs) -> Result<()> {
    let url = db_url.unwrap_or_else(|| DEMO_DB.to_owned());
    if let Some(path) = url.strip_prefix("sqlite://") {
        // The demo always starts from a fresh database.
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if std::path::Path::new(&file).exists() {
                std::fs::remove_file(&file).with_context(|| format!("removing {file}"))?;
            }
        }
    }
    // Built in one go and rebuilt on failure, the demo's database is written without a
    // write-ahead log; it serves through a connection of its own, which turns the log on.
    let options = ConnectOptions {
        bulk_build: true,
        ..ConnectOptions::default()
    };
    let db = connect_with(&url, &options).await?;
    eprintln!(
        "Generating a synthetic England (scale {}) in {} ...",
        args.scale,
        args.dir.display()
    );
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let summary = haresign::demo::build::build(&db, &args.dir, args.seed, args.scale, show).await?;
    let key = keys::create(&db, &NewKey::named("demo")).await?;
    let base = format!("http://{}", args.serve.bind);
    println!(
        "Demo ready in {:.1} s: {} practices, {} PCNs, {} files, {} rows (files written in {:.1} s, alongside the imports).",
        summary.elapsed.as_secs_f64(),
        summary.practices,
        summary.pcns,
        summary.files,
        summary.rows,
        summary.writing.as_secs_f64()
    );
    println!("\nDemo API key (shown once): {key}\n\nTry:");
    println!("  curl -H 'Authorization: Bearer {key}' '{base}/api/v1/practices/?search=elm'");
    println!("  curl -H 'Authorization: Bearer {key}' '{base}/api/v1/pcns/?page_size=5'");
    println!(
        "  curl -H 'Authorization: Bearer {key}' '{base}/api/v1/practices/{}/population/'",
        summary.example_practice
    );
    println!(
        "  curl -H 'Authorization: Bearer {key}' '{base}/api/v1/list-sizes/?org={}'",
        summary.example_practice
    );
    println!("  curl -H 'Authorization: Bearer {key}' '{base}/api/v1/nwrs/snapshots/'");
    println!("  curl -H 'Authorization: Bearer {key}' '{base}/api/v1/qof/years/'");
    db.close().await;
    if args.no_serve {
        return Ok(());
    }
    println!("\nServing on {base} (Ctrl-C to stop)");
    serve(&url, &args.serve).await
}
