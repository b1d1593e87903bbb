//! Drives a running Chronicle server over HTTP: the same deposits, as
//! GraphQL mutations, each with a fresh `commandId` (as a retrying client
//! sends; or none, with `--server-command-ids`, as a client that never
//! retries would), through one shared connection pool.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::cpu::Sample;
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
    /// Send `{ __typename }` instead of deposits: HTTP and GraphQL with no
    /// command and no database, the floor under every command's latency.
    #[arg(long)]
    pub floor: bool,
}

pub async fn run(args: Args) -> Result<Value, Box<dyn Error>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.load.clients.max(256) * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    let endpoint: Arc<str> = format!("{}/graphql", args.url.trim_end_matches('/')).into();

    open_accounts(&http, &endpoint, args.load.accounts).await?;

    let metrics_before = scrape(&http, &args.url).await;
    let cpu_before = Sample::take(args.pid)?;
    let (client, url) = (http.clone(), endpoint.clone());
    let client_ids = !args.server_command_ids;
    let floor = args.floor;
    let mut run = drive(
        args.load.clients,
        args.load.seconds,
        args.load.accounts,
        move |k| {
            let (http, url) = (client.clone(), url.clone());
            async move {
                if floor {
                    typename(&http, &url).await
                } else {
                    deposit(&http, &url, k, client_ids).await
                }
            }
        },
    )
    .await;
    let cpu_after = Sample::take(args.pid)?;
    let metrics_after = scrape(&http, &args.url).await;
    run.report_errors();

    let system = if floor {
        "chronicle-floor"
    } else {
        "chronicle"
    };
    let mut line = run.summary(system, args.load.clients, args.load.accounts);
    line["cpu_ms_per_command"] = cpu_before.per_command(&cpu_after, run.commands());
    // What the server's own histograms saw during the run. A server whose
    // `/metrics` cannot be read gives no such fields, rather than failing a
    // run whose other figures stand.
    if let (Ok(before), Ok(after)) = (metrics_before, metrics_after) {
        let run = Delta { before, after };
        // SQLite only: how long each holder held the write lock.
        line["lock_held_s"] = Value::Object(
            run.sums_by_label(HELD, "holder")
                .into_iter()
                .map(|(holder, s)| (holder, json!(round(s, 4))))
                .collect(),
        );
        line["server_mean_ms"] = json!({
            "http_mutation": run.mean_ms("chronicle_http_request_duration_seconds{operation_type=\"mutation\"}"),
            "http_query": run.mean_ms("chronicle_http_request_duration_seconds{operation_type=\"query\"}"),
            "command": run.mean_ms("chronicle_command_duration_seconds{type=\"deposit\"}"),
            "append_commit": run.mean_ms("chronicle_append_commit_seconds"),
        });
        line["commands_per_batch"] =
            json!(run.mean("chronicle_append_batch_jobs").map(|m| round(m, 2)));
    }
    Ok(line)
}

const HELD: &str = "chronicle_write_turn_held_seconds";

/// The `_sum` and `_count` series of the server's histograms, by name with
/// labels (`chronicle_append_commit_seconds_sum`,
/// `chronicle_write_turn_held_seconds_sum{holder="events"}`), from
/// `/metrics`.
async fn scrape(
    http: &reqwest::Client,
    base_url: &str,
) -> Result<BTreeMap<String, f64>, Box<dyn Error>> {
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
        .filter(|line| line.starts_with("chronicle_"))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            if !(name.ends_with("_sum") || name.ends_with("_count")) {
                return None;
            }
            Some((series.to_owned(), value.trim().parse().ok()?))
        })
        .collect())
}

/// Two scrapes of `/metrics`, around the timed run.
struct Delta {
    before: BTreeMap<String, f64>,
    after: BTreeMap<String, f64>,
}

impl Delta {
    /// How much `series` grew during the run.
    fn grew(&self, series: &str) -> Option<f64> {
        let after = *self.after.get(series)?;
        Some(after - self.before.get(series).copied().unwrap_or(0.0))
    }

    /// The mean of what histogram `series` (name and labels, without the
    /// `_sum` suffix) recorded during the run; none if it recorded nothing.
    fn mean(&self, series: &str) -> Option<f64> {
        let (name, labels) = series.split_at(series.find('{').unwrap_or(series.len()));
        let sum = self.grew(&format!("{name}_sum{labels}"))?;
        let count = self.grew(&format!("{name}_count{labels}"))?;
        (count > 0.0).then(|| sum / count)
    }

    fn mean_ms(&self, series: &str) -> Option<f64> {
        self.mean(series).map(|s| round(s * 1000.0, 3))
    }

    /// What histogram `name` summed during the run, by the value of `label`.
    fn sums_by_label(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        let prefix = format!("{name}_sum{{{label}=\"");
        self.after
            .keys()
            .filter_map(|series| {
                let value = series.strip_prefix(&prefix)?.split('"').next()?;
                Some((value.to_owned(), self.grew(series)?))
            })
            .collect()
    }
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

async fn typename(http: &reqwest::Client, url: &str) -> Done {
    let body = json!({ "query": "{ __typename }" });
    let error = post(http, url, &body).await.err();
    Done {
        conflicts: 0,
        error,
    }
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
