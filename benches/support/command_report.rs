//! The commands bench's report: medians over trials, ratios within a
//! round against that round's raw commit, and the aims with their
//! verdicts. Figures only; nothing here asserts.

use std::time::Duration;

use super::{CLIENTS, Figure, SLOW_DISK_COMMIT, Sample, ms};

pub struct Report {
    pub postgres: bool,
    pub figures: Vec<Figure>,
    pub samples: Vec<Vec<Sample>>,
    pub probes: Vec<Sample>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

impl Report {
    fn samples(&self, figure: Figure) -> &[Sample] {
        let i = self.figures.iter().position(|f| *f == figure);
        i.map_or(&[], |i| &self.samples[i])
    }

    /// The median over trials of `f`.
    fn mid(&self, figure: Figure, f: impl Fn(&Sample) -> f64) -> f64 {
        median(self.samples(figure).iter().map(f).collect())
    }

    /// The median over rounds of `f` of each round's (figure, raw) samples.
    fn per_round(&self, figure: Figure, f: impl Fn(&Sample, &Sample) -> f64) -> f64 {
        let rounds = self.samples(figure).iter().zip(self.samples(Figure::Raw));
        median(rounds.map(|(s, r)| f(s, r)).collect())
    }

    /// Each round's disk state at its start and end, and the run's.
    pub fn disk_states(&self) -> String {
        let state = |d: Duration| ["fast", "slow"][usize::from(d >= SLOW_DISK_COMMIT)];
        let rounds = self.samples(Figure::Raw).iter().zip(&self.probes);
        let (mut text, mut seen) = (String::new(), Vec::new());
        for (round, (raw, probe)) in rounds.enumerate() {
            let (from, to) = (state(raw.p50), state(probe.p50));
            seen.extend([from, to]);
            let (a, b, n) = (ms(raw.p50), ms(probe.p50), round + 1);
            text += &format!("round {n}: {from} -> {to} (raw p50 {a} -> {b}); ");
        }
        seen.sort_unstable();
        seen.dedup();
        let run = if seen.len() == 1 { seen[0] } else { "mixed" };
        format!("{text}run: {run}")
    }

    pub fn print_figures(&self) {
        print!("figure (median of 3)               rate unit           p50       p99");
        print!(" retry/cmd jobs/batch  commit host-cpu cpu/cmd");
        println!(" turn ev/rm fail  trials (rate)");
        for &figure in &self.figures {
            let mid = |f: &dyn Fn(&Sample) -> f64| self.mid(figure, f);
            let dur = |f: fn(&Sample) -> Duration| {
                ms(Duration::from_secs_f64(mid(&|s| f(s).as_secs_f64())))
            };
            let (rate, p50, p99) = (mid(&|s| s.rate), dur(|s| s.p50), dur(|s| s.p99));
            let server = if figure == Figure::Raw {
                format!("{:>9} {:>10} {:>7}", "", "", "")
            } else {
                let (retries, jobs) = (mid(&|s| s.retries_per_command), mid(&|s| s.jobs_per_batch));
                format!("{retries:>9.3} {jobs:>10.1} {:>7}", dur(|s| s.commit))
            };
            let (busy, cpu) = (mid(&|s| s.host_busy * 100.0), dur(|s| s.cpu_per_command));
            let (ev, rm) = (
                mid(&|s| s.turn_events * 100.0),
                mid(&|s| s.turn_read_models * 100.0),
            );
            let turn = format!("{ev:.0}/{rm:.0}%");
            let samples = self.samples(figure);
            let fails: u64 = samples.iter().map(|s| s.failures).sum();
            let trials: Vec<String> = samples.iter().map(|s| format!("{:.0}", s.rate)).collect();
            let (label, trials) = (figure.label(), trials.join(" / "));
            let unit = ["cmd/s", "commits/s"][usize::from(figure == Figure::Raw)];
            print!("{label:<32} {rate:>6.0} {unit:<9} {p50:>8} {p99:>9} ");
            println!("{server} {busy:>7.0}% {cpu:>7} {turn:>10} {fails:>4}  {trials}");
        }
    }

    /// Single-client p50 over the raw commit p50, within each round.
    fn p50_ratio(&self) -> f64 {
        let ratio = |s: &Sample, r: &Sample| s.p50.as_secs_f64() / r.p50.as_secs_f64();
        self.per_round(Figure::Spread(1), ratio)
    }

    pub fn print_ratios(&self) {
        let (head, value) = ("ratio (median of per-round ratios)", "value");
        println!("\n{head:<56} {value:>6}");
        let label = "deposit x1 p50 / raw commit p50";
        println!("{label:<56} {:>6.2}", self.p50_ratio());
        // Not for the hot account: its commands queue on the aggregate.
        for n in CLIENTS {
            let v = self.per_round(Figure::Spread(n), |s, r| s.rate / (n as f64 * r.rate));
            let label = format!("deposit x{n}: cmd/s / ({n} x raw commits/s)");
            println!("{label:<56} {v:>6.2}");
        }
    }

    /// The aims for the command path, each with its verdict. The peer
    /// comparison (1.5x cqrs-es) needs the peer running beside this server:
    /// `benches/peers/run.sh` measures both in one run.
    pub fn print_aims(&self) {
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        let rate = |n| self.mid(Figure::Spread(n), |s| s.rate);
        let p50_ms = |n| self.mid(Figure::Spread(n), |s| s.p50.as_secs_f64() * 1e3);
        let p99_ms = |n| self.mid(Figure::Spread(n), |s| s.p99.as_secs_f64() * 1e3);
        let (x64, p99) = (rate(64), p99_ms(64));
        println!("\naims:");
        let floor = CLIENTS[1..]
            .iter()
            .map(|&n| rate(n))
            .fold(f64::INFINITY, f64::min);
        let never_falls = CLIENTS[1..]
            .windows(2)
            .all(|w| rate(w[1]) >= rate(w[0]) * 0.95);
        println!(
            "  never falls from x8 to x256 (5 % noise allowed; lowest {floor:.0}): {}",
            verdict(never_falls)
        );
        if self.postgres {
            let met = verdict(x64 >= 4_000.0 && p99 < 50.0);
            println!("  x64 >= 4,000 cmd/s, p99 < 50 ms: {x64:.0}, {p99:.1} ms -> {met}");
            let p50 = p50_ms(1);
            println!("  x1 p50 < 1 ms: {p50:.2} ms -> {}", verdict(p50 < 1.0));
            println!("  x1, x8, x64 >= 1.5 x cqrs-es: see benches/peers/run.sh");
        } else {
            let met = verdict(x64 >= 6_000.0 && p99 < 25.0);
            println!("  x64 >= 6,000 cmd/s, p99 < 25 ms: {x64:.0}, {p99:.1} ms -> {met}");
            let hot = self.mid(Figure::Hot(64), |s| s.rate);
            println!(
                "  hot x64 >= 1,500 cmd/s: {hot:.0} -> {}",
                verdict(hot >= 1_500.0)
            );
            let slow = self.disk_states().ends_with("slow");
            let (p50, ratio) = (p50_ms(1), self.p50_ratio());
            if slow {
                let met = verdict(ratio <= 1.3);
                println!("  x1 p50 <= 1.3 x raw commit p50 (slow disk): {ratio:.2}x -> {met}");
            } else {
                println!(
                    "  x1 p50 <= 0.5 ms (fast disk): {p50:.2} ms -> {}",
                    verdict(p50 <= 0.5)
                );
            }
        }
    }
}
