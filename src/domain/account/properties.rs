//! Properties of accounts over random command sequences: the balance
//! arithmetic, the fold, the stored form, and conservation across transfers.

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::domain::DomainEvent;
use crate::domain::money::Amount;

/// Amounts as a client might send them in USD: mostly valid ones up to
/// `max` minor units, some zero or negative, some huge (for overflow), some
/// with a third decimal (rejected unless it is a zero).
fn amount(max: i64) -> impl Strategy<Value = Amount> {
    prop_oneof![
        8 => (-100..max).prop_map(|minor| Money(minor).format(&Currency::USD)),
        1 => (i64::MAX / 2..=i64::MAX).prop_map(|minor| Money(minor).format(&Currency::USD)),
        1 => (0..max).prop_map(|mills| format!("{}.{:03}", mills / 1000, mills % 1000)),
    ]
    .prop_map(|text| Amount::parse(&text).expect("generated amounts are well formed"))
}

fn command() -> impl Strategy<Value = AccountCommand> {
    prop_oneof![
        4 => amount(100_000).prop_map(|amount| AccountCommand::Deposit { amount, description: None }),
        4 => amount(100_000).prop_map(|amount| AccountCommand::Withdraw { amount, description: None }),
        1 => Just(AccountCommand::Close),
    ]
}

fn open(initial_balance: i64) -> AccountCommand {
    AccountCommand::Open {
        owner: "Ada".into(),
        currency: Currency::USD,
        initial_balance: Amount::parse(&Money(initial_balance).format(&Currency::USD)).unwrap(),
    }
}

/// Opens an account and runs `commands` on it, applying the events of each
/// accepted one; returns every event and the state after each step.
fn run(initial_balance: i64, commands: &[AccountCommand]) -> (Vec<AccountEvent>, Vec<Account>) {
    let mut state = Account::default();
    let mut events = Vec::new();
    let mut states = Vec::new();
    for command in std::iter::once(&open(initial_balance)).chain(commands) {
        if let Ok(new) = state.decide(command) {
            state = state.fold(&new);
            events.extend(new);
        }
        states.push(state.clone());
    }
    (events, states)
}

proptest! {
    #[test]
    fn the_balance_stays_non_negative_and_equals_deposits_minus_withdrawals(
        initial_balance in 0i64..100_000,
        commands in prop::collection::vec(command(), 0..40),
    ) {
        let (events, states) = run(initial_balance, &commands);
        let mut expected = i128::from(initial_balance);
        for event in &events[1..] {
            match event {
                AccountEvent::MoneyDeposited { amount, .. } => expected += i128::from(*amount),
                AccountEvent::MoneyWithdrawn { amount, .. } => expected -= i128::from(*amount),
                AccountEvent::AccountClosed {} => prop_assert_eq!(expected, 0),
                other => prop_assert!(false, "unexpected event {:?}", other),
            }
        }
        for state in &states {
            prop_assert!(state.balance >= Money::ZERO, "negative balance in {:?}", state);
        }
        let last = states.last().unwrap();
        prop_assert_eq!(i128::from(last.balance.0), expected);
    }

    #[test]
    fn the_incremental_state_equals_the_fold_and_survives_storage(
        initial_balance in 0i64..100_000,
        commands in prop::collection::vec(command(), 0..40),
    ) {
        let (events, states) = run(initial_balance, &commands);
        let last = states.last().unwrap();
        prop_assert_eq!(&Account::default().fold(&events), last);

        let mut stored = Vec::new();
        for event in &events {
            let (event_type, data) = event.to_parts().unwrap();
            let back = AccountEvent::from_parts(&event_type, data).unwrap();
            prop_assert_eq!(&back, event);
            stored.push(back);
        }
        prop_assert_eq!(&Account::default().fold(&stored), last);
    }

    #[test]
    fn transfers_among_four_accounts_conserve_money(
        initial_balances in prop::array::uniform4(0i64..10_000),
        moves in prop::collection::vec((0usize..4, 0usize..4, amount(5_000), prop::bool::weighted(0.1)), 0..40),
    ) {
        let ids = ["a", "b", "c", "d"];
        let mut accounts = initial_balances.map(|balance| {
            let opened = Account::default().decide(&open(balance)).unwrap();
            Account::default().fold(&opened)
        });
        let total: i64 = initial_balances.iter().sum();

        for (n, (from, to, amount, close_instead)) in moves.into_iter().enumerate() {
            if close_instead {
                // Closing is refused while money is left, so this closes
                // only accounts that were emptied; transfers then skip them.
                if let Ok(events) = accounts[from].decide(&AccountCommand::Close) {
                    accounts[from] = accounts[from].clone().fold(&events);
                }
                continue;
            }
            let transfer = Transfer {
                transfer_id: Uuid::from_u128(n as u128),
                amount,
                description: None,
            };
            if let Ok((out, into)) =
                decide_transfer(ids[from], &accounts[from], ids[to], &accounts[to], &transfer)
            {
                accounts[from] = accounts[from].clone().fold(&out);
                accounts[to] = accounts[to].clone().fold(&into);
            }
            let sum: i64 = accounts.iter().map(|account| account.balance.0).sum();
            prop_assert_eq!(sum, total);
            for account in &accounts {
                prop_assert!(account.balance >= Money::ZERO, "negative balance in {:?}", account);
            }
        }
    }
}
