//! DailySummary: per UTC day and currency, the money that came in
//! (deposits and opening balances), the money that went out
//! (withdrawals), and how many movements there were.
//!
//! A transfer moves money between two accounts of one currency, so it
//! changes neither deposits nor withdrawals; it counts once, on its out
//! side, so that a transfer is one transaction and not two. A batch is
//! folded in memory with the pure [`fold`] over the rows it touches,
//! loaded once, and written back in one upsert.

use std::collections::{BTreeSet, HashMap};

use entity::daily_summaries as row;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
};

use super::account_balances::account_events;
use super::{Projection, ProjectionError};
use crate::domain::account::AccountEvent;
use crate::store::RecordedEvent;

/// A summary row's key: the UTC day (`YYYY-MM-DD`) and the currency.
pub type Day = (String, String);

pub struct DailySummary;

#[async_trait::async_trait]
impl Projection for DailySummary {
    fn name(&self) -> &'static str {
        "DailySummary"
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
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
        let dates: BTreeSet<&str> = counted.iter().map(|((d, _), _, _)| d.as_str()).collect();
        let mut rows: HashMap<Day, row::Model> = row::Entity::find()
            .filter(row::Column::Date.is_in(dates))
            .all(txn)
            .await?
            .into_iter()
            .map(|m| ((m.date.clone(), m.currency.clone()), m))
            .collect();
        let mut touched = BTreeSet::new();
        for (day, event, recorded) in counted {
            let next = fold(rows.remove(&day), &day, recorded, event)?;
            rows.insert(day.clone(), next);
            touched.insert(day);
        }
        let changed = touched.iter().filter_map(|day| rows.remove(day)).collect();
        upsert(txn, changed).await?;
        Ok(())
    }

    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        row::Entity::delete_many().exec(txn).await?;
        Ok(())
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
/// Pure: `apply` and the tests fold with it.
pub fn fold(
    current: Option<row::Model>,
    day: &Day,
    recorded: &RecordedEvent,
    event: &AccountEvent,
) -> Result<row::Model, ProjectionError> {
    use AccountEvent as E;
    let mut row = current.unwrap_or_else(|| row::Model {
        date: day.0.clone(),
        currency: day.1.clone(),
        deposits: 0,
        withdrawals: 0,
        net_change: 0,
        transaction_count: 0,
    });
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
    row.deposits = row.deposits.checked_add(deposit).ok_or_else(overflow)?;
    row.withdrawals = row
        .withdrawals
        .checked_add(withdrawal)
        .ok_or_else(overflow)?;
    row.net_change = row
        .deposits
        .checked_sub(row.withdrawals)
        .ok_or_else(overflow)?;
    row.transaction_count = row.transaction_count.checked_add(1).ok_or_else(overflow)?;
    Ok(row)
}

async fn upsert(txn: &DatabaseTransaction, rows: Vec<row::Model>) -> Result<(), DbErr> {
    use row::Column as C;
    for chunk in rows.chunks(500) {
        let models = chunk.iter().map(|m| row::ActiveModel {
            date: Set(m.date.clone()),
            currency: Set(m.currency.clone()),
            deposits: Set(m.deposits),
            withdrawals: Set(m.withdrawals),
            net_change: Set(m.net_change),
            transaction_count: Set(m.transaction_count),
        });
        row::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([C::Date, C::Currency])
                    .update_columns([
                        C::Deposits,
                        C::Withdrawals,
                        C::NetChange,
                        C::TransactionCount,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projections::testing::recorded;

    /// Folds `events`, all recorded on one day, into that day's summaries.
    fn summarize(events: &[AccountEvent]) -> Vec<row::Model> {
        let mut rows: HashMap<Day, row::Model> = HashMap::new();
        for (i, event) in events.iter().enumerate() {
            let recorded = recorded("account-a", 1, i as i64 + 1);
            if let Some(day) = day_of(&recorded, event) {
                let next = fold(rows.remove(&day), &day, &recorded, event).unwrap();
                rows.insert(day, next);
            }
        }
        let mut rows: Vec<_> = rows.into_values().collect();
        rows.sort_by(|a, b| a.currency.cmp(&b.currency));
        rows
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
        assert_eq!((rows[0].deposits, rows[0].net_change), (500, 500));
        assert_eq!(rows[0].transaction_count, 2);
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
        let r = &rows[0];
        assert_eq!((r.deposits, r.withdrawals, r.net_change), (0, 15, -15));
        assert_eq!(r.transaction_count, 2);
    }

    #[test]
    fn currencies_are_summarized_apart() {
        let rows = summarize(&[opened("USD", 1), opened("JPY", 2)]);
        let keys: Vec<_> = rows
            .iter()
            .map(|r| (r.currency.as_str(), r.deposits))
            .collect();
        assert_eq!(keys, [("JPY", 2), ("USD", 1)]);
    }
}
