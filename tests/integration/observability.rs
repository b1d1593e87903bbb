//! What operators read: the Prometheus exposition (checked as promtool
//! checks it: declared families, counters named `_total`, histograms
//! rather than summaries, cumulative buckets ending at `+Inf`), request
//! ids echoed and carried into JSON log lines with the operation's name
//! and type, and health as JSON when asked.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use crate::commands_support::{open_account, run};
use crate::common::{TestServer, databases};
use crate::node::Node;

/// One family of the exposition.
#[derive(Default, Debug)]
struct Family {
    kind: String,
    help: bool,
    /// Samples: the sample's name and labels, its value.
    samples: Vec<(String, String, f64)>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The family a sample belongs to: histograms' series carry suffixes.
fn family_of<'a>(sample: &'a str, families: &HashMap<String, Family>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix)
            && families.get(base).is_some_and(|f| f.kind == "histogram")
        {
            return base;
        }
    }
    sample
}

/// Parses the text exposition, failing on anything promtool would flag.
fn parse_exposition(text: &str) -> HashMap<String, Family> {
    let mut families: HashMap<String, Family> = HashMap::new();
    let mut series = HashSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.trim().is_empty(), "{name} has an empty HELP");
            families.entry(name.into()).or_default().help = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "{name} is a {kind}: summaries cannot be aggregated across nodes"
            );
            let family = families.entry(name.into()).or_default();
            assert!(family.samples.is_empty(), "{name}: TYPE after its samples");
            family.kind = kind.into();
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line {line:?}");
        let (series_key, value) = line.rsplit_once(' ').expect("a sample and its value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        assert!(
            series.insert(series_key.to_owned()),
            "duplicate series {series_key}"
        );
        let (name, labels) = match series_key.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series_key, ""),
        };
        assert!(valid_name(name), "bad metric name {name:?}");
        let base = family_of(name, &families).to_owned();
        let family = families
            .get_mut(&base)
            .unwrap_or_else(|| panic!("{name} has no TYPE"));
        assert!(family.help, "{base} has no HELP");
        family.samples.push((name.into(), labels.into(), value));
    }
    for (name, family) in &families {
        if family.kind == "counter" {
            assert!(
                name.ends_with("_total"),
                "counter {name} must end in _total"
            );
        }
        if family.kind == "histogram" {
            check_histogram(name, family);
        }
    }
    families
}

/// Buckets per label set are cumulative, end at +Inf, and +Inf equals
/// the count.
fn check_histogram(name: &str, family: &Family) {
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: HashMap<String, f64> = HashMap::new();
    for (sample, labels, value) in &family.samples {
        if sample.ends_with("_bucket") {
            let mut rest = Vec::new();
            let mut le = None;
            for label in labels.split(',').filter(|l| !l.is_empty()) {
                match label.strip_prefix("le=") {
                    Some(bound) => {
                        let bound = bound.trim_matches('"');
                        le = Some(if bound == "+Inf" {
                            f64::INFINITY
                        } else {
                            bound.parse().expect("le")
                        });
                    }
                    None => rest.push(label),
                }
            }
            let le = le.unwrap_or_else(|| panic!("{name}: a bucket without le"));
            buckets
                .entry(rest.join(","))
                .or_default()
                .push((le, *value));
        } else if sample.ends_with("_count") {
            counts.insert(labels.clone(), *value);
        }
    }
    assert!(!buckets.is_empty(), "{name}: a histogram without buckets");
    for (labels, series) in &buckets {
        let mut series = series.clone();
        series.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        assert!(
            series.windows(2).all(|w| w[0].1 <= w[1].1),
            "{name}{{{labels}}}: buckets not cumulative"
        );
        let (last_le, last) = *series.last().unwrap();
        assert_eq!(last_le, f64::INFINITY, "{name}{{{labels}}}: no +Inf bucket");
        assert_eq!(
            Some(&last),
            counts.get(labels),
            "{name}{{{labels}}}: +Inf is not the count"
        );
    }
}

fn labelled<'a>(
    families: &'a HashMap<String, Family>,
    name: &str,
    label: &str,
) -> Vec<&'a (String, String, f64)> {
    let family = families
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in /metrics"));
    family
        .samples
        .iter()
        .filter(|(_, labels, _)| labels.contains(label))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exposition_is_valid_and_has_the_histograms_gauges_and_counts_operators_need() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        open_account(&server, "m1", "10.00", "USD").await;
        run(
            &server,
            "deposit",
            json!({ "accountId": "m1", "amount": "1.00" }),
        )
        .await;
        server.gql("{ stats { totalEvents } }", json!({})).await;
        let text = server
            .client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let families = parse_exposition(&text);

        for histogram in [
            "chronicle_command_duration_seconds",
            "chronicle_append_commit_seconds",
            "chronicle_append_batch_jobs",
            "chronicle_http_request_duration_seconds",
        ] {
            assert_eq!(
                families.get(histogram).map(|f| f.kind.as_str()),
                Some("histogram"),
                "{}: {histogram}",
                db.name
            );
        }
        if db.name == "sqlite" {
            // How the one write lock is shared: the event writer's turns and
            // the read models', each a histogram by holder.
            for family in [
                "chronicle_write_turn_wait_seconds",
                "chronicle_write_turn_held_seconds",
            ] {
                for holder in ["holder=\"events\"", "holder=\"read_models\""] {
                    let samples = labelled(&families, family, holder);
                    assert!(!samples.is_empty(), "{family} {holder}");
                }
            }
        }
        for projection in [
            "AccountBalances",
            "TransactionHistory",
            "DailySummary",
            "Users",
        ] {
            let label = format!("projection=\"{projection}\"");
            assert_eq!(
                labelled(&families, "chronicle_projection_position", &label).len(),
                1
            );
            assert_eq!(
                labelled(&families, "chronicle_projection_lag_events", &label).len(),
                1
            );
        }
        assert!(
            !labelled(
                &families,
                "chronicle_http_requests_total",
                "operation_type=\"mutation\""
            )
            .is_empty()
        );
        assert!(
            !labelled(
                &families,
                "chronicle_http_requests_total",
                "operation_type=\"query\""
            )
            .is_empty()
        );
        for gauge in [
            "chronicle_websocket_connections",
            "chronicle_websocket_operations",
        ] {
            assert_eq!(
                families.get(gauge).map(|f| f.kind.as_str()),
                Some("gauge"),
                "{gauge}"
            );
        }
        let hits_and_misses: f64 = [
            "chronicle_aggregate_cache_hits_total",
            "chronicle_aggregate_cache_misses_total",
        ]
        .iter()
        .filter_map(|name| families.get(*name))
        .flat_map(|f| f.samples.iter().map(|s| s.2))
        .sum();
        assert!(hits_and_misses >= 2.0, "two commands loaded an aggregate");
        server.stop().await;
    }
}

/// GETs `path` asking for JSON.
async fn json_at(server: &TestServer, path: &str) -> Value {
    let response = server
        .client
        .get(server.url(path))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_echoed_or_made_and_health_answers_json_when_asked() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let sent = server
            .client
            .post(server.url("/graphql"))
            .header("X-Request-Id", "client-id-7")
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.headers()["x-request-id"], "client-id-7");
        let made = server
            .client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap();
        let id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(uuid::Uuid::parse_str(&id).map(|_| ()), Ok(()), "{id}");
        assert_eq!(made.text().await.unwrap(), "ok");

        let health = json_at(&server, "/health").await;
        assert_eq!(health, json!({ "status": "ok" }));
        // A node is unready until its LISTEN connection is up (PostgreSQL),
        // which may take a moment after start-up.
        let started = std::time::Instant::now();
        let ready = loop {
            let ready = json_at(&server, "/ready").await;
            if ready["status"] == "ready" || started.elapsed() > std::time::Duration::from_secs(10)
            {
                break ready;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(ready["status"], "ready", "{}: {ready}", db.name);
        assert_eq!(ready["database"]["status"], "up");
        assert_eq!(
            ready["projections"].as_array().map(Vec::len),
            Some(4),
            "{ready}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_the_request_id_and_the_operation() {
    let db = databases().await.into_iter().next().expect("SQLite");
    let node = Node::start_with(&db, &["--log-format", "json"]).await;
    let client = reqwest::Client::new();
    let body = json!({ "query": "query Totals { stats { totalEvents } }" });
    let response = client
        .post(format!("{}/graphql", node.url))
        .header("X-Request-Id", "trace-me-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        let found = node
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("trace-me-42") && l.contains("graphql operation"))
            .cloned();
        if let Some(line) = found {
            break line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no log line names the request: {:?}",
            node.log.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let parsed: Value = serde_json::from_str(&line).expect("a JSON log line");
    let spans = parsed["spans"]
        .as_array()
        .expect("the spans it was logged in");
    assert!(
        spans.iter().any(|s| s["request_id"] == "trace-me-42"),
        "{line}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s["operation_name"] == "Totals" && s["operation_type"] == "query"),
        "{line}"
    );
    let log = node.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok() && !l.contains('\u{1b}')),
        "every line is JSON without ANSI codes"
    );
    node.kill().await;
}
