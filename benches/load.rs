//! Aggregate load time against stream length: full replay, snapshot plus
//! delta, and a cache hit (issue 6). Prints medians; asserts nothing.
//!
//! `cargo bench --bench load` (SQLite; PostgreSQL too when
//! BENCH_DATABASE_URL is set). Each stream is one account: an opening, N
//! deposits, a snapshot at that point, then 50 more deposits, so
//! snapshot+delta always folds 50 events whatever N is.

use std::time::{Duration, Instant};

use chronicle::{
    AsOf, CommandContext, Commands, DatabaseArgs, EventStore, ExpectedVersion, OpenAccount,
    StreamId,
};

#[path = "support/databases.rs"]
mod databases;
#[path = "support/deposits.rs"]
mod deposits;

const LENGTHS: [i64; 4] = [10, 1_000, 100_000, 1_000_000];
const DELTA: i64 = 50;

#[tokio::main]
async fn main() {
    databases::each(8, |name, args| async move { run(name, &args).await }).await;
}

async fn run(name: &str, args: &DatabaseArgs) {
    let db = chronicle::connect_and_migrate(args).await.expect("migrate");
    let store = EventStore::open(db).await.expect("open store");
    let commands = Commands::new(store.clone(), 1_000, 0);
    println!(
        "\n{name}: aggregate load time, p50 (opening + N deposits + snapshot + {DELTA} deposits)"
    );
    println!(
        "{:>10} {:>14} {:>16} {:>12} {:>12}",
        "N", "full replay", "snapshot+delta", "cache hit", "replay/snap"
    );
    for n in LENGTHS {
        let id = format!("len{n}");
        build(&store, &commands, &id, n).await;
        let stream = StreamId::parse(format!("account-{id}")).expect("stream id");
        let snap = median(21, || async {
            commands.account_at(&id, AsOf::Now).await.expect("load")
        })
        .await;
        store
            .drop_snapshots(Some(stream.as_str()))
            .await
            .expect("drop snapshots");
        let runs = if n >= 100_000 { 3 } else { 11 };
        let full = median(runs, || async {
            commands.account_at(&id, AsOf::Now).await.expect("load")
        })
        .await;
        commands
            .create_snapshot(stream.as_str())
            .await
            .expect("snapshot again");
        let repo = commands.accounts();
        repo.load(&stream).await.expect("warm the cache");
        let hit = median(1_001, || async {
            repo.load(&stream).await.expect("cache hit")
        })
        .await;
        let ratio = full.as_secs_f64() / snap.as_secs_f64();
        println!(
            "{n:>10} {:>14} {:>16} {:>12} {ratio:>11.1}x",
            fmt(full),
            fmt(snap),
            fmt(hit)
        );
    }
}

/// An account with `n` deposits, a snapshot at that point, then DELTA more.
async fn build(store: &EventStore, commands: &Commands, id: &str, n: i64) {
    let ctx = CommandContext::fresh();
    let open = OpenAccount::new(Some(id.into()), "Bench".into(), None, None);
    commands.execute(&ctx, open).await.expect("open");
    let stream = StreamId::parse(format!("account-{id}")).expect("stream id");
    deposits(store, &stream, n).await;
    commands
        .create_snapshot(stream.as_str())
        .await
        .expect("snapshot");
    deposits(store, &stream, DELTA).await;
}

/// Appends deposits straight to the store, 1,000 per append: building a
/// million-event stream through commands would take far longer than the
/// loads it is there to measure.
async fn deposits(store: &EventStore, stream: &StreamId, mut n: i64) {
    while n > 0 {
        let batch = n.min(1_000);
        let events = deposits::deposits(batch);
        deposits::seed(store, stream.clone(), ExpectedVersion::Any, events).await;
        n -= batch;
    }
}

async fn median<F, Fut, T>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f().await);
        times.push(start.elapsed());
    }
    times.sort();
    times[runs / 2]
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}
