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
//! `FANOUT_SUBSCRIBERS` (e.g. "1000,10000"), `FANOUT_RATE` (events/s) and
//! `FANOUT_SECONDS` change the plan.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chronicle::{AppState, DatabaseArgs, ExpectedVersion, Limits, NewEvent, StreamId};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const PER_CONNECTION: usize = 100;
const TICK: Duration = Duration::from_millis(10);
const STREAMS: usize = 10;
const QUERY: &str = "subscription { eventAppended { position data } }";

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds on one monotonic clock shared by server and clients.
fn now_us() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// VmRSS of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Microsecond latencies in buckets of 1/64 of a power of two (under 1.6 %
/// error), so that tens of millions of samples take a few kilobytes.
#[derive(Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Histogram {
    fn bucket(v: u64) -> usize {
        if v < 64 {
            return v as usize;
        }
        let e = 63 - u64::from(v.leading_zeros());
        (64 + (e - 6) * 64 + ((v >> (e - 6)) & 63)) as usize
    }

    /// The largest value of bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let e = (i as u64 - 64) / 64 + 6;
        let sub = (i as u64 - 64) % 64;
        ((1 << e) | (sub << (e - 6))) + (1 << (e - 6)) - 1
    }

    fn record(&mut self, v: u64) {
        let i = Self::bucket(v);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile in milliseconds (a bucket's upper bound).
    fn quantile_ms(&self, q: f64) -> f64 {
        let rank = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper(i).min(self.max) as f64 / 1000.0;
            }
        }
        f64::NAN
    }
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
    subscriptions: usize,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> BenchResult<tokio::task::JoinHandle<Histogram>> {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    ws.send(Message::text(
        json!({ "type": "connection_init" }).to_string(),
    ))
    .await?;
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.contains("connection_ack") => {}
        other => return Err(format!("expected connection_ack, got {other:?}").into()),
    }
    for id in 0..subscriptions {
        let subscribe =
            json!({ "type": "subscribe", "id": id.to_string(), "payload": { "query": QUERY } });
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

async fn run(
    state: &AppState,
    addr: std::net::SocketAddr,
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
        readers.push(connect(addr, n, counters.clone(), stop.clone()).await?);
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
        append_one(state, "probe-1", json!({})).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
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
            let stream = format!("fan-{}", appends.len() % STREAMS);
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
    let expected = appended * subscribers as u64;

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
        "Subscription fan-out (SQLite, server and clients in one process; RSS minus a baseline of {:.0} MB)",
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

    let dir = tempfile::tempdir()?;
    let args = DatabaseArgs {
        database_url: format!("sqlite://{}", dir.path().join("fanout.db").display()),
        ..DatabaseArgs::default()
    };
    let state = AppState::start(&args, Limits::default()).await?;
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
        let row = run(&state, addr, subscribers, rate, seconds, baseline).await?;
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
