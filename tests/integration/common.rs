//! Test support: a fresh database per test (`test_db.rs`: SQLite in a temp
//! file, and PostgreSQL in its own schema when `TEST_DATABASE_URL` is set),
//! and a real server on a random port.

use std::net::SocketAddr;

use chronicle::{AppState, Config};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub use crate::test_db::TestDb;

/// SQLite always; PostgreSQL too when `TEST_DATABASE_URL` is set.
pub async fn databases() -> Vec<TestDb> {
    crate::test_db::fresh_databases(&["TEST_DATABASE_URL"]).await
}

/// The server's log, in the test's output, when `CHRONICLE_TEST_LOG` holds
/// a filter (`CHRONICLE_TEST_LOG=chronicle=debug cargo test ...`): a test
/// server installs no subscriber otherwise, so a failure's cause (the
/// error behind an UNAVAILABLE, say) would not be seen.
fn log_when_asked() {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("CHRONICLE_TEST_LOG") else {
        return;
    };
    // The first test to start a server installs it; later ones find it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The real server on 127.0.0.1, on a port the OS picked.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, Config::default()).await
    }

    pub async fn start_with(db: &TestDb, limits: Config) -> Self {
        let state = AppState::start(&db.args, limits).await.expect("start app");
        Self::serve(state).await
    }

    /// Serves an app the test started itself (on a connection it watches,
    /// say).
    pub async fn serve(state: AppState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::serve_on(listener, state).await
    }

    /// Serves on a listener the test made (one whose sockets have small
    /// buffers, say).
    pub async fn serve_on(listener: tokio::net::TcpListener, state: AppState) -> Self {
        log_when_asked();
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            chronicle::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            addr,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs a GraphQL request and returns the whole JSON response.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("POST /graphql")
            .json()
            .await
            .expect("JSON response")
    }

    /// Like `gql`, but panics unless the response has no errors; returns `data`.
    #[track_caller]
    pub fn data(response: &Value) -> &Value {
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        &response["data"]
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

/// The `appendEvents` mutation with every field of its result.
pub const APPEND_EVENTS: &str =
    "mutation($input: AppendEventsInput!) { appendEvents(input: $input) {
    streamId version position
    events { id streamId version position type schemaVersion data metadata recordedAt } } }";

impl TestServer {
    /// Sends `appendEvents` with `input` and returns the whole response.
    pub async fn try_append(&self, input: Value) -> Value {
        self.gql(APPEND_EVENTS, json!({ "input": input })).await
    }

    /// Appends `events` to `stream` (no expected version) and returns the
    /// `AppendResult`; panics on an error.
    pub async fn append(&self, stream: &str, events: Value) -> Value {
        let response = self
            .try_append(json!({ "streamId": stream, "events": events }))
            .await;
        Self::data(&response)["appendEvents"].clone()
    }

    /// `stats.totalEvents`: what a rejected request must leave unchanged.
    pub async fn total_events(&self) -> i64 {
        let response = self.gql("{ stats { totalEvents } }", json!({})).await;
        Self::data(&response)["stats"]["totalEvents"]
            .as_i64()
            .expect("totalEvents is a number")
    }
}
