//! The server under stress and change, on both databases: more requests
//! than it admits, requests slower than it allows, a SIGTERM under load,
//! and (PostgreSQL) the database going away and coming back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chronicle::{AppState, Config};
use serde_json::{Value, json};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::common::{TestServer, databases, error_code};
use crate::node::Node;

/// A query that holds its request open until the consistency timeout.
const SLOW: &str = r#"{ account(id: "nobody", minPosition: 1000000000) { id } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_requests_than_admitted_get_429_and_health_still_answers() {
    for db in databases().await {
        let mut config = Config::default();
        config.api.consistency_timeout_ms = 1_500;
        config.server.max_in_flight = 3;
        let server = Arc::new(TestServer::start_with(&db, config).await);
        let slow: Vec<_> = (0..10)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move {
                    let response = server
                        .client
                        .post(server.url("/graphql"))
                        .json(&json!({ "query": SLOW }))
                        .send()
                        .await
                        .unwrap();
                    let status = response.status().as_u16();
                    let retry_after = response.headers().get("retry-after").is_some();
                    let body: Value = response.json().await.unwrap();
                    (status, retry_after, error_code(&body).map(str::to_owned))
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let health = server
            .client
            .get(server.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "/health waited {:?}",
            started.elapsed()
        );
        let mut shed = 0;
        for task in slow {
            let (status, retry_after, code) = task.await.unwrap();
            assert!(status < 500, "{}: a {status}", db.name);
            if status == 429 {
                shed += 1;
                assert!(retry_after, "{}", db.name);
                assert_eq!(code.as_deref(), Some("TOO_MANY_REQUESTS"));
            } else {
                assert_eq!(code.as_deref(), Some("CONSISTENCY_TIMEOUT"), "{}", db.name);
            }
        }
        assert!(shed >= 5, "{}: {shed} of 10 shed with 3 admitted", db.name);
        Arc::into_inner(server).unwrap().stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_not_take_every_slot_and_slow_requests_time_out() {
    for db in databases().await {
        let mut config = Config::default();
        config.server.max_in_flight_per_ip = 1;
        config.server.request_timeout_ms = 400;
        let server = Arc::new(TestServer::start_with(&db, config).await);
        let first = {
            let server = server.clone();
            tokio::spawn(async move { server.gql(SLOW, json!({})).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = server.gql("{ stats { totalEvents } }", json!({})).await;
        assert_eq!(
            error_code(&second),
            Some("TOO_MANY_REQUESTS"),
            "{}: {second}",
            db.name
        );
        let started = Instant::now();
        let first = first.await.unwrap();
        assert_eq!(error_code(&first), Some("TIMEOUT"), "{}: {first}", db.name);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(server.total_events().await, 0);
        Arc::into_inner(server).unwrap().stop().await;
    }
}

const DEPOSIT: &str = "mutation($in: DepositInput!) { deposit(input: $in) { position } }";

async fn post(client: &reqwest::Client, url: &str, query: &str, variables: Value) -> Option<Value> {
    let response = client
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

fn deposit(id: &str) -> Value {
    json!({ "in": { "accountId": "sig", "amount": "1.00", "commandId": id } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_command_and_exits_0_in_time() {
    for db in databases().await {
        let node = Node::start_with(&db, &["--shutdown-timeout-ms", "10000"]).await;
        let http = reqwest::Client::new();
        let open =
            r#"mutation { openAccount(input: { accountId: "sig", owner: "S" }) { position } }"#;
        assert!(
            post(&http, &node.url, open, json!({}))
                .await
                .unwrap()
                .get("errors")
                .is_none()
        );
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let clients: Vec<_> = (0..8)
            .map(|c| {
                let (url, acknowledged) = (node.url.clone(), acknowledged.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    for n in 0.. {
                        let id = format!("sig-{c}-{n}");
                        match post(&http, &url, DEPOSIT, deposit(&id)).await {
                            Some(r) if r["data"]["deposit"]["position"].is_i64() => {
                                acknowledged.lock().await.push(id)
                            }
                            _ => return,
                        }
                    }
                })
            })
            .collect();
        // A subscriber, to see its connection closed as the server goes.
        let (mut ws, _) = tokio_tungstenite::connect_async({
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut request = format!("{}/graphql/ws", node.url.replace("http", "ws"))
                .into_client_request()
                .unwrap();
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                "graphql-transport-ws".parse().unwrap(),
            );
            request
        })
        .await
        .unwrap();
        use futures::{SinkExt, StreamExt};
        ws.send(json!({ "type": "connection_init" }).to_string().into())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let started = Instant::now();
        let status = node
            .terminate(Duration::from_secs(15))
            .await
            .expect("the server exits in time");
        assert!(status.success(), "{}: exit {status:?}", db.name);
        assert!(
            started.elapsed() < Duration::from_secs(11),
            "{:?}",
            started.elapsed()
        );
        let mut close = None;
        while let Some(Ok(message)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Close(frame) = message {
                close = frame.map(|f| u16::from(f.code));
                break;
            }
        }
        assert_eq!(
            close,
            Some(1001),
            "{}: the WebSocket is told the server is going away",
            db.name
        );
        for client in clients {
            client.await.unwrap();
        }
        let node = Node::start(&db).await;
        let acknowledged = acknowledged.lock().await.clone();
        assert!(!acknowledged.is_empty());
        for id in &acknowledged {
            let r = post(
                &http,
                &node.url,
                "query($id: ID!) { command(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await
            .unwrap();
            assert_eq!(
                r["data"]["command"]["status"], "SUCCEEDED",
                "{}: {id} lost: {r}",
                db.name
            );
        }
        println!(
            "{}: {} acknowledged before SIGTERM, all kept; exited 0 in {:?}",
            db.name,
            acknowledged.len(),
            started.elapsed()
        );
        node.kill().await;
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut: every
/// connection through it breaks, and new ones are refused, until restored.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (down_, links_) = (down.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if down_.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links_.lock().await.push(link);
            }
        });
        Proxy { port, down, links }
    }

    async fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_fails_requests_fast_and_the_server_recovers_by_itself() {
    for db in databases().await {
        if db.name != "postgres" {
            continue;
        }
        let Some(authority) = ["127.0.0.1:5432", "localhost:5432"]
            .into_iter()
            .find(|a| db.args.database_url.contains(a))
        else {
            println!("skipped: the test database URL names no host:port a proxy can stand in for");
            continue;
        };
        let proxy = Proxy::start(authority.replace("localhost", "127.0.0.1")).await;
        let mut args = db.args.clone();
        args.database_url = args
            .database_url
            .replace(authority, &format!("127.0.0.1:{}", proxy.port));
        args.db_acquire_timeout_ms = 1_000;
        let state = AppState::start(&args, Config::default())
            .await
            .expect("start");
        let server = TestServer::serve(state).await;
        let open =
            r#"mutation { openAccount(input: { accountId: "sig", owner: "S" }) { position } }"#;
        TestServer::data(&server.gql(open, json!({})).await);
        let ok = |r: &Value| r["data"]["deposit"]["position"].is_i64();
        assert!(ok(&server.gql(DEPOSIT, deposit("before")).await));

        proxy.cut().await;
        let started = Instant::now();
        let during = server.gql(DEPOSIT, deposit("during")).await;
        assert_eq!(error_code(&during), Some("UNAVAILABLE"), "{during}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "failed in {:?}",
            started.elapsed()
        );
        let query = server
            .gql("{ accounts { edges { cursor } } }", json!({}))
            .await;
        assert_eq!(error_code(&query), Some("UNAVAILABLE"), "{query}");
        let ready = server
            .client
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 503);

        proxy.restore();
        let mut recovered = None;
        for attempt in 0..100 {
            let r = server.gql(DEPOSIT, deposit("during")).await;
            if ok(&r) {
                recovered = Some(attempt);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(recovered.is_some(), "the server did not recover by itself");
        assert!(ok(&server.gql(DEPOSIT, deposit("after")).await));
        // Ready again once it hears the other nodes again too: its LISTEN
        // connection is remade within a second of the database's return.
        let mut ready = None;
        for _ in 0..50 {
            let status = server
                .client
                .get(server.url("/ready"))
                .send()
                .await
                .unwrap()
                .status();
            if status == 200 {
                ready = Some(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            ready.map(|s| s.as_u16()),
            Some(200),
            "ready again within 5 s"
        );
        for id in ["before", "during", "after"] {
            let r = server
                .gql(
                    "query($id: ID!) { command(id: $id) { status } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(r["data"]["command"]["status"], "SUCCEEDED", "{id}: {r}");
        }
        let head = crate::read_model_fold::head(&server).await;
        let r = server
            .gql(
                r#"query($p: Long) { account(id: "sig", minPosition: $p) { balance } }"#,
                json!({ "p": head }),
            )
            .await;
        assert_eq!(
            TestServer::data(&r)["account"]["balance"],
            "3.00",
            "each deposit once"
        );
        server.stop().await;
    }
}
