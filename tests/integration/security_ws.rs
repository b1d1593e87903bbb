//! Credentials over the WebSocket and which pages may call, on both
//! databases: the token comes in `connection_init` and its expiry ends the
//! subscriptions; CORS preflights, the WebSocket's Origin check and the
//! content types a page can send without a preflight.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{TestServer, databases};
use crate::security::{ADMIN_SECRET, admin_total, secured, token};
use crate::ws_client::{Protocol, WAIT};

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
