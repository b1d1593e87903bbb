//! LISTEN on a connection of its own for the other nodes' notifications:
//! a new head moves this node's head watch (which wakes the subscription
//! hub, the projections and read-your-writes waits), a projection's name
//! makes its runner here read its row again.
//!
//! A notification is a hint: a lost connection loses the ones sent
//! meanwhile, so after each reconnect the node reads the stored head and
//! every projection's row, and nothing is missed. Reconnects back off from
//! 100 ms to 1 s, are counted (`chronicle_listen_reconnects_total`), and
//! show in `/ready` while the connection is down.

use std::time::Duration;

use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::read_models::{PROJECTION_CHANNEL, Projections};
use crate::store::{EventStore, HEAD_CHANNEL};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Whether this node hears the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerState {
    /// One node (SQLite): nothing to hear.
    NotNeeded,
    Listening,
    /// The connection is down; it is being made again.
    Reconnecting,
}

#[derive(Clone)]
pub struct Listener {
    state: watch::Receiver<ListenerState>,
}

impl Listener {
    /// Starts listening (on PostgreSQL) until `shutdown`.
    pub fn start(store: EventStore, projections: Projections, shutdown: CancellationToken) -> Self {
        let db = store.db().clone();
        if db.get_database_backend() != DbBackend::Postgres {
            let (_, state) = watch::channel(ListenerState::NotNeeded);
            return Self { state };
        }
        let (tx, state) = watch::channel(ListenerState::Reconnecting);
        tokio::spawn(async move {
            tokio::select! {
                () = listen(db, store, projections, tx) => {}
                () = shutdown.cancelled() => {}
            }
        });
        Self { state }
    }

    pub fn state(&self) -> ListenerState {
        *self.state.borrow()
    }

    /// Waits, at most `within`, until this node hears the others (at once
    /// on SQLite). A node that answered `/ready` 503 right after it said it
    /// started surprised load balancers and tests alike.
    pub async fn heard(&self, within: Duration) {
        let mut state = self.state.clone();
        let listening = state.wait_for(|s| *s != ListenerState::Reconnecting);
        let _ = tokio::time::timeout(within, listening).await;
    }
}

async fn listen(
    db: DatabaseConnection,
    store: EventStore,
    projections: Projections,
    state: watch::Sender<ListenerState>,
) {
    let head_channel = store.channel(HEAD_CHANNEL);
    let projection_channel = store.channel(PROJECTION_CHANNEL);
    let mut backoff = FIRST_BACKOFF;
    let mut first = true;
    loop {
        let mut listener = match connect(&db, [&head_channel, &projection_channel]).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(%err, ?backoff, "cannot LISTEN for other nodes' commits; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if !first {
            metrics::counter!(crate::metrics::LISTEN_RECONNECTS).increment(1);
            tracing::info!("listening for other nodes' commits again");
        }
        first = false;
        backoff = FIRST_BACKOFF;
        // What was sent while nobody listened is read from the tables.
        catch_up(&store, &projections).await;
        state.send_replace(ListenerState::Listening);
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let channel = notification.channel();
                    if channel == head_channel {
                        if let Ok(head) = notification.payload().parse::<i64>() {
                            store.observe_head(head);
                        }
                    } else if channel == projection_channel {
                        projections.refresh(notification.payload());
                    }
                }
                Ok(None) => {
                    // The connection was lost and made again at once: what
                    // was sent in between is read from the tables.
                    metrics::counter!(crate::metrics::LISTEN_RECONNECTS).increment(1);
                    tracing::info!("the LISTEN connection was remade; reading what it missed");
                    catch_up(&store, &projections).await;
                }
                Err(err) => {
                    tracing::warn!(%err, "the LISTEN connection was lost; reconnecting");
                    state.send_replace(ListenerState::Reconnecting);
                    break;
                }
            }
        }
    }
}

/// Reads what notifications may have been lost for: the stored head and
/// every projection's row.
async fn catch_up(store: &EventStore, projections: &Projections) {
    if let Err(err) = store.stored_head().await {
        tracing::warn!(%err, "could not read the stored head after (re)connecting");
    }
    projections.refresh_all();
}

/// Listens on a pool of one connection, made for the listener: sqlx's
/// listener keeps the connection it takes from its pool for as long as it
/// lives, and taken from the request pool it left that pool one short for
/// the node's whole life (`--db-pool-size 8` served requests with 7).
async fn connect(
    db: &DatabaseConnection,
    channels: [&str; 2],
) -> Result<PgListener, sea_orm::sqlx::Error> {
    let pool = db.get_postgres_connection_pool();
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_lazy_with((*pool.connect_options()).clone());
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen_all(channels).await?;
    Ok(listener)
}
