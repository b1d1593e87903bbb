//! One WebSocket connection, from `connection_init` to close: the protocol
//! state machine and the operations it runs.
//!
//! One task per connection reads the client, polls every operation's
//! result stream and writes to the socket. After anything it writes, it
//! also writes whatever else is ready (up to [`FLUSH_EVERY`] messages) and
//! then flushes once: under fan-out a connection carries many messages per
//! commit, and one write for all of them instead of one each halves the
//! server's cost per delivered event. A client that stops reading stops
//! this task at its next write, never the writers of the log: the
//! subscription hub drops a subscriber that falls behind, and its feed
//! catches up from the store (see `subscriptions/`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Data, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::{BoxStream, SplitSink};
use futures::{FutureExt, SinkExt, StreamExt};
use tokio_stream::StreamMap;

use super::protocol::{self, ClientMessage, Protocol, close};
use crate::auth::{self, AuthError, Authenticator};
use crate::graphql::{ChronicleSchema, SubscriptionSlots, finish};
use tokio_util::sync::CancellationToken;

/// Messages written per flush at most, so a busy connection still flushes
/// regularly.
const FLUSH_EVERY: usize = 64;

/// What a connection needs from the server.
pub struct Session {
    pub protocol: Protocol,
    pub schema: ChronicleSchema,
    pub max_subscriptions: usize,
    /// How long a client has to send `connection_init` (graphql-ws's
    /// `connectionInitWaitTimeout`).
    pub init_timeout: Duration,
    /// How often the server shows it is alive: a WebSocket ping (browsers
    /// answer by themselves), and `ka` in the legacy protocol.
    pub keep_alive: Duration,
    /// Checks the credentials of `connection_init`.
    pub auth: Arc<Authenticator>,
    /// Cancelled when the server shuts down: the connection closes (1001).
    pub shutdown: CancellationToken,
}

/// Each operation's results; `None` marks its end.
type Operation = BoxStream<'static, Option<Response>>;

/// How a step ends the connection, when it does; `Ok(())` goes on.
enum End {
    /// The server closes, with a code and reason.
    Close(u16, String),
    /// The client is gone (or its socket failed).
    Closed,
    /// The client sent a Close frame: the reply (which the WebSocket
    /// library queued) must still be written, or the client sees 1006
    /// instead of its own code, and graphql-ws treats that as a failure.
    ClosedByClient,
}

type Step = Result<(), End>;

struct Connection {
    session: Session,
    sink: SplitSink<WebSocket, Message>,
    operations: StreamMap<String, Operation>,
    /// Operations that have sent a result (a later error is a `next` with
    /// errors, not an `error`).
    answered: HashSet<String>,
    /// Set once the connection is acknowledged.
    data: Option<Arc<Data>>,
    initialised: bool,
    /// When the caller's token stops being valid.
    expires_at: Option<tokio::time::Instant>,
}

pub async fn run(socket: WebSocket, session: Session) {
    let (sink, mut source) = socket.split();
    let init_deadline = tokio::time::sleep(session.init_timeout);
    tokio::pin!(init_deadline);
    let mut ticker = tokio::time::interval(session.keep_alive);
    ticker.tick().await;
    let mut conn = Connection {
        session,
        sink,
        operations: StreamMap::new(),
        answered: HashSet::new(),
        data: None,
        initialised: false,
        expires_at: None,
    };
    let shutdown = conn.session.shutdown.clone();
    loop {
        let expiry = conn.expires_at;
        let outcome = tokio::select! {
            biased;
            message = source.next() => match message {
                Some(Ok(message)) => conn.on_message(message).await,
                _ => Err(End::Closed),
            },
            Some((id, result)) = conn.operations.next(), if !conn.operations.is_empty() => {
                conn.on_result(id, result).await
            }
            () = &mut init_deadline, if !conn.initialised => {
                Err(End::Close(close::INIT_TIMEOUT, "Connection initialisation timeout".into()))
            }
            _ = ticker.tick() => conn.keep_alive().await,
            () = sleep_until(expiry), if expiry.is_some() => conn.expire().await,
            () = shutdown.cancelled() => Err(End::Close(close::GOING_AWAY, "the server is shutting down".into())),
        };
        let outcome = match outcome {
            Ok(()) => conn.flush_ready().await,
            other => other,
        };
        match outcome {
            Ok(()) => {}
            Err(End::Closed) => break,
            Err(End::ClosedByClient) => {
                let _ = conn.sink.close().await;
                break;
            }
            Err(End::Close(code, reason)) => {
                conn.close(code, &reason).await;
                break;
            }
        }
    }
}

impl Connection {
    async fn on_message(&mut self, message: Message) -> Step {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => return Err(End::ClosedByClient),
            // tungstenite answers pings itself on the next write.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            Message::Binary(_) => {
                return Err(End::Close(
                    close::INVALID_MESSAGE,
                    "binary messages are not GraphQL".into(),
                ));
            }
        };
        match ClientMessage::parse(self.session.protocol, text.as_str()) {
            Ok(message) => self.on_client(message).await,
            Err(reason) => Err(End::Close(close::INVALID_MESSAGE, reason)),
        }
    }

    async fn on_client(&mut self, message: ClientMessage) -> Step {
        match message {
            ClientMessage::Init(payload) => {
                if self.initialised {
                    return Err(End::Close(
                        close::TOO_MANY_INITS,
                        "Too many initialisation requests".into(),
                    ));
                }
                self.initialised = true;
                let caller = match self
                    .session
                    .auth
                    .authenticate(auth::from_init_payload(&payload))
                {
                    Ok(caller) => caller,
                    Err(err) => return self.refuse_init(&err).await,
                };
                self.expires_at = caller.expires_at.map(|at| {
                    let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                    tokio::time::Instant::now() + left
                });
                let mut data = Data::default();
                data.insert(SubscriptionSlots::new(self.session.max_subscriptions));
                data.insert(caller);
                self.data = Some(Arc::new(data));
                self.send(protocol::ack()).await?;
                if self.session.protocol == Protocol::Legacy {
                    self.send(protocol::keep_alive()).await?;
                }
                Ok(())
            }
            ClientMessage::Subscribe { id, request } => self.subscribe(id, *request).await,
            ClientMessage::Complete { id } => {
                let existed = self.operations.remove(&id).is_some();
                self.answered.remove(&id);
                // graphql-transport-ws: the client's `complete` needs no
                // answer; the legacy protocol confirms a `stop`.
                if existed && self.session.protocol == Protocol::Legacy {
                    return self.send(protocol::complete(&id)).await;
                }
                Ok(())
            }
            ClientMessage::Ping(payload) => self.send(protocol::pong(payload)).await,
            ClientMessage::Pong => Ok(()),
            ClientMessage::Terminate => Err(End::Close(1000, String::new())),
        }
    }

    async fn subscribe(&mut self, id: String, request: async_graphql::Request) -> Step {
        let Some(data) = self.data.clone() else {
            return Err(End::Close(close::UNAUTHORIZED, "Unauthorized".into()));
        };
        if self.operations.contains_key(&id) {
            if self.session.protocol == Protocol::TransportWs {
                return Err(End::Close(
                    close::DUPLICATE_ID,
                    format!("Subscriber for {id} already exists"),
                ));
            }
            // subscriptions-transport-ws replaces an operation restarted
            // under the same id.
            self.operations.remove(&id);
            self.answered.remove(&id);
        }
        // Counted while the stream lives, however it ends.
        let open = crate::metrics::Open::new(crate::metrics::WS_OPERATIONS);
        let results = self
            .session
            .schema
            .execute_stream_with_session_data(request, data)
            .map(move |response| {
                let _counted = &open;
                Some(response)
            })
            .chain(futures::stream::once(async { None }))
            .boxed();
        self.operations.insert(id, results);
        Ok(())
    }

    async fn on_result(&mut self, id: String, result: Option<Response>) -> Step {
        let Some(mut response) = result else {
            self.answered.remove(&id);
            return self.send(protocol::complete(&id)).await;
        };
        finish(&mut response);
        let never_ran = response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|e| e.path.is_empty());
        if never_ran && !self.answered.contains(&id) {
            // The protocol's `error` ends the operation: no `complete`.
            self.operations.remove(&id);
            return self.send(protocol::error(&id, &response.errors)).await;
        }
        self.answered.insert(id.clone());
        self.send(protocol::next(self.session.protocol, &id, &response))
            .await
    }

    /// Refuses the connection's credentials: 4401 when there are none, 4403
    /// when they are wrong; the legacy protocol, which has no such codes,
    /// first gets its `connection_error`.
    async fn refuse_init(&mut self, err: &AuthError) -> Step {
        if self.session.protocol == Protocol::Legacy {
            self.send(protocol::connection_error(&err.to_string()))
                .await?;
        }
        Err(match err {
            AuthError::Missing => End::Close(close::UNAUTHORIZED, format!("Unauthorized: {err}")),
            AuthError::Invalid(_) => End::Close(close::FORBIDDEN, format!("Forbidden: {err}")),
        })
    }

    /// The caller's token expired: every operation ends with an
    /// UNAUTHENTICATED error, and the connection closes.
    async fn expire(&mut self) -> Step {
        let ids: Vec<String> = self.operations.keys().cloned().collect();
        let err = crate::graphql::ApiError::new(
            crate::ErrorCode::Unauthenticated,
            "the token has expired; reconnect with a fresh one",
        );
        let err = async_graphql::Error::from(err).into_server_error(Default::default());
        for id in ids {
            self.operations.remove(&id);
            let response = Response::from_errors(vec![err.clone()]);
            self.send(protocol::next(self.session.protocol, &id, &response))
                .await?;
            self.send(protocol::complete(&id)).await?;
        }
        Err(End::Close(
            close::FORBIDDEN,
            "Forbidden: the token has expired".into(),
        ))
    }

    async fn keep_alive(&mut self) -> Step {
        if self.session.protocol == Protocol::Legacy && self.initialised {
            self.send(protocol::keep_alive()).await?;
        }
        match self.sink.send(Message::Ping(Default::default())).await {
            Ok(()) => Ok(()),
            Err(_) => Err(End::Closed),
        }
    }

    /// Writes the results that are ready now, then flushes once.
    async fn flush_ready(&mut self) -> Step {
        for _ in 1..FLUSH_EVERY {
            let Some(Some((id, result))) = self.operations.next().now_or_never() else {
                break;
            };
            self.on_result(id, result).await?;
        }
        match self.sink.flush().await {
            Ok(()) => Ok(()),
            Err(_) => Err(End::Closed),
        }
    }

    /// Queues one message (the flush comes after the step).
    async fn send(&mut self, text: String) -> Step {
        match self.sink.feed(Message::Text(text.into())).await {
            Ok(()) => Ok(()),
            Err(_) => Err(End::Closed),
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        // A close reason is at most 123 bytes.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let frame = CloseFrame {
            code,
            reason: reason[..end].into(),
        };
        let _ = self.sink.send(Message::Close(Some(frame))).await;
        let _ = self.sink.close().await;
    }
}

/// Sleeps until `at`, or forever when there is no such time.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
