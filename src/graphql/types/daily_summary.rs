//! `DailySummary` (the DailySummary read model).

use crate::read_models::daily_summary::SummaryRow;
use async_graphql::SimpleObject;

use crate::domain::money::{Currency, format_minor};
use crate::graphql::ApiError;
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
    /// transfers counted once each. Past 2147483647 in one day (a GraphQL
    /// Int's limit) it stays at 2147483647.
    pub transaction_count: i32,
}

impl TryFrom<SummaryRow> for DailySummary {
    type Error = ApiError;

    fn try_from(m: SummaryRow) -> Result<Self, ApiError> {
        let corrupt = |what: &str| {
            ApiError::Internal(format!(
                "daily_summaries {} {}: {what} is not valid",
                m.date, m.currency
            ))
        };
        let currency = Currency::parse(&m.currency).map_err(|_| corrupt("the currency"))?;
        let money = |text: &str, what: &str| {
            text.parse::<i128>()
                .map(|minor| Decimal(format_minor(minor, &currency)))
                .map_err(|_| corrupt(what))
        };
        Ok(Self {
            deposits: money(&m.deposits, "deposits")?,
            withdrawals: money(&m.withdrawals, "withdrawals")?,
            net_change: money(&m.net_change, "netChange")?,
            transaction_count: i32::try_from(m.transaction_count).unwrap_or(i32::MAX),
            date: m.date,
            currency: m.currency,
        })
    }
}
