//! Commands over GraphQL HTTP: `deposit` throughput and latency through the
//! real server, against the raw durable-commit rate of the same database
//! measured in the same run.
//!
//! `cargo bench --bench commands` measures SQLite (a fresh temp file, the
//! server's settings: WAL, synchronous=FULL); with `BENCH_DATABASE_URL` (or
//! else `TEST_DATABASE_URL`) set, also PostgreSQL, in a fresh schema dropped
//! at the end. It prints figures and asserts nothing; BENCHMARKS.md has runs.
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

use chronicle::{AppState, DatabaseArgs, Limits};
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
const CLIENTS: [usize; 3] = [1, 8, 64];
/// What a plain cqrs-es + postgres-es service did at 8 tasks on this kind
/// of machine, as measured by the author (we cannot run it here).
const CQRS_ES_8: f64 = 1_240.0;
const CQRS_ES_1: f64 = 257.0;
const DEPOSIT: &str = "mutation($in: DepositInput!) { deposit(input: $in) { version } }";
const OPEN: &str = "mutation($in: OpenAccountInput!) { openAccount(input: $in) { version } }";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One-row INSERT transactions into a scratch table, one connection.
    Raw,
    /// Deposits round-robin over each client's own share of the accounts.
    Spread,
    /// Every client deposits to the one hot account.
    Hot,
}

#[derive(Clone, Copy)]
struct Figure {
    kind: Kind,
    clients: usize,
}

impl Figure {
    fn label(self) -> String {
        match self.kind {
            Kind::Raw => "raw 1-row commit, 1 conn".to_owned(),
            Kind::Spread => format!("deposit x{}, {ACCOUNTS} accounts", self.clients),
            Kind::Hot => format!("deposit x{}, 1 hot account", self.clients),
        }
    }
}

/// One round's figures; the raw baseline first, since it also tells the
/// disk state.
fn plan() -> Vec<Figure> {
    let figure = |kind| move |clients| Figure { kind, clients };
    let mut figures = vec![figure(Kind::Raw)(1)];
    figures.extend(CLIENTS.map(figure(Kind::Spread)));
    figures.extend(CLIENTS.map(figure(Kind::Hot)));
    figures
}

/// The server's cumulative counters that a trial reports as differences.
#[derive(Clone, Copy, Default)]
struct Counters {
    retries: f64,
    batches: f64,
    batch_jobs: f64,
    commit_seconds: f64,
}

impl Counters {
    /// Reads the Prometheus text; a metric not yet recorded counts as 0.
    fn parse(text: &str) -> Self {
        let value = |name: &str| -> f64 {
            text.lines()
                .filter(|line| line.starts_with(name))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        Self {
            retries: value("chronicle_command_retries_total{type=\"deposit\"}"),
            batches: value("chronicle_append_batch_jobs_count"),
            batch_jobs: value("chronicle_append_batch_jobs_sum"),
            commit_seconds: value("chronicle_append_commit_seconds_sum"),
        }
    }
}

/// One database under test: the real server on a port the OS picked (as
/// the integration tests run it), and a plain pool on the same database
/// with the same durability settings for the baseline.
struct Target {
    postgres: bool,
    addr: SocketAddr,
    http: reqwest::Client,
    server_db: DatabaseConnection,
    shutdown: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    raw: DatabaseConnection,
    raw_ids: Arc<AtomicI64>,
}

impl Target {
    async fn open(args: DatabaseArgs) -> BenchResult<Self> {
        let state = AppState::start(&args, Limits::default()).await?;
        let server_db = state.store.db().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(chronicle::serve(listener, state, async {
            let _ = rx.await;
        }));
        // One connection is used; `connect` keeps at least 2 in the pool.
        let raw = chronicle::connect(&DatabaseArgs {
            db_pool_size: 1,
            ..args
        })
        .await?;
        let scratch = "CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)";
        raw.execute_unprepared(scratch).await?;
        let target = Self {
            postgres: raw.get_database_backend() == DbBackend::Postgres,
            addr,
            http: reqwest::Client::new(),
            server_db,
            shutdown,
            server,
            raw,
            raw_ids: Arc::new(AtomicI64::new(1)),
        };
        target.open_accounts().await?;
        if std::env::var_os("BENCH_PAUSE_PROJECTIONS").is_some() {
            target.pause_projections().await?;
        }
        Ok(target)
    }

    /// A diagnostic, not the shipped setting: every projection commits its
    /// own transaction after each append, so pausing them shows what they
    /// cost the write path.
    async fn pause_projections(&self) -> BenchResult<()> {
        let body = json!({ "query": "{ projections { name } }" });
        let url = self.url("/graphql");
        let list: Value = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let names = list["data"]["projections"]
            .as_array()
            .ok_or("no projections")?;
        for name in names.iter().filter_map(|p| p["name"].as_str()) {
            let pause = "mutation($in: String!) { pauseProjection(name: $in) { name } }";
            gql(&self.http, url.clone(), pause, json!(name)).await?;
            eprintln!("paused projection {name}");
        }
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn counters(&self) -> BenchResult<Counters> {
        let response = self.http.get(self.url("/metrics")).send().await?;
        Ok(Counters::parse(&response.error_for_status()?.text().await?))
    }

    /// Opens the spread accounts and the hot one, many at a time so that
    /// set-up rides on group commit instead of one fsync each.
    async fn open_accounts(&self) -> BenchResult<()> {
        let ids = (0..ACCOUNTS)
            .map(account_id)
            .chain([HOT_ACCOUNT.to_owned()]);
        futures::stream::iter(ids)
            .map(|id| {
                let input = json!({ "accountId": id, "owner": "bench", "currency": "EUR" });
                gql(&self.http, self.url("/graphql"), OPEN, input)
            })
            .buffer_unordered(64)
            .try_collect::<Vec<()>>()
            .await?;
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
        let stmt = Statement::from_string(self.raw.get_database_backend(), sql);
        let row = self.raw.query_one_raw(stmt).await?;
        Ok(row.ok_or("no settings row")?.try_get_by_index(0)?)
    }

    /// Stops the server and closes both pools, so that the caller can drop
    /// the database.
    async fn close(self) -> BenchResult<()> {
        self.raw.close().await?;
        let _ = self.shutdown.send(());
        self.server.await??;
        self.server_db.close().await?;
        Ok(())
    }
}

fn account_id(i: usize) -> String {
    format!("acct-{i:04}")
}

/// POSTs one mutation with `$in`; any GraphQL error is a failure.
async fn gql(client: &reqwest::Client, url: String, query: &str, input: Value) -> BenchResult<()> {
    let body = json!({ "query": query, "variables": { "in": input } });
    let response: Value = client.post(url).json(&body).send().await?.json().await?;
    match response.get("errors") {
        None if response["data"].is_object() => Ok(()),
        _ => Err(format!("GraphQL errors: {response}").into()),
    }
}

/// One client: what it sends and to which accounts.
struct Client {
    kind: Kind,
    http: reqwest::Client,
    url: String,
    raw: DatabaseConnection,
    raw_ids: Arc<AtomicI64>,
    accounts: Vec<String>,
    next: usize,
}

impl Client {
    fn new(t: &Target, figure: Figure, index: usize) -> Self {
        // Disjoint shares (index, index + N, ...): a client never races
        // another on the same account, so no retry is spent here.
        let accounts = match figure.kind {
            Kind::Raw => Vec::new(),
            Kind::Spread => (index..ACCOUNTS)
                .step_by(figure.clients)
                .map(account_id)
                .collect(),
            Kind::Hot => vec![HOT_ACCOUNT.to_owned()],
        };
        Self {
            kind: figure.kind,
            http: t.http.clone(),
            url: t.url("/graphql"),
            raw: t.raw.clone(),
            raw_ids: t.raw_ids.clone(),
            accounts,
            next: index,
        }
    }

    async fn step(&mut self) -> BenchResult<()> {
        if self.kind == Kind::Raw {
            return self.raw_commit().await;
        }
        let account = &self.accounts[self.next % self.accounts.len()];
        self.next += 1;
        let input = json!({ "accountId": account, "amount": "1.00" });
        gql(&self.http, self.url.clone(), DEPOSIT, input).await
    }

    async fn raw_commit(&mut self) -> BenchResult<()> {
        let id = self.raw_ids.fetch_add(1, Ordering::Relaxed);
        let backend = self.raw.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => "INSERT INTO bench_raw (id, payload) VALUES ($1, $2)",
            _ => "INSERT INTO bench_raw (id, payload) VALUES (?, ?)",
        };
        let values = [id.into(), "deposit of 1.00 EUR".into()];
        let txn = self.raw.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

/// One trial's result; `retries` and the batch figures come from the
/// server's metrics (zero for the raw baseline).
#[derive(Clone, Copy, Default)]
struct Sample {
    rate: f64,
    p50: Duration,
    p99: Duration,
    failures: u64,
    retries_per_command: f64,
    jobs_per_batch: f64,
    commit: Duration,
}

/// Every client in its own task until `duration` is over; failures are
/// counted (and the first one shown), not timed.
async fn measure(t: &Target, figure: Figure, duration: Duration) -> BenchResult<Sample> {
    let before = t.counters().await?;
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..figure.clients)
        .map(|i| {
            let mut client = Client::new(t, figure, i);
            tokio::spawn(async move {
                let (mut latencies, mut failures, mut first_error) = (Vec::new(), 0, None);
                while Instant::now() < deadline {
                    let began = Instant::now();
                    match client.step().await {
                        Ok(()) => latencies.push(began.elapsed()),
                        Err(err) => {
                            failures += 1;
                            first_error.get_or_insert(err.to_string());
                        }
                    }
                }
                (latencies, failures, first_error)
            })
        })
        .collect();
    let (mut latencies, mut failures, mut first_error) = (Vec::new(), 0, None);
    for task in tasks {
        let (l, f, err) = task.await?;
        latencies.extend(l);
        failures += f;
        first_error = first_error.or(err);
    }
    if let Some(err) = first_error {
        eprintln!("{}: {failures} failures, first: {err}", figure.label());
    }
    // Until the last client finished: its last command ran past the deadline.
    let elapsed = start.elapsed();
    let after = t.counters().await?;
    let mut sample = summarize(latencies, elapsed)?;
    sample.failures = failures;
    if figure.kind != Kind::Raw {
        add_server_figures(&mut sample, before, after, elapsed);
    }
    Ok(sample)
}

fn summarize(mut latencies: Vec<Duration>, elapsed: Duration) -> BenchResult<Sample> {
    latencies.sort_unstable();
    let pct = |q: f64| latencies.get(((latencies.len().max(1) - 1) as f64 * q).round() as usize);
    let (Some(&p50), Some(&p99)) = (pct(0.50), pct(0.99)) else {
        return Err("no command succeeded within the trial".into());
    };
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    Ok(Sample {
        rate,
        p50,
        p99,
        ..Sample::default()
    })
}

/// Retries per command, and how full and how slow the group commits were:
/// what tells whether the fsync or something else set the pace.
fn add_server_figures(sample: &mut Sample, before: Counters, after: Counters, elapsed: Duration) {
    let commands = sample.rate * elapsed.as_secs_f64();
    let batches = (after.batches - before.batches).max(1.0);
    sample.retries_per_command = (after.retries - before.retries) / commands.max(1.0);
    sample.jobs_per_batch = (after.batch_jobs - before.batch_jobs) / batches;
    let commit = (after.commit_seconds - before.commit_seconds) / batches;
    sample.commit = Duration::from_secs_f64(commit.max(0.0));
}

/// Every figure's trials (`samples[figure][round]`) and each round's
/// closing raw probe.
struct Report {
    postgres: bool,
    figures: Vec<Figure>,
    samples: Vec<Vec<Sample>>,
    probes: Vec<Sample>,
}

async fn run_rounds(t: &Target) -> BenchResult<Report> {
    let figures = plan();
    for figure in &figures {
        measure(t, *figure, WARM_UP).await?;
    }
    let mut samples = vec![Vec::new(); figures.len()];
    let mut probes = Vec::new();
    let raw = figures[0];
    for _ in 0..TRIALS {
        for (i, figure) in figures.iter().enumerate() {
            samples[i].push(measure(t, *figure, TRIAL).await?);
        }
        probes.push(measure(t, raw, PROBE).await?);
    }
    Ok(Report {
        postgres: t.postgres,
        figures,
        samples,
        probes,
    })
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

impl Report {
    fn samples(&self, kind: Kind, clients: usize) -> &[Sample] {
        let i = self
            .figures
            .iter()
            .position(|f| f.kind == kind && f.clients == clients);
        i.map_or(&[], |i| &self.samples[i])
    }

    /// The median over rounds of `f` of each round's (figure, raw) samples.
    fn per_round(&self, kind: Kind, clients: usize, f: impl Fn(&Sample, &Sample) -> f64) -> f64 {
        let raw = self.samples(Kind::Raw, 1).iter();
        let values = self.samples(kind, clients).iter().zip(raw);
        median(values.map(|(s, r)| f(s, r)).collect()).unwrap_or(f64::NAN)
    }

    fn mid(&self, kind: Kind, clients: usize, f: impl Fn(&Sample) -> f64) -> f64 {
        median(self.samples(kind, clients).iter().map(f).collect()).unwrap_or(f64::NAN)
    }

    /// Each round's disk state at its start and end, and the run's.
    fn disk_states(&self) -> String {
        let state = |d: Duration| ["fast", "slow"][usize::from(d >= SLOW_DISK_COMMIT)];
        let rounds = self.samples(Kind::Raw, 1).iter().zip(&self.probes);
        let (mut text, mut seen) = (String::new(), Vec::new());
        for (round, (raw, probe)) in rounds.enumerate() {
            let (from, to) = (state(raw.p50), state(probe.p50));
            seen.extend([from, to]);
            let (a, b, n) = (ms(raw.p50), ms(probe.p50), round + 1);
            text += &format!("round {n}: {from} -> {to} (raw p50 {a} -> {b}); ");
        }
        seen.sort_unstable();
        seen.dedup();
        let run = if seen.len() == 1 { seen[0] } else { "mixed" };
        format!("{text}run: {run}")
    }

    fn print_figures(&self) {
        print!("figure (median of 3)               rate unit           p50       p99");
        println!(" retry/cmd jobs/batch  commit fail  trials (rate)");
        for (figure, samples) in self.figures.iter().zip(&self.samples) {
            let mid = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
            let rate = mid(|s| s.rate).map_or("n/a".to_owned(), whole);
            let p = |f| mid(f).map_or("n/a".to_owned(), |v| ms(Duration::from_secs_f64(v)));
            let (p50, p99) = (p(|s| s.p50.as_secs_f64()), p(|s| s.p99.as_secs_f64()));
            let fails: u64 = samples.iter().map(|s| s.failures).sum();
            let trials: Vec<String> = samples.iter().map(|s| whole(s.rate)).collect();
            let (label, trials) = (figure.label(), trials.join(" / "));
            let server = if figure.kind == Kind::Raw {
                format!("{:>9} {:>10} {:>7}", "", "", "")
            } else {
                let retries = mid(|s| s.retries_per_command).unwrap_or(0.0);
                let jobs = mid(|s| s.jobs_per_batch).unwrap_or(0.0);
                let commit = p(|s| s.commit.as_secs_f64());
                format!("{retries:>9.3} {jobs:>10.1} {commit:>7}")
            };
            let unit = ["cmd/s", "commits/s"][usize::from(figure.kind == Kind::Raw)];
            print!("{label:<32} {rate:>6} {unit:<9} {p50:>8} {p99:>9} ");
            println!("{server} {fails:>4}  {trials}");
        }
    }

    /// Single-client p50 over the raw commit p50, within each round.
    fn p50_ratio(&self) -> f64 {
        let ratio = |s: &Sample, r: &Sample| s.p50.as_secs_f64() / r.p50.as_secs_f64();
        self.per_round(Kind::Spread, 1, ratio)
    }

    fn print_ratios(&self) {
        let (head, value) = ("ratio (median of per-round ratios)", "value");
        println!("\n{head:<56} {value:>6}");
        let label = "deposit x1 p50 / raw commit p50";
        println!("{label:<56} {:>6.2}", self.p50_ratio());
        for kind in [Kind::Spread, Kind::Hot] {
            let what = ["spread", "hot"][usize::from(kind == Kind::Hot)];
            for n in CLIENTS {
                let v = self.per_round(kind, n, |s, r| s.rate / (n as f64 * r.rate));
                let label = format!("deposit x{n} ({what}): cmd/s / ({n} x raw commits/s)");
                println!("{label:<56} {v:>6.2}");
            }
        }
    }

    /// The aims, each with its verdict.
    fn print_aims(&self) {
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        let p50 = self.p50_ratio();
        println!(
            "\naims:\n  single-client p50 <= 1.5 x raw commit p50: {p50:.2}x -> {}",
            verdict(p50 <= 1.5)
        );
        let rate = |n| self.mid(Kind::Spread, n, |s| s.rate);
        if self.postgres {
            let (x1, x8, aim) = (rate(1), rate(8), 1.5 * CQRS_ES_8);
            println!(
                "  x8 >= 1.5 x cqrs-es ({aim:.0} cmd/s): {x8:.0} -> {}",
                verdict(x8 >= aim)
            );
            let (r8, r1) = (x8 / CQRS_ES_8, x1 / CQRS_ES_1);
            println!("    vs the issue's cqrs-es + postgres-es figures (not run here):");
            println!("    x8 {r8:.2} x {CQRS_ES_8:.0}, x1 {r1:.2} x {CQRS_ES_1:.0}");
        } else {
            let (x64, aim) = (rate(64), 5_000.0);
            println!("  x64 >= 5,000 cmd/s: {x64:.0} -> {}", verdict(x64 >= aim));
            let p99 = self.mid(Kind::Spread, 64, |s| s.p99.as_secs_f64() * 1e3);
            println!("  x64 p99 < 25 ms: {p99:.2} ms -> {}", verdict(p99 < 25.0));
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}

fn whole(rate: f64) -> String {
    format!("{rate:.0}")
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

async fn bench_sqlite() -> BenchResult<()> {
    // Lives until the bench is done: dropping it deletes the database.
    let dir = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench("SQLite", database_url).await
}

async fn bench_postgres(base_url: &str) -> BenchResult<()> {
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(base_url).await?;
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await?;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let database_url = format!("{base_url}{sep}options[search_path]={schema}");
    let result = bench("PostgreSQL", database_url).await;
    // Dropped even when the bench failed, so that no schema is left behind.
    admin
        .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
        .await?;
    admin.close().await?;
    result
}

/// On 2 cores any other busy process skews the figures: say how busy the
/// machine was (1, 5 and 15 minute load averages).
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split(' ').take(3).collect::<Vec<_>>().join(" ")
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    println!("chronicle commands bench, {now}, {cores} cores, {TRIALS} trials x {TRIAL:?}");
    println!("load average before: {}", load_average());
    bench_sqlite().await?;
    let pg_url = ["BENCH_DATABASE_URL", "TEST_DATABASE_URL"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|url| !url.is_empty()));
    match pg_url {
        Some(url) => bench_postgres(&url).await,
        None => {
            println!("\nPostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)");
            Ok(())
        }
    }
}
