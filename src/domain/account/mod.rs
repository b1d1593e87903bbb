//! A bank account: opened in one currency, moved by deposits, withdrawals
//! and transfers, closed once empty.
//!
//! Where a command is decided: `decide.rs` for one account's commands,
//! `transfer.rs` for a transfer, which decides on two accounts at once and
//! leaves appending both streams atomically to the caller.

mod decide;
mod events;
mod transfer;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use decide::AccountCommand;
pub use events::AccountEvent;
pub use transfer::{Transfer, decide_transfer};

use super::money::{Currency, Money};
use super::{Aggregate, DomainError};

/// An account's state, folded from its events.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub opened: bool,
    pub owner: String,
    pub currency: Currency,
    pub balance: Money,
    pub closed: bool,
}

impl Aggregate for Account {
    type Event = AccountEvent;
    type Command = AccountCommand;

    const CATEGORY: &'static str = "account";

    fn apply(mut self, event: &AccountEvent) -> Self {
        // Events were checked by `decide` before they were stored, so apply
        // trusts them: the saturating arithmetic and the currency fallback
        // only keep a corrupted stream from panicking a read.
        match event {
            AccountEvent::AccountOpened {
                owner,
                currency,
                initial_balance,
            } => {
                self.opened = true;
                self.owner.clone_from(owner);
                self.currency = Currency::parse(currency).unwrap_or(self.currency);
                self.balance = Money(*initial_balance);
            }
            AccountEvent::MoneyDeposited { amount, .. }
            | AccountEvent::MoneyTransferredIn { amount, .. } => {
                self.balance = Money(self.balance.0.saturating_add(*amount));
            }
            AccountEvent::MoneyWithdrawn { amount, .. }
            | AccountEvent::MoneyTransferredOut { amount, .. } => {
                self.balance = Money(self.balance.0.saturating_sub(*amount));
            }
            AccountEvent::AccountClosed {} => self.closed = true,
        }
        self
    }

    fn decide(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, DomainError> {
        decide::decide(self, command)
    }
}
