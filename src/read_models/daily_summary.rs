//! DailySummary: per UTC day and currency, the money that came in
//! (deposits and opening balances), the money that went out
//! (withdrawals), and how many movements there were.
//!
//! A transfer moves money between two accounts of one currency, so it
//! changes neither deposits nor withdrawals; it counts once, on its out
//! side, so that a transfer is one transaction and not two. A batch is
//! folded in memory with the pure [`fold`] over the rows it touches,
//! recalled from the joint turn's memo or loaded once, and written back
//! in one upsert.

use std::collections::{BTreeSet, HashMap};

use entity::daily_summaries as row;
pub use entity::daily_summaries::Model as SummaryRow;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseExecutor, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

use super::account_balances::account_events;
use serde_json::json;

use super::memo;
use super::rows::{Kind, RowsWrite};
use super::{Projection, ProjectionError, Target, Writes};
use crate::domain::Aggregate;
use crate::domain::account::{Account, AccountEvent};
use crate::store::RecordedEvent;

/// A summary row's key: the UTC day (`YYYY-MM-DD`) and the currency.
pub type Day = (String, String);

pub struct DailySummary;

#[async_trait::async_trait]
impl Projection for DailySummary {
    fn name(&self) -> &'static str {
        "DailySummary"
    }

    fn category(&self) -> &'static str {
        Account::CATEGORY
    }

    async fn apply(
        &self,
        to: &mut Target<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let decoded = account_events(events)?;
        let counted: Vec<(Day, &AccountEvent, &RecordedEvent)> = decoded
            .iter()
            .filter_map(|(_, recorded, event)| {
                day_of(recorded, event).map(|day| (day, event, *recorded))
            })
            .collect();
        if counted.is_empty() {
            return Ok(());
        }
        let touched: BTreeSet<Day> = counted.iter().map(|(day, _, _)| day.clone()).collect();
        let mut sums = memo::recall(to.memo, touched.iter().cloned(), |missing| {
            load(to.reads, missing)
        })
        .await?;
        for (day, event, recorded) in counted {
            let current = sums.get(&day).copied().unwrap_or_default();
            sums.insert(day.clone(), fold(current, &day, recorded, event)?);
        }
        let changed = touched
            .into_iter()
            .filter_map(|day| sums.get(&day).map(|s| s.into_row(day)))
            .collect();
        upsert(to.writes, changed);
        memo::keep(to.memo, sums);
        Ok(())
    }

    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        row::Entity::delete_many().exec(txn).await?;
        Ok(())
    }
}

/// One day's sums in one currency, in minor units. 128 bits: a day's sum
/// over every account is unbounded in count, and no bound on one amount
/// keeps it within 64 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub deposits: i128,
    pub withdrawals: i128,
    pub transactions: i64,
}

impl Summary {
    pub fn net_change(&self) -> i128 {
        self.deposits - self.withdrawals
    }

    fn from_row(m: &row::Model) -> Result<Self, ProjectionError> {
        let parse = |column: &str, text: &str| {
            text.parse::<i128>().map_err(|_| {
                ProjectionError::Corrupt(format!(
                    "daily_summaries {} {} has {column} {text:?}, not an integer",
                    m.date, m.currency
                ))
            })
        };
        Ok(Self {
            deposits: parse("deposits", &m.deposits)?,
            withdrawals: parse("withdrawals", &m.withdrawals)?,
            transactions: m.transaction_count,
        })
    }

    fn into_row(self, (date, currency): Day) -> row::Model {
        row::Model {
            date,
            currency,
            deposits: self.deposits.to_string(),
            withdrawals: self.withdrawals.to_string(),
            net_change: self.net_change().to_string(),
            transaction_count: self.transactions,
        }
    }
}

/// The day and currency an account event counts toward; `None` for the
/// events no summary counts (a transfer's in side, a closing).
pub fn day_of(recorded: &RecordedEvent, event: &AccountEvent) -> Option<Day> {
    use AccountEvent as E;
    let currency = match event {
        E::AccountOpened { currency, .. }
        | E::MoneyDeposited { currency, .. }
        | E::MoneyWithdrawn { currency, .. }
        | E::MoneyTransferredOut { currency, .. } => currency,
        E::MoneyTransferredIn { .. } | E::AccountClosed {} => return None,
    };
    let date = recorded.recorded_at.format("%Y-%m-%d").to_string();
    Some((date, currency.clone()))
}

/// The day's summary after one event that [`day_of`] counts toward `day`.
/// Pure: `apply` and the tests fold with it. Amounts are at most
/// `Money::MAX` (the domain refuses more), so the 128-bit sums would need
/// more than 10^23 events in one day to overflow; the check is kept so
/// that even a corrupted log fails loudly instead of wrapping.
pub fn fold(
    mut sum: Summary,
    day: &Day,
    recorded: &RecordedEvent,
    event: &AccountEvent,
) -> Result<Summary, ProjectionError> {
    use AccountEvent as E;
    let (deposit, withdrawal) = match event {
        E::AccountOpened {
            initial_balance, ..
        } => (*initial_balance, 0),
        E::MoneyDeposited { amount, .. } => (*amount, 0),
        E::MoneyWithdrawn { amount, .. } => (0, *amount),
        _ => (0, 0),
    };
    let overflow = || {
        ProjectionError::Event(format!(
            "the {} {} summary overflows at position {}",
            day.0, day.1, recorded.position
        ))
    };
    sum.deposits = sum
        .deposits
        .checked_add(i128::from(deposit))
        .ok_or_else(overflow)?;
    sum.withdrawals = sum
        .withdrawals
        .checked_add(i128::from(withdrawal))
        .ok_or_else(overflow)?;
    sum.transactions = sum.transactions.checked_add(1).ok_or_else(overflow)?;
    Ok(sum)
}

/// The stored sums of the days of `days`, every currency of each (more
/// than asked for: a day's rows are read by its date).
async fn load(
    reads: &DatabaseExecutor<'_>,
    days: Vec<Day>,
) -> Result<HashMap<Day, Summary>, ProjectionError> {
    let dates: BTreeSet<String> = days.into_iter().map(|(date, _)| date).collect();
    let mut sums = HashMap::new();
    for m in row::Entity::find()
        .filter(row::Column::Date.is_in(dates))
        .all(reads)
        .await?
    {
        let summary = Summary::from_row(&m)?;
        sums.insert((m.date, m.currency), summary);
    }
    Ok(sums)
}

/// The rows' upsert (`rows.rs`).
static UPSERT: RowsWrite = RowsWrite::new(
    "daily_summaries",
    &[
        ("date", Kind::Text),
        ("currency", Kind::Text),
        ("deposits", Kind::Text),
        ("withdrawals", Kind::Text),
        ("net_change", Kind::Text),
        ("transaction_count", Kind::BigInt),
    ],
    Some(&["date", "currency"]),
);

fn upsert(writes: &mut Writes, rows: Vec<row::Model>) {
    let rows = rows
        .into_iter()
        .map(|m| {
            json!({
                "date": m.date, "currency": m.currency, "deposits": m.deposits,
                "withdrawals": m.withdrawals, "net_change": m.net_change,
                "transaction_count": m.transaction_count,
            })
        })
        .collect();
    writes.push_rows(&UPSERT, rows);
}

// ------------------------------------------------------------- queries

/// The summaries of the days `from..=to` (either may be open), by date,
/// then currency. Days are `YYYY-MM-DD`, which compares as text in date
/// order.
pub async fn range<C: ConnectionTrait>(
    db: &C,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<SummaryRow>, DbErr> {
    let mut query = row::Entity::find();
    if let Some(from) = from {
        query = query.filter(row::Column::Date.gte(from.to_owned()));
    }
    if let Some(to) = to {
        query = query.filter(row::Column::Date.lte(to.to_owned()));
    }
    query
        .order_by_asc(row::Column::Date)
        .order_by_asc(row::Column::Currency)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::recorded;

    /// Folds `events`, all recorded on one day, into that day's summaries,
    /// by currency.
    fn summarize(events: &[AccountEvent]) -> Vec<(String, Summary)> {
        let mut sums: HashMap<Day, Summary> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            let recorded = recorded("account-a", 1, i as i64 + 1);
            if let Some(day) = day_of(&recorded, event) {
                let current = sums.remove(&day).unwrap_or_default();
                sums.insert(day.clone(), fold(current, &day, &recorded, event).unwrap());
            }
        }
        let mut sums: Vec<_> = sums.into_iter().map(|((_, c), s)| (c, s)).collect();
        sums.sort_by(|a, b| a.0.cmp(&b.0));
        sums
    }

    fn opened(currency: &str, balance: i64) -> AccountEvent {
        AccountEvent::AccountOpened {
            owner: "Ada".into(),
            currency: currency.into(),
            initial_balance: balance,
        }
    }

    #[test]
    fn opening_balances_count_as_deposits_and_every_opening_as_a_transaction() {
        let rows = summarize(&[opened("USD", 500), opened("USD", 0)]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].1.deposits, rows[0].1.net_change()), (500, 500));
        assert_eq!(rows[0].1.transactions, 2);
    }

    #[test]
    fn a_transfer_counts_once_and_moves_neither_deposits_nor_withdrawals() {
        let out = AccountEvent::MoneyTransferredOut {
            transfer_id: uuid::Uuid::nil(),
            to_account_id: "b".into(),
            amount: 40,
            currency: "EUR".into(),
            description: None,
        };
        let into = AccountEvent::MoneyTransferredIn {
            transfer_id: uuid::Uuid::nil(),
            from_account_id: "a".into(),
            amount: 40,
            currency: "EUR".into(),
            description: None,
        };
        let withdrawn = AccountEvent::MoneyWithdrawn {
            amount: 15,
            currency: "EUR".into(),
            description: None,
        };
        let rows = summarize(&[out, into, withdrawn]);
        assert_eq!(rows.len(), 1);
        let r = &rows[0].1;
        assert_eq!((r.deposits, r.withdrawals, r.net_change()), (0, 15, -15));
        assert_eq!(r.transactions, 2);
    }

    #[test]
    fn currencies_are_summarized_apart() {
        let rows = summarize(&[opened("USD", 1), opened("JPY", 2)]);
        let keys: Vec<_> = rows.iter().map(|(c, s)| (c.as_str(), s.deposits)).collect();
        assert_eq!(keys, [("JPY", 2), ("USD", 1)]);
    }

    #[test]
    fn a_day_of_largest_deposits_sums_past_64_bits_exactly() {
        let largest = opened("USD", crate::domain::money::Money::MAX.0);
        let events = vec![largest; 10_000];
        let rows = summarize(&events);
        assert_eq!(
            rows[0].1.deposits,
            10_000 * i128::from(crate::domain::money::Money::MAX.0)
        );
        assert!(rows[0].1.deposits > i128::from(i64::MAX));
        let row = rows[0].1.into_row(("2026-11-22".into(), "USD".into()));
        assert_eq!(Summary::from_row(&row).unwrap(), rows[0].1);
    }
}
