//! `DailySummary` (the DailySummary read model).

use async_graphql::SimpleObject;
use entity::daily_summaries as row;

use super::account::format_money;
use crate::graphql::scalars::Decimal;

/// Money in and out of all accounts of one currency on one UTC day.
///
/// `deposits` counts MoneyDeposited and the initial balances of accounts
/// opened that day; `withdrawals` counts MoneyWithdrawn. A transfer moves
/// money between two accounts of the same currency, so it changes neither
/// deposits nor withdrawals (nor `netChange`); it counts once in
/// `transactionCount`, on its sending side.
#[derive(Clone, Debug, SimpleObject)]
pub struct DailySummary {
    /// UTC day, YYYY-MM-DD.
    pub date: String,
    pub currency: String,
    /// Deposits plus the opening balances of accounts opened that day.
    pub deposits: Decimal,
    /// Withdrawals (transfers are not counted).
    pub withdrawals: Decimal,
    /// deposits - withdrawals.
    pub net_change: Decimal,
    /// Openings (even of an empty account), deposits, withdrawals, and
    /// transfers counted once each.
    pub transaction_count: i32,
}

impl From<row::Model> for DailySummary {
    fn from(m: row::Model) -> Self {
        Self {
            deposits: Decimal(format_money(m.deposits, &m.currency)),
            withdrawals: Decimal(format_money(m.withdrawals, &m.currency)),
            net_change: Decimal(format_money(m.net_change, &m.currency)),
            date: m.date,
            currency: m.currency,
            transaction_count: m.transaction_count,
        }
    }
}
