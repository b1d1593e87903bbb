//! The ceiling of the one global order: every node's appends pass through
//! one transaction-level advisory lock. One and three in-process stores,
//! each with its own pool and group-commit writer as a node has, append
//! single events and 100-event batches through it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chronicle::{ExpectedVersion, NewEvent, StreamId};
use serde_json::json;

use super::databases::TestDb;
use super::histogram::Histogram;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The global order's ceiling: `stores` in-process stores (each its own
/// pool and writer, like a node) appending through the one advisory lock.
pub async fn run(base: &str, trial: Duration) -> BenchResult<()> {
    println!("\n## pipeline: appends through the one advisory lock, {trial:?} per trial");
    for (stores, writers, events) in [(1, 64, 1), (3, 64, 1), (1, 8, 100), (3, 9, 100)] {
        let db = TestDb::postgres(base).await;
        let mut all = Vec::new();
        for _ in 0..stores {
            all.push(Arc::new(db.store().await));
        }
        let started = Instant::now();
        let tasks = (0..writers).map(|w| {
            let store = all[w % stores].clone();
            tokio::spawn(async move {
                let (mut version, mut latency) = (0i64, Histogram::default());
                let stream = StreamId::parse(format!("bench-{w}")).expect("a stream id");
                while started.elapsed() < trial {
                    let expected = match version {
                        0 => ExpectedVersion::NoStream,
                        v => ExpectedVersion::Exact(v),
                    };
                    let batch = (0..events)
                        .map(|i| NewEvent::new("BenchEvent", json!({ "seq": version + i })))
                        .collect();
                    let sent = Instant::now();
                    store
                        .append(stream.clone(), expected, batch)
                        .await
                        .expect("append");
                    latency.record(sent.elapsed().as_micros() as u64);
                    version += events;
                }
                latency
            })
        });
        let mut latency = Histogram::default();
        for task in futures::future::join_all(tasks).await {
            latency.merge(&task?);
        }
        let appends = latency.total as f64 / started.elapsed().as_secs_f64();
        println!(
            "{stores} store(s), {writers} writers, {events:>3}-event appends: {appends:>7.0} appends/s \
             = {:>7.0} events/s  p50 {:.2} ms  p99 {:.2} ms",
            appends * events as f64,
            latency.quantile_ms(0.5),
            latency.quantile_ms(0.99),
        );
    }
    Ok(())
}
