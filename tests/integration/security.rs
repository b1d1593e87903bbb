//! Credentials and roles over HTTP and WebSocket, and which pages may call,
//! on both databases: every role against every root field of the schema,
//! tokens that are missing, wrong or expired, the actor in event metadata,
//! CORS preflights and the WebSocket's Origin check.

use std::time::Duration;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use chronicle::Config;
use futures::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{TestServer, databases, error_code};
use crate::ws_client::{Protocol, WAIT};

const JWT_SECRET: &str = "integration-test-jwt-secret";
const ADMIN_SECRET: &str = "integration-test-admin-secret";

fn secured() -> Config {
    let mut config = Config::default();
    config.auth.jwt_secret = Some(JWT_SECRET.into());
    config.auth.admin_secret = Some(ADMIN_SECRET.into());
    config
}

fn token(role: &str, sub: &str, expires_in: i64) -> String {
    let claims =
        json!({ "role": role, "sub": sub, "exp": chrono::Utc::now().timestamp() + expires_in });
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

/// A caller's headers.
#[derive(Clone, Debug)]
enum As {
    Nobody,
    Bearer(String),
    Secret(&'static str),
}

async fn post(server: &TestServer, who: &As, query: &str, variables: Value) -> (u16, Value) {
    let mut request = server
        .client
        .post(server.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    request = match who {
        As::Nobody => request,
        As::Bearer(token) => request.header("authorization", format!("Bearer {token}")),
        As::Secret(secret) => request.header("x-chronicle-admin-secret", *secret),
    };
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The root fields of the schema, by root type.
fn root_fields() -> Vec<(&'static str, String)> {
    let schema = parse_schema(chronicle::sdl()).unwrap();
    let mut fields = Vec::new();
    for (root, keyword) in [
        ("Query", "query"),
        ("Mutation", "mutation"),
        ("Subscription", "subscription"),
    ] {
        for definition in &schema.definitions {
            if let TypeSystemDefinition::Type(t) = definition
                && t.node.name.node == root
                && let TypeKind::Object(object) = &t.node.kind
            {
                fields.extend(
                    object
                        .fields
                        .iter()
                        .map(|f| (keyword, f.node.name.node.to_string())),
                );
            }
        }
    }
    fields
}

/// The role each root field needs, stated here apart from the server's
/// table, so that the two check each other.
fn needs(keyword: &str, field: &str) -> u8 {
    const ADMIN: &[&str] = &[
        "createSnapshot",
        "dropSnapshots",
        "pauseProjection",
        "rebuildProjection",
        "resumeProjection",
        "skipEvent",
    ];
    match keyword {
        "mutation" if ADMIN.contains(&field) => 2,
        "mutation" => 1,
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_root_field() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        let callers = [
            (0u8, As::Bearer(token("reader", "r", 600))),
            (1, As::Bearer(token("writer", "w", 600))),
            (2, As::Bearer(token("admin", "a", 600))),
            (2, As::Secret(ADMIN_SECRET)),
        ];
        let fields = root_fields();
        assert!(fields.len() > 30, "{fields:?}");
        let mut checked = 0;
        for (rank, who) in &callers {
            for (keyword, field) in &fields {
                // No arguments: a field that is allowed fails validation
                // instead, which is not a refusal of the caller.
                let (_, r) =
                    post(&server, who, &format!("{keyword} {{ {field} }}"), json!({})).await;
                let code = error_code(&r);
                if needs(keyword, field) > *rank {
                    assert_eq!(
                        code,
                        Some("FORBIDDEN"),
                        "{} {who:?} {keyword} {field}: {r}",
                        db.name
                    );
                } else {
                    assert!(
                        !matches!(code, Some("FORBIDDEN" | "UNAUTHENTICATED")),
                        "{} {who:?} {keyword} {field}: {r}",
                        db.name
                    );
                }
                checked += 1;
            }
        }
        println!("{}: {checked} role × field checks", db.name);
        assert_eq!(
            admin_total(&server).await,
            0,
            "{}: nothing was appended",
            db.name
        );
        server.stop().await;
    }
}

/// `totalEvents`, read with the admin secret.
async fn admin_total(server: &TestServer) -> i64 {
    let (_, r) = post(
        server,
        &As::Secret(ADMIN_SECRET),
        "{ stats { totalEvents } }",
        json!({}),
    )
    .await;
    r["data"]["stats"]["totalEvents"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_and_expired_credentials_are_401_unauthenticated() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        let query = "{ stats { totalEvents } }";
        for who in [
            As::Nobody,
            As::Secret("not-the-secret"),
            As::Bearer("not.a.jwt".into()),
            As::Bearer(token("reader", "r", -120)),
            As::Bearer(token("superuser", "r", 600)),
        ] {
            let (status, r) = post(&server, &who, query, json!({})).await;
            assert_eq!(
                (status, error_code(&r)),
                (401, Some("UNAUTHENTICATED")),
                "{} {who:?}: {r}",
                db.name
            );
        }
        // With an anonymous role, a request without credentials gets it.
        server.stop().await;
        let mut config = secured();
        config.auth.anonymous_role = Some(chronicle::Role::Reader);
        let server = TestServer::start_with(&db, config).await;
        let (status, r) = post(
            &server,
            &As::Nobody,
            "{ viewer { role subject } }",
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(
            r["data"]["viewer"],
            json!({ "role": "READER", "subject": null })
        );
        let (_, r) = post(
            &server,
            &As::Nobody,
            r#"mutation { openAccount(input: { owner: "A" }) { version } }"#,
            json!({}),
        )
        .await;
        assert_eq!(error_code(&r), Some("FORBIDDEN"), "{r}");
        assert_eq!(admin_total(&server).await, 0);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokens_subject_is_the_actor_of_every_event_it_causes() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        let alice = As::Bearer(token("writer", "alice", 600));
        let (_, r) = post(&server, &alice, "{ viewer { role subject } }", json!({})).await;
        assert_eq!(
            r["data"]["viewer"],
            json!({ "role": "WRITER", "subject": "alice" }),
            "{r}"
        );
        let (_, r) = post(
            &server,
            &alice,
            r#"mutation { openAccount(input: { accountId: "al", owner: "Alice" }) { events { metadata } } }"#,
            json!({}),
        )
        .await;
        assert_eq!(
            r["data"]["openAccount"]["events"][0]["metadata"]["actor"], "alice",
            "{r}"
        );
        // A generic append: the client may not claim another actor.
        let (_, r) = post(
            &server,
            &alice,
            crate::common::APPEND_EVENTS,
            json!({ "input": { "streamId": "notes-1", "events": [{ "type": "Noted", "data": {}, "metadata": { "actor": "mallory" } }] } }),
        )
        .await;
        assert_eq!(
            r["data"]["appendEvents"]["events"][0]["metadata"]["actor"], "alice",
            "{r}"
        );
        let (_, r) = post(
            &server,
            &As::Secret(ADMIN_SECRET),
            "{ viewer { role subject } }",
            json!({}),
        )
        .await;
        assert_eq!(
            r["data"]["viewer"],
            json!({ "role": "ADMIN", "subject": null }),
            "{r}"
        );
        server.stop().await;
    }
}

/// Opens a WebSocket offering `protocol`, with an Origin when given.
async fn socket(
    server: &TestServer,
    protocol: Protocol,
    origin: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u16,
> {
    let mut request = format!("ws://{}/graphql/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.name().parse().unwrap());
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(err) => panic!("handshake: {err}"),
    }
}

/// The next message, or `Err(close code)`.
async fn next<S>(ws: &mut S) -> Result<Value, u16>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
        {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] != "ka" {
                    return Ok(value);
                }
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map_or(1005, |f| f.code.into())),
            Some(Ok(_)) => {}
            _ => return Err(1006),
        }
    }
}

fn subscribe(protocol: Protocol, id: &str, query: &str) -> Message {
    let kind = if protocol == Protocol::TransportWs {
        "subscribe"
    } else {
        "start"
    };
    Message::text(json!({ "type": kind, "id": id, "payload": { "query": query } }).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_credentials_come_in_connection_init() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        for protocol in Protocol::ALL {
            let label = format!("{} over {protocol}", db.name);
            let init = |payload: Value| {
                Message::text(json!({ "type": "connection_init", "payload": payload }).to_string())
            };
            // None: 4401; wrong: 4403 (the legacy protocol first says why).
            for (payload, code) in [
                (json!({}), 4401),
                (json!({ "Authorization": "Bearer forged" }), 4403),
            ] {
                let mut ws = socket(&server, protocol, None).await.unwrap();
                ws.send(init(payload)).await.unwrap();
                let mut got = next(&mut ws).await;
                if protocol == Protocol::Legacy {
                    assert_eq!(
                        got.as_ref().map(|m| m["type"].clone()),
                        Ok(json!("connection_error")),
                        "{label}"
                    );
                    got = next(&mut ws).await;
                }
                assert_eq!(got, Err(code), "{label}");
            }
            // A reader subscribes, and may not run a mutation.
            let reader = token("reader", "r", 600);
            let mut ws = socket(&server, protocol, None).await.unwrap();
            ws.send(init(
                json!({ "headers": { "Authorization": format!("Bearer {reader}") } }),
            ))
            .await
            .unwrap();
            assert_eq!(
                next(&mut ws).await.unwrap()["type"],
                "connection_ack",
                "{label}"
            );
            ws.send(subscribe(
                protocol,
                "s",
                "subscription { projectionStatus { name } }",
            ))
            .await
            .unwrap();
            let first = next(&mut ws).await.unwrap();
            assert!(
                first["payload"]["data"]["projectionStatus"]["name"].is_string(),
                "{label}: {first}"
            );
            ws.send(subscribe(
                protocol,
                "m",
                r#"mutation { openAccount(input: { owner: "A" }) { version } }"#,
            ))
            .await
            .unwrap();
            loop {
                let message = next(&mut ws).await.unwrap();
                if message["id"] == "m" {
                    assert_eq!(message["type"], "error", "{label}: {message}");
                    assert_eq!(
                        message["payload"][0]["extensions"]["code"], "FORBIDDEN",
                        "{label}"
                    );
                    break;
                }
            }
        }
        assert_eq!(admin_total(&server).await, 0);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_ends_its_subscriptions_with_a_clear_error() {
    for db in databases().await {
        let server = TestServer::start_with(&db, secured()).await;
        // Expires in 2 s, within the verifier's leeway of 30 s: it is the
        // `exp` the connection keeps.
        let short = token("reader", "r", 2);
        let mut ws = socket(&server, Protocol::TransportWs, None).await.unwrap();
        ws.send(Message::text(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {short}") } }).to_string())).await.unwrap();
        assert_eq!(next(&mut ws).await.unwrap()["type"], "connection_ack");
        ws.send(subscribe(
            Protocol::TransportWs,
            "live",
            "subscription { eventAppended { position } }",
        ))
        .await
        .unwrap();
        let message = next(&mut ws).await.unwrap();
        assert_eq!(
            message["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{message}"
        );
        assert!(
            message["payload"]["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("expired")
        );
        assert_eq!(next(&mut ws).await.unwrap()["type"], "complete");
        assert_eq!(next(&mut ws).await, Err(4403));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admitted_origins_get_cors_headers_and_websockets() {
    for db in databases().await {
        let mut config = secured();
        config.server.cors_origins = vec!["https://app.example.com".into()];
        let server = TestServer::start_with(&db, config).await;
        let preflight = |origin: &'static str| {
            server
                .client
                .request(reqwest::Method::OPTIONS, server.url("/graphql"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type, authorization",
                )
                .send()
        };
        let allowed = preflight("https://app.example.com").await.unwrap();
        assert!(allowed.status().is_success(), "{}", allowed.status());
        assert_eq!(
            allowed
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap()),
            Some("https://app.example.com")
        );
        let refused = preflight("https://evil.example.com").await.unwrap();
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{:?}",
            refused.headers()
        );
        assert_eq!(
            socket(
                &server,
                Protocol::TransportWs,
                Some("https://evil.example.com")
            )
            .await
            .err(),
            Some(403)
        );
        assert!(
            socket(
                &server,
                Protocol::TransportWs,
                Some("https://app.example.com")
            )
            .await
            .is_ok()
        );
        assert!(
            socket(&server, Protocol::TransportWs, None).await.is_ok(),
            "no Origin: not a page"
        );
        // A form or text/plain POST (what any page can send without a
        // preflight) runs nothing, even with credentials.
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let response = server
                .client
                .post(server.url("/graphql"))
                .header("content-type", content_type)
                .header("x-chronicle-admin-secret", ADMIN_SECRET)
                .body(
                    r#"{"query":"mutation { openAccount(input: { owner: \"A\" }) { version } }"}"#,
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 415, "{content_type}");
        }
        assert_eq!(admin_total(&server).await, 0);
        server.stop().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
