//! Server processes for the benches that run several nodes, and what they
//! use: CPU time of the nodes and of PostgreSQL read from `/proc`, the
//! machine's load, the commands' retries from each node's `/metrics`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::databases::TestDb;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One server process.
pub struct Node {
    pub id: String,
    pub url: String,
    child: Child,
}

/// CPU time used so far by the process `pid`, in seconds (utime + stime;
/// 100 ticks a second on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every PostgreSQL process on this machine.
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// What the processes used during a trial: CPU seconds of the nodes and of
/// PostgreSQL, and the commands' retries after a conflict.
#[derive(Default)]
pub struct Usage {
    pub nodes_cpu: f64,
    pub postgres_cpu: f64,
    pub retries: f64,
    /// The machine's busy and total jiffies (`/proc/stat`).
    pub host: (f64, f64),
}

/// Busy and total jiffies of all cores since boot.
fn host_jiffies() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = cpu.iter().sum();
    // idle and iowait are the 4th and 5th columns.
    let idle = cpu.get(3).copied().unwrap_or(0.0) + cpu.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

impl Usage {
    pub async fn read(http: &reqwest::Client, nodes: &[&Node]) -> Usage {
        let mut usage = Usage {
            postgres_cpu: postgres_cpu_seconds(),
            host: host_jiffies(),
            ..Usage::default()
        };
        for node in nodes {
            usage.nodes_cpu += node.child.id().map_or(0.0, cpu_seconds);
            usage.retries += retries(http, &node.url).await;
        }
        usage
    }

    /// The share of the machine's cores that were busy.
    pub fn host_busy(&self) -> f64 {
        self.host.0 / self.host.1.max(1.0)
    }

    pub fn since(&self, before: &Usage) -> Usage {
        Usage {
            nodes_cpu: self.nodes_cpu - before.nodes_cpu,
            postgres_cpu: self.postgres_cpu - before.postgres_cpu,
            retries: self.retries - before.retries,
            host: (self.host.0 - before.host.0, self.host.1 - before.host.1),
        }
    }
}

/// `chronicle_command_retries_total`, summed over its labels.
async fn retries(http: &reqwest::Client, url: &str) -> f64 {
    let Ok(response) = http.get(format!("{url}/metrics")).send().await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("chronicle_command_retries_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

impl Node {
    pub async fn start(db: &TestDb, id: &str) -> BenchResult<Node> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chronicle"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "text"])
            .args(["--node-id", id, "--database-url"])
            .arg(&db.args.database_url)
            .env("RUST_LOG", "warn,chronicle=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    return Ok::<_, std::io::Error>(url.to_owned());
                }
            }
            Err(std::io::Error::other("the server exited before listening"))
        })
        .await??;
        // Keep reading the log, or the server blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Node {
            id: id.to_owned(),
            url,
            child,
        })
    }

    /// SIGKILL, as `kill -9` does: no shutdown, no lock released by hand.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
