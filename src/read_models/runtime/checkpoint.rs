//! Reading and writing a projection's checkpoint row.

use chrono::{DateTime, Utc};
use entity::projection_checkpoints as cp;
use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::ProjectionState;
use crate::read_models::rows::{Kind, RowsWrite, time};

/// A checkpoint as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub position: i64,
    pub state: ProjectionState,
    pub events_processed: i64,
    pub last_error: Option<String>,
    pub failed_position: Option<i64>,
    pub skipped: Vec<SkippedEvent>,
    pub updated_at: DateTime<Utc>,
    /// The epoch of the node that runs the projection (see `lease.rs`).
    pub lease_epoch: i64,
    /// The node that runs it, as the last one to take it over wrote.
    pub lease_node: Option<String>,
}

/// An event an operator told the projection to pass over, and why it had
/// failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEvent {
    pub position: i64,
    pub error: String,
    pub at: DateTime<Utc>,
}

impl Checkpoint {
    pub fn start() -> Self {
        Self {
            position: 0,
            state: ProjectionState::Running,
            events_processed: 0,
            last_error: None,
            failed_position: None,
            skipped: Vec::new(),
            updated_at: Utc::now(),
            lease_epoch: 0,
            lease_node: None,
        }
    }
}

/// The stored checkpoint, locked until the transaction ends (on
/// PostgreSQL; a SQLite writer holds the whole database), so that two
/// nodes cannot apply the same batch at once, and an operator's change and
/// an apply come one after the other.
pub async fn load<C: ConnectionTrait>(conn: &C, name: &str) -> Result<Option<Checkpoint>, DbErr> {
    read(conn, name, true).await
}

/// The stored checkpoint as it is now, for a node that only watches it.
pub async fn peek<C: ConnectionTrait>(conn: &C, name: &str) -> Result<Option<Checkpoint>, DbErr> {
    read(conn, name, false).await
}

async fn read<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    lock: bool,
) -> Result<Option<Checkpoint>, DbErr> {
    let mut query = cp::Entity::find_by_id(name.to_owned());
    if lock && conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(conn).await?.map(from_row).transpose()
}

/// The stored checkpoints of `names`, locked like [`load`]'s, in name
/// order (so two transactions that lock several take them in one order).
pub async fn load_many<C: ConnectionTrait>(
    conn: &C,
    names: &[&str],
) -> Result<HashMap<String, Checkpoint>, DbErr> {
    let mut query = cp::Entity::find()
        .filter(cp::Column::Name.is_in(names.iter().copied()))
        .order_by_asc(cp::Column::Name);
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query
        .all(conn)
        .await?
        .into_iter()
        .map(|m| Ok((m.name.clone(), from_row(m)?)))
        .collect()
}

fn from_row(m: cp::Model) -> Result<Checkpoint, DbErr> {
    let name = &m.name;
    let skipped = match m.skipped_events {
        None => Vec::new(),
        Some(json) => serde_json::from_value(json).map_err(|err| {
            DbErr::Type(format!(
                "projection_checkpoints.skipped_events of {name} is not a list of skips: {err}"
            ))
        })?,
    };
    Ok(Checkpoint {
        position: m.position,
        state: ProjectionState::parse(&m.status)?,
        events_processed: m.events_processed,
        last_error: m.last_error,
        failed_position: m.failed_position,
        skipped,
        updated_at: m.updated_at,
        lease_epoch: m.lease_epoch,
        lease_node: m.lease_node,
    })
}

/// The channel on which a node says it changed a projection's row (an
/// applied batch, a pause, a rebuild): the others read the row again.
pub const CHANNEL: &str = "chronicle_projection";

/// Tells the other nodes, once the transaction commits, that `name`'s row
/// changed (PostgreSQL; SQLite has one node).
pub async fn announce<C: ConnectionTrait>(
    conn: &C,
    store: &crate::store::EventStore,
    name: &str,
) -> Result<(), DbErr> {
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [store.channel(CHANNEL).into(), name.into()],
    ))
    .await?;
    Ok(())
}

pub async fn save<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    checkpoint: &Checkpoint,
) -> Result<(), DbErr> {
    save_many(conn, [(name, checkpoint)]).await
}

/// Writes several checkpoints in one statement.
pub async fn save_many<'a, C: ConnectionTrait>(
    conn: &C,
    checkpoints: impl IntoIterator<Item = (&'a str, &'a Checkpoint)>,
) -> Result<(), DbErr> {
    if let Some(statement) = save_statement(conn.get_database_backend(), checkpoints)? {
        conn.execute_raw(statement).await?;
    }
    Ok(())
}

/// Adds the save of several checkpoints to a transaction's `writes`,
/// sent with the projections' own.
pub fn save_with<'a>(
    writes: &mut crate::read_models::Writes,
    checkpoints: impl IntoIterator<Item = (&'a str, &'a Checkpoint)>,
) -> Result<(), DbErr> {
    if let Some(statement) = save_statement(writes.backend(), checkpoints)? {
        writes.push(statement);
    }
    Ok(())
}

/// The checkpoints' upsert (`read_models/rows.rs`).
static SAVE: RowsWrite = RowsWrite::new(
    "projection_checkpoints",
    &[
        ("name", Kind::Text),
        ("position", Kind::BigInt),
        ("status", Kind::Text),
        ("events_processed", Kind::BigInt),
        ("last_error", Kind::Text),
        ("failed_position", Kind::BigInt),
        ("updated_at", Kind::Time),
        ("skipped_events", Kind::Json),
        ("lease_epoch", Kind::BigInt),
        ("lease_node", Kind::Text),
    ],
    Some(&["name"]),
);

/// The one statement that writes several checkpoints; `None` for none.
fn save_statement<'a>(
    backend: sea_orm::DbBackend,
    checkpoints: impl IntoIterator<Item = (&'a str, &'a Checkpoint)>,
) -> Result<Option<sea_orm::Statement>, DbErr> {
    let rows = checkpoints
        .into_iter()
        .map(|(name, checkpoint)| to_row(name, checkpoint))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SAVE.statement(backend, rows))
}

fn to_row(name: &str, checkpoint: &Checkpoint) -> Result<serde_json::Value, DbErr> {
    let skipped = if checkpoint.skipped.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&checkpoint.skipped).map_err(|e| DbErr::Json(e.to_string()))?)
    };
    Ok(serde_json::json!({
        "name": name, "position": checkpoint.position, "status": checkpoint.state.stored(),
        "events_processed": checkpoint.events_processed, "last_error": checkpoint.last_error,
        "failed_position": checkpoint.failed_position, "updated_at": time(checkpoint.updated_at),
        "skipped_events": skipped, "lease_epoch": checkpoint.lease_epoch,
        "lease_node": checkpoint.lease_node,
    }))
}
