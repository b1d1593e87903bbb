//! Drives a running Chronicle server over HTTP: the same deposits, as
//! GraphQL mutations, each with a fresh `commandId` (as a retrying client
//! sends; or none, with `--server-command-ids`, as a client that never
//! retries would), through one shared connection pool.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::drive::{Done, drive, round};
use crate::peer::account_id;

const DEPOSIT: &str = "mutation($in: DepositInput!) { deposit(input: $in) { version } }";
const OPEN: &str = "mutation($in: OpenAccountInput!) { openAccount(input: $in) { version } }";

/// Drives a running Chronicle server over GraphQL.
#[derive(clap::Args)]
pub struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    #[command(flatten)]
    pub load: crate::drive::Load,
    /// The server's process id, to report its CPU time per 1,000 commands.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Send no `commandId`: the server picks each command's id.
    #[arg(long)]
    pub server_command_ids: bool,
}

pub async fn run(args: Args) -> Result<Value, Box<dyn Error>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.load.clients.max(256) * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let endpoint: Arc<str> = format!("{}/graphql", args.url.trim_end_matches('/')).into();

    open_accounts(&http, &endpoint, args.load.accounts).await?;

    let lock_before = write_lock(&http, &args.url).await;
    let cpu_before = args.pid.map(cpu_seconds).transpose()?;
    let (client, url) = (http.clone(), endpoint.clone());
    let client_ids = !args.server_command_ids;
    let mut run = drive(
        args.load.clients,
        args.load.seconds,
        args.load.accounts,
        move |k| {
            let (http, url) = (client.clone(), url.clone());
            async move { deposit(&http, &url, k, client_ids).await }
        },
    )
    .await;
    let cpu_after = args.pid.map(cpu_seconds).transpose()?;
    let lock_after = write_lock(&http, &args.url).await;
    run.report_errors();

    let mut line = run.summary("chronicle", args.load.clients, args.load.accounts);
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let cpu = after - before;
        line["server_cpu_s"] = json!(round(cpu, 3));
        line["server_cpu_s_per_1000"] = if run.commands() > 0 {
            json!(round(cpu * 1000.0 / run.commands() as f64, 4))
        } else {
            Value::Null
        };
    }
    // SQLite only: how long each holder held the write lock during the run.
    // A server whose `/metrics` cannot be read gives no such field, rather
    // than failing a run whose other figures stand.
    if let (Ok(before), Ok(after)) = (lock_before, lock_after) {
        let held: serde_json::Map<String, Value> = after
            .iter()
            .map(|(holder, after)| {
                let before = before.get(holder).copied().unwrap_or(0.0);
                (holder.clone(), json!(round(after - before, 4)))
            })
            .collect();
        line["lock_held_s"] = Value::Object(held);
    }
    Ok(line)
}

/// The server's `chronicle_write_turn_held_seconds_sum` by holder, from
/// `/metrics` (none on PostgreSQL, whose writers take no process-wide turn).
async fn write_lock(
    http: &reqwest::Client,
    base_url: &str,
) -> Result<std::collections::BTreeMap<String, f64>, Box<dyn Error>> {
    const FAMILY: &str = "chronicle_write_turn_held_seconds_sum{holder=\"";
    let url = format!("{}/metrics", base_url.trim_end_matches('/'));
    let text = http
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(FAMILY)?;
            let (holder, value) = rest.split_once("\"} ")?;
            Some((holder.to_owned(), value.trim().parse().ok()?))
        })
        .collect())
}

async fn deposit(http: &reqwest::Client, url: &str, k: usize, client_id: bool) -> Done {
    let mut input = json!({ "accountId": account_id(k), "amount": "1.00" });
    if client_id {
        input["commandId"] = json!(Uuid::new_v4().to_string());
    }
    let body = json!({ "query": DEPOSIT, "variables": { "in": input } });
    let error = post(http, url, &body).await.err();
    let conflicts = u64::from(error.as_deref() == Some("CONCURRENCY_CONFLICT"));
    Done { conflicts, error }
}

/// The response's `data`, or the error: the first GraphQL error's code (or
/// message), the HTTP status, or the transport's error.
async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Result<Value, String> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("response body: {e}"))?;
    let Ok(mut value) = serde_json::from_str::<Value>(&text) else {
        return Err(format!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        ));
    };
    if let Some(first) = value.get("errors").and_then(|e| e.get(0)) {
        let code = first.pointer("/extensions/code").and_then(Value::as_str);
        let message = first.get("message").and_then(Value::as_str);
        return Err(code.or(message).unwrap_or("error").to_owned());
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    Ok(value["data"].take())
}

/// Opens `acct-0` .. `acct-{n-1}` (16 at a time); ALREADY_EXISTS is fine.
async fn open_accounts(
    http: &reqwest::Client,
    url: &Arc<str>,
    n: usize,
) -> Result<(), Box<dyn Error>> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (http, url, next) = (http.clone(), url.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= n {
                        return Ok(());
                    }
                    let body = json!({
                        "query": OPEN,
                        "variables": { "in": {
                            "accountId": account_id(k),
                            "owner": format!("Owner {k}"),
                            "currency": "USD",
                            "initialBalance": "0",
                            "commandId": Uuid::new_v4().to_string(),
                        } },
                    });
                    match post(&http, &url, &body).await {
                        Ok(_) => {}
                        Err(code) if code == "ALREADY_EXISTS" => {}
                        Err(e) => return Err(format!("opening {}: {e}", account_id(k))),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// CPU time (user + system) of process `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64, Box<dyn Error>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count the fields after its closing one. There, field 3 (the state) is
    // the first, so utime (14) and stime (15) are the 12th and 13th.
    let after = stat
        .rsplit_once(')')
        .ok_or("unexpected /proc/PID/stat format")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64, Box<dyn Error>> {
        Ok(fields.get(i).ok_or("/proc/PID/stat too short")?.parse()?)
    };
    Ok((ticks(11)? + ticks(12)?) as f64 / clock_ticks())
}

/// `getconf CLK_TCK` (100 on Linux almost everywhere).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}
