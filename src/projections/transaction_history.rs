//! TransactionHistory: one row per money movement on an account, with the
//! account's balance right after it.
//!
//! Every opening is a movement (an OPENING of its initial balance, zero
//! included), so an account's rows number its AccountBalances
//! `transactionCount`. The projection keeps its own running balance: for
//! the accounts a batch touches, each one's latest `balance_after` is
//! loaded once, the batch is folded in memory with the pure [`fold`], and
//! the new rows are inserted in a few multi-row statements.

use std::collections::{BTreeSet, HashMap};

use entity::transactions as row;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::account_balances::account_events;
use super::{Projection, ProjectionError};
use crate::domain::account::AccountEvent;
use crate::store::RecordedEvent;

/// What a movement did to its account, as stored in `transactions.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionKind {
    Opening,
    Deposit,
    Withdrawal,
    TransferIn,
    TransferOut,
}

impl TransactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opening => "OPENING",
            Self::Deposit => "DEPOSIT",
            Self::Withdrawal => "WITHDRAWAL",
            Self::TransferIn => "TRANSFER_IN",
            Self::TransferOut => "TRANSFER_OUT",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [
            Self::Opening,
            Self::Deposit,
            Self::Withdrawal,
            Self::TransferIn,
            Self::TransferOut,
        ]
        .into_iter()
        .find(|k| k.as_str() == stored)
    }
}

pub struct TransactionHistory;

#[async_trait::async_trait]
impl Projection for TransactionHistory {
    fn name(&self) -> &'static str {
        "TransactionHistory"
    }

    fn category(&self) -> &'static str {
        <crate::domain::account::Account as crate::domain::Aggregate>::CATEGORY
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let events = account_events(events)?;
        if events.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<&str> = events.iter().map(|(id, _, _)| id.as_str()).collect();
        let mut balances = latest_balances(txn, &ids).await?;
        let mut rows = Vec::new();
        for (id, recorded, event) in &events {
            if let Some(row) = fold(balances.get(id).copied(), id, recorded, event)? {
                balances.insert(id.clone(), row.balance_after);
                rows.push(row);
            }
        }
        insert(txn, rows).await?;
        Ok(())
    }

    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        row::Entity::delete_many().exec(txn).await?;
        Ok(())
    }
}

/// The movement one account event records, given the account's balance
/// before it (`None`: the projection never saw the account opened);
/// `Ok(None)` for an event that moves no money (a closing). Pure: `apply`
/// and the tests fold with it.
pub fn fold(
    balance: Option<i64>,
    account_id: &str,
    recorded: &RecordedEvent,
    event: &AccountEvent,
) -> Result<Option<row::Model>, ProjectionError> {
    use AccountEvent as E;
    let (kind, amount, currency, description, counterparty) = match event {
        E::AccountOpened {
            currency,
            initial_balance,
            ..
        } => (
            TransactionKind::Opening,
            *initial_balance,
            currency,
            None,
            None,
        ),
        E::MoneyDeposited {
            amount,
            currency,
            description,
        } => (
            TransactionKind::Deposit,
            *amount,
            currency,
            description.as_ref(),
            None,
        ),
        E::MoneyWithdrawn {
            amount,
            currency,
            description,
        } => (
            TransactionKind::Withdrawal,
            *amount,
            currency,
            description.as_ref(),
            None,
        ),
        E::MoneyTransferredIn {
            from_account_id,
            amount,
            currency,
            description,
            ..
        } => (
            TransactionKind::TransferIn,
            *amount,
            currency,
            description.as_ref(),
            Some(from_account_id),
        ),
        E::MoneyTransferredOut {
            to_account_id,
            amount,
            currency,
            description,
            ..
        } => (
            TransactionKind::TransferOut,
            *amount,
            currency,
            description.as_ref(),
            Some(to_account_id),
        ),
        E::AccountClosed {} => return Ok(None),
    };
    let balance_after = match kind {
        TransactionKind::Opening => Some(amount),
        _ => {
            let before = balance.ok_or_else(|| {
                ProjectionError::Event(format!(
                    "{} at position {} is for account {account_id}, which was never opened",
                    recorded.event_type, recorded.position
                ))
            })?;
            match kind {
                TransactionKind::Withdrawal | TransactionKind::TransferOut => {
                    before.checked_sub(amount)
                }
                _ => before.checked_add(amount),
            }
        }
    };
    let balance_after = balance_after.ok_or_else(|| {
        ProjectionError::Event(format!(
            "balance of account {account_id} overflows at position {}",
            recorded.position
        ))
    })?;
    Ok(Some(row::Model {
        id: recorded.id,
        account_id: account_id.to_owned(),
        kind: kind.as_str().to_owned(),
        amount,
        balance_after,
        currency: currency.clone(),
        description: description.cloned(),
        counterparty_account_id: counterparty.cloned(),
        position: recorded.position,
        occurred_at: recorded.recorded_at,
    }))
}

/// Each account's balance after its latest movement, in one statement per
/// few hundred accounts: positions are unique in the whole log, so the
/// greatest position of each account names exactly its latest row.
async fn latest_balances(
    txn: &DatabaseTransaction,
    ids: &BTreeSet<&str>,
) -> Result<HashMap<String, i64>, DbErr> {
    let ids: Vec<&str> = ids.iter().copied().collect();
    let mut balances = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let latest = Query::select()
            .expr(row::Column::Position.max())
            .from(row::Entity)
            .and_where(row::Column::AccountId.is_in(chunk.iter().copied()))
            .group_by_col(row::Column::AccountId)
            .to_owned();
        let found: Vec<(String, i64)> = row::Entity::find()
            .select_only()
            .column(row::Column::AccountId)
            .column(row::Column::BalanceAfter)
            // The account filter lets the (account_id, position) index
            // serve the lookup; on position alone it scans the whole table,
            // once per batch.
            .filter(row::Column::AccountId.is_in(chunk.iter().copied()))
            .filter(row::Column::Position.in_subquery(latest))
            .into_tuple()
            .all(txn)
            .await?;
        balances.extend(found);
    }
    Ok(balances)
}

/// Plain inserts, not upserts: the checkpoint read in the same transaction
/// keeps a batch from being applied twice, so a second row for one event
/// is a bug that should stop the projection, not be papered over.
async fn insert(txn: &DatabaseTransaction, rows: Vec<row::Model>) -> Result<(), DbErr> {
    for chunk in rows.chunks(500) {
        let models = chunk.iter().map(|m| row::ActiveModel {
            id: Set(m.id),
            account_id: Set(m.account_id.clone()),
            kind: Set(m.kind.clone()),
            amount: Set(m.amount),
            balance_after: Set(m.balance_after),
            currency: Set(m.currency.clone()),
            description: Set(m.description.clone()),
            counterparty_account_id: Set(m.counterparty_account_id.clone()),
            position: Set(m.position),
            occurred_at: Set(m.occurred_at),
        });
        row::Entity::insert_many(models)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projections::testing::recorded;

    fn opened(balance: i64) -> AccountEvent {
        AccountEvent::AccountOpened {
            owner: "Ada".into(),
            currency: "USD".into(),
            initial_balance: balance,
        }
    }

    #[test]
    fn an_opening_with_nothing_in_it_is_still_a_movement() {
        let row = fold(None, "a", &recorded("account-a", 1, 1), &opened(0))
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.kind.as_str(), row.amount, row.balance_after),
            ("OPENING", 0, 0)
        );
    }

    #[test]
    fn a_transfer_out_lowers_the_running_balance_and_names_the_other_account() {
        let event = AccountEvent::MoneyTransferredOut {
            transfer_id: uuid::Uuid::nil(),
            to_account_id: "b".into(),
            amount: 30,
            currency: "USD".into(),
            description: Some("rent".into()),
        };
        let row = fold(Some(100), "a", &recorded("account-a", 2, 7), &event)
            .unwrap()
            .unwrap();
        assert_eq!(row.kind, "TRANSFER_OUT");
        assert_eq!((row.amount, row.balance_after, row.position), (30, 70, 7));
        assert_eq!(row.counterparty_account_id.as_deref(), Some("b"));
        assert_eq!(row.description.as_deref(), Some("rent"));
    }

    #[test]
    fn a_closing_moves_no_money() {
        let row = fold(
            Some(0),
            "a",
            &recorded("account-a", 3, 9),
            &AccountEvent::AccountClosed {},
        );
        assert_eq!(row.unwrap(), None);
    }

    #[test]
    fn a_deposit_on_an_account_never_opened_stops_the_projection() {
        let event = AccountEvent::MoneyDeposited {
            amount: 5,
            currency: "USD".into(),
            description: None,
        };
        let err = fold(None, "a", &recorded("account-a", 1, 4), &event).unwrap_err();
        assert!(matches!(err, ProjectionError::Event(m) if m.contains("never opened")));
    }

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for kind in [
            TransactionKind::Opening,
            TransactionKind::Deposit,
            TransactionKind::Withdrawal,
            TransactionKind::TransferIn,
            TransactionKind::TransferOut,
        ] {
            assert_eq!(TransactionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TransactionKind::parse("REFUND"), None);
    }
}
