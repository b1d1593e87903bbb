//! `Transaction` (the TransactionHistory read model) and its pages.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, SimpleObject};

use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::pagination::{self, CursorKind, PageArgs, Window};
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

/// The window a transaction list's arguments ask for; its cursors are
/// the movements' positions.
pub fn transaction_window(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<Window<i64>, ApiError> {
    let decode = |c: String| pagination::decode(CursorKind::Position, &c);
    let args = PageArgs {
        first,
        after: after.map(decode).transpose()?,
        last,
        before: before.map(decode).transpose()?,
    };
    Window::new(args, ctx.data_unchecked::<ApiConfig>())
}

/// A page of transactions (newest first) read for `window`.
pub fn transaction_page(
    window: &Window<i64>,
    rows: Vec<TransactionRow>,
) -> Result<TransactionConnection, ApiError> {
    window.page(
        rows,
        |m| pagination::encode(CursorKind::Position, m.position),
        Transaction::try_from,
    )
}
