//! Generated requests against the real server, on both databases: token
//! soup, plausible operations with hostile arguments, and arbitrary
//! variables. Whatever comes in, no answer is a 5xx or an INTERNAL error,
//! every error carries a code, the process stays up, a rejected request
//! changes nothing, and every accepted event reads back exactly as sent.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::common::{TestServer, databases};

/// Cases per database: enough to reach every generator branch many times
/// while the suite stays within its time budget. `FUZZ_CASES` runs more.
const CASES: u32 = 1_500;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES)
}

const FIELDS: &[&str] = &[
    "stats",
    "events",
    "event",
    "stream",
    "account",
    "accounts",
    "accountAt",
    "transactions",
    "dailySummaries",
    "user",
    "users",
    "command",
    "commands",
    "projections",
    "projection",
    "snapshots",
    "totalEvents",
    "edges",
    "node",
    "id",
    "data",
    "metadata",
    "cursor",
    "pageInfo",
    "hasNextPage",
    "balance",
    "version",
    "position",
    "__typename",
    "__schema",
    "types",
    "name",
    "appendEvents",
    "deposit",
    "openAccount",
    "withdraw",
    "transfer",
    "rebuildProjection",
];
const ARGS: &[&str] = &[
    "first",
    "after",
    "afterPosition",
    "id",
    "filter",
    "minPosition",
    "name",
    "input",
    "last",
    "before",
    "direction",
    "fromVersion",
    "streamId",
    "types",
    "category",
    "asOf",
    "from",
    "to",
];

/// A JSON value of any shape, nesting up to `depth`, with the strings and
/// numbers that trip databases and parsers.
fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        tricky_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(tricky_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 _-]{0,12}",
        1 => Just("a\u{0}b".to_owned()),
        1 => Just("%_\\".to_owned()),
        1 => Just("💥\u{202e}\u{feff}".to_owned()),
        1 => Just("account-1".to_owned()),
        1 => Just("x".repeat(300)),
        1 => any::<String>(),
    ]
}

/// A GraphQL literal, possibly very deep.
fn literal() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("99999999999999999999999999".to_owned()),
        Just("1.5e308".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("FORWARD".to_owned()),
        Just("$v".to_owned()),
        tricky_string().prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"\\u0000\"".to_owned()),
        Just("\"\"\"block \\\"\"\" string\"\"\"".to_owned()),
    ];
    let nested = leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((prop::sample::select(ARGS), inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", fields.join(", "))
            }),
        ]
    });
    prop_oneof![
        8 => nested,
        1 => (50usize..3_000).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
        1 => (50usize..3_000).prop_map(|n| format!("{}1{}", "{a: ".repeat(n), "}".repeat(n))),
    ]
}

/// A selection set, possibly with aliases, arguments and fragments.
fn selection(depth: u32) -> BoxedStrategy<String> {
    let field = (
        prop::option::of("[a-z]{1,4}"),
        prop::sample::select(FIELDS),
        prop::collection::vec((prop::sample::select(ARGS), literal()), 0..3),
    )
        .prop_map(|(alias, name, args)| {
            let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
            let args: Vec<String> = args.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            format!("{alias}{name}{args}")
        });
    if depth == 0 {
        return prop::collection::vec(field, 1..4)
            .prop_map(|fields| format!("{{ {} }}", fields.join(" ")))
            .boxed();
    }
    prop::collection::vec((field, prop::option::of(selection(depth - 1))), 1..4)
        .prop_map(|items| {
            let items: Vec<String> = items
                .into_iter()
                .map(|(f, sub)| format!("{f} {}", sub.unwrap_or_default()))
                .collect();
            format!("{{ {} }}", items.join(" "))
        })
        .boxed()
}

fn document() -> impl Strategy<Value = String> {
    let operation = prop_oneof![
        Just("query"),
        Just("mutation"),
        Just("subscription"),
        Just("")
    ];
    let plausible = (operation, selection(3)).prop_map(|(op, sel)| {
        if op.is_empty() {
            sel
        } else {
            format!("{op}($v: JSON) {sel}")
        }
    });
    let soup = prop::collection::vec(
        prop_oneof![
            prop::sample::select(FIELDS).prop_map(str::to_owned),
            prop::sample::select(
                &[
                    "{",
                    "}",
                    "(",
                    ")",
                    "[",
                    "]",
                    ":",
                    "...",
                    "$v",
                    "@skip(if: true)",
                    "fragment F on Query",
                    "on",
                    "#",
                    "\"",
                    "\n"
                ][..]
            )
            .prop_map(str::to_owned),
            literal(),
        ],
        0..40,
    )
    .prop_map(|tokens| tokens.join(" "));
    let explosion = (1usize..40).prop_map(|levels| {
        let mut doc = format!("query {{ ...F{levels} }} fragment F0 on Query {{ __typename }} ");
        for i in 1..=levels {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{p} ...F{p} }} ",
                p = i - 1
            ));
        }
        doc
    });
    prop_oneof![6 => plausible, 3 => soup, 1 => explosion]
}

/// An append this test can read back: a stream of its own, events with
/// generated data and metadata.
fn append() -> impl Strategy<Value = (Vec<(String, Value, Value)>, Option<i64>)> {
    let event = ("[A-Za-z][A-Za-z0-9]{0,10}", json_value(5), json_value(3));
    (
        prop::collection::vec(event, 1..4),
        prop::option::of(prop_oneof![Just(0i64), Just(1), Just(-1), any::<i64>()]),
    )
}

#[derive(Debug, Clone)]
enum Case {
    Document {
        query: String,
        variables: Value,
    },
    Append {
        events: Vec<(String, Value, Value)>,
        expected: Option<i64>,
    },
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        3 => (document(), json_value(4)).prop_map(|(query, v)| Case::Document { query, variables: json!({ "v": v }) }),
        1 => append().prop_map(|(events, expected)| Case::Append { events, expected }),
    ]
}

#[test]
fn generated_requests_never_break_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for db in rt.block_on(databases()) {
        let server = rt.block_on(TestServer::start(&db));
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let counter = std::sync::atomic::AtomicU64::new(0);
        let result = runner.run(&case(), |case| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            rt.block_on(check(&server, case, n))
        });
        if let Err(err) = result {
            panic!("on {}: {err}", db.name);
        }
        rt.block_on(server.stop());
    }
}

async fn check(server: &TestServer, case: Case, n: u64) -> Result<(), TestCaseError> {
    let before = head(server).await?;
    match case {
        Case::Document { query, variables } => {
            let body = post(server, json!({ "query": query, "variables": variables })).await?;
            let mutated = body["data"].as_object().is_some_and(|d| !d.is_empty())
                && query.trim_start().starts_with("mutation");
            if !mutated {
                prop_assert_eq!(
                    head(server).await?,
                    before,
                    "a request that changed nothing moved the head: {}",
                    body
                );
            }
        }
        Case::Append { events, expected } => {
            let stream = format!("fuzz-{n}");
            let input: Vec<Value> = events
                .iter()
                .map(|(t, data, meta)| json!({ "type": t, "data": data, "metadata": meta }))
                .collect();
            let body = post(
                server,
                json!({
                    "query": crate::common::APPEND_EVENTS,
                    "variables": { "input": { "streamId": stream, "expectedVersion": expected, "events": input } },
                }),
            )
            .await?;
            if body.get("errors").is_some() {
                prop_assert_eq!(
                    head(server).await?,
                    before,
                    "a refused append moved the head: {}",
                    body
                );
            } else {
                read_back(server, &stream, &events).await?;
            }
        }
    }
    if n.is_multiple_of(100) {
        let health = server.client.get(server.url("/health")).send().await;
        prop_assert!(
            health.is_ok_and(|r| r.status() == 200),
            "/health stopped answering"
        );
    }
    Ok(())
}

/// POSTs and checks the answer's shape: JSON, not a 5xx, codes on every
/// error, never INTERNAL.
async fn post(server: &TestServer, body: Value) -> Result<Value, TestCaseError> {
    let response = server
        .client
        .post(server.url("/graphql"))
        .json(&body)
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    prop_assert!(
        !status.is_server_error(),
        "{} for {}: {}",
        status,
        body,
        text
    );
    let answer: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
    for error in answer["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"].as_str();
        prop_assert!(code.is_some(), "an error without a code: {}", error);
        prop_assert_ne!(code, Some("INTERNAL"), "for {}: {}", body, error);
    }
    Ok(answer)
}

async fn head(server: &TestServer) -> Result<i64, TestCaseError> {
    let r = server.gql("{ stats { headPosition } }", json!({})).await;
    r["data"]["stats"]["headPosition"]
        .as_i64()
        .ok_or_else(|| TestCaseError::fail(format!("no head: {r}")))
}

/// Equal as JSON values: numbers by the value they denote, not by how
/// they were written. PostgreSQL's `jsonb` keeps a number's value, not its
/// text: `-1.134896251168104e+17` comes back as `-113489625116810400`,
/// which serde_json reads as an integer, the same number.
fn same_json(read: &Value, sent: &Value) -> bool {
    match (read, sent) {
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            a.as_f64() == b.as_f64()
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_json(x, y)))
        }
        _ => read == sent,
    }
}

async fn read_back(
    server: &TestServer,
    stream: &str,
    sent: &[(String, Value, Value)],
) -> Result<(), TestCaseError> {
    let r = server
        .gql(
            "query($s: ID!) { stream(id: $s) { events { edges { node { type data metadata upcastError } } } } }",
            json!({ "s": stream }),
        )
        .await;
    let edges = r["data"]["stream"]["events"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    prop_assert_eq!(edges.len(), sent.len(), "{}", r);
    for (edge, (event_type, data, meta)) in edges.iter().zip(sent) {
        let node = &edge["node"];
        prop_assert_eq!(&node["type"], &json!(event_type));
        prop_assert!(
            same_json(&node["data"], data),
            "data of {}: {} read back as {}",
            stream,
            data,
            node["data"]
        );
        prop_assert_eq!(&node["upcastError"], &Value::Null);
        if let Value::Object(meta) = meta {
            for (k, v) in meta {
                prop_assert!(
                    same_json(&node["metadata"][k], v),
                    "metadata {} of {}: {} read back as {}",
                    k,
                    stream,
                    v,
                    node["metadata"][k]
                );
            }
        }
    }
    Ok(())
}
