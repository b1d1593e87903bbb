//! A graphql-transport-ws connection for the benches: upgraded with the
//! subprotocol and acknowledged, ready for `subscribe` messages.

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url` (`ws://host:port/graphql/ws`), sends
/// `connection_init` and waits for the server's `connection_ack`.
pub async fn connect(url: &str) -> Result<Socket, Box<dyn std::error::Error + Send + Sync>> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    ws.send(Message::text(
        json!({ "type": "connection_init" }).to_string(),
    ))
    .await?;
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.contains("connection_ack") => Ok(ws),
        other => Err(format!("expected connection_ack, got {other:?}").into()),
    }
}
