//! Read model of the DailySummary projection: one row per UTC day and
//! currency.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "daily_summaries")]
pub struct Model {
    /// UTC day, `YYYY-MM-DD` (sorts as text in date order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub date: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    /// Deposits and opening balances, in minor units, as decimal text of a
    /// 128-bit integer (a day's sum over all accounts outgrows 64 bits).
    pub deposits: String,
    /// Withdrawals, in minor units, as decimal text.
    pub withdrawals: String,
    /// `deposits - withdrawals`, as decimal text.
    pub net_change: String,
    /// Openings, deposits, withdrawals and transfers (each transfer once).
    pub transaction_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
