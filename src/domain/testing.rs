//! Given/when/then for aggregates, after disintegrate's `TestHarness`:
//!
//! ```ignore
//! given::<Account>([opened(100)])
//!     .when(withdraw("1.50"))
//!     .then_err(DomainError::InsufficientFunds);
//! ```
//!
//! Every step is `#[track_caller]`, so a failure points at the test's line
//! and prints what `decide` actually returned.

use std::fmt::Debug;
use std::mem::discriminant;

use super::{Aggregate, DomainError};

/// The history the aggregate is folded from.
pub(crate) fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Event>) -> Given<A> {
    Given {
        history: history.into_iter().collect(),
    }
}

pub(crate) struct Given<A: Aggregate> {
    history: Vec<A::Event>,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` on the state folded from the history.
    #[track_caller]
    pub(crate) fn when(self, command: A::Command) -> When<A> {
        let state = A::default().fold(&self.history);
        let result = state.decide(&command);
        When {
            history: self.history,
            result,
        }
    }
}

pub(crate) struct When<A: Aggregate> {
    history: Vec<A::Event>,
    result: Result<Vec<A::Event>, DomainError>,
}

impl<A: Aggregate> When<A>
where
    A::Event: PartialEq,
{
    /// The command was accepted with exactly these events (none for a no-op).
    #[track_caller]
    pub(crate) fn then(self, expected: impl IntoIterator<Item = A::Event>) {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match &self.result {
            Ok(events) if *events == expected => {}
            actual => panic!(
                "given {:#?}\nexpected Ok({expected:#?})\n     got {actual:#?}",
                self.history
            ),
        }
    }

    /// The command was rejected with this variant of `DomainError`, whatever
    /// the message: pass the constructor, `DomainError::NotFound`.
    #[track_caller]
    pub(crate) fn then_err(self, expected: fn(String) -> DomainError) {
        if !is_variant(&self.result, expected) {
            panic!(
                "given {:#?}\nexpected Err({:?})\n     got {:#?}",
                self.history,
                expected(String::new()),
                self.result
            );
        }
    }

    /// The events of an accepted command, for a test that looks further
    /// (at their effect on the state, say).
    #[track_caller]
    pub(crate) fn events(self) -> Vec<A::Event> {
        match self.result {
            Ok(events) => events,
            Err(err) => panic!("given {:#?}\nexpected Ok, got Err({err:?})", self.history),
        }
    }
}

/// For decisions outside `Aggregate::decide` (a transfer): asserts that
/// `result` is an error of the variant `expected` constructs.
#[track_caller]
pub(crate) fn assert_err<T: Debug>(
    result: &Result<T, DomainError>,
    expected: fn(String) -> DomainError,
) {
    if !is_variant(result, expected) {
        panic!(
            "expected Err({:?})\n     got {result:#?}",
            expected(String::new())
        );
    }
}

/// Errors are compared by variant, never by message: messages are for
/// people and may be reworded.
fn is_variant<T>(result: &Result<T, DomainError>, expected: fn(String) -> DomainError) -> bool {
    matches!(result, Err(err) if discriminant(err) == discriminant(&expected(String::new())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainError::{InsufficientFunds, Invalid};
    use crate::domain::account::{Account, AccountCommand, AccountEvent};
    use crate::domain::money::Amount;

    fn opened(balance: i64) -> AccountEvent {
        AccountEvent::AccountOpened {
            owner: "Ada".into(),
            currency: "USD".into(),
            initial_balance: balance,
        }
    }

    fn withdraw(amount: &str) -> AccountCommand {
        AccountCommand::Withdraw {
            amount: Amount::parse(amount).unwrap(),
            description: None,
        }
    }

    #[test]
    fn then_err_matches_the_variant_whatever_the_message() {
        given::<Account>([opened(100)])
            .when(withdraw("2"))
            .then_err(InsufficientFunds);
    }

    #[test]
    #[should_panic(expected = "expected Err(Invalid(\"\"))")]
    fn then_err_fails_on_another_variant() {
        given::<Account>([opened(100)])
            .when(withdraw("2"))
            .then_err(Invalid);
    }

    #[test]
    #[should_panic(expected = "expected Err(InsufficientFunds(\"\"))")]
    fn then_err_fails_when_the_command_is_accepted() {
        given::<Account>([opened(100)])
            .when(withdraw("1"))
            .then_err(InsufficientFunds);
    }

    #[test]
    #[should_panic(expected = "got Err(\n    InsufficientFunds(")]
    fn then_fails_when_the_command_is_rejected_and_shows_the_error() {
        given::<Account>([opened(100)]).when(withdraw("2")).then([]);
    }

    #[test]
    #[should_panic(expected = "expected Ok(")]
    fn then_fails_on_other_events() {
        given::<Account>([opened(100)]).when(withdraw("1")).then([]);
    }

    #[test]
    #[should_panic(expected = "expected Err(InsufficientFunds(\"\"))")]
    fn assert_err_fails_on_ok() {
        assert_err(&Ok::<(), DomainError>(()), InsufficientFunds);
    }
}
