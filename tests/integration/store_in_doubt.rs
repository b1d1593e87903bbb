//! PostgreSQL: an append sent in one message (planned on the writer's view
//! of the log, checked by a guard) whose connection breaks before the
//! answer comes back. Whether it committed is unknown to the writer; the
//! store must find out on a new connection, and neither store the batch a
//! second time nor lose it.
//!
//! A proxy between the store and PostgreSQL breaks the connection at the
//! right moment: it passes the guarded message on and waits for
//! PostgreSQL's answer (the batch committed) or drops the message (it did
//! not), then closes the store's side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chronicle::{ExpectedVersion, LogFilter, NewEvent, StreamId};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::TestDb;

/// What the proxy does with the next message that holds the guard.
#[derive(Clone, Copy)]
enum Cut {
    /// Pass it on, wait until PostgreSQL has answered, pass no answer on.
    AfterCommit,
    /// Drop it and the connection: PostgreSQL never sees it.
    BeforeSending,
}

struct Proxy {
    port: u16,
    armed: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: String, cut: Cut) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(AtomicBool::new(false));
        let flag = armed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                tokio::spawn(relay(client, server, flag.clone(), cut));
            }
        });
        Self { port, armed }
    }
}

/// Copies bytes both ways until either side closes, or the armed cut.
async fn relay(mut client: TcpStream, mut server: TcpStream, armed: Arc<AtomicBool>, cut: Cut) {
    let (mut up, mut down) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        tokio::select! {
            read = client.read(&mut up) => {
                let Ok(n @ 1..) = read else { return };
                let guarded = up[..n].windows(15).any(|w| w == b"chronicle_guard");
                if guarded && armed.swap(false, Ordering::SeqCst) {
                    if let Cut::AfterCommit = cut {
                        server.write_all(&up[..n]).await.unwrap();
                        wait_until_ready(&mut server).await;
                        // The server's side stays open (its session ends
                        // with the test), the store's closes.
                        tokio::spawn(async move {
                            let mut sink = vec![0u8; 1 << 12];
                            while matches!(server.read(&mut sink).await, Ok(1..)) {}
                        });
                    }
                    return;
                }
                if server.write_all(&up[..n]).await.is_err() { return }
            }
            read = server.read(&mut down) => {
                let Ok(n @ 1..) = read else { return };
                if client.write_all(&down[..n]).await.is_err() { return }
            }
        }
    }
}

/// Reads PostgreSQL's answer up to its ReadyForQuery ('Z', length 5, the
/// transaction status): every statement of the message has run.
async fn wait_until_ready(server: &mut TcpStream) {
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 1 << 12];
    loop {
        let n = server.read(&mut buf).await.unwrap();
        assert!(n > 0, "PostgreSQL closed the connection");
        answer.extend_from_slice(&buf[..n]);
        let len = answer.len();
        if len >= 6 && answer[len - 6..len - 1] == [b'Z', 0, 0, 0, 5] {
            return;
        }
    }
}

/// `url` with its host and port replaced by the proxy's, without TLS (so
/// the proxy can see the messages).
fn through(url: &str, port: u16) -> (String, String) {
    let start = url.find("://").unwrap() + 3;
    let authority_end = start + url[start..].find('/').unwrap();
    let host_start = start + url[start..authority_end].rfind('@').map_or(0, |at| at + 1);
    let upstream = url[host_start..authority_end].to_owned();
    let sep = if url.contains('?') { '&' } else { '?' };
    let proxied = format!(
        "{}127.0.0.1:{port}{}{sep}sslmode=disable",
        &url[..host_start],
        &url[authority_end..]
    );
    (proxied, upstream)
}

async fn one_copy_after_a_cut(cut: Cut) {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        return;
    };
    let db = TestDb::postgres(&url).await;
    let (_, upstream) = through(&db.args.database_url, 0);
    let upstream = if upstream.contains(':') {
        upstream
    } else {
        format!("{upstream}:5432")
    };
    let proxy = Proxy::start(upstream, cut).await;
    let mut args = db.args.clone();
    args.database_url = through(&db.args.database_url, proxy.port).0;
    let db = chronicle::connect_and_migrate(&args)
        .await
        .expect("migrate");
    let store = chronicle::EventStore::open(db).await.expect("open store");
    let stream = || StreamId::parse("d-1").unwrap();
    let event = |n: i64| vec![NewEvent::new("Happened", json!({ "n": n }))];

    store
        .append(stream(), ExpectedVersion::NoStream, event(1))
        .await
        .unwrap();
    proxy.armed.store(true, Ordering::SeqCst);
    let second = store
        .append(stream(), ExpectedVersion::Exact(1), event(2))
        .await
        .unwrap();
    assert!(
        !proxy.armed.load(Ordering::SeqCst),
        "the append went in one message"
    );

    assert!(second.appended);
    assert_eq!((second.position, second.events[0].version), (2, 2));
    let stored = store.read_log(0, &LogFilter::default(), 100).await.unwrap();
    let stored: Vec<(i64, i64)> = stored
        .iter()
        .map(|e| (e.position, e.data["n"].as_i64().unwrap()))
        .collect();
    assert_eq!(stored, [(1, 1), (2, 2)], "one copy of each");
    assert_eq!(
        second.events[0],
        store.read_log(1, &LogFilter::default(), 1).await.unwrap()[0]
    );
}

/// The message committed and its answer was lost: the append reports it
/// as committed, from the stored event, and stores nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_message_append_that_committed_before_its_connection_broke_is_stored_once() {
    one_copy_after_a_cut(Cut::AfterCommit).await;
}

/// The message never reached PostgreSQL: the append commits on a new
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_message_append_that_never_arrived_commits_on_a_new_connection() {
    one_copy_after_a_cut(Cut::BeforeSending).await;
}
