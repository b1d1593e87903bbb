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
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::commands::{AGGREGATE_CATEGORIES, Commands};
use crate::config::{Config, DatabaseArgs};
use crate::graphql::{ChronicleSchema, SchemaParts, build_schema};
use crate::http::{ConnectionLimit, HttpState};
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
    connections: ConnectionLimit,
}

impl AppState {
    /// Connects, runs migrations, opens the store and starts everything
    /// that runs in the background. The server is ready once this returns.
    pub async fn start(database: &DatabaseArgs, config: Config) -> Result<Self, StoreError> {
        let db = crate::db::connect_and_migrate(database).await?;
        Self::start_on(db, config).await
    }

    /// Like `start`, on a connection that the caller made and migrated
    /// (a test that watches the statements the server runs, say).
    pub async fn start_on(
        db: sea_orm::DatabaseConnection,
        config: Config,
    ) -> Result<Self, StoreError> {
        let store = EventStore::open_with(db, store_config(&config)).await?;
        let projections = Projections::start(store.clone(), Projections::standard()).await?;
        Ok(Self::new(store, projections, config))
    }

    /// The parts on a store and projections that are already running.
    pub fn new(store: EventStore, projections: Projections, config: Config) -> Self {
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
        Self {
            connections: ConnectionLimit::new(config.subscriptions.max_connections),
            config,
            store,
            commands,
            projections,
            hub,
            schema,
        }
    }

    /// What the HTTP layer serves.
    pub fn http(&self) -> HttpState {
        HttpState {
            schema: self.schema.clone(),
            store: self.store.clone(),
            requests: self.config.requests.clone(),
            max_event_bytes: self.config.events.max_event_bytes,
            subscriptions: self.config.subscriptions.clone(),
            connections: self.connections.clone(),
        }
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

/// Serves the app on `listener` until `shutdown` completes, then lets
/// requests in flight finish. Taking the listener lets a test bind port 0.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, crate::http::router(state.http()))
        .with_graceful_shutdown(shutdown)
        .await
}
