//! The append-only event log: one row per event, ordered by the global
//! `position` that the store's single writer assigns at commit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Global position, assigned by the writer (not by the database) so that
    /// positions are gap-free and increase in commit order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i64,
    #[sea_orm(unique)]
    pub event_id: Uuid,
    pub stream_id: String,
    /// 1-based version inside the stream; `(stream_id, version)` is unique.
    pub version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub data: Json,
    pub metadata: Json,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
