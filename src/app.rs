//! The composition root: the one place that builds the server's parts and
//! wires them together. Connect and migrate, open the store, start the
//! projections, the subscription hub and the command handlers, build the
//! schema on them; then serve HTTP until the shutdown signal.
//!
//! Every other module receives what it needs from here and imports none of
//! its neighbours' wiring: `http` gets an [`HttpState`], `graphql` a set of
//! parts, and nothing but this file starts a background task of another
//! module.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::cluster::{Listener, Registry};
use crate::commands::{AGGREGATE_CATEGORIES, Commands};
use crate::config::{Config, DatabaseArgs};
use crate::graphql::{ChronicleSchema, SchemaParts, build_schema};
use crate::http::{ConnectionLimit, HttpState, Origins, PersistedQueries, Shedding};
use crate::read_models::Projections;
use crate::store::{EventStore, StoreConfig, StoreError, Upcasters};
use crate::subscriptions::Hub;

/// A running server's parts; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Config,
    pub store: EventStore,
    pub commands: Arc<Commands>,
    pub projections: Projections,
    pub hub: Hub,
    pub schema: ChronicleSchema,
    auth: Arc<Authenticator>,
    connections: ConnectionLimit,
    /// This node's name among the nodes on its database.
    pub node_id: String,
    /// Hears the other nodes' commits (PostgreSQL).
    listener: Listener,
    /// Cancelled when the server starts shutting down.
    shutdown: CancellationToken,
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration cannot work (an unreadable key file, an invalid
    /// origin): the message says which flag.
    #[error("{0}")]
    Config(String),
}

impl AppState {
    /// Connects, runs migrations, opens the store and starts everything
    /// that runs in the background. The server is ready once this returns.
    pub async fn start(database: &DatabaseArgs, config: Config) -> Result<Self, StartError> {
        let db = crate::db::connect_and_migrate(database)
            .await
            .map_err(StoreError::from)?;
        Self::start_on(db, config).await
    }

    /// Like `start`, on a connection that the caller made and migrated
    /// (a test that watches the statements the server runs, say).
    pub async fn start_on(
        db: sea_orm::DatabaseConnection,
        config: Config,
    ) -> Result<Self, StartError> {
        let auth = Authenticator::new(&config.auth).map_err(StartError::Config)?;
        let store = EventStore::open_with(db, store_config(&config)).await?;
        let node = &config.node;
        let node_id = node.id(None);
        let projections = Projections::start(
            store.clone(),
            Projections::standard(),
            &node_id,
            node.role.runs_projections(),
            config.projections.interval(),
        )
        .await
        .map_err(StoreError::from)?;
        let state = Self::new(store, projections, config, auth, node_id);
        // Past this the node goes on without it, reporting 503 on /ready
        // until the connection is made.
        state.listener.heard(Duration::from_secs(5)).await;
        Ok(state)
    }

    /// The parts on a store and projections that are already running.
    pub fn new(
        store: EventStore,
        projections: Projections,
        config: Config,
        auth: Authenticator,
        node_id: String,
    ) -> Self {
        // Installed before the first command or append records anything.
        crate::metrics::handle();
        let commands = Arc::new(Commands::new(
            store.clone(),
            config.commands.aggregate_cache_size,
            config.commands.snapshot_every,
        ));
        let hub = Hub::start(store.clone());
        let schema = build_schema(SchemaParts {
            store: store.clone(),
            commands: commands.clone(),
            projections: projections.clone(),
            hub: hub.clone(),
            config: config.clone(),
        });
        let shutdown = CancellationToken::new();
        let listener = Listener::start(store.clone(), projections.clone(), shutdown.clone());
        Self {
            node_id,
            listener,
            connections: ConnectionLimit::new(
                config.subscriptions.max_connections,
                config.server.max_connections_per_ip,
            ),
            auth: Arc::new(auth),
            shutdown,
            config,
            store,
            commands,
            projections,
            hub,
            schema,
        }
    }

    /// What the HTTP layer serves, on a loopback address or not (which
    /// decides the default origins).
    pub fn http(&self, loopback: bool) -> Result<HttpState, StartError> {
        let server = &self.config.server;
        Ok(HttpState {
            schema: self.schema.clone(),
            store: self.store.clone(),
            projections: self.projections.clone(),
            requests: self.config.requests.clone(),
            max_event_bytes: self.config.events.max_event_bytes,
            subscriptions: self.config.subscriptions.clone(),
            connections: self.connections.clone(),
            auth: self.auth.clone(),
            origins: Origins::new(&server.cors_origins, loopback).map_err(StartError::Config)?,
            shedding: Shedding::new(
                server.max_in_flight,
                server.max_in_flight_per_ip,
                server.request_timeout(),
            ),
            persisted: PersistedQueries::new(self.config.requests.persisted_query_cache_bytes),
            listener: self.listener.clone(),
            role: self.config.node.role,
            graphiql: self.config.serves_graphiql(),
            shutdown: self.shutdown.clone(),
        })
    }
}

/// How the store is opened for this configuration: Chronicle's upcasters,
/// the event limits, and the aggregate categories only commands may write.
pub fn store_config(config: &Config) -> StoreConfig {
    StoreConfig {
        upcasters: Upcasters::standard(),
        limits: config.events,
        reserved_categories: AGGREGATE_CATEGORIES.to_vec(),
    }
}

/// Why serving `config` on `addr` is refused, if it is: with no
/// credentials configured every caller is admin, which is for loopback
/// only unless the operator says otherwise.
pub fn exposure_refusal(addr: SocketAddr, config: &Config) -> Option<String> {
    let auth = &config.auth;
    let credentials = auth.admin_secret.as_deref().is_some_and(|s| !s.is_empty())
        || auth.jwt_secret.as_deref().is_some_and(|s| !s.is_empty())
        || auth.jwt_public_key.is_some();
    (!credentials && !addr.ip().is_loopback() && !auth.allow_unauthenticated).then(|| {
        format!(
            "refusing to serve on {addr} with no credentials configured (every caller would be admin): \
             set --admin-secret or --jwt-secret/--jwt-public-key, listen on 127.0.0.1, or pass --allow-unauthenticated"
        )
    })
}

/// Serves the app on `listener` until `shutdown` completes; then stops
/// accepting, lets requests in flight finish, closes WebSockets (1001)
/// and lets each projection end its batch. Taking the listener lets a test
/// bind port 0.
///
/// Refuses to serve with no credentials configured on an address other
/// than loopback, unless `--allow-unauthenticated` says so: every caller
/// would be admin.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let loopback = addr.ip().is_loopback();
    if let Some(refusal) = exposure_refusal(addr, &state.config) {
        return Err(std::io::Error::other(refusal));
    }
    let http = state.http(loopback).map_err(std::io::Error::other)?;
    let registry = Registry::new(
        state.store.db().clone(),
        state.node_id.clone(),
        state.config.node.role,
        addr.to_string(),
    );
    registry.start(state.projections.clone(), state.shutdown.clone());
    let token = state.shutdown.clone();
    let signal = async move {
        shutdown.await;
        token.cancel();
    };
    let app = crate::http::router(http).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await?;
    state.projections.stop().await;
    Ok(())
}
