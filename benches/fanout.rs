//! Subscription fan-out: live `eventAppended` subscribers over WebSocket
//! while events are appended at a steady rate.
//!
//! `cargo bench --bench fanout` starts the real server in this process (a
//! SQLite file in a temp dir, default limits), and for each subscriber
//! count (1,000 then 10,000) opens that many live subscriptions, 100 per
//! WebSocket connection (the default per-connection limit; 10,000
//! subscribers take 100 connections, 200 file descriptors with both ends,
//! so no file-descriptor limit needs raising), over `graphql-transport-ws`.
//! Once every subscriber has seen a probe event, it appends 1,000 events/s
//! for 5 s through the store API (one event per append, issued every
//! 10 ms) and measures:
//!
//! - delivery latency: each event carries the time its append was called
//!   (`data.sentUs`); a client takes it from the time it parsed the frame.
//!   So it includes the commit (its own p50/p99 are printed too) and the
//!   client's own queueing;
//! - events delivered vs expected (subscribers x events), waiting up to
//!   `FANOUT_DRAIN_SECS` (30) after the last append;
//! - RSS from `/proc/self/status` (VmRSS). Server and clients share this
//!   process, so it is an upper bound on the server's: the clients' sockets,
//!   buffers and tasks are in it too. The baseline, measured once before
//!   any subscriber connects, is subtracted.
//!
//! Server and clients also share the CPU (tokio, one worker per core): on
//! a small machine the clients' parsing competes with the server's work.
//! It prints a table and asserts nothing; BENCHMARKS.md has runs.
//! `FANOUT_MODE=stream` gives each subscriber its own stream (see `Mode`).
//! `FANOUT_SUBSCRIBERS` (e.g. "1000,10000"), `FANOUT_RATE` (events/s) and
//! `FANOUT_SECONDS` change the plan.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chronicle::{AppState, Config, DatabaseArgs, ExpectedVersion, NewEvent, StreamId};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;

#[path = "support/histogram.rs"]
mod histogram;
#[path = "support/process.rs"]
mod process;
#[path = "support/ws.rs"]
mod ws;
use histogram::Histogram;
use process::{env_or, mb, rss};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const PER_CONNECTION: usize = 100;
const TICK: Duration = Duration::from_millis(10);
const STREAMS: usize = 10;
const QUERY: &str = "subscription($f: EventFilter) { eventAppended(filter: $f) { position data } }";

/// Who gets what: every subscriber every event (`all`, the worst case:
/// subscribers x rate deliveries per second), or each subscriber the events
/// of its own stream (`stream`, a frontend watching one account: the same
/// number of subscriptions, `rate` deliveries per second in all).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    OwnStream,
}

impl Mode {
    fn from_env() -> Self {
        match std::env::var("FANOUT_MODE").as_deref() {
            Ok("stream") => Mode::OwnStream,
            _ => Mode::All,
        }
    }

    /// The stream of subscriber `i` (stream mode) and of the `k`th append.
    fn stream(self, k: usize, subscribers: usize) -> String {
        match self {
            Mode::All => format!("fan-{}", k % STREAMS),
            Mode::OwnStream => format!("fan-{}", k % subscribers),
        }
    }
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds on one monotonic clock shared by server and clients.
fn now_us() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// What the readers share with the driver.
#[derive(Default)]
struct Counters {
    /// Subscribers that have received at least one event.
    warmed: AtomicUsize,
    /// Measured events delivered, over all subscribers.
    delivered: AtomicU64,
    /// Events after this position are measured (i64::MAX while warming up).
    measure_after: AtomicI64,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: Option<&'a str>,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "eventAppended")]
    event: Event,
}

#[derive(Deserialize)]
struct Event {
    position: i64,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    #[serde(rename = "sentUs")]
    sent_us: Option<u64>,
}

/// Opens one connection with `subscriptions` live subscriptions; returns
/// the reader task, which yields its latency histogram once `stop` fires.
async fn connect(
    addr: std::net::SocketAddr,
    mode: Mode,
    first: usize,
    subscriptions: usize,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> BenchResult<tokio::task::JoinHandle<Histogram>> {
    let mut ws = ws::connect(&format!("ws://{addr}/graphql/ws")).await?;
    for id in 0..subscriptions {
        let filter = match mode {
            Mode::All => json!(null),
            Mode::OwnStream => json!({ "streamId": format!("fan-{}", first + id) }),
        };
        let payload = json!({ "query": QUERY, "variables": { "f": filter } });
        let subscribe = json!({ "type": "subscribe", "id": id.to_string(), "payload": payload });
        ws.send(Message::text(subscribe.to_string())).await?;
    }
    Ok(tokio::spawn(async move {
        let mut histogram = Histogram::default();
        let mut warmed = vec![false; subscriptions];
        loop {
            let message = tokio::select! {
                message = ws.next() => message,
                _ = stop.changed() => break,
            };
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                Some(Err(err)) => {
                    eprintln!("a connection failed: {err}");
                    break;
                }
                None => break,
            };
            let received = now_us();
            let frame: Frame = match serde_json::from_str(text.as_str()) {
                Ok(frame) => frame,
                Err(err) => {
                    eprintln!("unreadable frame: {err}: {text}");
                    continue;
                }
            };
            if frame.kind != "next" {
                if frame.kind != "pong" && frame.kind != "ping" {
                    eprintln!("unexpected frame: {text}");
                }
                continue;
            }
            let Some(event) = frame.payload.and_then(|p| p.data).map(|d| d.event) else {
                eprintln!("a result without an event: {text}");
                continue;
            };
            if let Some(slot) = frame
                .id
                .and_then(|id| id.parse::<usize>().ok())
                .and_then(|i| warmed.get_mut(i))
                && !*slot
            {
                *slot = true;
                counters.warmed.fetch_add(1, Ordering::Relaxed);
            }
            if event.position > counters.measure_after.load(Ordering::Relaxed)
                && let Some(sent) = event.data.sent_us
            {
                histogram.record(received.saturating_sub(sent));
                counters.delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
        histogram
    }))
}

async fn append_one(state: &AppState, stream: &str, data: serde_json::Value) -> Duration {
    let started = Instant::now();
    let id = StreamId::parse(stream).expect("a valid stream id");
    state
        .store
        .append(
            id,
            ExpectedVersion::Any,
            vec![NewEvent::new("FannedOut", data)],
        )
        .await
        .expect("append");
    started.elapsed()
}

/// An event that every subscriber sees: one on a stream of all, or one on
/// each subscriber's own stream (appended concurrently, so they share
/// group commits).
async fn probe(state: &AppState, mode: Mode, subscribers: usize) {
    if mode == Mode::All {
        append_one(state, "probe-1", json!({})).await;
        return;
    }
    let appends: Vec<_> = (0..subscribers)
        .map(|i| {
            let state = state.clone();
            tokio::spawn(async move { append_one(&state, &format!("fan-{i}"), json!({})).await })
        })
        .collect();
    for append in appends {
        append.await.expect("probe append");
    }
}

struct Row {
    subscribers: usize,
    connections: usize,
    appended: u64,
    append_rate: f64,
    delivered: u64,
    expected: u64,
    drained_in: Option<Duration>,
    latency: Histogram,
    commit: Histogram,
    rss_idle: u64,
    rss_peak: u64,
}

#[allow(clippy::too_many_arguments)]
async fn run(
    state: &AppState,
    addr: std::net::SocketAddr,
    mode: Mode,
    subscribers: usize,
    rate: u64,
    seconds: u64,
    baseline: u64,
) -> BenchResult<Row> {
    let counters = Arc::new(Counters {
        measure_after: AtomicI64::new(i64::MAX),
        ..Counters::default()
    });
    let (stop_tx, stop) = watch::channel(false);
    let mut readers = Vec::new();
    let mut left = subscribers;
    while left > 0 {
        let n = left.min(PER_CONNECTION);
        let first = subscribers - left;
        readers.push(connect(addr, mode, first, n, counters.clone(), stop.clone()).await?);
        left -= n;
    }
    let connections = readers.len();

    // Live subscriptions start when the server gets to them: probe until
    // every one has seen an event.
    let deadline = Instant::now() + Duration::from_secs(120);
    while counters.warmed.load(Ordering::Relaxed) < subscribers {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {subscribers} subscribers started",
                counters.warmed.load(Ordering::Relaxed)
            )
            .into());
        }
        probe(state, mode, subscribers).await;
        tokio::time::sleep(Duration::from_millis(match mode {
            Mode::All => 100,
            Mode::OwnStream => 2_000,
        }))
        .await;
    }
    // Let the probes' deliveries settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss();
    counters
        .measure_after
        .store(state.store.head(), Ordering::SeqCst);

    let peak = Arc::new(AtomicU64::new(rss_idle));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                peak.fetch_max(rss(), Ordering::Relaxed);
            }
        })
    };

    // `rate` events/s: single-event appends, issued every 10 ms.
    let total = (rate * seconds) as usize;
    let ticks = (seconds * 1000 / TICK.as_millis() as u64) as usize;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut appends = Vec::with_capacity(total);
    for tick in 1..=ticks {
        ticker.tick().await;
        while appends.len() < total * tick / ticks {
            let state = state.clone();
            let stream = mode.stream(appends.len(), subscribers);
            appends.push(tokio::spawn(async move {
                append_one(&state, &stream, json!({ "sentUs": now_us() })).await
            }));
        }
    }
    let mut commit = Histogram::default();
    for append in appends {
        commit.record(append.await?.as_micros() as u64);
    }
    let appending = started.elapsed();
    let appended = commit.total;
    let expected = match mode {
        Mode::All => appended * subscribers as u64,
        Mode::OwnStream => appended,
    };

    let drain = Duration::from_secs(env_or("FANOUT_DRAIN_SECS", 30));
    let drain_from = Instant::now();
    let mut drained_in = None;
    while drain_from.elapsed() < drain {
        if counters.delivered.load(Ordering::Relaxed) >= expected {
            drained_in = Some(drain_from.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = counters.delivered.load(Ordering::Relaxed);
    sampler.abort();
    let _ = stop_tx.send(true);
    let mut latency = Histogram::default();
    for reader in readers {
        latency.merge(&reader.await?);
    }
    Ok(Row {
        subscribers,
        connections,
        appended,
        append_rate: appended as f64 / appending.as_secs_f64(),
        delivered,
        expected,
        drained_in,
        latency,
        commit,
        rss_idle: rss_idle.saturating_sub(baseline),
        rss_peak: peak.load(Ordering::Relaxed).saturating_sub(baseline),
    })
}

fn print(rows: &[Row], baseline: u64) {
    println!();
    println!(
        "Subscription fan-out, {} (SQLite, server and clients in one process; RSS minus a baseline of {:.0} MB)",
        match Mode::from_env() {
            Mode::All => "every subscriber gets every event",
            Mode::OwnStream => "each subscriber gets its own stream's events",
        },
        mb(baseline)
    );
    println!(
        "{:>11} {:>5} {:>7} {:>8} {:>24} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
        "subscribers",
        "conns",
        "events",
        "events/s",
        "delivered / expected",
        "p50 ms",
        "p99 ms",
        "max ms",
        "commit p99",
        "drained in",
        "RSS idle",
        "RSS peak"
    );
    for r in rows {
        let drained = r
            .drained_in
            .map_or("not".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        println!(
            "{:>11} {:>5} {:>7} {:>8.0} {:>24} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10} {:>7.0} MB {:>7.0} MB",
            r.subscribers,
            r.connections,
            r.appended,
            r.append_rate,
            format!(
                "{} / {} ({:.1} %)",
                r.delivered,
                r.expected,
                100.0 * r.delivered as f64 / r.expected.max(1) as f64
            ),
            r.latency.quantile_ms(0.50),
            r.latency.quantile_ms(0.99),
            r.latency.max as f64 / 1000.0,
            r.commit.quantile_ms(0.99),
            drained,
            mb(r.rss_idle),
            mb(r.rss_peak),
        );
    }
    println!(
        "latency: append called -> frame parsed by the client (includes the commit); \
         commit p99: append called -> returned; drained in: last append -> all delivered"
    );
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    now_us();
    let plan: Vec<usize> = std::env::var("FANOUT_SUBSCRIBERS")
        .unwrap_or_else(|_| "1000,10000".to_owned())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let rate = env_or("FANOUT_RATE", 1_000u64);
    let seconds = env_or("FANOUT_SECONDS", 5u64);
    let mode = Mode::from_env();

    let dir = tempfile::tempdir()?;
    let args = DatabaseArgs {
        database_url: format!("sqlite://{}", dir.path().join("fanout.db").display()),
        ..DatabaseArgs::default()
    };
    let state = AppState::start(&args, Config::default()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(chronicle::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = rss();

    let mut rows = Vec::new();
    for subscribers in plan {
        eprintln!("fan-out: {subscribers} subscribers, {rate} events/s for {seconds} s ...");
        let row = run(&state, addr, mode, subscribers, rate, seconds, baseline).await?;
        print(std::slice::from_ref(&row), baseline);
        rows.push(row);
        // Let the server drop the closed connections before the next run.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    print(&rows, baseline);
    let _ = shutdown.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    Ok(())
}
