//! Prometheus metrics, served as text on `/metrics`.
//!
//! The `metrics` facade is process-global by design (any module can count
//! without carrying a handle), so the recorder is installed once per
//! process; several servers in one process (tests) share it.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const APPEND_BATCHES: &str = "chronicle_append_batches_total";
pub const APPEND_BATCH_JOBS: &str = "chronicle_append_batch_jobs";
pub const APPEND_COMMIT_SECONDS: &str = "chronicle_append_commit_seconds";
pub const EVENTS_APPENDED: &str = "chronicle_events_appended_total";
pub const COMMANDS: &str = "chronicle_commands_total";
pub const COMMAND_RETRIES: &str = "chronicle_command_retries_total";
pub const COMMAND_SECONDS: &str = "chronicle_command_duration_seconds";
pub const SUBSCRIBERS: &str = "chronicle_event_subscribers";
pub const SUBSCRIBERS_DROPPED: &str = "chronicle_event_subscribers_dropped_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (first call only) and returns its handle, or
/// `None` when another recorder was installed first (an embedding
/// application's own).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
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
    describe_histogram!(
        APPEND_COMMIT_SECONDS,
        Unit::Seconds,
        "Time to commit one group of appends"
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
}
