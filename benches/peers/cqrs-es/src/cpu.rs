//! Where the machine's CPU went during a timed run: this benchmark's own
//! process (the clients, and for cqrs-es the whole system), the server
//! (`--pid`), every local PostgreSQL process, and the machine as a whole,
//! from `/proc`. With two cores shared by all of them, a system that is
//! short of CPU shows it here before anywhere else.

use std::collections::HashMap;
use std::error::Error;

use serde_json::{Value, json};

use crate::drive::round;

/// CPU time so far, in clock ticks.
pub struct Sample {
    own: u64,
    server: Option<u64>,
    /// Each `postgres` process by pid: backends come and go.
    postgres: HashMap<u32, u64>,
    /// The machine's busy and total ticks, over all its CPUs.
    machine: (u64, u64),
    cpus: usize,
}

impl Sample {
    pub fn take(server: Option<u32>) -> Result<Self, Box<dyn Error>> {
        Ok(Self {
            own: ticks(std::process::id())?,
            server: server.map(ticks).transpose()?,
            postgres: postgres()?,
            machine: machine()?,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
        })
    }

    /// Milliseconds of CPU per accepted command between `self` and the
    /// later `after`, by process, and how many of the machine's cores were
    /// busy on average (`/proc/stat`: all but idle and iowait).
    pub fn per_command(&self, after: &Sample, commands: u64) -> Value {
        if commands == 0 {
            return Value::Null;
        }
        let hz = clock_ticks();
        let ms = |ticks: u64| round(ticks as f64 / hz * 1000.0 / commands as f64, 4);
        let postgres: u64 = after
            .postgres
            .iter()
            .map(|(pid, t)| t - self.postgres.get(pid).copied().unwrap_or(0).min(*t))
            .sum();
        let (busy, total) = (
            after.machine.0 - self.machine.0,
            after.machine.1 - self.machine.1,
        );
        json!({
            "bench_process": ms(after.own - self.own),
            "server": self.server.zip(after.server).map(|(b, a)| ms(a - b)),
            "postgres": ms(postgres),
            "machine_busy_cores": (total > 0)
                .then(|| round(busy as f64 / total as f64 * self.cpus as f64, 2)),
        })
    }
}

/// User + system ticks of process `pid` (`/proc/PID/stat`).
pub fn ticks(pid: u32) -> Result<u64, Box<dyn Error>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    stat_ticks(&stat).ok_or_else(|| format!("unexpected /proc/{pid}/stat format").into())
}

/// utime + stime of a `/proc/PID/stat` line. The command name (field 2) is
/// in parentheses and may hold spaces: count the fields after its closing
/// one, where field 3 (the state) is the first, so utime (14) and stime
/// (15) are the 12th and 13th.
fn stat_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Every process named `postgres`, by pid. One that exits between the
/// listing and the read is skipped.
fn postgres() -> Result<HashMap<u32, u64>, Box<dyn Error>> {
    let mut found = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat.contains("(postgres)")
            && let Some(t) = stat_ticks(&stat)
        {
            found.insert(pid, t);
        }
    }
    Ok(found)
}

/// The machine's busy and total ticks, over all its CPUs (`/proc/stat`'s
/// first line: user nice system idle iowait irq softirq steal ...).
fn machine() -> Result<(u64, u64), Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().ok_or("empty /proc/stat")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let total: u64 = values.iter().sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// `getconf CLK_TCK` (100 on Linux almost everywhere).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}
