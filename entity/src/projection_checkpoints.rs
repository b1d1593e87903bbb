//! One row per projection: how far into the global log it has applied, in
//! the same transaction as its read-table writes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "projection_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Global position of the last event applied.
    pub position: i64,
    /// RUNNING, PAUSED, REBUILDING or FAILED (CATCHING_UP is derived).
    pub status: String,
    pub events_processed: i64,
    pub last_error: Option<String>,
    /// The position of the event that failed, while FAILED.
    pub failed_position: Option<i64>,
    pub updated_at: DateTimeUtc,
    /// Events an operator skipped: `[{ "position", "error", "at" }]`.
    pub skipped_events: Option<Json>,
    /// Bumped by each node that takes the projection over; an apply
    /// transaction whose node holds an older epoch has lost it and writes
    /// nothing (fencing).
    pub lease_epoch: i64,
    /// The node that runs the projection now; null while none does.
    pub lease_node: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
