//! Commands over GraphQL HTTP: `deposit` throughput and latency through the
//! real server, against the raw durable-commit rate of the same database
//! measured in the same run.
//!
//! `cargo bench --bench commands` measures SQLite (a fresh temp file, the
//! server's settings: WAL, synchronous=FULL); with `BENCH_DATABASE_URL` (or
//! else `TEST_DATABASE_URL`) set, also PostgreSQL, in a fresh schema dropped
//! at the end. It prints figures and asserts nothing; BENCHMARKS.md has runs.
//! `BENCH_PAUSE_PROJECTIONS=1` pauses every projection first (a diagnostic).
//!
//! The server runs in this process on 127.0.0.1:0; clients are tokio tasks
//! sharing one `reqwest::Client`, each sending its next deposit once the
//! previous one answered. Figures are the median of three trials taken in
//! rounds (every figure once per round), because the disks we run on switch
//! between a slow and a fast fsync state every few minutes: ratios are taken
//! within a round against that round's raw baseline, and a short raw probe
//! closing each round shows whether the disk changed state during it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chronicle::{AppState, Config, DatabaseArgs};
use futures::{StreamExt, TryStreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use tokio::sync::oneshot;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const TRIALS: usize = 3;
const TRIAL: Duration = Duration::from_secs(2);
/// Opens the HTTP connections and database pools before round 1.
const WARM_UP: Duration = Duration::from_millis(300);
const PROBE: Duration = Duration::from_millis(500);
/// A raw durable commit slower than this means the disk is in its slow
/// state (~4 ms per fsync); the fast state takes ~0.13 ms per fsync.
const SLOW_DISK_COMMIT: Duration = Duration::from_millis(1);
const ACCOUNTS: usize = 1_000;
const HOT_ACCOUNT: &str = "hot";
const CLIENTS: [usize; 4] = [1, 8, 64, 256];
const DEPOSIT: &str = "mutation($in: DepositInput!) { deposit(input: $in) { version } }";
const OPEN: &str = "mutation($in: OpenAccountInput!) { openAccount(input: $in) { version } }";
const PAUSE: &str = "mutation($n: String!) { pauseProjection(name: $n) { name } }";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Figure {
    /// One-row INSERT transactions into a scratch table, one connection.
    Raw,
    /// N clients, each round-robin over its own share of the accounts.
    Spread(usize),
    /// N clients all depositing to the one hot account.
    Hot(usize),
}

impl Figure {
    fn clients(self) -> usize {
        match self {
            Figure::Raw => 1,
            Figure::Spread(n) | Figure::Hot(n) => n,
        }
    }

    fn label(self) -> String {
        match self {
            Figure::Raw => "raw 1-row commit, 1 conn".to_owned(),
            Figure::Spread(n) => format!("deposit x{n}, {ACCOUNTS} accounts"),
            Figure::Hot(n) => format!("deposit x{n}, 1 hot account"),
        }
    }
}

/// One round's figures; the raw baseline first, since it also tells the
/// disk state.
fn plan() -> Vec<Figure> {
    let mut figures = vec![Figure::Raw];
    figures.extend(CLIENTS.map(Figure::Spread));
    figures.extend(CLIENTS.map(Figure::Hot));
    figures
}

/// What every client task needs.
struct Shared {
    http: reqwest::Client,
    addr: SocketAddr,
    /// A plain pool on the same database with the same durability settings.
    raw: DatabaseConnection,
    raw_ids: AtomicI64,
}

impl Shared {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs one GraphQL request and returns its `data`; any error in the
    /// response is a failure.
    async fn gql(&self, query: &str, variables: Value) -> BenchResult<Value> {
        let body = json!({ "query": query, "variables": variables });
        let request = self.http.post(self.url("/graphql")).json(&body);
        let mut response: Value = request.send().await?.json().await?;
        match response.get("errors") {
            None if response["data"].is_object() => Ok(response["data"].take()),
            _ => Err(format!("GraphQL errors: {response}").into()),
        }
    }

    async fn raw_commit(&self) -> BenchResult<()> {
        let id = self.raw_ids.fetch_add(1, Ordering::Relaxed);
        let backend = self.raw.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => "INSERT INTO bench_raw (id, payload) VALUES ($1, $2)",
            _ => "INSERT INTO bench_raw (id, payload) VALUES (?, ?)",
        };
        let values = [id.into(), "deposit of 1.00 EUR".into()];
        let txn = self.raw.begin().await?;
        let insert = Statement::from_sql_and_values(backend, sql, values);
        txn.execute_raw(insert).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// One database under test: the real server on a port the OS picked, as
/// the integration tests run it, and the raw pool for the baseline.
struct Target {
    postgres: bool,
    shared: Arc<Shared>,
    server_db: DatabaseConnection,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Target {
    async fn open(args: DatabaseArgs) -> BenchResult<Self> {
        let state = AppState::start(&args, Config::default()).await?;
        let server_db = state.store.db().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(chronicle::serve(listener, state, async {
            let _ = rx.await;
        }));
        // One connection is used; `connect` keeps at least 2 in the pool.
        let raw_args = DatabaseArgs {
            db_pool_size: 1,
            ..args
        };
        let raw = chronicle::connect(&raw_args).await?;
        let scratch = "CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)";
        raw.execute_unprepared(scratch).await?;
        let postgres = raw.get_database_backend() == DbBackend::Postgres;
        let (http, raw_ids) = (reqwest::Client::new(), AtomicI64::new(1));
        let shared = Arc::new(Shared {
            http,
            addr,
            raw,
            raw_ids,
        });
        let target = Self {
            postgres,
            shared,
            server_db,
            shutdown,
            server,
        };
        target.open_accounts().await?;
        if std::env::var_os("BENCH_PAUSE_PROJECTIONS").is_some() {
            target.pause_projections().await?;
        }
        Ok(target)
    }

    /// Opens the spread accounts and the hot one, many at a time so that
    /// set-up rides on group commit instead of one fsync each.
    async fn open_accounts(&self) -> BenchResult<()> {
        let ids = (0..ACCOUNTS).map(account_id);
        futures::stream::iter(ids.chain([HOT_ACCOUNT.to_owned()]))
            .map(|id| {
                let input = json!({ "accountId": id, "owner": "bench", "currency": "EUR" });
                self.shared.gql(OPEN, json!({ "in": input }))
            })
            .buffer_unordered(64)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// A diagnostic, not the shipped setting: every projection commits its
    /// own transaction after each append, so pausing them shows what they
    /// cost the write path.
    async fn pause_projections(&self) -> BenchResult<()> {
        let list = self
            .shared
            .gql("{ projections { name } }", json!({}))
            .await?;
        let names = list["projections"].as_array().ok_or("no projections")?;
        for name in names.iter().filter_map(|p| p["name"].as_str()) {
            self.shared.gql(PAUSE, json!({ "n": name })).await?;
            eprintln!("paused projection {name}");
        }
        Ok(())
    }

    /// What makes a commit durable here, read back rather than assumed.
    async fn durability(&self) -> BenchResult<String> {
        let sql = if self.postgres {
            "SELECT 'synchronous_commit=' || current_setting('synchronous_commit') \
             || ', fsync=' || current_setting('fsync')"
        } else {
            "SELECT 'journal_mode=' || journal_mode || ', synchronous=' || CASE synchronous \
             WHEN 1 THEN 'NORMAL' WHEN 2 THEN 'FULL' WHEN 3 THEN 'EXTRA' ELSE synchronous END \
             FROM pragma_journal_mode, pragma_synchronous"
        };
        let raw = &self.shared.raw;
        let stmt = Statement::from_string(raw.get_database_backend(), sql);
        let row = raw.query_one_raw(stmt).await?;
        Ok(row.ok_or("no settings row")?.try_get_by_index(0)?)
    }

    /// Stops the server and closes both pools, so that the caller can drop
    /// the database.
    async fn close(self) -> BenchResult<()> {
        self.shared.raw.close_by_ref().await?;
        let _ = self.shutdown.send(());
        self.server.await??;
        self.server_db.close().await?;
        Ok(())
    }
}

fn account_id(i: usize) -> String {
    format!("acct-{i:04}")
}

/// What one client task did: latencies of its successes, its failures and
/// the first failure's message.
type Outcome = (Vec<Duration>, u64, Option<String>);

/// One client until `deadline`. Spread clients take disjoint shares of the
/// accounts (index, index + N, ...), so they never race one another.
async fn drive(shared: Arc<Shared>, figure: Figure, index: usize, deadline: Instant) -> Outcome {
    let accounts: Vec<String> = match figure {
        Figure::Raw => Vec::new(),
        Figure::Spread(n) => (index..ACCOUNTS).step_by(n).map(account_id).collect(),
        Figure::Hot(_) => vec![HOT_ACCOUNT.to_owned()],
    };
    let (mut latencies, mut failures, mut first_error) = (Vec::new(), 0, None);
    let mut next = 0;
    while Instant::now() < deadline {
        let began = Instant::now();
        // The raw baseline has no accounts.
        let result = match accounts.get(next % accounts.len().max(1)) {
            None => shared.raw_commit().await,
            Some(id) => {
                // Clients send an idempotency key, as a real client that
                // retries must; it takes the command-log lookup path.
                let command_id = uuid::Uuid::new_v4().to_string();
                let input = json!({ "accountId": id, "amount": "1.00", "commandId": command_id });
                shared.gql(DEPOSIT, json!({ "in": input })).await.map(drop)
            }
        };
        next += 1;
        match result {
            Ok(()) => latencies.push(began.elapsed()),
            Err(err) => {
                failures += 1;
                first_error.get_or_insert(err.to_string());
            }
        }
    }
    (latencies, failures, first_error)
}

/// Every client in its own task until `duration` is over; failures are
/// counted (and the first one shown), not timed.
async fn measure(t: &Target, figure: Figure, duration: Duration) -> BenchResult<Sample> {
    let before = Snapshot::take(&t.shared).await?;
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..figure.clients())
        .map(|i| tokio::spawn(drive(t.shared.clone(), figure, i, deadline)))
        .collect();
    let (mut latencies, mut failures, mut first_error) = (Vec::new(), 0, None);
    for task in tasks {
        let (l, f, err) = task.await?;
        latencies.extend(l);
        failures += f;
        first_error = first_error.or(err);
    }
    // Until the last client finished: its last command ran past the deadline.
    let elapsed = start.elapsed();
    if let Some(err) = first_error {
        eprintln!("{}: {failures} failures, first: {err}", figure.label());
    }
    latencies.sort_unstable();
    let pct = |q: f64| latencies.get(((latencies.len().max(1) - 1) as f64 * q).round() as usize);
    let (Some(&p50), Some(&p99)) = (pct(0.50), pct(0.99)) else {
        return Err("no command succeeded within the trial".into());
    };
    let commands = latencies.len() as f64;
    let rate = commands / elapsed.as_secs_f64();
    let mut sample = Sample {
        rate,
        p50,
        p99,
        failures,
        ..Sample::default()
    };
    let after = Snapshot::take(&t.shared).await?;
    before.fill(&after, &mut sample, commands, elapsed);
    Ok(sample)
}

/// Every figure's trials (`samples[figure][round]`) and each round's
/// closing raw probe.
async fn run_rounds(t: &Target) -> BenchResult<Report> {
    let figures = plan();
    for figure in &figures {
        measure(t, *figure, WARM_UP).await?;
    }
    let (mut samples, mut probes) = (vec![Vec::new(); figures.len()], Vec::new());
    for _ in 0..TRIALS {
        for (i, figure) in figures.iter().enumerate() {
            samples[i].push(measure(t, *figure, TRIAL).await?);
        }
        probes.push(measure(t, Figure::Raw, PROBE).await?);
    }
    let postgres = t.postgres;
    Ok(Report {
        postgres,
        figures,
        samples,
        probes,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

/// Opens, measures and prints; stops the server and closes the pools
/// whatever happened, so that the caller can drop the database.
async fn bench(name: &str, database_url: String) -> BenchResult<()> {
    eprintln!("{name}: measuring {database_url}");
    let args = DatabaseArgs {
        database_url,
        ..Default::default()
    };
    let target = Target::open(args).await?;
    let result = async {
        let durability = target.durability().await?;
        let report = run_rounds(&target).await?;
        let projections = match std::env::var_os("BENCH_PAUSE_PROJECTIONS") {
            Some(_) => "projections PAUSED (BENCH_PAUSE_PROJECTIONS)",
            None => "projections running",
        };
        println!("\n== {name} ({durability}; {projections}) ==");
        println!("disk: {}\n", report.disk_states());
        report.print_figures();
        report.print_ratios();
        report.print_aims();
        println!("load average after {name}: {}", load_average());
        BenchResult::Ok(())
    }
    .await;
    target.close().await?;
    result
}

/// On 2 cores any other busy process skews the figures: say how busy the
/// machine was (1, 5 and 15 minute load averages).
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split(' ').take(3).collect::<Vec<_>>().join(" ")
}

#[path = "support/databases.rs"]
mod databases;
#[path = "support/command_report.rs"]
mod report;
#[path = "support/command_sample.rs"]
mod sample;

use report::Report;
use sample::{Sample, Snapshot};

#[tokio::main]
async fn main() -> BenchResult<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    println!("chronicle commands bench, {now}, {cores} cores, {TRIALS} trials x {TRIAL:?}");
    println!("load average before: {}", load_average());
    for db in databases::all(16).await {
        let name = if db.name == "sqlite" {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        bench(name, db.args.database_url.clone()).await?;
    }
    if std::env::var("BENCH_DATABASE_URL")
        .or(std::env::var("TEST_DATABASE_URL"))
        .is_err()
    {
        println!("\nPostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)");
    }
    Ok(())
}
