//! Writes that once broke the store for good: a generic event reusing an
//! aggregate's type name, event data nested past what the decoder reads,
//! amounts whose sums overflow a read model. Now a generic append can never
//! change what a read model shows, whatever the store accepts it reads back
//! through every path, every fold is total, and a projection wedged on an
//! event an operator can skip.

use std::time::Duration;

use chronicle::{ExpectedVersion, NewEvent, StreamId};
use serde_json::{Value, json};

use crate::common::{TestServer, databases, error_code};
use crate::read_model_fold::head;
use crate::ws_client::{Protocol, WsClient};

const PROJECTIONS: &str = "{ projections { name status position lastError failedPosition } }";

async fn projections(server: &TestServer) -> Vec<Value> {
    let r = server.gql(PROJECTIONS, json!({})).await;
    TestServer::data(&r)["projections"]
        .as_array()
        .expect("projections")
        .clone()
}

/// Waits until every projection is at `position` (RUNNING), or panics
/// with their state.
async fn all_running_at(server: &TestServer, position: i64, label: &str) {
    let mut last = Vec::new();
    for _ in 0..200 {
        last = projections(server).await;
        if last
            .iter()
            .all(|p| p["status"] == "RUNNING" && p["position"] == position)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{label}: projections are not all RUNNING at {position}: {last:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generic_event_reusing_an_aggregate_type_never_reaches_a_read_model() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        let opened = server
            .gql(
                r#"mutation { openAccount(input: { accountId: "real", owner: "Ada", initialBalance: "5.00" }) { position } }"#,
                json!({}),
            )
            .await;
        TestServer::data(&opened);
        // Shaped like nothing, like v1, and like v2 of an account's deposit.
        for data in [
            json!({}),
            json!({ "amount": 7 }),
            json!({ "amount": 700, "currency": "USD" }),
        ] {
            server
                .append(
                    "evil-1",
                    json!([{ "type": "MoneyDeposited", "data": data }]),
                )
                .await;
            server
                .append("evil-1", json!([{ "type": "AccountOpened", "data": data }]))
                .await;
        }
        let last = server
            .append(
                "accounts-2",
                json!([{ "type": "MoneyDeposited", "data": {} }]),
            )
            .await;
        let position = last["position"].as_i64().unwrap();
        all_running_at(&server, position, label).await;
        // Reads of the log, the stream and with minPosition all answer.
        let r = server
            .gql(
                "query($p: Long) { events(afterPosition: 0) { edges { node { streamId type schemaVersion upcastError } } }
                   stream(id: \"evil-1\") { version events { edges { node { data upcastError } } } }
                   account(id: \"real\", minPosition: $p) { balance transactionCount }
                   accounts(first: 10) { edges { node { id } } } }",
                json!({ "p": position }),
            )
            .await;
        let data = TestServer::data(&r);
        assert_eq!(data["stream"]["version"], 6, "{label}: {r}");
        for edge in data["events"]["edges"].as_array().unwrap() {
            assert_eq!(edge["node"]["upcastError"], Value::Null, "{label}: {edge}");
        }
        assert_eq!(data["account"]["balance"], "5.00", "{label}");
        assert_eq!(data["account"]["transactionCount"], 1, "{label}");
        assert_eq!(
            data["accounts"]["edges"].as_array().unwrap().len(),
            1,
            "{label}"
        );
        // Spelled like an aggregate category in another case: refused, so
        // that no reader takes it for one.
        for stream in ["Account-f1", "USER-1", "UserEmail-x"] {
            let r = server
                .try_append(json!({ "streamId": stream, "events": [{ "type": "MoneyDeposited", "data": { "amount": 1 } }] }))
                .await;
            assert_eq!(
                error_code(&r),
                Some("BAD_USER_INPUT"),
                "{label} {stream}: {r}"
            );
        }
        server.stop().await;
    }
}

/// `{"a": {"a": ... 1}}`, `depth` objects deep.
fn nested(depth: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..depth {
        value = json!({ "a": value });
    }
    value
}

/// The same as a GraphQL literal.
fn nested_literal(depth: usize) -> String {
    format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_data_at_the_nesting_bound_reads_back_everywhere_and_past_it_is_refused() {
    let bound = chronicle::EventLimits::default().max_event_depth as usize;
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        // Past the bound: by variables (JSON) and by literal.
        let r = server
            .try_append(json!({ "streamId": "deep-1", "events": [{ "type": "Deep", "data": nested(bound + 1) }] }))
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        // Past what a JSON body may nest at all, the body itself is refused.
        let r = server
            .try_append(json!({ "streamId": "deep-1", "events": [{ "type": "Deep", "data": nested(129) }] }))
            .await;
        assert_eq!(error_code(&r), Some("BAD_REQUEST"), "{label}: {r}");
        let literal = format!(
            "mutation {{ appendEvents(input: {{ streamId: \"deep-1\", events: [{{ type: \"Deep\", data: {} }}] }}) {{ version }} }}",
            nested_literal(bound + 1)
        );
        let r = server.gql(&literal, json!({})).await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        let r = server
            .try_append(json!({ "streamId": "deep-1", "events": [{ "type": "Deep", "data": {}, "metadata": { "m": nested(bound) } }] }))
            .await;
        assert_eq!(
            error_code(&r),
            Some("BAD_USER_INPUT"),
            "{label}: metadata {r}"
        );
        assert_eq!(server.total_events().await, 0, "{label}");

        // At the bound, through a subscription that is already listening.
        let mut client = WsClient::connect(server.addr, Protocol::TransportWs).await;
        let id = client
            .subscribe(
                "subscription { eventAppended(filter: { category: \"deep\" }) { position data } }",
                json!({}),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let at_bound = nested(bound);
        let appended = server
            .append("deep-1", json!([{ "type": "Deep", "data": at_bound, "metadata": { "m": nested(bound - 1) } }]))
            .await;
        let position = appended["position"].as_i64().unwrap();
        assert_eq!(appended["events"][0]["data"], at_bound, "{label}");
        let (got, data) = client.next_data().await;
        assert_eq!(got, id);
        assert_eq!(data["eventAppended"]["data"], at_bound, "{label}: live");
        client.close().await;
        // The stream, the log, the event by id, a catch-up subscription.
        let event_id = appended["events"][0]["id"].clone();
        let r = server
            .gql(
                "query($id: ID!) { stream(id: \"deep-1\") { events { edges { node { data metadata } } } }
                   events(afterPosition: 0) { edges { node { data } } } event(id: $id) { data } }",
                json!({ "id": event_id }),
            )
            .await;
        let data = TestServer::data(&r);
        assert_eq!(
            data["stream"]["events"]["edges"][0]["node"]["data"], at_bound,
            "{label}"
        );
        assert_eq!(
            data["stream"]["events"]["edges"][0]["node"]["metadata"]["m"],
            nested(bound - 1)
        );
        assert_eq!(
            data["events"]["edges"][0]["node"]["data"], at_bound,
            "{label}"
        );
        assert_eq!(data["event"]["data"], at_bound, "{label}");
        let mut client = WsClient::connect(server.addr, Protocol::Legacy).await;
        client
            .subscribe(
                "subscription { eventAppended(afterPosition: 0) { data } }",
                json!({}),
            )
            .await;
        let (_, data) = client.next_data().await;
        assert_eq!(data["eventAppended"]["data"], at_bound, "{label}: catch-up");
        client.close().await;
        all_running_at(&server, position, label).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_at_the_size_bound_reads_back_and_one_byte_more_is_refused() {
    let max = chronicle::EventLimits::default().max_event_bytes;
    for db in databases().await {
        let server = TestServer::start(&db).await;
        // `{"s":"…"}` with metadata `{}`: the string fills the rest.
        let fill = max - r#"{"s":""}"#.len() - "{}".len();
        let at_bound = json!({ "s": "é".repeat(fill / 2) + &"x".repeat(fill % 2) });
        let appended = server
            .append("big-1", json!([{ "type": "Big", "data": at_bound }]))
            .await;
        let r = server
            .gql(
                "{ stream(id: \"big-1\") { events { edges { node { data } } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            TestServer::data(&r)["stream"]["events"]["edges"][0]["node"]["data"],
            at_bound,
            "{}",
            db.name
        );
        let over = json!({ "s": "x".repeat(fill + 1) });
        let r = server
            .try_append(json!({ "streamId": "big-1", "events": [{ "type": "Big", "data": over }] }))
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{}: {r}", db.name);
        all_running_at(&server, appended["position"].as_i64().unwrap(), db.name).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_are_bounded_and_a_days_sums_never_overflow() {
    for db in databases().await {
        let server = TestServer::start(&db).await;
        let label = db.name;
        let open = |id: &str, balance: &str| {
            format!(
                r#"mutation {{ openAccount(input: {{ accountId: "{id}", owner: "O", initialBalance: "{balance}" }}) {{ position }} }}"#
            )
        };
        let r = server
            .gql(&open("huge", "92233720368547758.07"), json!({}))
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        let r = server
            .gql(&open("over", "10000000000000.01"), json!({}))
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        // The largest balance, many times over in one day.
        let largest = "10000000000000.00";
        for i in 0..10 {
            let r = server
                .gql(&open(&format!("max-{i}"), largest), json!({}))
                .await;
            TestServer::data(&r);
        }
        let r = server
            .gql(
                r#"mutation { deposit(input: { accountId: "max-0", amount: "0.01" }) { position } }"#,
                json!({}),
            )
            .await;
        assert_eq!(
            error_code(&r),
            Some("BAD_USER_INPUT"),
            "{label}: a balance past the largest: {r}"
        );
        let position = head(&server).await;
        let r = server
            .gql(
                "query($p: Long) { dailySummaries(minPosition: $p) { currency deposits netChange transactionCount } }",
                json!({ "p": position }),
            )
            .await;
        let day = &TestServer::data(&r)["dailySummaries"][0];
        assert_eq!(day["deposits"], "100000000000000.00", "{label}: {r}");
        assert_eq!(day["netChange"], "100000000000000.00", "{label}");
        assert_eq!(day["transactionCount"], 10, "{label}");
        all_running_at(&server, position, label).await;
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_wedged_on_an_unreadable_event_is_unwedged_by_skipping_it() {
    for db in databases().await {
        let label = db.name;
        let store = db.store().await;
        // An account stream with an event no upcaster can read (as an older
        // server with a bug might have left it), written below the API.
        let stream = StreamId::parse("account-legacy").unwrap();
        let opened = NewEvent::new(
            "AccountOpened",
            json!({ "owner": "L", "currency": "USD", "initialBalance": 100 }),
        );
        let bad = NewEvent::new("MoneyDeposited", json!({ "amount": "ten" }));
        store
            .append(stream, ExpectedVersion::NoStream, vec![opened, bad])
            .await
            .unwrap();
        let server = TestServer::start(&db).await;
        let q = r#"{ projection(name: "AccountBalances") { status position failedPosition skippedEvents { position error } } }"#;
        let mut status = Value::Null;
        for _ in 0..200 {
            status = server.gql(q, json!({})).await["data"]["projection"].clone();
            if status["status"] == "FAILED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(status["status"], "FAILED", "{label}: {status}");
        assert_eq!(status["failedPosition"], 2, "{label}: {status}");
        // The read paths still answer, the bad event as stored.
        let r = server
            .gql("{ stream(id: \"account-legacy\") { events { edges { node { schemaVersion data upcastError } } } } }", json!({}))
            .await;
        let bad = &TestServer::data(&r)["stream"]["events"]["edges"][1]["node"];
        assert_eq!(bad["schemaVersion"], 1, "{label}: {r}");
        assert_eq!(bad["data"]["amount"], "ten");
        assert!(
            bad["upcastError"]
                .as_str()
                .is_some_and(|e| e.contains("amount")),
            "{label}: {r}"
        );
        // Only the failing position can be skipped.
        let skip = "mutation($p: String!, $at: Long!) { skipEvent(projection: $p, position: $at) { status position skippedEvents { position error skippedAt } } }";
        let r = server
            .gql(skip, json!({ "p": "AccountBalances", "at": 1 }))
            .await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        let r = server.gql(skip, json!({ "p": "Users", "at": 2 })).await;
        assert_eq!(error_code(&r), Some("BAD_USER_INPUT"), "{label}: {r}");
        let r = server
            .gql(skip, json!({ "p": "AccountBalances", "at": 2 }))
            .await;
        let skipped = &TestServer::data(&r)["skipEvent"];
        assert_eq!(skipped["status"], "RUNNING", "{label}: {r}");
        assert_eq!(skipped["position"], 2, "{label}: {r}");
        assert_eq!(skipped["skippedEvents"][0]["position"], 2, "{label}: {r}");
        // The other way: resume with skipFailed.
        let resume = r#"mutation { resumeProjection(name: "TransactionHistory", skipFailed: true) { status skippedEvents { position } } }"#;
        let mut r = Value::Null;
        for _ in 0..200 {
            r = server.gql(resume, json!({})).await;
            if r["data"]["resumeProjection"]["skippedEvents"][0]["position"] == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(
            r["data"]["resumeProjection"]["status"], "RUNNING",
            "{label}: {r}"
        );
        // The account is there, with its opening only; later commands work.
        let r = server
            .gql(
                r#"mutation { deposit(input: { accountId: "other", amount: "1" }) { position } }"#,
                json!({}),
            )
            .await;
        assert_eq!(error_code(&r), Some("NOT_FOUND"), "{label}: {r}");
        let r = server
            .gql(
                r#"{ account(id: "legacy", minPosition: 2) { balance } }"#,
                json!({}),
            )
            .await;
        assert_eq!(
            TestServer::data(&r)["account"]["balance"],
            "1.00",
            "{label}: {r}"
        );
        server.stop().await;
    }
}
