//! One account's rules, as given/when/then. Transfers are tested in
//! `transfer.rs`, the properties in `properties.rs`.

use uuid::Uuid;

use super::*;
use crate::domain::DomainError::{
    AccountClosed, AlreadyExists, InsufficientFunds, Invalid, NotFound,
};
use crate::domain::money::{Amount, Money};
use crate::domain::testing::given;

fn opened(balance: i64) -> AccountEvent {
    opened_in("USD", balance)
}

fn opened_in(currency: &str, balance: i64) -> AccountEvent {
    AccountEvent::AccountOpened {
        owner: "Ada".into(),
        currency: currency.into(),
        initial_balance: balance,
    }
}

fn deposited(amount: i64) -> AccountEvent {
    AccountEvent::MoneyDeposited {
        amount,
        currency: "USD".into(),
        description: None,
    }
}

fn withdrawn(amount: i64) -> AccountEvent {
    AccountEvent::MoneyWithdrawn {
        amount,
        currency: "USD".into(),
        description: None,
    }
}

fn closed() -> AccountEvent {
    AccountEvent::AccountClosed {}
}

fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

fn open(owner: &str, currency: &str, initial_balance: &str) -> AccountCommand {
    AccountCommand::Open {
        owner: owner.into(),
        currency: Currency::parse(currency).unwrap(),
        initial_balance: amount(initial_balance),
    }
}

fn deposit(text: &str) -> AccountCommand {
    AccountCommand::Deposit {
        amount: amount(text),
        description: None,
    }
}

fn withdraw(text: &str) -> AccountCommand {
    AccountCommand::Withdraw {
        amount: amount(text),
        description: None,
    }
}

fn message(result: Result<Vec<AccountEvent>, DomainError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn opening_a_new_account_records_owner_currency_and_initial_balance() {
    given::<Account>([])
        .when(open("Ada", "usd", "10.50"))
        .then([opened(1050)]);
}

#[test]
fn opening_with_a_zero_initial_balance_is_allowed() {
    given::<Account>([])
        .when(open("Ada", "USD", "0"))
        .then([opened(0)]);
}

#[test]
fn the_owner_is_stored_trimmed() {
    given::<Account>([])
        .when(open("  Ada \n", "USD", "0"))
        .then([opened(0)]);
}

#[test]
fn an_initial_balance_uses_the_currency_decimals() {
    given::<Account>([])
        .when(open("Ada", "JPY", "1050"))
        .then([opened_in("JPY", 1050)]);
    given::<Account>([])
        .when(open("Ada", "KWD", "1.234"))
        .then([opened_in("KWD", 1234)]);
}

#[test]
fn opening_an_opened_account_already_exists() {
    given::<Account>([opened(0)])
        .when(open("Ada", "USD", "0"))
        .then_err(AlreadyExists);
}

#[test]
fn opening_a_closed_account_already_exists() {
    given::<Account>([opened(0), closed()])
        .when(open("Ada", "USD", "0"))
        .then_err(AlreadyExists);
}

#[test]
fn an_empty_owner_is_invalid() {
    given::<Account>([])
        .when(open("", "USD", "0"))
        .then_err(Invalid);
    given::<Account>([])
        .when(open(" \t ", "USD", "0"))
        .then_err(Invalid);
}

#[test]
fn an_owner_over_200_characters_is_invalid() {
    given::<Account>([])
        .when(open(&"x".repeat(201), "USD", "0"))
        .then_err(Invalid);
    // Characters, not bytes: 200 two-byte letters are fine.
    given::<Account>([])
        .when(open(&"é".repeat(200), "USD", "0"))
        .events();
}

#[test]
fn a_negative_initial_balance_is_invalid() {
    given::<Account>([])
        .when(open("Ada", "USD", "-0.01"))
        .then_err(Invalid);
}

#[test]
fn an_initial_balance_with_more_decimals_than_the_currency_has_is_invalid() {
    given::<Account>([])
        .when(open("Ada", "USD", "10.505"))
        .then_err(Invalid);
    given::<Account>([])
        .when(open("Ada", "JPY", "10.5"))
        .then_err(Invalid);
}

#[test]
fn depositing_adds_the_amount_in_minor_units() {
    given::<Account>([opened(100)])
        .when(AccountCommand::Deposit {
            amount: amount("2.5"),
            description: Some("salary".into()),
        })
        .then([AccountEvent::MoneyDeposited {
            amount: 250,
            currency: "USD".into(),
            description: Some("salary".into()),
        }]);
}

#[test]
fn deposits_use_the_account_currency_decimals() {
    given::<Account>([opened_in("KWD", 0)])
        .when(deposit("1.234"))
        .then([AccountEvent::MoneyDeposited {
            amount: 1234,
            currency: "KWD".into(),
            description: None,
        }]);
    given::<Account>([opened_in("JPY", 0)])
        .when(deposit("1.5"))
        .then_err(Invalid);
}

#[test]
fn depositing_into_a_never_opened_account_is_not_found() {
    given::<Account>([]).when(deposit("1")).then_err(NotFound);
}

#[test]
fn withdrawing_from_a_never_opened_account_is_not_found() {
    given::<Account>([]).when(withdraw("1")).then_err(NotFound);
}

#[test]
fn closing_a_never_opened_account_is_not_found() {
    given::<Account>([])
        .when(AccountCommand::Close)
        .then_err(NotFound);
}

#[test]
fn depositing_into_a_closed_account_is_account_closed() {
    given::<Account>([opened(0), closed()])
        .when(deposit("1"))
        .then_err(AccountClosed);
}

#[test]
fn withdrawing_from_a_closed_account_is_account_closed() {
    given::<Account>([opened(0), closed()])
        .when(withdraw("1"))
        .then_err(AccountClosed);
}

#[test]
fn closing_a_closed_account_is_account_closed() {
    given::<Account>([opened(0), closed()])
        .when(AccountCommand::Close)
        .then_err(AccountClosed);
}

#[test]
fn depositing_zero_or_a_negative_amount_is_invalid() {
    for text in ["0", "0.00", "-0", "-1"] {
        given::<Account>([opened(0)])
            .when(deposit(text))
            .then_err(Invalid);
    }
}

#[test]
fn depositing_more_decimals_than_the_currency_has_is_invalid() {
    given::<Account>([opened(0)])
        .when(deposit("0.001"))
        .then_err(Invalid);
}

#[test]
fn a_deposit_too_large_for_minor_units_is_invalid() {
    given::<Account>([opened(0)])
        .when(deposit("92233720368547758.08"))
        .then_err(Invalid);
}

#[test]
fn a_deposit_above_the_largest_amount_is_invalid() {
    given::<Account>([opened(0)])
        .when(deposit("10000000000000.01"))
        .then_err(Invalid);
    given::<Account>([opened(0)])
        .when(deposit("10000000000000.00"))
        .events();
}

#[test]
fn a_deposit_that_would_take_the_balance_past_the_largest_is_invalid() {
    given::<Account>([opened(Money::MAX.0 - 1)])
        .when(deposit("0.02"))
        .then_err(Invalid);
    given::<Account>([opened(Money::MAX.0 - 1)])
        .when(deposit("0.01"))
        .events();
}

#[test]
fn opening_with_more_than_the_largest_balance_is_invalid() {
    given::<Account>([])
        .when(AccountCommand::Open {
            owner: "Ada".into(),
            currency: Currency::USD,
            initial_balance: Amount::parse("92233720368547758.07").unwrap(),
        })
        .then_err(Invalid);
}

#[test]
fn a_description_over_500_characters_is_invalid() {
    let long = Some("x".repeat(501));
    given::<Account>([opened(100)])
        .when(AccountCommand::Deposit {
            amount: amount("1"),
            description: long.clone(),
        })
        .then_err(Invalid);
    given::<Account>([opened(100)])
        .when(AccountCommand::Withdraw {
            amount: amount("1"),
            description: long,
        })
        .then_err(Invalid);
    given::<Account>([opened(100)])
        .when(AccountCommand::Withdraw {
            amount: amount("1"),
            description: Some("é".repeat(500)),
        })
        .events();
}

#[test]
fn withdrawing_takes_the_amount_in_minor_units() {
    given::<Account>([opened(1000), deposited(500)])
        .when(AccountCommand::Withdraw {
            amount: amount("12.34"),
            description: Some("groceries".into()),
        })
        .then([AccountEvent::MoneyWithdrawn {
            amount: 1234,
            currency: "USD".into(),
            description: Some("groceries".into()),
        }]);
}

#[test]
fn withdrawing_the_whole_balance_is_allowed() {
    given::<Account>([opened(100), deposited(50)])
        .when(withdraw("1.50"))
        .then([withdrawn(150)]);
}

#[test]
fn withdrawing_more_than_the_balance_is_insufficient_funds() {
    given::<Account>([opened(100)])
        .when(withdraw("1.01"))
        .then_err(InsufficientFunds);
    let account = Account::default().fold(&[opened(100)]);
    assert_eq!(
        message(account.decide(&withdraw("1.5"))),
        "insufficient funds: the balance is 1.00 USD and the withdrawal is 1.50 USD"
    );
}

#[test]
fn withdrawing_zero_or_a_negative_amount_is_invalid() {
    for text in ["0", "-0.01"] {
        given::<Account>([opened(100)])
            .when(withdraw(text))
            .then_err(Invalid);
    }
}

#[test]
fn withdrawing_more_decimals_than_the_currency_has_is_invalid() {
    given::<Account>([opened(100)])
        .when(withdraw("0.005"))
        .then_err(Invalid);
}

#[test]
fn closing_an_empty_account_closes_it() {
    given::<Account>([opened(0)])
        .when(AccountCommand::Close)
        .then([closed()]);
}

#[test]
fn closing_after_everything_was_withdrawn_is_allowed() {
    given::<Account>([opened(100), deposited(50), withdrawn(150)])
        .when(AccountCommand::Close)
        .then([closed()]);
}

#[test]
fn closing_an_account_that_holds_money_is_invalid() {
    given::<Account>([opened(0), deposited(1)])
        .when(AccountCommand::Close)
        .then_err(Invalid);
    let account = Account::default().fold(&[opened(1050)]);
    assert_eq!(
        message(account.decide(&AccountCommand::Close)),
        "the account still holds 10.50 USD; it must be withdrawn or transferred out \
         before the account can be closed"
    );
}

#[test]
fn the_state_follows_every_kind_of_event() {
    let history = [
        opened_in("EUR", 1000),
        deposited(500),
        withdrawn(200),
        AccountEvent::MoneyTransferredOut {
            transfer_id: Uuid::from_u128(1),
            to_account_id: "b".into(),
            amount: 300,
            currency: "EUR".into(),
            description: None,
        },
        AccountEvent::MoneyTransferredIn {
            transfer_id: Uuid::from_u128(2),
            from_account_id: "c".into(),
            amount: 50,
            currency: "EUR".into(),
            description: None,
        },
    ];
    let account = Account::default().fold(&history);
    assert_eq!(
        account,
        Account {
            opened: true,
            owner: "Ada".into(),
            currency: Currency::parse("EUR").unwrap(),
            balance: Money(1050),
            closed: false,
        }
    );
    assert!(account.apply(&closed()).closed);
}

#[test]
fn accounts_live_in_the_account_category() {
    assert_eq!(Account::CATEGORY, "account");
}
