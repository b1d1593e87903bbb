//! The live Chronicle nodes on this database, one row per node, kept
//! fresh by its heartbeat and deleted when it shuts down cleanly.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// ALL, API or PROJECTOR.
    pub role: String,
    pub version: String,
    /// Where it listens.
    pub address: String,
    pub started_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// Names of the projections it runs now: a JSON array.
    pub projections: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
