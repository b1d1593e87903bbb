//! Where a transfer is decided: on both accounts' states at once, so the
//! caller can append the two streams in one atomic batch, each expecting
//! the version its state was read at.

use uuid::Uuid;

use super::decide::{
    balance_after_deposit, balance_after_withdrawal, check_description, ensure_usable,
    positive_amount,
};
use super::{Account, AccountEvent};
use crate::domain::DomainError;
use crate::domain::money::Amount;

/// A transfer as the client asked for it. The caller picks `transfer_id`
/// (decide makes no ids), and it ties the two sides' events together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub transfer_id: Uuid,
    pub amount: Amount,
    pub description: Option<String>,
}

/// Decides moving `transfer.amount` from account `from_id` to `to_id`:
/// `MoneyTransferredOut` for the source and `MoneyTransferredIn` for the
/// target, in that order in the returned pair.
pub fn decide_transfer(
    from_id: &str,
    from: &Account,
    to_id: &str,
    to: &Account,
    transfer: &Transfer,
) -> Result<(Vec<AccountEvent>, Vec<AccountEvent>), DomainError> {
    if from_id == to_id {
        return Err(DomainError::Invalid(
            "cannot transfer to the same account".to_owned(),
        ));
    }
    ensure_exists(from, &format!("source account {from_id}"))?;
    ensure_exists(to, &format!("target account {to_id}"))?;
    ensure_usable(from, &format!("source account {from_id}"))?;
    ensure_usable(to, &format!("target account {to_id}"))?;
    if from.currency != to.currency {
        return Err(DomainError::Invalid(format!(
            "cannot transfer between currencies: account {from_id} is in {} and account \
             {to_id} in {}",
            from.currency, to.currency
        )));
    }
    let amount = positive_amount(&transfer.amount, &from.currency)?;
    check_description(&transfer.description)?;
    balance_after_withdrawal(from, amount, "transfer")?;
    balance_after_deposit(to, amount)?;

    let currency = from.currency.to_string();
    let out = AccountEvent::MoneyTransferredOut {
        transfer_id: transfer.transfer_id,
        to_account_id: to_id.to_owned(),
        amount: amount.0,
        currency: currency.clone(),
        description: transfer.description.clone(),
    };
    let into = AccountEvent::MoneyTransferredIn {
        transfer_id: transfer.transfer_id,
        from_account_id: from_id.to_owned(),
        amount: amount.0,
        currency,
        description: transfer.description.clone(),
    };
    Ok((vec![out], vec![into]))
}

/// Both accounts' existence is checked before either's closure, so a
/// transfer from a closed account to a missing one reports the missing one:
/// the client has the wrong id, and that is the thing to fix first.
fn ensure_exists(account: &Account, name: &str) -> Result<(), DomainError> {
    if account.opened {
        Ok(())
    } else {
        Err(DomainError::NotFound(format!("{name} does not exist")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Aggregate;
    use crate::domain::DomainError::{AccountClosed, InsufficientFunds, Invalid, NotFound};
    use crate::domain::testing::assert_err;

    const TRANSFER_ID: Uuid = Uuid::from_u128(0x7);

    fn opened(currency: &str, balance: i64) -> AccountEvent {
        AccountEvent::AccountOpened {
            owner: "Ada".into(),
            currency: currency.into(),
            initial_balance: balance,
        }
    }

    fn account(history: impl IntoIterator<Item = AccountEvent>) -> Account {
        Account::default().fold(&history.into_iter().collect::<Vec<_>>())
    }

    fn transfer(amount: &str) -> Transfer {
        Transfer {
            transfer_id: TRANSFER_ID,
            amount: Amount::parse(amount).unwrap(),
            description: Some("rent".into()),
        }
    }

    fn usd(balance: i64) -> Account {
        account([opened("USD", balance)])
    }

    #[test]
    fn a_transfer_moves_money_out_of_the_source_and_into_the_target() {
        let (out, into) =
            decide_transfer("a", &usd(1000), "b", &usd(0), &transfer("2.50")).unwrap();
        assert_eq!(
            out,
            [AccountEvent::MoneyTransferredOut {
                transfer_id: TRANSFER_ID,
                to_account_id: "b".into(),
                amount: 250,
                currency: "USD".into(),
                description: Some("rent".into()),
            }]
        );
        assert_eq!(
            into,
            [AccountEvent::MoneyTransferredIn {
                transfer_id: TRANSFER_ID,
                from_account_id: "a".into(),
                amount: 250,
                currency: "USD".into(),
                description: Some("rent".into()),
            }]
        );
        assert_eq!(usd(1000).fold(&out).balance.0, 750);
        assert_eq!(usd(0).fold(&into).balance.0, 250);
    }

    #[test]
    fn transferring_the_whole_balance_is_allowed() {
        assert!(decide_transfer("a", &usd(250), "b", &usd(0), &transfer("2.50")).is_ok());
    }

    #[test]
    fn transferring_to_the_same_account_is_invalid() {
        let result = decide_transfer("a", &usd(1000), "a", &usd(1000), &transfer("1"));
        assert_err(&result, Invalid);
    }

    #[test]
    fn transferring_from_a_missing_account_is_not_found_and_names_the_source() {
        let result = decide_transfer("a", &account([]), "b", &usd(0), &transfer("1"));
        assert_err(&result, NotFound);
        assert_eq!(
            result.unwrap_err().to_string(),
            "source account a does not exist"
        );
    }

    #[test]
    fn transferring_to_a_missing_account_is_not_found_and_names_the_target() {
        let result = decide_transfer("a", &usd(1000), "b", &account([]), &transfer("1"));
        assert_err(&result, NotFound);
        assert_eq!(
            result.unwrap_err().to_string(),
            "target account b does not exist"
        );
    }

    #[test]
    fn transferring_from_a_closed_account_is_account_closed() {
        let closed = account([opened("USD", 0), AccountEvent::AccountClosed {}]);
        let result = decide_transfer("a", &closed, "b", &usd(0), &transfer("1"));
        assert_err(&result, AccountClosed);
    }

    #[test]
    fn transferring_to_a_closed_account_is_account_closed() {
        let closed = account([opened("USD", 0), AccountEvent::AccountClosed {}]);
        let result = decide_transfer("a", &usd(1000), "b", &closed, &transfer("1"));
        assert_err(&result, AccountClosed);
    }

    #[test]
    fn a_missing_account_is_reported_before_a_closed_one() {
        let closed = account([opened("USD", 0), AccountEvent::AccountClosed {}]);
        let result = decide_transfer("a", &closed, "b", &account([]), &transfer("1"));
        assert_err(&result, NotFound);
    }

    #[test]
    fn transferring_between_currencies_is_invalid() {
        let euros = account([opened("EUR", 0)]);
        let result = decide_transfer("a", &usd(1000), "b", &euros, &transfer("1"));
        assert_err(&result, Invalid);
    }

    #[test]
    fn transferring_zero_or_a_negative_amount_is_invalid() {
        for amount in ["0", "0.00", "-1"] {
            let result = decide_transfer("a", &usd(1000), "b", &usd(0), &transfer(amount));
            assert_err(&result, Invalid);
        }
    }

    #[test]
    fn transferring_more_decimals_than_the_currency_has_is_invalid() {
        let result = decide_transfer("a", &usd(1000), "b", &usd(0), &transfer("1.005"));
        assert_err(&result, Invalid);
    }

    #[test]
    fn a_transfer_description_over_500_characters_is_invalid() {
        let mut long = transfer("1");
        long.description = Some("x".repeat(501));
        assert_err(
            &decide_transfer("a", &usd(1000), "b", &usd(0), &long),
            Invalid,
        );
        long.description = Some("é".repeat(500));
        assert!(decide_transfer("a", &usd(1000), "b", &usd(0), &long).is_ok());
    }

    #[test]
    fn transferring_more_than_the_source_balance_is_insufficient_funds() {
        let result = decide_transfer("a", &usd(100), "b", &usd(0), &transfer("1.01"));
        assert_err(&result, InsufficientFunds);
        assert_eq!(
            result.unwrap_err().to_string(),
            "insufficient funds: the balance is 1.00 USD and the transfer is 1.01 USD"
        );
    }

    #[test]
    fn a_transfer_that_would_overflow_the_target_is_invalid() {
        let result = decide_transfer("a", &usd(1), "b", &usd(i64::MAX), &transfer("0.01"));
        assert_err(&result, Invalid);
    }
}
