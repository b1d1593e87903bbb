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
    pub status: AccountStatus,
    /// The account stream version this row reflects.
    pub version: i64,
    pub transaction_count: i32,
    pub opened_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// An account's status as stored: `OPEN` or `CLOSED`. Reading any other
/// value is an error, never a guess.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum AccountStatus {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
