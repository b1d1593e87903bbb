//! Start-up and serving: connect, migrate, open the store, build the
//! schema; then serve until the shutdown signal.

use std::future::Future;

use tokio::net::TcpListener;

use std::sync::Arc;

use crate::commands::Commands;
use crate::config::{DatabaseArgs, Limits};
use crate::graphql::{ChronicleSchema, build_schema};
use crate::projections::Projections;
use crate::store::EventStore;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub limits: Limits,
    pub connections: crate::http::ConnectionLimit,
    pub store: EventStore,
    pub commands: Arc<Commands>,
    pub projections: Projections,
    pub schema: ChronicleSchema,
}

impl AppState {
    /// Connects, runs migrations and starts the store's writer. The server
    /// is ready once this returns.
    pub async fn start(
        database: &DatabaseArgs,
        limits: Limits,
    ) -> Result<Self, crate::store::StoreError> {
        let db = crate::db::connect_and_migrate(database).await?;
        Self::start_on(db, limits).await
    }

    /// Like `start`, on a connection that the caller made and migrated
    /// (a test that watches the statements the server runs, say).
    pub async fn start_on(
        db: sea_orm::DatabaseConnection,
        limits: Limits,
    ) -> Result<Self, crate::store::StoreError> {
        let store =
            EventStore::open_with(db, crate::store::Upcasters::standard(), limits.events).await?;
        let projections = Projections::start(store.clone(), Projections::standard()).await?;
        Ok(Self::new(store, projections, limits))
    }

    pub fn new(store: EventStore, projections: Projections, limits: Limits) -> Self {
        // Installed before the first command or append records anything.
        crate::metrics::handle();
        let commands = Arc::new(Commands::new(
            store.clone(),
            limits.aggregate_cache_size,
            limits.snapshot_every,
        ));
        let schema = build_schema(
            store.clone(),
            commands.clone(),
            projections.clone(),
            limits.clone(),
        );
        Self {
            connections: crate::http::ConnectionLimit::new(limits.max_connections),
            limits,
            store,
            commands,
            projections,
            schema,
        }
    }
}

/// Serves the app on `listener` until `shutdown` completes, then lets
/// requests in flight finish. Taking the listener lets a test bind port 0.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, crate::http::app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
