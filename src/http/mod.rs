//! The HTTP surface: GraphQL over HTTP (`graphql.rs`; `request.rs` turns
//! a request into operations or a refusal, `response.rs` results into
//! responses), GraphQL over WebSocket (`websocket/`), the browser pages
//! (`ui.rs`: GraphiQL and the dashboard), health and readiness, `/metrics`; around them, which pages may call
//! (`origins.rs`) and how much load is admitted (`shedding.rs`).

mod graphql;
mod health;
mod json_scan;
pub(crate) mod observe;
mod origins;
mod per_ip;
mod persisted;
mod request;
mod response;
mod shedding;
mod ui;
mod websocket;

use std::sync::Arc;

pub use origins::Origins;
pub use persisted::PersistedQueries;
pub use shedding::Shedding;
pub use websocket::ConnectionLimit;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;

use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::cluster::Listener;
use crate::config::{NodeRole, RequestLimits, SubscriptionConfig};
use crate::graphql::ChronicleSchema;
use crate::read_models::Projections;
use crate::store::EventStore;

/// What the HTTP layer serves, as the composition root hands it over. The
/// router shares it behind an `Arc`: every request takes the state, and
/// cloning and dropping the whole (the store, the projections and their
/// pools and channels) was about 2.6 % of the server's CPU samples at 64
/// clients.
#[derive(Clone)]
pub struct HttpState {
    pub schema: ChronicleSchema,
    /// For readiness: the database behind it.
    pub store: EventStore,
    /// For readiness and the projections' gauges.
    pub projections: Projections,
    pub requests: RequestLimits,
    /// The largest event: no valid request body holds an array longer than
    /// an event of this size can.
    pub max_event_bytes: usize,
    pub subscriptions: SubscriptionConfig,
    pub connections: ConnectionLimit,
    pub auth: Arc<Authenticator>,
    pub origins: Origins,
    pub shedding: Shedding,
    /// Automatic persisted queries: the texts clients registered by hash.
    pub persisted: PersistedQueries,
    /// Whether this node hears the others, for readiness.
    pub listener: Listener,
    /// A projector node serves health, readiness and metrics only.
    pub role: NodeRole,
    /// Whether GraphiQL is served (not with `--disable-graphiql`, nor when
    /// introspection is refused).
    pub graphiql: bool,
    /// Cancelled when the server shuts down: WebSockets close then.
    pub shutdown: CancellationToken,
}

/// The routes, then the layers, then the state.
pub fn router(state: HttpState) -> Router {
    let cors = state.origins.cors();
    let shedding = axum::middleware::from_fn_with_state(state.shedding.clone(), shedding::shed);
    let mut routes = Router::new();
    // A projector node answers no query or command: it only runs
    // projections, and says how it is doing.
    if state.role.serves_graphql() {
        routes = routes
            .route("/", get(ui::root))
            .route(
                "/graphql",
                get(graphql::graphql_get)
                    .post(graphql::graphql_post)
                    .fallback(graphql::graphql_other),
            )
            .route("/graphql/ws", get(graphql::graphql_ws))
            .route("/dashboard", get(ui::dashboard))
            .route("/dashboard/", get(ui::dashboard))
            .route("/ui/assets/{*file}", get(ui::asset));
    }
    routes
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(observe::metrics))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(shedding)
        .layer(cors)
        .layer(axum::middleware::from_fn(observe::count))
        .layer(observe::trace())
        .layer(observe::propagate_request_id())
        .layer(observe::set_request_id())
        .with_state(Arc::new(state))
}

/// A panic while answering is a bug: the client gets INTERNAL with an id,
/// the log gets the panic under it, and the process keeps serving.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let id = uuid::Uuid::new_v4();
    tracing::error!(error_id = %id, panic = detail, "a request handler panicked");
    response::internal_with_id(&HeaderMap::new(), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_answered_internal_with_an_error_id() {
        let response = panicked(Box::new("boom".to_owned()));
        assert_eq!(
            response.status(),
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let extensions = &body["errors"][0]["extensions"];
        assert_eq!(extensions["code"], "INTERNAL");
        assert!(
            extensions["errorId"]
                .as_str()
                .is_some_and(|id| id.len() == 36)
        );
        assert!(
            !body.to_string().contains("boom"),
            "the panic stays in the log"
        );
    }
}
