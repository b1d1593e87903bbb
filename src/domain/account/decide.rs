//! Where an account's commands are decided. The checks that a transfer
//! shares with a withdrawal and a deposit live here too, so both say the
//! same thing the same way.

use super::{Account, AccountEvent};
use crate::domain::DomainError;
use crate::domain::money::{Amount, Currency, Money};

const MAX_OWNER_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 500;

/// What a client can ask of one account. Amounts arrive as the client wrote
/// them and become minor units here, against the account's currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountCommand {
    Open {
        owner: String,
        currency: Currency,
        initial_balance: Amount,
    },
    Deposit {
        amount: Amount,
        description: Option<String>,
    },
    Withdraw {
        amount: Amount,
        description: Option<String>,
    },
    Close,
}

pub(super) fn decide(
    account: &Account,
    command: &AccountCommand,
) -> Result<Vec<AccountEvent>, DomainError> {
    match command {
        AccountCommand::Open {
            owner,
            currency,
            initial_balance,
        } => open(account, owner, currency, initial_balance),
        AccountCommand::Deposit {
            amount,
            description,
        } => {
            ensure_usable(account, "account")?;
            let amount = positive_amount(amount, &account.currency)?;
            check_description(description)?;
            balance_after_deposit(account, amount)?;
            Ok(vec![AccountEvent::MoneyDeposited {
                amount: amount.0,
                currency: account.currency.to_string(),
                description: description.clone(),
            }])
        }
        AccountCommand::Withdraw {
            amount,
            description,
        } => {
            ensure_usable(account, "account")?;
            let amount = positive_amount(amount, &account.currency)?;
            check_description(description)?;
            balance_after_withdrawal(account, amount, "withdrawal")?;
            Ok(vec![AccountEvent::MoneyWithdrawn {
                amount: amount.0,
                currency: account.currency.to_string(),
                description: description.clone(),
            }])
        }
        AccountCommand::Close => {
            ensure_usable(account, "account")?;
            if account.balance != Money::ZERO {
                return Err(DomainError::Invalid(format!(
                    "the account still holds {}; it must be withdrawn or transferred \
                     out before the account can be closed",
                    account.balance.display(&account.currency)
                )));
            }
            Ok(vec![AccountEvent::AccountClosed {}])
        }
    }
}

fn open(
    account: &Account,
    owner: &str,
    currency: &Currency,
    initial_balance: &Amount,
) -> Result<Vec<AccountEvent>, DomainError> {
    // A closed account stays opened, so reopening it is AlreadyExists too:
    // its id, and its history, are taken for good.
    if account.opened {
        return Err(DomainError::AlreadyExists(
            "account already exists".to_owned(),
        ));
    }
    let owner = owner.trim();
    if owner.is_empty() {
        return Err(DomainError::Invalid("owner must not be empty".to_owned()));
    }
    if owner.chars().count() > MAX_OWNER_CHARS {
        return Err(DomainError::Invalid(format!(
            "owner must be at most {MAX_OWNER_CHARS} characters"
        )));
    }
    let initial_balance = initial_balance.to_minor(currency)?;
    if initial_balance < Money::ZERO {
        return Err(DomainError::Invalid(
            "initial balance must not be negative".to_owned(),
        ));
    }
    Ok(vec![AccountEvent::AccountOpened {
        owner: owner.to_owned(),
        currency: currency.to_string(),
        initial_balance: initial_balance.0,
    }])
}

/// Money can move only on an account that was opened and is not closed.
/// `name` says which account, for a transfer's two.
pub(super) fn ensure_usable(account: &Account, name: &str) -> Result<(), DomainError> {
    if !account.opened {
        return Err(DomainError::NotFound(format!("{name} does not exist")));
    }
    if account.closed {
        return Err(DomainError::AccountClosed(format!("{name} is closed")));
    }
    Ok(())
}

/// A deposit, withdrawal or transfer amount: more than zero, in minor units
/// of `currency`.
pub(super) fn positive_amount(amount: &Amount, currency: &Currency) -> Result<Money, DomainError> {
    let minor = amount.to_minor(currency)?;
    if minor <= Money::ZERO {
        return Err(DomainError::Invalid(format!(
            "amount must be greater than zero, got {amount}"
        )));
    }
    Ok(minor)
}

pub(super) fn check_description(description: &Option<String>) -> Result<(), DomainError> {
    match description {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => Err(DomainError::Invalid(
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// `what` names the movement in the message: "withdrawal" or "transfer".
pub(super) fn balance_after_withdrawal(
    account: &Account,
    amount: Money,
    what: &str,
) -> Result<Money, DomainError> {
    match account.balance.checked_sub(amount) {
        Some(balance) if balance >= Money::ZERO => Ok(balance),
        _ => Err(DomainError::InsufficientFunds(format!(
            "insufficient funds: the balance is {} and the {what} is {}",
            account.balance.display(&account.currency),
            amount.display(&account.currency)
        ))),
    }
}

/// The balance after money comes in, which may not pass [`Money::MAX`].
pub(super) fn balance_after_deposit(
    account: &Account,
    amount: Money,
) -> Result<Money, DomainError> {
    account
        .balance
        .checked_add(amount)
        .filter(|balance| *balance <= Money::MAX)
        .ok_or_else(|| {
            DomainError::Invalid(format!(
                "the balance of {} cannot take {} more: it would exceed {}, the largest \
                 balance an account can hold",
                account.balance.display(&account.currency),
                amount.display(&account.currency),
                Money::MAX.display(&account.currency)
            ))
        })
}
