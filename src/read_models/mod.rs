//! The read side: each read model is one module holding both its sides,
//! the projection that folds the global log into its table and the
//! queries that read the table (`account_balances.rs`,
//! `transaction_history.rs`, `daily_summary.rs`, `users.rs`). Where a
//! projection updates a row: its pure `fold`.
//!
//! The projections run in `runtime/`: one task each, reading the log after
//! its checkpoint in batches, applying a batch to its table and advancing
//! its checkpoint in the same transaction. Once caught up, a projection
//! hands its batches to the node's joint turn (`runtime/turn.rs`), which
//! applies every caught-up projection's share of each new stretch of the
//! log in one transaction. Delivery is at least once; the checkpoint read
//! inside that transaction makes a redelivered batch a no-op.

pub mod account_balances;
pub mod daily_summary;
mod memo;
mod rows;
mod runtime;
#[cfg(test)]
pub(crate) mod testing;
pub mod transaction_history;
pub mod users;
mod writes;

use sea_orm::{DatabaseExecutor, DatabaseTransaction, DbErr};

pub use runtime::{
    PROJECTION_CHANNEL, ProjectionState, ProjectionStatus, Projections, ProjectionsError,
};

pub use account_balances::AccountBalances;
pub use daily_summary::DailySummary;
pub use memo::Memo;
pub use transaction_history::TransactionHistory;
pub use users::Users;
pub use writes::Writes;

use crate::domain::DomainEvent;
use crate::store::{RecordedEvent, StoreError};

/// A read model fed from the global log.
#[async_trait::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// The name clients use (`AccountBalances`, ...).
    fn name(&self) -> &'static str;

    /// The stream category whose events it folds (`account`, `user`): its
    /// aggregate's. The runtime reads only that category's events, so a
    /// generic append that reuses an event type elsewhere never reaches it.
    fn category(&self) -> &'static str;

    /// Applies `events` (ascending, all after the checkpoint, all of its
    /// category) to its read tables: reads through `to.reads`, writes added to
    /// `to.writes`.
    async fn apply(
        &self,
        to: &mut Target<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError>;

    /// Empties the read tables, for a rebuild.
    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr>;
}

/// What a projection applies a batch to.
pub struct Target<'a> {
    /// Where to read rows the memo lacks: the read-model transaction, or
    /// (for a joint turn that folds before its transaction begins) the
    /// read models' pool.
    pub reads: &'a DatabaseExecutor<'a>,
    /// The rows the joint turn remembers: those need not be read, and
    /// the rows a batch reads or writes are left in it (`memo.rs` says
    /// why that is safe).
    pub memo: &'a mut Memo,
    /// The writes, sent once every projection of the transaction has
    /// applied (`writes.rs`).
    pub writes: &'a mut Writes,
}

/// Applies `events` with `projection` alone in `txn`, remembering
/// nothing, and sends its writes: how the tests fold a log outside the
/// runtime.
#[cfg(test)]
pub(crate) async fn apply_alone(
    projection: &dyn Projection,
    txn: &DatabaseTransaction,
    events: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    use sea_orm::ConnectionTrait;
    let mut writes = Writes::new(txn.get_database_backend());
    let reads = DatabaseExecutor::Transaction(txn);
    let mut to = Target {
        reads: &reads,
        memo: &mut Memo::off(),
        writes: &mut writes,
    };
    projection.apply(&mut to, events).await?;
    writes.send(txn).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// An event the projection cannot apply (unreadable data, a rule of
    /// the read model broken). The projection stops at it; an operator may
    /// skip it.
    #[error("{0}")]
    Event(String),
    /// A row of the read model that this code cannot read; a rebuild
    /// writes it anew.
    #[error("{0}")]
    Corrupt(String),
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// The events of `category` in a batch, with their aggregate ids, decoded.
/// An event that could not be brought to its current schema, or whose data
/// does not decode, is an error at its position: folded, it would be
/// misread.
pub(crate) fn decode<'a, E: DomainEvent>(
    events: &'a [RecordedEvent],
    category: &str,
) -> Result<Vec<(String, &'a RecordedEvent, E)>, ProjectionError> {
    let prefix = format!("{category}-");
    events
        .iter()
        .filter_map(|e| {
            e.stream_id
                .strip_prefix(&prefix)
                .map(|id| (id.to_owned(), e))
        })
        .map(|(id, e)| {
            let unreadable = |why: String| {
                ProjectionError::Event(format!(
                    "event {} ({} at position {}) cannot be read: {why}",
                    e.id, e.event_type, e.position
                ))
            };
            if let Some(reason) = &e.upcast_error {
                return Err(unreadable(reason.clone()));
            }
            let event = E::from_parts(&e.event_type, e.data.clone())
                .map_err(|err| unreadable(err.to_string()))?;
            Ok((id, e, event))
        })
        .collect()
}
