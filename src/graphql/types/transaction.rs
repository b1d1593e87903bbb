//! `Transaction` (the TransactionHistory read model) and its pages.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Enum, ID, SimpleObject};

use crate::graphql::ApiError;
use crate::graphql::pagination::{self, CursorKind};
use crate::graphql::scalars::{DateTime, Decimal, Long, money};
use crate::read_models::transaction_history::{TransactionKind as Stored, TransactionRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum TransactionKind {
    Opening,
    Deposit,
    Withdrawal,
    TransferIn,
    TransferOut,
}

impl From<Stored> for TransactionKind {
    fn from(kind: Stored) -> Self {
        match kind {
            Stored::Opening => Self::Opening,
            Stored::Deposit => Self::Deposit,
            Stored::Withdrawal => Self::Withdrawal,
            Stored::TransferIn => Self::TransferIn,
            Stored::TransferOut => Self::TransferOut,
        }
    }
}

/// One money movement on an account, as the TransactionHistory projection
/// recorded it.
#[derive(Clone, Debug, SimpleObject)]
pub struct Transaction {
    /// The id of the event that recorded it.
    pub id: ID,
    pub account_id: ID,
    pub kind: TransactionKind,
    /// Always positive; `kind` says which way the money went.
    pub amount: Decimal,
    /// The account's balance right after this movement.
    pub balance_after: Decimal,
    pub description: Option<String>,
    /// The other account of a transfer.
    pub counterparty_account_id: Option<ID>,
    /// Global position of the event.
    pub position: Long,
    pub occurred_at: DateTime,
}

impl TryFrom<TransactionRow> for Transaction {
    type Error = ApiError;

    fn try_from(m: TransactionRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: ID(m.id.to_string()),
            account_id: ID(m.account_id),
            kind: m.kind.into(),
            amount: money(m.amount, &m.currency)?,
            balance_after: money(m.balance_after, &m.currency)?,
            description: m.description,
            counterparty_account_id: m.counterparty_account_id.map(ID),
            position: Long(m.position),
            occurred_at: m.occurred_at.into(),
        })
    }
}

pub type TransactionConnection = Connection<String, Transaction>;

/// A page of transactions, newest first, cursors on their positions.
/// `rows` may hold one row more than `limit`: its presence is how the page
/// knows there is a next one.
pub fn transaction_page(
    mut rows: Vec<TransactionRow>,
    limit: usize,
    has_previous: bool,
) -> Result<TransactionConnection, ApiError> {
    let has_next = rows.len() > limit;
    rows.truncate(limit);
    let mut page = Connection::new(has_previous, has_next);
    for m in rows {
        let cursor = pagination::encode(CursorKind::Position, m.position);
        page.edges
            .push(Edge::new(cursor, Transaction::try_from(m)?));
    }
    Ok(page)
}
