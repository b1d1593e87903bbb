//! Projection speed (issue 5): rebuild of each read model over 1,000,000
//! events, and the time from a command's commit to its row being visible
//! under 64 concurrent writers. Prints figures; asserts nothing.
//!
//! `cargo bench --bench projections` (SQLite; PostgreSQL too when
//! BENCH_DATABASE_URL is set). `BENCH_EVENTS` sets the size of the log the
//! rebuilds replay (1,000,000 unless set): a small one gets to the
//! commit-to-visible figure in seconds rather than minutes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chronicle::{
    AppState, CommandContext, Config, DatabaseArgs, Deposit, ExpectedVersion, Movement, NewEvent,
    OpenAccount, StreamId,
};
use serde_json::json;

#[path = "support/databases.rs"]
mod databases;
#[path = "support/deposits.rs"]
mod deposits;

const DEFAULT_EVENTS: i64 = 1_000_000;
const ACCOUNTS: i64 = 1_000;
const WRITERS: usize = 64;
const WRITE_FOR: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    databases::each(16, |name, args| async move { run(name, &args).await }).await;
}

async fn run(name: &str, args: &DatabaseArgs) {
    let state = AppState::start(args, Config::default())
        .await
        .expect("start");
    let events = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_EVENTS)
        .max(ACCOUNTS);
    let started = Instant::now();
    fill(&state, events).await;
    println!(
        "\n{name}: {events} events appended in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let head = state.store.head();
    wait_all(&state, head).await;
    println!("{name}: rebuild over {head} events (each projection alone)");
    println!("{:>20} {:>10} {:>14}", "projection", "seconds", "events/s");
    for projection in state.projections.names().to_vec() {
        let start = Instant::now();
        state
            .projections
            .rebuild(projection)
            .await
            .expect("rebuild");
        state
            .projections
            .wait_for(&[projection], head, Duration::from_secs(3_600))
            .await
            .expect("caught up");
        let secs = start.elapsed().as_secs_f64();
        println!("{projection:>20} {secs:>10.2} {:>14.0}", head as f64 / secs);
    }
    visibility(name, &state, Reader::MinPosition).await;
    visibility(name, &state, Reader::Passive).await;
}

/// ACCOUNTS accounts, then deposits spread over them, straight through the
/// store in 1,000-event appends (the read side only sees events).
async fn fill(state: &AppState, total: i64) {
    let mut appended = 0;
    for a in 0..ACCOUNTS {
        let stream = StreamId::parse(format!("account-b{a}")).expect("stream id");
        let opened = NewEvent::new(
            "AccountOpened",
            json!({ "owner": "Bench", "currency": "USD", "initialBalance": 0 }),
        );
        deposits::seed(
            &state.store,
            stream,
            ExpectedVersion::NoStream,
            vec![opened],
        )
        .await;
        appended += 1;
    }
    let mut a = 0;
    while appended < total {
        let stream = StreamId::parse(format!("account-b{}", a % ACCOUNTS)).expect("stream id");
        let batch = (total - appended).min(1_000);
        let events = deposits::deposits(batch);
        deposits::seed(&state.store, stream, ExpectedVersion::Any, events).await;
        appended += batch;
        a += 1;
    }
}

async fn wait_all(state: &AppState, head: i64) {
    let names: Vec<&str> = state.projections.names().to_vec();
    state
        .projections
        .wait_for(&names, head, Duration::from_secs(3_600))
        .await
        .expect("initial catch-up");
}

/// How a reader waits for a write to show.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// As a query given `minPosition`: the wait hurries the next turn.
    MinPosition,
    /// As a query without it finds the row: it watches the projection's
    /// status without hurrying it, so it waits for the turn, paced by
    /// `--projection-interval-ms`.
    Passive,
}

/// 64 clients deposit for WRITE_FOR; after each command commits, the time
/// until AccountBalances has applied it (the row is visible), as `reader`
/// sees it.
async fn visibility(name: &str, state: &AppState, reader: Reader) {
    let state = Arc::new(state.clone());
    let deadline = Instant::now() + WRITE_FOR;
    let tasks = (0..WRITERS).map(|w| {
        let state = state.clone();
        tokio::spawn(async move {
            let mut lags = Vec::new();
            let account = format!("v{w}-{reader:?}");
            let ctx = CommandContext::fresh();
            let open = OpenAccount::new(Some(account.clone()), "V".into(), None, None);
            state.commands.execute(&ctx, open).await.expect("open");
            while Instant::now() < deadline {
                let deposit = Deposit::new(Movement {
                    account_id: account.clone(),
                    amount: "1".into(),
                    description: None,
                    expected_version: None,
                });
                let out = state
                    .commands
                    .execute(&CommandContext::fresh(), deposit)
                    .await
                    .expect("deposit");
                let committed = Instant::now();
                visible(&state, reader, out.position).await;
                lags.push(committed.elapsed());
            }
            lags
        })
    });
    let mut lags: Vec<Duration> = Vec::new();
    for task in futures::future::join_all(tasks).await {
        lags.extend(task.expect("writer"));
    }
    lags.sort();
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "{name}: commit-to-visible (AccountBalances) under {WRITERS} writers, {reader:?} reader: {} commands, p50 {:.2} ms, p99 {:.2} ms",
        lags.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
}

/// Returns once AccountBalances has applied `position`, waiting as
/// `reader` does.
async fn visible(state: &AppState, reader: Reader, position: i64) {
    let projections = &state.projections;
    match reader {
        Reader::MinPosition => projections
            .wait_for(&["AccountBalances"], position, Duration::from_secs(60))
            .await
            .expect("visible"),
        Reader::Passive => {
            let mut status = projections.watch("AccountBalances").expect("watch");
            status
                .wait_for(|s| s.position >= position)
                .await
                .expect("visible");
        }
    }
}
