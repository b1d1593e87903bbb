//! The command log: one row per command id, written in the same transaction
//! as the command's events (or alone, for a rejected or failed command), so
//! a retry with the same id finds the first outcome.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commands")]
pub struct Model {
    /// The client's idempotency key, or a generated UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub command_type: String,
    /// The command's input, to tell a retry from a reuse of the id.
    pub input: Json,
    /// SUCCEEDED, REJECTED or FAILED.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub stream_id: Option<String>,
    pub version: Option<i64>,
    /// The command's events are the positions first_position..=position:
    /// one append's events are consecutive in the log.
    pub first_position: Option<i64>,
    pub position: Option<i64>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
