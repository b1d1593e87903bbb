//! Several nodes on one PostgreSQL: what a second and third `chronicle
//! serve` process add, and what they cost.
//!
//! `BENCH_DATABASE_URL=postgres://… cargo bench --bench cluster` (or
//! `TEST_DATABASE_URL`); without a URL it prints why and exits. Each part
//! runs the real server binary as child processes on a fresh schema,
//! dropped at the end:
//!
//! - **commands**: `deposit` over HTTP from 64 clients, 1,000 accounts,
//!   with one node and with three (the clients spread over them), beside the
//!   raw durable single-row commit of the same database; rounds alternate
//!   which goes first, and the medians and the per-round ratio are printed.
//! - **pipeline**: the ceiling of the one global order. Every node's appends
//!   pass through one transaction-level advisory lock; this drives one and
//!   three in-process stores (each with its own pool and group-commit
//!   writer, as three nodes have) with single-event and 100-event appends.
//! - **delivery**: a subscriber on node B, deposits on node A one at a time;
//!   the time from sending the command on A to the event reaching B.
//! - **takeover**: kill -9 the node running `AccountBalances` and time until
//!   every projection runs on a live node again; five times.
//!
//! It prints figures and asserts nothing; BENCHMARKS.md has runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt, TryStreamExt};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[path = "support/databases.rs"]
mod databases;
#[path = "support/histogram.rs"]
mod histogram;
#[path = "support/nodes.rs"]
mod nodes;
#[path = "support/pipeline.rs"]
mod pipeline;
#[path = "support/process.rs"]
mod process;
#[path = "support/ws.rs"]
mod ws;

use databases::TestDb;
use histogram::Histogram;
use nodes::{Node, Usage};
use process::env_or;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const ACCOUNTS: usize = 1_000;
const CLIENTS: usize = 64;
const DEPOSIT: &str = "mutation($in: DepositInput!) { deposit(input: $in) { position } }";
const OPEN: &str = "mutation($in: OpenAccountInput!) { openAccount(input: $in) { version } }";

async fn gql(http: &reqwest::Client, url: &str, query: &str, vars: Value) -> BenchResult<Value> {
    let body = json!({ "query": query, "variables": vars });
    let mut response: Value = http
        .post(format!("{url}/graphql"))
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    match response.get("errors") {
        None => Ok(response["data"].take()),
        Some(errors) => Err(format!("GraphQL errors: {errors}").into()),
    }
}

fn account(i: usize) -> String {
    format!("acct-{i}")
}

async fn open_accounts(http: &reqwest::Client, url: &str) -> BenchResult<()> {
    futures::stream::iter(0..ACCOUNTS)
        .map(|i| {
            let vars = json!({ "in": { "accountId": account(i), "owner": "Bench",
                "currency": "USD", "initialBalance": "0" } });
            gql(http, url, OPEN, vars)
        })
        .buffer_unordered(CLIENTS)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// Commands per second and latency of one trial.
struct Sample {
    rate: f64,
    latency: Histogram,
    errors: u64,
    usage: Usage,
}

impl Sample {
    fn describe(&self) -> String {
        let per_1000 = 1000.0 / self.latency.total.max(1) as f64;
        if self.usage.host.1 == 0.0 {
            // No processes to read (the raw baseline).
            return format!(
                "{:>8.0}/s  p50 {:>6.2} ms  p99 {:>7.2} ms",
                self.rate,
                self.latency.quantile_ms(0.5),
                self.latency.quantile_ms(0.99)
            );
        }
        format!(
            "{:>8.0}/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {}  CPU-s/1000: nodes {:.2}, PostgreSQL {:.2}  retries/cmd {:.3}  host {:.0}% busy",
            self.rate,
            self.latency.quantile_ms(0.5),
            self.latency.quantile_ms(0.99),
            self.errors,
            self.usage.nodes_cpu * per_1000,
            self.usage.postgres_cpu * per_1000,
            self.usage.retries * per_1000 / 1000.0,
            self.usage.host_busy() * 100.0,
        )
    }
}

/// `CLIENTS` clients, client `i` on `urls[i % urls.len()]`, each sending
/// its next deposit (to a random account, with a command id, as a retrying
/// client must) once the previous one answered.
async fn drive(http: &reqwest::Client, urls: &[String], trial: Duration) -> Sample {
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients = (0..CLIENTS).map(|i| {
        let (http, url, errors) = (http.clone(), urls[i % urls.len()].clone(), errors.clone());
        tokio::spawn(async move {
            let mut latency = Histogram::default();
            while started.elapsed() < trial {
                let vars = json!({ "in": {
                    "accountId": account(rand::random_range(0..ACCOUNTS)),
                    "amount": "1.00",
                    "commandId": uuid::Uuid::new_v4().to_string(),
                } });
                let sent = Instant::now();
                match gql(&http, &url, DEPOSIT, vars).await {
                    Ok(_) => latency.record(sent.elapsed().as_micros() as u64),
                    Err(_) => drop(errors.fetch_add(1, Ordering::Relaxed)),
                }
            }
            latency
        })
    });
    let mut latency = Histogram::default();
    for client in futures::future::join_all(clients).await {
        latency.merge(&client.expect("a client task"));
    }
    Sample {
        rate: latency.total as f64 / started.elapsed().as_secs_f64(),
        latency,
        errors: errors.load(Ordering::Relaxed),
        usage: Usage::default(),
    }
}

/// Durable one-row commits on one connection for `trial`: the baseline.
async fn raw_commits(db: &TestDb, trial: Duration) -> BenchResult<Sample> {
    let conn = chronicle::connect(&db.args).await?;
    conn.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, payload TEXT)",
    )
    .await?;
    let mut latency = Histogram::default();
    let started = Instant::now();
    while started.elapsed() < trial {
        let sent = Instant::now();
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO bench_raw (payload) VALUES ($1)",
            ["deposit of 1.00 USD".into()],
        ))
        .await?;
        latency.record(sent.elapsed().as_micros() as u64);
    }
    conn.close().await?;
    Ok(Sample {
        rate: latency.total as f64 / started.elapsed().as_secs_f64(),
        latency,
        errors: 0,
        usage: Usage::default(),
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Commands/s with one node and with three, `rounds` times on fresh
/// schemas; returns the median three-to-one ratio.
async fn commands(
    base: &str,
    http: &reqwest::Client,
    rounds: usize,
    trial: Duration,
) -> BenchResult<()> {
    println!("\n## commands: deposit x{CLIENTS}, {ACCOUNTS} accounts, {trial:?} per trial");
    let (mut ones, mut threes, mut ratios, mut raws) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let db = TestDb::postgres(base).await;
        let raw = raw_commits(&db, Duration::from_secs(1)).await?;
        let disk = if raw.latency.quantile_ms(0.5) < 1.0 {
            "fast"
        } else {
            "slow"
        };
        println!(
            "round {round}: raw 1-row commit {} ({disk} disk)",
            raw.describe()
        );
        let a = Node::start(&db, "node-a").await?;
        open_accounts(http, &a.url).await?;
        let three_first = round % 2 == 1;
        let mut others = Vec::new();
        let (mut one, mut three) = (None, None);
        for phase in 0..2 {
            let wants_three = (phase == 0) == three_first;
            if wants_three && others.is_empty() {
                others.push(Node::start(&db, "node-b").await?);
                others.push(Node::start(&db, "node-c").await?);
            } else if !wants_three {
                for node in others.drain(..) {
                    node.kill().await;
                }
            }
            let up: Vec<&Node> = std::iter::once(&a).chain(&others).collect();
            let urls: Vec<String> = up.iter().map(|n| n.url.clone()).collect();
            // Each node's HTTP connections and cache warm before the trial.
            drive(http, &urls, Duration::from_millis(500)).await;
            let before = Usage::read(http, &up).await;
            let mut sample = drive(http, &urls, trial).await;
            sample.usage = Usage::read(http, &up).await.since(&before);
            println!(
                "round {round}: {} node(s): {}",
                urls.len(),
                sample.describe()
            );
            if wants_three {
                three = Some(sample)
            } else {
                one = Some(sample)
            }
        }
        for node in others {
            node.kill().await;
        }
        a.kill().await;
        let (one, three) = (
            one.ok_or("no one-node trial")?,
            three.ok_or("no three-node trial")?,
        );
        ratios.push(three.rate / one.rate);
        ones.push(one);
        threes.push(three);
        raws.push(raw.rate);
    }
    let q = |s: &[Sample], f: &dyn Fn(&Sample) -> f64| median(s.iter().map(f).collect());
    for (label, s) in [("1 node", &ones), ("3 nodes", &threes)] {
        let per_1000 = |cpu: fn(&Usage) -> f64| {
            move |s: &Sample| cpu(&s.usage) * 1000.0 / s.latency.total.max(1) as f64
        };
        println!(
            "median {label:>7}: {:>6.0}/s  p50 {:.2} ms  p99 {:.2} ms  ({:.2}x the raw commit rate)  \
             CPU-s/1000: nodes {:.2}, PostgreSQL {:.2}  retries/cmd {:.3}",
            q(s, &|s| s.rate),
            q(s, &|s| s.latency.quantile_ms(0.5)),
            q(s, &|s| s.latency.quantile_ms(0.99)),
            q(s, &|s| s.rate) / median(raws.clone()),
            q(s, &per_1000(|u| u.nodes_cpu)),
            q(s, &per_1000(|u| u.postgres_cpu)),
            q(s, &per_1000(|u| u.retries)) / 1000.0,
        );
    }
    println!("median raw 1-row commit: {:.0}/s", median(raws));
    println!(
        "3 nodes / 1 node, median of the per-round ratios: {:.2}x",
        median(ratios)
    );
    Ok(())
}

/// A graphql-transport-ws subscription on `url`'s node.
async fn subscribe(url: &str, query: &str) -> BenchResult<ws::Socket> {
    let mut socket = ws::connect(&format!("{}/graphql/ws", url.replacen("http", "ws", 1))).await?;
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": query } });
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}

/// Sends `samples` deposits to A one at a time and times each until B's
/// subscriber has it; B commits nothing of its own.
async fn delivery(http: &reqwest::Client, a: &Node, b: &Node, samples: usize) -> BenchResult<()> {
    println!("\n## delivery: deposit on {}, subscriber on {}", a.id, b.id);
    gql(
        http,
        &a.url,
        OPEN,
        json!({ "in": { "accountId": "watched", "owner": "Bench",
        "currency": "USD", "initialBalance": "0" } }),
    )
    .await?;
    let mut ws = subscribe(
        &b.url,
        "subscription { eventAppended(filter: { streamId: \"account-watched\" }) { position } }",
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut delivered, mut acknowledged) = (Histogram::default(), Histogram::default());
    for _ in 0..samples {
        let vars = json!({ "in": { "accountId": "watched", "amount": "1.00" } });
        let sent = Instant::now();
        let position = gql(http, &a.url, DEPOSIT, vars).await?["deposit"]["position"].clone();
        acknowledged.record(sent.elapsed().as_micros() as u64);
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await?
                .ok_or("the subscription ended")??;
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str())?;
            if frame["payload"]["data"]["eventAppended"]["position"] == position {
                delivered.record(sent.elapsed().as_micros() as u64);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (label, h) in [
        ("command acknowledged on A", &acknowledged),
        ("event delivered on B", &delivered),
    ] {
        println!(
            "{label}: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} samples)",
            h.quantile_ms(0.5),
            h.quantile_ms(0.99),
            h.max as f64 / 1000.0,
            h.total
        );
    }
    Ok(())
}

/// Which node runs each projection, as `url`'s node sees it.
async fn runners(http: &reqwest::Client, url: &str) -> BenchResult<Vec<Option<String>>> {
    let data = gql(http, url, "{ projections { node } }", json!({})).await?;
    let list = data["projections"].as_array().ok_or("no projections")?;
    Ok(list
        .iter()
        .map(|p| p["node"].as_str().map(str::to_owned))
        .collect())
}

/// Kills the node running `AccountBalances` (the first projection) and
/// times until a survivor reports every projection on a live node; starts
/// a new node each time so three are up again.
async fn takeovers(
    db: &TestDb,
    http: &reqwest::Client,
    mut nodes: Vec<Node>,
    times: usize,
) -> BenchResult<()> {
    println!("\n## takeover after kill -9, {times} times");
    let mut took = Vec::new();
    for n in 0..times {
        let victim = loop {
            match runners(http, &nodes[0].url).await?.as_slice() {
                [Some(first), rest @ ..] if rest.iter().all(Option::is_some) => {
                    break first.clone();
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let index = nodes
            .iter()
            .position(|node| node.id == victim)
            .ok_or("an unknown node")?;
        nodes.remove(index).kill().await;
        let killed = Instant::now();
        loop {
            let now = runners(http, &nodes[0].url).await?;
            if now
                .iter()
                .all(|r| r.as_ref().is_some_and(|id| *id != victim))
            {
                break;
            }
            if killed.elapsed() > Duration::from_secs(60) {
                return Err(format!("no takeover within 60 s: {now:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        took.push(killed.elapsed().as_secs_f64() * 1000.0);
        println!(
            "takeover {n}: {victim} killed, every projection on a live node after {:.0} ms",
            took[n]
        );
        nodes.push(Node::start(db, &format!("node-{}", n + 4)).await?);
    }
    println!(
        "takeover median: {:.0} ms (max {:.0} ms)",
        median(took.clone()),
        took.iter().copied().fold(0.0, f64::max)
    );
    for node in nodes {
        node.kill().await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let Some(base) = ["BENCH_DATABASE_URL", "TEST_DATABASE_URL"]
        .iter()
        .find_map(|var| {
            std::env::var(var)
                .ok()
                .filter(|u| u.starts_with("postgres"))
        })
    else {
        println!(
            "cluster bench: set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL URL"
        );
        return Ok(());
    };
    let trial = Duration::from_secs(env_or("BENCH_SECONDS", 10));
    let rounds = env_or("BENCH_ROUNDS", 3);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let runs = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    println!(
        "chronicle cluster bench, {now}, {} cores",
        std::thread::available_parallelism()?
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    if runs("commands") {
        commands(&base, &http, rounds, trial).await?;
    }
    if runs("pipeline") {
        pipeline::run(&base, trial).await?;
    }
    if runs("delivery") || runs("takeover") {
        let db = TestDb::postgres(&base).await;
        let mut nodes = Vec::new();
        for id in ["node-a", "node-b", "node-c"] {
            nodes.push(Node::start(&db, id).await?);
        }
        if runs("delivery") {
            delivery(
                &http,
                &nodes[0],
                &nodes[1],
                env_or("BENCH_DELIVERY_SAMPLES", 300),
            )
            .await?;
        }
        if runs("takeover") {
            takeovers(&db, &http, nodes, 5).await?;
        }
    }
    Ok(())
}
