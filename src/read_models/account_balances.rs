//! AccountBalances: one row per account with its owner, currency, balance,
//! status, version and number of money movements; the projection that
//! writes it and the queries that read it (`account`, `accounts`).
//!
//! A batch is applied in memory: the rows it touches are recalled from
//! the joint turn's memo or loaded once, folded event by event with the pure [`fold`], and written back in one
//! upsert, so a rebuild costs a few statements per batch, not per event.

use std::collections::{BTreeSet, HashMap};

use entity::account_summaries as row;
pub use entity::account_summaries::{AccountStatus, Model as AccountRow};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DatabaseExecutor, DatabaseTransaction,
    DbErr, EntityTrait, QueryFilter,
};
use serde_json::json;

use super::memo;
use super::rows::{Kind, RowsWrite, time};
use super::{Projection, ProjectionError, Target, Writes};
use crate::domain::Aggregate;
use crate::domain::account::{Account, AccountEvent};
use crate::domain::money::{Amount, NO_DECIMALS, THREE_DECIMALS};
use crate::paging::{ListOrder, Slice};
use crate::store::RecordedEvent;

pub struct AccountBalances;

#[async_trait::async_trait]
impl Projection for AccountBalances {
    fn name(&self) -> &'static str {
        "AccountBalances"
    }

    fn category(&self) -> &'static str {
        Account::CATEGORY
    }

    async fn apply(
        &self,
        to: &mut Target<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let events = account_events(events)?;
        if events.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<String> = events.iter().map(|(id, _, _)| id.clone()).collect();
        let reads = to.reads;
        let mut rows = memo::recall(to.memo, ids, |missing| load(reads, missing)).await?;
        for (id, recorded, event) in &events {
            let current = rows.remove(id);
            rows.insert(id.clone(), fold(current, id, recorded, event)?);
        }
        upsert(to.writes, rows.values());
        memo::keep(to.memo, rows);
        Ok(())
    }

    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        row::Entity::delete_many().exec(txn).await?;
        Ok(())
    }
}

/// The account events of a batch, with their account ids, decoded.
pub fn account_events(
    events: &[RecordedEvent],
) -> Result<Vec<(String, &RecordedEvent, AccountEvent)>, ProjectionError> {
    super::decode(events, Account::CATEGORY)
}

/// The row after one event. Pure: `apply` folds each batch with it, and
/// the tests below fold with it alone.
pub fn fold(
    current: Option<row::Model>,
    account_id: &str,
    recorded: &RecordedEvent,
    event: &AccountEvent,
) -> Result<row::Model, ProjectionError> {
    if let AccountEvent::AccountOpened {
        owner,
        currency,
        initial_balance,
    } = event
    {
        return Ok(row::Model {
            account_id: account_id.to_owned(),
            owner: owner.clone(),
            currency: currency.clone(),
            balance: *initial_balance,
            status: AccountStatus::Open,
            version: recorded.version,
            transaction_count: 1,
            opened_at: recorded.recorded_at,
            updated_at: recorded.recorded_at,
        });
    }
    let mut row = current.ok_or_else(|| {
        ProjectionError::Event(format!(
            "{} at position {} is for account {account_id}, which was never opened",
            recorded.event_type, recorded.position
        ))
    })?;
    let delta = match event {
        AccountEvent::MoneyDeposited { amount, .. }
        | AccountEvent::MoneyTransferredIn { amount, .. } => Some(*amount),
        AccountEvent::MoneyWithdrawn { amount, .. }
        | AccountEvent::MoneyTransferredOut { amount, .. } => Some(-*amount),
        AccountEvent::AccountClosed {} => {
            row.status = AccountStatus::Closed;
            None
        }
        AccountEvent::AccountOpened { .. } => None,
    };
    if let Some(delta) = delta {
        row.balance = row.balance.checked_add(delta).ok_or_else(|| {
            ProjectionError::Event(format!(
                "balance of account {account_id} overflows at position {}",
                recorded.position
            ))
        })?;
        row.transaction_count = row.transaction_count.saturating_add(1);
    }
    row.version = recorded.version;
    row.updated_at = recorded.recorded_at;
    Ok(row)
}

/// The stored rows of `ids`, by id.
async fn load(
    reads: &DatabaseExecutor<'_>,
    ids: Vec<String>,
) -> Result<HashMap<String, row::Model>, DbErr> {
    let rows = row::Entity::find()
        .filter(row::Column::AccountId.is_in(ids))
        .all(reads)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| (m.account_id.clone(), m))
        .collect())
}

/// The rows' upsert (`rows.rs`).
static UPSERT: RowsWrite = RowsWrite::new(
    "account_summaries",
    &[
        ("account_id", Kind::Text),
        ("owner", Kind::Text),
        ("currency", Kind::Text),
        ("balance", Kind::BigInt),
        ("status", Kind::Text),
        ("version", Kind::BigInt),
        ("transaction_count", Kind::Int),
        ("opened_at", Kind::Time),
        ("updated_at", Kind::Time),
    ],
    Some(&["account_id"]),
);

fn upsert<'a>(writes: &mut Writes, rows: impl IntoIterator<Item = &'a row::Model>) {
    let rows = rows
        .into_iter()
        .map(|m| {
            json!({
                "account_id": m.account_id, "owner": m.owner, "currency": m.currency,
                "balance": m.balance, "status": m.status.to_value(), "version": m.version,
                "transaction_count": m.transaction_count,
                "opened_at": time(m.opened_at), "updated_at": time(m.updated_at),
            })
        })
        .collect();
    writes.push_rows(&UPSERT, rows);
}

// ------------------------------------------------------------- queries

/// Which accounts a list holds.
#[derive(Clone, Debug, Default)]
pub struct AccountFilter {
    pub owner: Option<String>,
    pub status: Option<AccountStatus>,
    pub min_balance: Option<MinBalance>,
}

/// A lower bound on balances, in each account's own minor units: one
/// bound per number of decimals a currency has.
#[derive(Clone, Copy, Debug)]
pub struct MinBalance {
    no_decimals: i64,
    two: i64,
    three: i64,
}

impl MinBalance {
    /// The bound `amount` sets, rounded up where a currency has fewer
    /// decimals than it; `None` when it is out of range.
    pub fn new(amount: &Amount) -> Option<Self> {
        Some(Self {
            no_decimals: amount.ceil_minor(0)?,
            two: amount.ceil_minor(2)?,
            three: amount.ceil_minor(3)?,
        })
    }

    fn condition(&self) -> Condition {
        let special = || NO_DECIMALS.iter().chain(THREE_DECIMALS).copied();
        Condition::any()
            .add(
                Condition::all()
                    .add(row::Column::Currency.is_in(NO_DECIMALS.iter().copied()))
                    .add(row::Column::Balance.gte(self.no_decimals)),
            )
            .add(
                Condition::all()
                    .add(row::Column::Currency.is_in(THREE_DECIMALS.iter().copied()))
                    .add(row::Column::Balance.gte(self.three)),
            )
            .add(
                Condition::all()
                    .add(row::Column::Currency.is_not_in(special()))
                    .add(row::Column::Balance.gte(self.two)),
            )
    }
}

impl AccountFilter {
    fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if let Some(owner) = &self.owner {
            cond = cond.add(row::Column::Owner.eq(owner.clone()));
        }
        if let Some(status) = self.status {
            cond = cond.add(row::Column::Status.eq(status));
        }
        if let Some(min) = &self.min_balance {
            cond = cond.add(min.condition());
        }
        cond
    }
}

/// One account's row.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
) -> Result<Option<AccountRow>, DbErr> {
    row::Entity::find_by_id(account_id.to_owned()).one(db).await
}

/// A slice of the accounts matching `filter`, listed by id.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    filter: &AccountFilter,
    slice: &Slice<String>,
) -> Result<Vec<AccountRow>, DbErr> {
    let query = row::Entity::find().filter(filter.condition());
    slice
        .apply(query, row::Column::AccountId, ListOrder::Ascending)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::recorded;

    fn opened(balance: i64) -> AccountEvent {
        AccountEvent::AccountOpened {
            owner: "Ada".into(),
            currency: "USD".into(),
            initial_balance: balance,
        }
    }

    #[test]
    fn movements_move_the_balance_and_count_and_a_closing_only_the_status() {
        let mut row = fold(None, "a", &recorded("account-a", 1, 1), &opened(100)).unwrap();
        let deposited = AccountEvent::MoneyDeposited {
            amount: 50,
            currency: "USD".into(),
            description: None,
        };
        row = fold(Some(row), "a", &recorded("account-a", 2, 5), &deposited).unwrap();
        assert_eq!(
            (row.balance, row.transaction_count, row.version),
            (150, 2, 2)
        );
        row = fold(
            Some(row),
            "a",
            &recorded("account-a", 3, 9),
            &AccountEvent::AccountClosed {},
        )
        .unwrap();
        assert_eq!(
            (row.status, row.transaction_count),
            (AccountStatus::Closed, 2)
        );
    }

    #[test]
    fn an_event_for_an_account_never_opened_stops_the_projection() {
        let err = fold(
            None,
            "x",
            &recorded("account-x", 2, 3),
            &AccountEvent::AccountClosed {},
        )
        .unwrap_err();
        assert!(matches!(err, ProjectionError::Event(m) if m.contains("never opened")));
    }
}
