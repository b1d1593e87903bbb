//! Which node runs a projection. On PostgreSQL, several nodes share the
//! read tables, and the one that holds the projection's session advisory
//! lock runs it; the others follow its checkpoint row. The locks of a node
//! live on one connection of their own, outside the pool: when the node
//! dies, is killed or loses that connection, PostgreSQL ends the session
//! and frees its locks, and another node takes them at its next try (every
//! [`super::runner`] follower tries once a second).
//!
//! A lock alone cannot keep a node that lost it from writing once more (it
//! may not know yet), so the checkpoint row carries an epoch that a node
//! bumps when it takes a projection over, and every apply transaction
//! checks that the row's epoch is still its own (under the row's lock):
//! fencing, as with a lease. SQLite is one node: it always holds its locks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::{self, Connection};
use tokio::sync::Mutex;

use crate::store::EventStore;

/// The first key of every projection lock ("CHRN"); the append lock has a
/// class of its own.
const LOCK_CLASS: i32 = 0x4348_524E;

/// This node's projection locks.
#[derive(Clone)]
pub struct Leases {
    postgres: Option<Arc<Session>>,
    /// The store's schema: stores in other schemas of the database lock
    /// other keys.
    namespace: Arc<str>,
}

/// The connection that holds the locks, made again after it is lost; the
/// generation says which incarnation a lock was taken on.
struct Session {
    options: PgConnectOptions,
    conn: Mutex<Option<PgConnection>>,
    generation: AtomicU64,
}

/// A lock this node took, on the session's incarnation `generation`.
#[derive(Debug)]
pub struct Held {
    generation: u64,
}

impl Leases {
    pub fn new(store: &EventStore) -> Self {
        let db = store.db();
        let postgres = (db.get_database_backend() == DbBackend::Postgres).then(|| {
            let options = db.get_postgres_connection_pool().connect_options();
            Arc::new(Session {
                options: (*options).clone(),
                conn: Mutex::new(None),
                generation: AtomicU64::new(0),
            })
        });
        Self {
            postgres,
            namespace: Arc::from(store.namespace()),
        }
    }

    /// The lock key of `name` in this store's schema.
    fn key(&self, name: &str) -> i32 {
        crate::store::advisory_key(&format!("{}/{name}", self.namespace))
    }

    /// Takes `name`'s lock if no node holds it; `Ok(None)` when another
    /// does.
    pub async fn try_acquire(&self, name: &str) -> Result<Option<Held>, sqlx::Error> {
        let Some(session) = &self.postgres else {
            return Ok(Some(Held { generation: 0 }));
        };
        let mut guard = session.conn.lock().await;
        if guard.is_none() {
            *guard = Some(PgConnection::connect_with(&session.options).await?);
            session.generation.fetch_add(1, Ordering::SeqCst);
        }
        let conn = guard.as_mut().expect("connected above");
        let taken = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LOCK_CLASS)
            .bind(self.key(name))
            .fetch_one(&mut *conn)
            .await;
        match taken {
            Ok(true) => Ok(Some(Held {
                generation: session.generation.load(Ordering::SeqCst),
            })),
            Ok(false) => Ok(None),
            Err(err) => {
                // A failed statement may mean a lost session: start over.
                *guard = None;
                Err(err)
            }
        }
    }

    /// Whether this node still holds `name`'s lock: its session is the one
    /// the lock was taken on, and PostgreSQL says it holds it.
    pub async fn still_held(&self, name: &str, held: &Held) -> bool {
        let Some(session) = &self.postgres else {
            return true;
        };
        let mut guard = session.conn.lock().await;
        if session.generation.load(Ordering::SeqCst) != held.generation {
            return false;
        }
        let Some(conn) = guard.as_mut() else {
            return false;
        };
        let held_now = sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2 \
             AND pid = pg_backend_pid() AND granted)",
        )
        // pg_locks shows the keys as unsigned object ids.
        .bind(i64::from(LOCK_CLASS as u32))
        .bind(i64::from(self.key(name) as u32))
        .fetch_one(&mut *conn)
        .await;
        match held_now {
            Ok(held) => held,
            Err(_) => {
                *guard = None;
                false
            }
        }
    }

    /// Gives `name`'s lock back, so that another node may take it now.
    pub async fn release(&self, name: &str, held: Held) {
        let Some(session) = &self.postgres else {
            return;
        };
        let mut guard = session.conn.lock().await;
        if session.generation.load(Ordering::SeqCst) != held.generation {
            return; // that session is gone, and its locks with it
        }
        if let Some(conn) = guard.as_mut() {
            let released = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                .bind(LOCK_CLASS)
                .bind(self.key(name))
                .execute(&mut *conn)
                .await;
            if released.is_err() {
                *guard = None;
            }
        }
    }

    /// Ends the session, freeing every lock at once (shutdown).
    pub async fn close(&self) {
        if let Some(session) = &self.postgres
            && let Some(conn) = session.conn.lock().await.take()
        {
            let _ = conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_stable_and_distinct_per_projection() {
        let names = [
            "AccountBalances",
            "TransactionHistory",
            "DailySummary",
            "Users",
        ];
        let keys: std::collections::HashSet<i32> = names
            .iter()
            .map(|n| crate::store::advisory_key(n))
            .collect();
        assert_eq!(keys.len(), names.len());
        assert_eq!(
            crate::store::advisory_key("a"),
            crate::store::advisory_key("a")
        );
    }
}
