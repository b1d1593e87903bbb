//! Append throughput and latency of the event store, against the raw
//! durable-commit rate of the same database measured in the same run.
//!
//! `cargo bench --bench append` measures SQLite (a fresh temp file, opened
//! with the server's settings); with `BENCH_DATABASE_URL` (or else
//! `TEST_DATABASE_URL`) set, also PostgreSQL, in a fresh schema dropped at
//! the end. It prints figures and asserts nothing; BENCHMARKS.md has runs.
//!
//! Each figure is the median of three trials of a fixed duration. Trials run
//! in rounds (every figure once per round), not figure by figure, because
//! the disks we run on switch between a slow and a fast fsync state every
//! few minutes: a round usually stays in one state, so each ratio is taken
//! within a round against that round's raw baseline, and the median of the
//! per-round ratios is printed. A short raw probe closing each round shows
//! whether the disk changed state during it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chronicle::{DatabaseArgs, EventStore, ExpectedVersion, NewEvent, StreamId};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::json;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const TRIALS: usize = 3;
const TRIAL: Duration = Duration::from_secs(2);
/// Opens the pools' connections before round 1, so that the first trial
/// does not pay for connecting.
const WARM_UP: Duration = Duration::from_millis(300);
const PROBE: Duration = Duration::from_millis(500);
/// Raw commit p50 bounds of the disk states: fast (~0.13 ms per fsync; a
/// commit stays under 1 ms even on a busy machine), slow (~4 ms per fsync),
/// and beyond that "busy": another process is loading the disk.
const DISK_STATES: [(Duration, &str); 2] = [
    (Duration::from_millis(2), "fast"),
    (Duration::from_millis(6), "slow"),
];
const BATCH: usize = 100;
/// Matches the row format in `Report::print`; `cpu` is the cores busy in
/// this process / on the whole machine, `ev/commit` the events per store
/// transaction (see `Sample`).
const TABLE_HEAD: &str = "figure (median of 3 trials)               rate unit           p50      p99      cpu ev/commit  trials";
/// Enough for the 32-connection baseline and the naive store.
const RAW_POOL: u32 = 40;
/// About a small domain event; raw rows carry the same text, so both sides
/// write comparable bytes.
const PAYLOAD: &str = "account credited with 100.00 EUR by transfer 7f3c, ref INV-2026-0042";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Plain INSERT transactions of `rows` rows into a scratch table.
    Raw { rows: usize },
    /// `EventStore::append` of `events` events at the exact expected version.
    Append { events: usize },
    /// One transaction per event under a per-category advisory lock.
    Naive,
}

const RAW_1: Kind = Kind::Raw { rows: 1 };
const RAW_BATCH: Kind = Kind::Raw { rows: BATCH };
const APPEND_1: Kind = Kind::Append { events: 1 };
const APPEND_BATCH: Kind = Kind::Append { events: BATCH };

#[derive(Clone, Copy)]
struct Figure {
    kind: Kind,
    writers: usize,
}

impl Figure {
    fn label(self) -> String {
        let w = self.writers;
        match self.kind {
            Kind::Raw { rows } => format!("raw {rows}-row commit, {w} conn"),
            Kind::Append { events } => format!("{events}-event append, {w} writers"),
            Kind::Naive => format!("naive category-lock store, {w} writers"),
        }
    }

    fn unit(self) -> &'static str {
        match self.kind {
            RAW_1 => "commits/s",
            Kind::Raw { .. } => "rows/s",
            APPEND_1 | Kind::Naive => "appends/s",
            Kind::Append { .. } => "events/s",
        }
    }
}

/// One round's figures, in running order; the raw single-row baseline
/// first, since it also tells the disk state.
fn plan(postgres: bool) -> Vec<Figure> {
    let f = |kind, writers| Figure { kind, writers };
    let mut figures = vec![f(RAW_1, 1), f(APPEND_1, 1), f(APPEND_1, 8)];
    if postgres {
        figures.push(f(APPEND_1, 32));
    }
    figures.extend([f(APPEND_1, 64), f(APPEND_BATCH, 1), f(APPEND_BATCH, 8)]);
    figures.push(f(RAW_BATCH, 1));
    if postgres {
        figures.extend([f(RAW_1, 32), f(Kind::Naive, 32)]);
    }
    figures
}

/// One database under test: the store, and a plain pool on the same
/// database with the same durability settings for the baselines.
struct Target {
    name: &'static str,
    postgres: bool,
    store: EventStore,
    raw: DatabaseConnection,
    raw_ids: Arc<AtomicI64>,
}

impl Target {
    async fn open(name: &'static str, args: DatabaseArgs) -> BenchResult<Self> {
        let store = EventStore::open(chronicle::connect_and_migrate(&args).await?).await?;
        let mut raw_args = args;
        raw_args.db_pool_size = RAW_POOL;
        let raw = chronicle::connect(&raw_args).await?;
        let postgres = raw.get_database_backend() == DbBackend::Postgres;
        let scratch = "CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)";
        raw.execute_unprepared(scratch).await?;
        if postgres {
            // The store's columns and indexes, so that the naive store pays
            // for the same index maintenance.
            let copy = "CREATE TABLE naive_events (LIKE events INCLUDING ALL)";
            raw.execute_unprepared(copy).await?;
        }
        let raw_ids = Arc::new(AtomicI64::new(1));
        Ok(Self {
            name,
            postgres,
            store,
            raw,
            raw_ids,
        })
    }

    /// What makes a commit durable here, read back rather than assumed.
    async fn durability(&self) -> BenchResult<String> {
        let sql = if self.postgres {
            "SELECT 'synchronous_commit=' || current_setting('synchronous_commit') \
             || ', fsync=' || current_setting('fsync') \
             || ', wal_sync_method=' || current_setting('wal_sync_method')"
        } else {
            "SELECT 'journal_mode=' || journal_mode || ', synchronous=' || CASE synchronous \
             WHEN 1 THEN 'NORMAL' WHEN 2 THEN 'FULL' WHEN 3 THEN 'EXTRA' ELSE synchronous END \
             FROM pragma_journal_mode, pragma_synchronous"
        };
        let stmt = Statement::from_string(self.raw.get_database_backend(), sql);
        let row = self.raw.query_one_raw(stmt).await?;
        Ok(row.ok_or("no settings row")?.try_get_by_index(0)?)
    }
}

/// One writer task's state: what it writes with, its stream and version.
struct Worker {
    kind: Kind,
    store: EventStore,
    raw: DatabaseConnection,
    raw_ids: Arc<AtomicI64>,
    stream: StreamId,
    version: i64,
}

impl Worker {
    /// One durable operation; returns how many events or rows it wrote.
    async fn step(&mut self) -> BenchResult<u64> {
        match self.kind {
            Kind::Raw { rows } => self.raw_commit(rows).await,
            Kind::Append { events } => self.append(events).await,
            Kind::Naive => self.naive_append().await,
        }
    }

    async fn append(&mut self, n: usize) -> BenchResult<u64> {
        let expected = match self.version {
            0 => ExpectedVersion::NoStream,
            v => ExpectedVersion::Exact(v),
        };
        let events = (1..=n as i64)
            .map(|i| NewEvent::new("BenchEvent", event_data(self.version + i)))
            .collect();
        let stream = self.stream.clone();
        // Any other outcome than the stream moving by `n` is an error.
        self.store.append(stream, expected, events).await?;
        self.version += n as i64;
        Ok(n as u64)
    }

    async fn raw_commit(&mut self, rows: usize) -> BenchResult<u64> {
        let first = self.raw_ids.fetch_add(rows as i64, Ordering::Relaxed);
        let insert = raw_insert(self.raw.get_database_backend(), first, rows);
        let txn = self.raw.begin().await?;
        txn.execute_raw(insert).await?;
        txn.commit().await?;
        Ok(rows as u64)
    }

    /// The design the group-commit writer replaces: each append its own
    /// transaction, serialized per category by an advisory lock.
    async fn naive_append(&mut self) -> BenchResult<u64> {
        let pg = |sql: &str, values: Vec<sea_orm::Value>| {
            Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
        };
        let lock = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
        let head = "SELECT COALESCE(MAX(position), 0) FROM naive_events";
        let insert = "INSERT INTO naive_events (position, event_id, stream_id, version, \
                      event_type, schema_version, data, metadata, recorded_at) \
                      VALUES ($1, $2, $3, $4, 'BenchEvent', 1, $5, '{}', now())";
        let txn = self.raw.begin().await?;
        let category = self.stream.category().into();
        txn.execute_raw(pg(lock, vec![category])).await?;
        let row = txn.query_one_raw(pg(head, vec![])).await?;
        let position = row.ok_or("no MAX row")?.try_get_by_index::<i64>(0)? + 1;
        self.version += 1;
        let values = vec![
            position.into(),
            uuid::Uuid::new_v4().into(),
            self.stream.as_str().into(),
            self.version.into(),
            event_data(self.version).into(),
        ];
        txn.execute_raw(pg(insert, values)).await?;
        txn.commit().await?;
        Ok(1)
    }
}

fn event_data(seq: i64) -> serde_json::Value {
    json!({ "seq": seq, "note": PAYLOAD })
}

/// One multi-row INSERT, as the store writes its events.
fn raw_insert(backend: DbBackend, first_id: i64, rows: usize) -> Statement {
    let mark = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let tuples: Vec<String> = (1..=rows)
        .map(|r| format!("({}, {})", mark(2 * r - 1), mark(2 * r)))
        .collect();
    let sql = format!(
        "INSERT INTO bench_raw (id, payload) VALUES {}",
        tuples.join(", ")
    );
    let mut values = Vec::with_capacity(rows * 2);
    for id in first_id..first_id + rows as i64 {
        values.extend([id.into(), PAYLOAD.into()]);
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// One trial's result. `cpu` is the cores kept busy by this process and by
/// the whole machine: near the core count, a figure is CPU-bound rather than
/// disk-bound. `per_commit` is events per store transaction (NaN for others).
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    p50: Duration,
    p99: Duration,
    cpu: (f64, f64),
    per_commit: f64,
}

/// CPU clock ticks used so far by this process and by the whole machine
/// (Linux `/proc`; zero elsewhere).
fn cpu_ticks() -> (i64, i64) {
    let read = |path| std::fs::read_to_string(path).unwrap_or_default();
    let parse = |text: &str| -> Vec<i64> {
        let fields = text.split_whitespace();
        fields.filter_map(|f| f.parse().ok()).collect()
    };
    let field = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0);
    // Fields after the command name; the first, the state letter, is not a
    // number, so utime and stime (fields 14 and 15) land at 10 and 11.
    let stat = read("/proc/self/stat");
    let own = parse(stat.rsplit_once(')').map_or("", |(_, tail)| tail));
    // user nice system idle iowait irq softirq steal, summed over all CPUs.
    let all = parse(read("/proc/stat").lines().next().unwrap_or_default());
    let busy = all.iter().take(8).sum::<i64>() - field(&all, 3) - field(&all, 4);
    (field(&own, 10) + field(&own, 11), busy)
}

/// One trial of `figure`; `tag` keeps its streams apart from other trials'.
async fn measure(t: &Target, figure: Figure, tag: &str, duration: Duration) -> BenchResult<Sample> {
    let worker = |w: usize| -> BenchResult<Worker> {
        Ok(Worker {
            kind: figure.kind,
            store: t.store.clone(),
            raw: t.raw.clone(),
            raw_ids: t.raw_ids.clone(),
            // A fresh stream per trial and writer: every stream starts empty.
            stream: StreamId::parse(format!("bench-{tag}-{w}"))?,
            version: 0,
        })
    };
    let workers: BenchResult<Vec<_>> = (0..figure.writers).map(worker).collect();
    let mut sample = run(workers?, duration).await?;
    if let Kind::Append { .. } = figure.kind {
        sample.per_commit = events_per_commit(&t.raw, tag).await?;
    }
    Ok(sample)
}

/// How well the writer grouped a trial's appends: every event of one batch
/// carries the batch's `recorded_at`, so distinct values count commits.
async fn events_per_commit(db: &DatabaseConnection, tag: &str) -> BenchResult<f64> {
    let sql = format!(
        "SELECT COUNT(*), COUNT(DISTINCT recorded_at) FROM events WHERE stream_id LIKE 'bench-{tag}-%'"
    );
    let stmt = Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(stmt).await?.ok_or("no count row")?;
    let (events, commits): (i64, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
    Ok(events as f64 / commits.max(1) as f64)
}

/// Every writer in its own task until `duration` is over, each operation
/// awaiting its own durable commit before the next starts.
async fn run(workers: Vec<Worker>, duration: Duration) -> BenchResult<Sample> {
    let (ticks, start) = (cpu_ticks(), Instant::now());
    let deadline = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let (mut items, mut latencies) = (0, Vec::new());
                while Instant::now() < deadline {
                    let began = Instant::now();
                    items += worker.step().await?;
                    latencies.push(began.elapsed());
                }
                BenchResult::Ok((items, latencies))
            })
        })
        .collect();
    let (mut items, mut latencies) = (0, Vec::new());
    for task in tasks {
        let (n, l) = task.await??;
        items += n;
        latencies.extend(l);
    }
    // Until the last writer finished: its last operation ran past the deadline.
    let (elapsed, ticks_after) = (start.elapsed(), cpu_ticks());
    // Linux counts CPU time in ticks of 1/100 s (USER_HZ).
    let cores = |before, after| (after - before) as f64 / 100.0 / elapsed.as_secs_f64();
    let cpu = (cores(ticks.0, ticks_after.0), cores(ticks.1, ticks_after.1));
    latencies.sort_unstable();
    let pct = |q: f64| latencies.get(((latencies.len().max(1) - 1) as f64 * q).round() as usize);
    let (Some(&p50), Some(&p99)) = (pct(0.50), pct(0.99)) else {
        return Err("no operation finished within the trial".into());
    };
    let rate = items as f64 / elapsed.as_secs_f64();
    Ok(Sample {
        rate,
        p50,
        p99,
        cpu,
        per_commit: f64::NAN,
    })
}

/// Every figure's trials (`samples[figure][round]`) and each round's
/// closing raw probe.
async fn run_rounds(t: &Target) -> BenchResult<Report> {
    let figures = plan(t.postgres);
    for (i, figure) in figures.iter().enumerate() {
        measure(t, *figure, &format!("warm{i}"), WARM_UP).await?;
    }
    let mut samples = vec![Vec::new(); figures.len()];
    let mut probes = Vec::new();
    for round in 0..TRIALS {
        for (i, figure) in figures.iter().enumerate() {
            samples[i].push(measure(t, *figure, &format!("r{round}f{i}"), TRIAL).await?);
        }
        let probe = figures[0]; // the raw single-row baseline
        probes.push(measure(t, probe, &format!("probe{round}"), PROBE).await?);
    }
    let postgres = t.postgres;
    Ok(Report {
        postgres,
        figures,
        samples,
        probes,
    })
}

/// Opens, measures and prints; closes the pools whatever happened, so that
/// the caller can drop the database.
async fn bench(name: &'static str, database_url: String) -> BenchResult<()> {
    eprintln!("{name}: measuring {database_url}");
    let args = DatabaseArgs {
        database_url,
        ..Default::default()
    };
    let target = Target::open(name, args).await?;
    let result = async {
        let durability = target.durability().await?;
        run_rounds(&target).await?.print(target.name, &durability);
        BenchResult::Ok(())
    }
    .await;
    target.store.db().close_by_ref().await?;
    target.raw.close().await?;
    result
}

#[path = "support/databases.rs"]
mod databases;
#[path = "support/append_report.rs"]
mod report;

use report::Report;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    println!("chronicle append bench, {now}, {cores} cores, {TRIALS} trials x {TRIAL:?}");
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
