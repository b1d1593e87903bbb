//! Read model of the AccountBalances projection: one row per account.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_summaries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    pub owner: String,
    pub currency: String,
    /// Integer minor units of `currency`.
    pub balance: i64,
    /// OPEN or CLOSED.
    pub status: String,
    /// The account stream version this row reflects.
    pub version: i64,
    pub transaction_count: i32,
    pub opened_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
