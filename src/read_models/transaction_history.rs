//! TransactionHistory: one row per money movement on an account, with the
//! account's balance right after it.
//!
//! Every opening is a movement (an OPENING of its initial balance, zero
//! included), so an account's rows number its AccountBalances
//! `transactionCount`. The projection keeps its own running balance: for
//! the accounts a batch touches, each one's latest `balance_after` is
//! recalled from the joint turn's memo or loaded once, the batch is
//! folded in memory with the pure [`fold`], and
//! the new rows are inserted in one statement (`rows.rs`).

use std::collections::{BTreeSet, HashMap};

use entity::transactions as row;
pub use entity::transactions::{Model as TransactionRow, TransactionKind};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseExecutor, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, QueryFilter, Statement, Value,
};

use super::account_balances::account_events;
use serde_json::json;

use super::memo;
use super::rows::{Kind, RowsWrite, time};
use super::{Projection, ProjectionError, Target, Writes};
use crate::domain::account::AccountEvent;
use crate::paging::{ListOrder, Slice};
use crate::store::RecordedEvent;

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
        to: &mut Target<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let events = account_events(events)?;
        if events.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<String> = events.iter().map(|(id, _, _)| id.clone()).collect();
        let reads = to.reads;
        let mut balances =
            memo::recall(to.memo, ids, |missing| latest_balances(reads, missing)).await?;
        let mut rows = Vec::new();
        for (id, recorded, event) in &events {
            if let Some(row) = fold(balances.get(id).copied(), id, recorded, event)? {
                balances.insert(id.clone(), row.balance_after);
                rows.push(row);
            }
        }
        insert(to.writes, rows);
        memo::keep(to.memo, balances);
        Ok(())
    }

    async fn reset(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        row::Entity::delete_many().exec(txn).await?;
        Ok(())
    }
}

/// What one account event moves: `None` for an event that moves no money
/// (a closing).
struct Movement<'a> {
    kind: TransactionKind,
    amount: i64,
    currency: &'a str,
    description: Option<&'a String>,
    counterparty: Option<&'a String>,
}

/// A movement with no counterparty.
fn plain<'a>(
    kind: TransactionKind,
    amount: &i64,
    currency: &'a str,
    description: &'a Option<String>,
) -> Movement<'a> {
    Movement {
        kind,
        amount: *amount,
        currency,
        description: description.as_ref(),
        counterparty: None,
    }
}

fn movement_of(event: &AccountEvent) -> Option<Movement<'_>> {
    use AccountEvent as E;
    Some(match event {
        E::AccountOpened {
            currency,
            initial_balance,
            ..
        } => plain(TransactionKind::Opening, initial_balance, currency, &None),
        E::MoneyDeposited {
            amount,
            currency,
            description,
        } => plain(TransactionKind::Deposit, amount, currency, description),
        E::MoneyWithdrawn {
            amount,
            currency,
            description,
        } => plain(TransactionKind::Withdrawal, amount, currency, description),
        E::MoneyTransferredIn {
            from_account_id,
            amount,
            currency,
            description,
            ..
        } => Movement {
            counterparty: Some(from_account_id),
            ..plain(TransactionKind::TransferIn, amount, currency, description)
        },
        E::MoneyTransferredOut {
            to_account_id,
            amount,
            currency,
            description,
            ..
        } => Movement {
            counterparty: Some(to_account_id),
            ..plain(TransactionKind::TransferOut, amount, currency, description)
        },
        E::AccountClosed {} => return None,
    })
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
) -> Result<Option<TransactionRow>, ProjectionError> {
    let Some(movement) = movement_of(event) else {
        return Ok(None);
    };
    let balance_after = balance_after(balance, &movement, account_id, recorded)?;
    Ok(Some(TransactionRow {
        id: recorded.id,
        account_id: account_id.to_owned(),
        kind: movement.kind,
        amount: movement.amount,
        balance_after,
        currency: movement.currency.to_owned(),
        description: movement.description.cloned(),
        counterparty_account_id: movement.counterparty.cloned(),
        position: recorded.position,
        occurred_at: recorded.recorded_at,
    }))
}

/// The account's balance after `movement`: an opening sets it, the rest
/// move it from the balance before (which must exist).
fn balance_after(
    before: Option<i64>,
    movement: &Movement<'_>,
    account_id: &str,
    recorded: &RecordedEvent,
) -> Result<i64, ProjectionError> {
    use TransactionKind as K;
    let amount = movement.amount;
    let after = match (movement.kind, before) {
        (K::Opening, _) => Some(amount),
        (_, None) => {
            return Err(ProjectionError::Event(format!(
                "{} at position {} is for account {account_id}, which was never opened",
                recorded.event_type, recorded.position
            )));
        }
        (K::Withdrawal | K::TransferOut, Some(before)) => before.checked_sub(amount),
        (K::Deposit | K::TransferIn, Some(before)) => before.checked_add(amount),
    };
    after.ok_or_else(|| {
        ProjectionError::Event(format!(
            "balance of account {account_id} overflows at position {}",
            recorded.position
        ))
    })
}

/// Each account's latest `balance_after`, by one probe of the
/// `(account_id, position)` index per account, newest first. A filter on
/// the accounts with `position IN (SELECT MAX …)` let the planner scan the
/// whole table twice per batch while its statistics still called it small
/// (3.7 ms at 7,000 rows, growing with every movement).
async fn latest_balances(
    reads: &DatabaseExecutor<'_>,
    ids: Vec<String>,
) -> Result<HashMap<String, i64>, DbErr> {
    let backend = reads.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => LATEST_POSTGRES,
        _ => LATEST_SQLITE,
    };
    let values = [serde_json::json!(ids).to_string().into()];
    let rows = reads
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut balances = HashMap::with_capacity(ids.len());
    for row in rows {
        let balance: Option<i64> = row.try_get("", "balance_after")?;
        if let Some(balance) = balance {
            balances.insert(row.try_get("", "account_id")?, balance);
        }
    }
    Ok(balances)
}

const LATEST_POSTGRES: &str = "\
SELECT k.id AS account_id, (SELECT balance_after FROM transactions \
WHERE account_id = k.id ORDER BY position DESC LIMIT 1) AS balance_after \
FROM jsonb_array_elements_text($1::jsonb) AS k(id)";

const LATEST_SQLITE: &str = "\
SELECT k.value AS account_id, (SELECT balance_after FROM transactions \
WHERE account_id = k.value ORDER BY position DESC LIMIT 1) AS balance_after \
FROM json_each(?1) AS k";

/// The rows' insert (`rows.rs`). A plain insert, not an upsert: the
/// checkpoint read in the same transaction keeps a batch from being
/// applied twice, so a second row for one event is a bug that should stop
/// the projection, not be papered over.
static INSERT: RowsWrite = RowsWrite::new(
    "transactions",
    &[
        ("id", Kind::Uuid),
        ("account_id", Kind::Text),
        ("kind", Kind::Text),
        ("amount", Kind::BigInt),
        ("balance_after", Kind::BigInt),
        ("currency", Kind::Text),
        ("description", Kind::Text),
        ("counterparty_account_id", Kind::Text),
        ("position", Kind::BigInt),
        ("occurred_at", Kind::Time),
    ],
    None,
);

fn insert(writes: &mut Writes, rows: Vec<TransactionRow>) {
    let rows = rows
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id, "account_id": m.account_id, "kind": m.kind.to_value(),
                "amount": m.amount, "balance_after": m.balance_after, "currency": m.currency,
                "description": m.description,
                "counterparty_account_id": m.counterparty_account_id,
                "position": m.position, "occurred_at": time(m.occurred_at),
            })
        })
        .collect();
    writes.push_rows(&INSERT, rows);
}

// ------------------------------------------------------------- queries

/// A slice of one account's movements, listed newest first (by
/// position, descending).
pub async fn page<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    slice: &Slice<i64>,
) -> Result<Vec<TransactionRow>, DbErr> {
    let query = row::Entity::find().filter(row::Column::AccountId.eq(account_id.to_owned()));
    slice
        .apply(query, row::Column::Position, ListOrder::Descending)
        .all(db)
        .await
}

/// The newest `rows` movements of each of `accounts` (below `before`), in
/// one statement: ordered by account, then newest first.
pub async fn newest_per_account<C: ConnectionTrait>(
    db: &C,
    accounts: &[&str],
    rows: u64,
    before: Option<i64>,
) -> Result<Vec<TransactionRow>, DbErr> {
    let stmt = newest_per_account_sql(db.get_database_backend(), accounts, rows, before);
    row::Entity::find().from_raw_sql(stmt).all(db).await
}

/// Ranked per account by a window function: SQLite has it since 3.25, and
/// the `(account_id, position)` index serves both the filter and the order.
fn newest_per_account_sql(
    backend: DbBackend,
    accounts: &[&str],
    rows: u64,
    before: Option<i64>,
) -> Statement {
    let mut values: Vec<Value> = Vec::with_capacity(accounts.len() + 2);
    let mut mark = |value: Value| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    let ids: Vec<String> = accounts.iter().map(|a| mark((*a).into())).collect();
    let below = before
        .map(|p| format!(" AND \"position\" < {}", mark(p.into())))
        .unwrap_or_default();
    let limit = mark(i64::try_from(rows).unwrap_or(i64::MAX).into());
    let columns = "\"id\", \"account_id\", \"kind\", \"amount\", \"balance_after\", \"currency\", \
                   \"description\", \"counterparty_account_id\", \"position\", \"occurred_at\"";
    let sql = format!(
        "SELECT {columns} FROM (\
           SELECT {columns}, ROW_NUMBER() OVER \
             (PARTITION BY \"account_id\" ORDER BY \"position\" DESC) AS \"rank\" \
           FROM \"transactions\" WHERE \"account_id\" IN ({}){below}\
         ) AS \"ranked\" WHERE \"rank\" <= {limit} \
         ORDER BY \"account_id\", \"position\" DESC",
        ids.join(", ")
    );
    Statement::from_sql_and_values(backend, sql, values)
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
    fn an_opening_with_nothing_in_it_is_still_a_movement() {
        let row = fold(None, "a", &recorded("account-a", 1, 1), &opened(0))
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.kind, row.amount, row.balance_after),
            (TransactionKind::Opening, 0, 0)
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
        assert_eq!(row.kind, TransactionKind::TransferOut);
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
        use sea_orm::{ActiveEnum, Iterable};
        for kind in TransactionKind::iter() {
            assert_eq!(
                TransactionKind::try_from_value(&kind.to_value()).unwrap(),
                kind
            );
        }
        assert_eq!(TransactionKind::Opening.to_value(), "OPENING");
        assert!(TransactionKind::try_from_value(&"REFUND".to_owned()).is_err());
    }

    /// Every column of the row at `position` as SQLite stores it (its type
    /// and its literal; the id by its length), for comparing rows written
    /// two ways.
    async fn stored(db: &sea_orm::DatabaseConnection, position: i64) -> Vec<String> {
        let columns = [
            "account_id",
            "kind",
            "amount",
            "balance_after",
            "currency",
            "description",
            "counterparty_account_id",
            "position",
            "occurred_at",
        ];
        let sql = columns
            .iter()
            .map(|c| format!("typeof({c}) || ':' || quote({c}) AS {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT length(id) AS id_bytes, {sql} FROM transactions WHERE position = {position}"
        );
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .unwrap()
            .expect("the row");
        let mut values = vec![row.try_get::<i64>("", "id_bytes").unwrap().to_string()];
        for c in columns.iter().filter(|c| **c != "position") {
            values.push(row.try_get::<String>("", c).unwrap());
        }
        values
    }

    #[tokio::test]
    async fn given_one_movement_written_by_seaorm_and_by_the_rows_statement_then_both_store_the_same()
     {
        use sea_orm::{ActiveModelTrait, IntoActiveModel, TransactionTrait};
        let (_dir, store) = crate::read_models::testing::sqlite_store().await;
        let db = store.db();
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-04T10:11:12.345678Z")
            .unwrap()
            .to_utc();
        let movement = |position: i64, description: Option<&str>| TransactionRow {
            id: uuid::Uuid::new_v4(),
            account_id: "a".into(),
            kind: TransactionKind::TransferIn,
            amount: 1_250,
            balance_after: -3,
            currency: "EUR".into(),
            description: description.map(Into::into),
            counterparty_account_id: Some("b".into()),
            position,
            occurred_at: at,
        };

        movement(1, Some("rent"))
            .into_active_model()
            .insert(db)
            .await
            .unwrap();
        movement(2, None)
            .into_active_model()
            .insert(db)
            .await
            .unwrap();
        let txn = db.begin().await.unwrap();
        let mut writes = Writes::new(DbBackend::Sqlite);
        insert(
            &mut writes,
            vec![movement(3, Some("rent")), movement(4, None)],
        );
        writes.send(&txn).await.unwrap();
        txn.commit().await.unwrap();

        assert_eq!(stored(db, 1).await, stored(db, 3).await);
        assert_eq!(stored(db, 2).await, stored(db, 4).await);
    }
}
