//! Chronicle's bank account as a cqrs-es aggregate: the same commands,
//! events and rules (integer minor units, at most 10^15 in one movement and
//! in a balance, a command on an unopened account is refused).

use std::fmt;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// One movement and one balance at most 10^15 minor units, as in Chronicle.
pub const MAX_MINOR_UNITS: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone)]
pub enum AccountCommand {
    OpenAccount {
        owner: String,
        currency: String,
        initial_balance: i64,
    },
    Deposit {
        amount: i64,
    },
    // Part of the aggregate for parity; the benchmark sends deposits only.
    #[allow(dead_code)]
    Withdraw {
        amount: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum AccountEvent {
    AccountOpened {
        owner: String,
        currency: String,
        initial_balance: i64,
    },
    MoneyDeposited {
        amount: i64,
        currency: String,
    },
    MoneyWithdrawn {
        amount: i64,
        currency: String,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AccountOpened { .. } => "AccountOpened",
            Self::MoneyDeposited { .. } => "MoneyDeposited",
            Self::MoneyWithdrawn { .. } => "MoneyWithdrawn",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    NotFound,
    AlreadyExists,
    InvalidAmount,
    InsufficientFunds,
    BalanceLimit,
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "the account does not exist",
            Self::AlreadyExists => "the account already exists",
            Self::InvalidAmount => "the amount must be positive and at most 10^15 minor units",
            Self::InsufficientFunds => "not enough money in the account",
            Self::BalanceLimit => "the balance would pass 10^15 minor units",
        })
    }
}

impl std::error::Error for AccountError {}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Account {
    opened: bool,
    currency: String,
    balance: i64,
}

fn check_amount(amount: i64) -> Result<(), AccountError> {
    if amount <= 0 || amount > MAX_MINOR_UNITS {
        return Err(AccountError::InvalidAmount);
    }
    Ok(())
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            AccountCommand::OpenAccount {
                owner,
                currency,
                initial_balance,
            } => {
                if self.opened {
                    return Err(AccountError::AlreadyExists);
                }
                if !(0..=MAX_MINOR_UNITS).contains(&initial_balance) {
                    return Err(AccountError::InvalidAmount);
                }
                let event = AccountEvent::AccountOpened {
                    owner,
                    currency,
                    initial_balance,
                };
                sink.write(event, self).await;
            }
            AccountCommand::Deposit { amount } => {
                if !self.opened {
                    return Err(AccountError::NotFound);
                }
                check_amount(amount)?;
                if self.balance + amount > MAX_MINOR_UNITS {
                    return Err(AccountError::BalanceLimit);
                }
                let currency = self.currency.clone();
                sink.write(AccountEvent::MoneyDeposited { amount, currency }, self)
                    .await;
            }
            AccountCommand::Withdraw { amount } => {
                if !self.opened {
                    return Err(AccountError::NotFound);
                }
                check_amount(amount)?;
                if amount > self.balance {
                    return Err(AccountError::InsufficientFunds);
                }
                let currency = self.currency.clone();
                sink.write(AccountEvent::MoneyWithdrawn { amount, currency }, self)
                    .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AccountEvent::AccountOpened {
                currency,
                initial_balance,
                ..
            } => {
                self.opened = true;
                self.currency = currency;
                self.balance = initial_balance;
            }
            AccountEvent::MoneyDeposited { amount, .. } => self.balance += amount,
            AccountEvent::MoneyWithdrawn { amount, .. } => self.balance -= amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn opened() -> AccountEvent {
        AccountEvent::AccountOpened {
            owner: "O".into(),
            currency: "USD".into(),
            initial_balance: 0,
        }
    }

    #[test]
    fn deposit_on_an_unopened_account_is_refused() {
        TestFramework::<Account>::with(())
            .given_no_previous_events()
            .when(AccountCommand::Deposit { amount: 100 })
            .then_expect_error(AccountError::NotFound);
    }

    #[test]
    fn deposit_appends_money_deposited() {
        TestFramework::<Account>::with(())
            .given(vec![opened()])
            .when(AccountCommand::Deposit { amount: 100 })
            .then_expect_events(vec![AccountEvent::MoneyDeposited {
                amount: 100,
                currency: "USD".into(),
            }]);
    }

    #[test]
    fn withdraw_past_the_balance_is_refused() {
        TestFramework::<Account>::with(())
            .given(vec![opened()])
            .when(AccountCommand::Withdraw { amount: 1 })
            .then_expect_error(AccountError::InsufficientFunds);
    }

    #[test]
    fn opening_twice_is_refused() {
        TestFramework::<Account>::with(())
            .given(vec![opened()])
            .when(AccountCommand::OpenAccount {
                owner: "O".into(),
                currency: "USD".into(),
                initial_balance: 0,
            })
            .then_expect_error(AccountError::AlreadyExists);
    }
}
