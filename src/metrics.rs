//! Prometheus metrics, served as text on `/metrics`.
//!
//! The `metrics` facade is process-global by design (any module can count
//! without carrying a handle), so the recorder is installed once per
//! process; several servers in one process (tests) share it.
//!
//! Durations and sizes are histograms, not summaries: a summary's
//! quantiles are computed per process and cannot be added up across the
//! nodes that share a database, while histogram buckets can
//! (`histogram_quantile(0.99, sum by (le) (rate(..._bucket[5m])))`). The
//! buckets span what BENCHMARKS.md measures: a durable commit from
//! ~0.1 ms (fast disk) to ~5 ms, a command from ~1 ms to ~100 ms at 64
//! clients, with room above for trouble.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const APPEND_BATCHES: &str = "chronicle_append_batches_total";
pub const APPEND_BATCH_JOBS: &str = "chronicle_append_batch_jobs";
pub const APPEND_COMMIT_SECONDS: &str = "chronicle_append_commit_seconds";
pub const APPEND_GUESSES: &str = "chronicle_append_guesses_total";
pub const WRITE_TURN_WAIT_SECONDS: &str = "chronicle_write_turn_wait_seconds";
pub const WRITE_TURN_HELD_SECONDS: &str = "chronicle_write_turn_held_seconds";
pub const SQLITE_CHECKPOINTS: &str = "chronicle_sqlite_checkpoints_total";
pub const SQLITE_WAL_PAGES: &str = "chronicle_sqlite_wal_pages";
pub const EVENTS_APPENDED: &str = "chronicle_events_appended_total";
pub const COMMANDS: &str = "chronicle_commands_total";
pub const COMMAND_RETRIES: &str = "chronicle_command_retries_total";
pub const COMMAND_SECONDS: &str = "chronicle_command_duration_seconds";
pub const CACHE_HITS: &str = "chronicle_aggregate_cache_hits_total";
pub const CACHE_MISSES: &str = "chronicle_aggregate_cache_misses_total";
pub const SUBSCRIBERS: &str = "chronicle_event_subscribers";
pub const SUBSCRIBERS_DROPPED: &str = "chronicle_event_subscribers_dropped_total";
pub const HTTP_REQUESTS: &str = "chronicle_http_requests_total";
pub const HTTP_SECONDS: &str = "chronicle_http_request_duration_seconds";
pub const WS_CONNECTIONS: &str = "chronicle_websocket_connections";
pub const WS_OPERATIONS: &str = "chronicle_websocket_operations";
pub const PROJECTION_POSITION: &str = "chronicle_projection_position";
pub const PROJECTION_LAG: &str = "chronicle_projection_lag_events";
pub const PROJECTION_EVENTS: &str = "chronicle_projection_events_processed";
pub const LOG_HEAD: &str = "chronicle_log_head_position";
pub const LISTEN_RECONNECTS: &str = "chronicle_listen_reconnects_total";

/// Seconds, for everything that waits on a database or a client.
const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];
/// Appends per group commit: 1 at one client, up to the writer's batch
/// bound under load.
const BATCH_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (first call only) and returns its handle, or
/// `None` when another recorder was installed first (an embedding
/// application's own).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = builder().ok()?.install_recorder().ok()?;
            describe();
            // Gauges of open things exist from the start, at zero.
            metrics::gauge!(WS_CONNECTIONS).set(0.0);
            metrics::gauge!(WS_OPERATIONS).set(0.0);
            Some(handle)
        })
        .as_ref()
}

fn builder() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)?
        .set_buckets_for_metric(Matcher::Full(APPEND_BATCH_JOBS.into()), BATCH_SIZES)
}

/// An open thing counted in a gauge (a connection, an operation): one up
/// while it lives, one down when it is dropped, whatever ends it.
pub struct Open(&'static str);

impl Open {
    pub fn new(gauge: &'static str) -> Self {
        metrics::gauge!(gauge).increment(1.0);
        Self(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

fn describe() {
    describe_gauge!(
        SUBSCRIBERS,
        "eventAppended subscribers registered with the hub"
    );
    describe_counter!(
        SUBSCRIBERS_DROPPED,
        "Subscribers the hub dropped for falling behind (they catch up from the log)"
    );
    describe_counter!(
        APPEND_BATCHES,
        "Group commits: transactions written by the event store's writer"
    );
    describe_histogram!(APPEND_BATCH_JOBS, "Appends per group commit");
    describe_counter!(
        APPEND_GUESSES,
        "Batches sent in one message (PostgreSQL) or call (SQLite), planned on the writer's view of the log, by outcome (held; missed: the guard refused the plan; in_doubt: the connection broke; failed: the database refused the write)"
    );
    describe_histogram!(
        APPEND_COMMIT_SECONDS,
        Unit::Seconds,
        "Time to commit one group of appends"
    );
    describe_histogram!(
        WRITE_TURN_WAIT_SECONDS,
        Unit::Seconds,
        "SQLite: time a write transaction waited for this process's write turn, by holder (events, read_models)"
    );
    describe_histogram!(
        WRITE_TURN_HELD_SECONDS,
        Unit::Seconds,
        "SQLite: time a write transaction held the turn, BEGIN to COMMIT, by holder (events, read_models, checkpoint)"
    );
    describe_counter!(
        SQLITE_CHECKPOINTS,
        "SQLite: checkpoints of the write-ahead log, by kind (background; held: under the write turn, so that the log starts over)"
    );
    describe_gauge!(
        SQLITE_WAL_PAGES,
        "SQLite: pages in the write-ahead log at the last checkpoint"
    );
    describe_counter!(EVENTS_APPENDED, "Events appended to the log");
    describe_counter!(
        COMMANDS,
        "Commands by type and outcome (SUCCEEDED, REJECTED, FAILED)"
    );
    describe_counter!(
        COMMAND_RETRIES,
        "Command attempts retried after losing an optimistic-concurrency race"
    );
    describe_histogram!(
        COMMAND_SECONDS,
        Unit::Seconds,
        "Command latency, from receipt to durable outcome"
    );
    describe_counter!(CACHE_HITS, "Aggregate loads answered by the cache");
    describe_counter!(
        CACHE_MISSES,
        "Aggregate loads that replayed from a snapshot and the log"
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by GraphQL operation type (query, mutation, batch, none) and status"
    );
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "HTTP request duration by GraphQL operation type"
    );
    describe_gauge!(WS_CONNECTIONS, "WebSocket connections open");
    describe_gauge!(
        WS_OPERATIONS,
        "Operations (subscriptions, and queries sent over a socket) running on WebSockets"
    );
    describe_gauge!(
        PROJECTION_POSITION,
        "Position of the last event a projection applied"
    );
    describe_gauge!(
        PROJECTION_LAG,
        "Events in the log that a projection has not applied yet"
    );
    describe_gauge!(
        PROJECTION_EVENTS,
        "Events a projection applied since its last rebuild"
    );
    describe_gauge!(LOG_HEAD, "Position of the newest event in the log");
    describe_counter!(
        LISTEN_RECONNECTS,
        "Times the connection that hears other nodes' commits was made again"
    );
}
