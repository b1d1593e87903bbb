//! How fast hostile requests are refused (the robustness issue's cases),
//! beside the round trip of a trivial query in the same run. Prints p50
//! and the slowest of 21 tries per case; asserts nothing.
//!
//! `cargo bench --bench limits` (SQLite; PostgreSQL too when
//! BENCH_DATABASE_URL is set).

use std::time::{Duration, Instant};

use chronicle::{AppState, Config, DatabaseArgs};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

#[path = "support/databases.rs"]
mod databases;

const TRIES: usize = 21;

#[tokio::main]
async fn main() {
    databases::each(8, |name, args| async move { run(name, &args).await }).await;
}

/// One request: a content type and a body.
struct Case {
    name: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

fn graphql(name: &'static str, query: String, variables: Value) -> Case {
    Case {
        name,
        content_type: "application/json",
        body: serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap(),
    }
}

fn cases() -> Vec<Case> {
    let deep_list = |n: usize| {
        format!(
            "{{ stats(x: {}{}) {{ totalEvents }} }}",
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let explosion = |levels: usize| {
        let mut doc = format!("query {{ ...F{levels} }} fragment F0 on Query {{ __typename }} ");
        for i in 1..=levels {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{p} ...F{p} }} ",
                p = i - 1
            ));
        }
        doc
    };
    let aliases: String = (0..1_000)
        .map(|i| format!("a{i}: events(first: 1000) {{ edges {{ node {{ id data }} }} }} "))
        .collect();
    let pages: String = (0..5)
        .map(|i| format!("p{i}: events(first: 1000) {{ edges {{ node {{ id streamId version position type data metadata recordedAt }} }} }} "))
        .collect();
    let nested = |depth: usize| {
        let mut v = json!(1);
        for _ in 0..depth {
            v = json!({ "a": v });
        }
        v
    };
    let append = "mutation($d: JSON!) { appendEvents(input: { streamId: \"bench-1\", events: [{ type: \"T\", data: $d }] }) { version } }";
    let types: Vec<String> = (0..500_000).map(|i| format!("T{i}")).collect();
    let filter = "query($f: EventFilter) { events(filter: $f) { edges { cursor } } }";
    let mut big = br#"{"query":"{ stats { totalEvents } }","variables":{"pad":""#.to_vec();
    big.resize(17 * 1024 * 1024, b'x');
    big.extend_from_slice(br#""}}"#);
    vec![
        graphql("1. list literal 2,000 deep (4 KB)", deep_list(2_000), json!({})),
        graphql("1. list literal 100,000 deep", deep_list(100_000), json!({})),
        graphql("2. fragments expanding to 2^24", explosion(24), json!({})),
        graphql("2. fragments expanding to 2^30", explosion(30), json!({})),
        graphql("3. 1,000 aliases of events(first: 1000)", format!("{{ {aliases} }}"), json!({})),
        graphql("3. 5 full pages of events (complexity)", format!("{{ {pages} }}"), json!({})),
        graphql("5. event data 33 deep", append.to_owned(), json!({ "d": nested(33) })),
        graphql("5. event data 129 deep", append.to_owned(), json!({ "d": nested(129) })),
        graphql(
            "6. openAccount(initialBalance: 92233720368547758.07)",
            r#"mutation { openAccount(input: { owner: "O", initialBalance: "92233720368547758.07" }) { version } }"#.to_owned(),
            json!({}),
        ),
        Case { name: "7. body `{`", content_type: "application/json", body: b"{".to_vec() },
        Case { name: "7. body `[null]`", content_type: "application/json", body: b"[null]".to_vec() },
        Case { name: "7. text/plain body", content_type: "text/plain", body: br#"{"query":"{ __typename }"}"#.to_vec() },
        graphql("8. NUL in an id", "query($id: ID!) { user(id: $id) { id } }".to_owned(), json!({ "id": "a\u{0}b" })),
        graphql("8. 500,000 filter types", filter.to_owned(), json!({ "f": { "types": types } })),
        graphql("8. 1 MB category", filter.to_owned(), json!({ "f": { "category": "c".repeat(1 << 20) } })),
        Case { name: "10. 17 MB body (413)", content_type: "application/json", body: big },
    ]
}

async fn run(name: &str, args: &DatabaseArgs) {
    let state = AppState::start(args, Config::default())
        .await
        .expect("start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(chronicle::serve(listener, state, std::future::pending()));
    let client = reqwest::Client::new();
    let baseline = graphql(
        "baseline: { __typename }",
        "{ __typename }".to_owned(),
        json!({}),
    );
    println!("\n{name}: time to refuse, over HTTP on loopback ({TRIES} tries each)");
    println!(
        "{:<52} {:>10} {:>10} {:>8}  answer",
        "case", "p50", "slowest", "÷ base"
    );
    let base = time(&client, &url, &baseline).await;
    report(&baseline, &base, &base);
    for case in cases() {
        let timing = time(&client, &url, &case).await;
        report(&case, &timing, &base);
    }
}

struct Timing {
    p50: Duration,
    max: Duration,
    answer: String,
}

async fn time(client: &reqwest::Client, url: &str, case: &Case) -> Timing {
    let mut samples = Vec::with_capacity(TRIES);
    let mut answer = String::new();
    for _ in 0..TRIES {
        let started = Instant::now();
        let response = client
            .post(url)
            .header(CONTENT_TYPE, case.content_type)
            .body(case.body.clone())
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        samples.push(started.elapsed());
        let error = &body["errors"][0]["extensions"];
        answer = match error["code"].as_str() {
            Some(code) => format!("{status} {code} {}", error["limit"].as_str().unwrap_or("")),
            None => format!("{status} ok"),
        };
    }
    samples.sort();
    Timing {
        p50: samples[TRIES / 2],
        max: samples[TRIES - 1],
        answer,
    }
}

fn report(case: &Case, timing: &Timing, base: &Timing) {
    println!(
        "{:<52} {:>8.2}ms {:>8.2}ms {:>7.1}x  {}",
        case.name,
        timing.p50.as_secs_f64() * 1e3,
        timing.max.as_secs_f64() * 1e3,
        timing.p50.as_secs_f64() / base.p50.as_secs_f64(),
        timing.answer
    );
}
