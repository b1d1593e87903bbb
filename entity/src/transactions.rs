//! Read model of the TransactionHistory projection: one row per money
//! movement on an account (its opening included), newest last by position.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transactions")]
pub struct Model {
    /// The id of the event that recorded the movement.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub account_id: String,
    pub kind: TransactionKind,
    /// Integer minor units of `currency`, never negative.
    pub amount: i64,
    /// The account's balance right after this movement, in minor units.
    pub balance_after: i64,
    pub currency: String,
    pub description: Option<String>,
    /// The other account of a transfer.
    pub counterparty_account_id: Option<String>,
    /// Global position of the event; `(account_id, position)` is unique.
    pub position: i64,
    /// When the event was recorded.
    pub occurred_at: DateTimeUtc,
}

/// What a movement did to its account, as stored. Reading any other value
/// is an error, never a guess.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum TransactionKind {
    #[sea_orm(string_value = "OPENING")]
    Opening,
    #[sea_orm(string_value = "DEPOSIT")]
    Deposit,
    #[sea_orm(string_value = "WITHDRAWAL")]
    Withdrawal,
    #[sea_orm(string_value = "TRANSFER_IN")]
    TransferIn,
    #[sea_orm(string_value = "TRANSFER_OUT")]
    TransferOut,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
