//! What one trial of the commands bench measures: the server's counters
//! and the CPU ticks before and after (a `Snapshot`), and the `Sample`
//! their difference fills in beside the trial's rate and latencies.

use std::time::Duration;

use super::{BenchResult, Shared};

/// Cumulative counts that a trial reports as differences: the server's
/// metrics, and CPU ticks from /proc (zeros without it).
#[derive(Clone, Copy, Default)]
pub struct Snapshot {
    retries: f64,
    batches: f64,
    batch_jobs: f64,
    commit_seconds: f64,
    /// SQLite: seconds this process's write turn was held by the event
    /// writer and by the read models (both 0 on PostgreSQL).
    events_held: f64,
    read_models_held: f64,
    /// This process's: the clients and the server together.
    process_ticks: f64,
    /// The whole machine's, the database server included.
    busy_ticks: f64,
    all_ticks: f64,
}

impl Snapshot {
    pub async fn take(shared: &Shared) -> BenchResult<Self> {
        let response = shared.http.get(shared.url("/metrics")).send().await?;
        let text = response.error_for_status()?.text().await?;
        // A metric not yet recorded counts as 0.
        let metric = |name: &str| -> f64 {
            let lines = text.lines().filter(|line| line.starts_with(name));
            lines
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let numbers = |text: &str| -> Vec<f64> {
            text.split_whitespace()
                .map(|f| f.parse().unwrap_or(0.0))
                .collect()
        };
        // utime and stime are the 12th and 13th fields after the ")" that
        // closes the command name.
        let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let own = numbers(own.rsplit(')').next().unwrap_or(""));
        // "cpu  user nice system idle iowait irq softirq steal ...".
        let all = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let all = numbers(all.lines().next().unwrap_or(""));
        let sum = |v: &[f64], r: &[usize]| r.iter().filter_map(|&i| v.get(i)).sum::<f64>();
        let busy_ticks = sum(&all, &[1, 2, 3, 6, 7, 8]);
        Ok(Self {
            retries: metric("chronicle_command_retries_total{type=\"deposit\"}"),
            batches: metric("chronicle_append_batch_jobs_count"),
            batch_jobs: metric("chronicle_append_batch_jobs_sum"),
            commit_seconds: metric("chronicle_append_commit_seconds_sum"),
            events_held: metric("chronicle_write_turn_held_seconds_sum{holder=\"events\"}"),
            read_models_held: metric(
                "chronicle_write_turn_held_seconds_sum{holder=\"read_models\"}",
            ),
            process_ticks: sum(&own, &[11, 12]),
            busy_ticks,
            all_ticks: busy_ticks + sum(&all, &[4, 5]),
        })
    }

    /// Fills in what the server and the CPUs did between `self` and `later`.
    pub fn fill(&self, later: &Self, sample: &mut Sample, commands: f64, elapsed: Duration) {
        let d = |f: fn(&Self) -> f64| f(later) - f(self);
        let span = elapsed.as_secs_f64().max(1e-9);
        sample.turn_events = d(|s| s.events_held) / span;
        sample.turn_read_models = d(|s| s.read_models_held) / span;
        let commands = commands.max(1.0);
        // Ticks are 10 ms: USER_HZ is 100 on Linux.
        let cpu = d(|s| s.process_ticks) / 100.0 / commands;
        sample.cpu_per_command = Duration::from_secs_f64(cpu.max(0.0));
        sample.host_busy = d(|s| s.busy_ticks) / d(|s| s.all_ticks).max(1.0);
        // How full and how slow the group commits were: what tells whether
        // the fsync or something else set the pace.
        let batches = d(|s| s.batches).max(1.0);
        sample.retries_per_command = d(|s| s.retries) / commands;
        sample.jobs_per_batch = d(|s| s.batch_jobs) / batches;
        let commit = d(|s| s.commit_seconds) / batches;
        sample.commit = Duration::from_secs_f64(commit.max(0.0));
    }
}

/// One trial's result; all but the first four come from `Snapshot`s.
#[derive(Clone, Copy, Default)]
pub struct Sample {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub failures: u64,
    pub retries_per_command: f64,
    pub jobs_per_batch: f64,
    pub commit: Duration,
    /// Share of both cores busy, whoever used them.
    pub host_busy: f64,
    /// This process's CPU time per command: HTTP, GraphQL, the command.
    pub cpu_per_command: Duration,
    /// SQLite: share of the trial the write turn was held by the event
    /// writer and by the read models; what is left, nobody wrote.
    pub turn_events: f64,
    pub turn_read_models: f64,
}
