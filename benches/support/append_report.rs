//! The append bench's report: medians over trials, and ratios taken
//! within each round against that round's raw commit. Figures only;
//! nothing here asserts.

use super::{
    APPEND_1, APPEND_BATCH, BATCH, DISK_STATES, Figure, Kind, RAW_1, Sample, TABLE_HEAD, TRIALS,
};

pub struct Report {
    pub postgres: bool,
    pub figures: Vec<Figure>,
    pub samples: Vec<Vec<Sample>>,
    pub probes: Vec<Sample>,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

impl Report {
    fn sample(&self, kind: Kind, writers: usize, round: usize) -> Option<Sample> {
        let wanted = |f: &Figure| f.kind == kind && f.writers == writers;
        let i = self.figures.iter().position(wanted)?;
        self.samples[i].get(round).copied()
    }

    fn rate(&self, kind: Kind, writers: usize, round: usize) -> Option<f64> {
        self.sample(kind, writers, round).map(|s| s.rate)
    }

    /// The median over rounds of a ratio taken within each round.
    fn per_round(&self, ratio: impl Fn(usize) -> Option<f64>) -> Option<f64> {
        median((0..TRIALS).filter_map(ratio).collect())
    }

    /// Each round's disk state at its start and end, and the run's.
    fn disk_states(&self) -> String {
        let state = |d| {
            DISK_STATES
                .iter()
                .find(|(max, _)| d < *max)
                .map_or("busy", |s| s.1)
        };
        let (mut rounds, mut seen) = (Vec::new(), Vec::new());
        for (round, probe) in self.probes.iter().enumerate() {
            let start = self.sample(RAW_1, 1, round).map_or(probe.p50, |s| s.p50);
            let (from, to) = (state(start), state(probe.p50));
            seen.extend([from, to]);
            let (a, b) = (start.as_secs_f64() * 1e3, probe.p50.as_secs_f64() * 1e3);
            let n = round + 1;
            rounds.push(format!(
                "round {n}: {from} -> {to} (raw p50 {a:.2}ms -> {b:.2}ms)"
            ));
        }
        seen.dedup();
        let run = if seen.len() == 1 { seen[0] } else { "mixed" };
        format!("{}; run: {run}", rounds.join("; "))
    }

    /// The relative aims: (label, median of per-round values, aim).
    fn ratios(&self) -> Vec<(String, Option<f64>, &'static str)> {
        let raw = |rows, k| self.rate(Kind::Raw { rows }, 1, k);
        let p50 = |kind, k| self.sample(kind, 1, k).map(|s| s.p50.as_secs_f64());
        let label = "append x1: p50 / raw commit p50".to_owned();
        let v = self.per_round(|k| Some(p50(APPEND_1, k)? / p50(RAW_1, k)?));
        let mut out = vec![(label, v, "<= 1.3")];
        // 32 writers only on PostgreSQL, where the naive store is compared.
        for n in [1, 8, 32, 64]
            .into_iter()
            .filter(|&n| n != 32 || self.postgres)
        {
            let v = self.per_round(|k| Some(self.rate(APPEND_1, n, k)? / (n as f64 * raw(1, k)?)));
            let aim = if n >= 8 { ">= 0.60 (slow disk)" } else { "" };
            let label = format!("append x{n}: appends/s / ({n} x raw commits/s)");
            out.push((label, v, aim));
        }
        for n in [1, 8] {
            let events = |k| self.rate(APPEND_BATCH, n, k);
            let v = self.per_round(|k| Some(events(k)? / (n as f64 * raw(BATCH, k)?)));
            let label = format!("append {BATCH} x{n}: events/s / ({n} x raw rows/s)");
            out.push((label, v, ""));
        }
        if self.postgres {
            let vs = |kind, w| {
                self.per_round(|k| Some(self.rate(APPEND_1, 32, k)? / self.rate(kind, w, k)?))
            };
            let label = "append x32 / raw commits/s at 32 conns".to_owned();
            out.push((label, vs(RAW_1, 32), ">= 2"));
            let label = "append x32 / naive store x32".to_owned();
            out.push((label, vs(Kind::Naive, 32), ">= 10"));
        }
        out
    }

    pub fn print(&self, name: &str, durability: &str) {
        let disk = self.disk_states();
        println!("\n== {name} ({durability}) ==\ndisk: {disk}\n");
        println!("{TABLE_HEAD}");
        for (figure, samples) in self.figures.iter().zip(&self.samples) {
            let mid = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
            let mid = |f| mid(f).unwrap_or(f64::NAN);
            let (label, unit) = (figure.label(), figure.unit());
            let rate = mid(|s| s.rate);
            let p50 = mid(|s| s.p50.as_secs_f64()) * 1e3;
            let p99 = mid(|s| s.p99.as_secs_f64()) * 1e3;
            let (us, all) = (mid(|s| s.cpu.0), mid(|s| s.cpu.1));
            let trials: Vec<String> = samples.iter().map(|s| format!("{:.0}", s.rate)).collect();
            let trials = trials.join(" / ");
            let per = mid(|s| s.per_commit);
            let per = if per.is_nan() {
                String::new()
            } else {
                format!("{per:.1}")
            };
            println!(
                "{label:<38} {rate:>7.0} {unit:<9} {p50:>6.2}ms {p99:>6.2}ms {us:>4.1}/{all:<3.1} {per:>9}  {trials}"
            );
        }
        let (label, value) = ("ratio (median of per-round ratios)", "value");
        println!("\n{label:<52} {value:>6}  aim");
        for (label, value, aim) in self.ratios() {
            let value = value.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
            println!("{label:<52} {value:>6}  {aim}");
        }
    }
}
