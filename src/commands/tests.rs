//! The executor without HTTP: commands run on a real SQLite store in this
//! process, and the test looks at what they appended and logged.

use super::*;
use crate::error_code::ErrorCode;
use crate::read_models::testing::sqlite_store;
use crate::store::CommandStatus;

fn ctx(id: &str) -> CommandContext {
    CommandContext {
        command_id: id.to_owned(),
        id_from_client: true,
        ..CommandContext::fresh()
    }
}

fn deposit(account: &str, amount: &str, expected: Option<i64>) -> Deposit {
    Deposit::new(Movement {
        account_id: account.into(),
        amount: amount.into(),
        description: None,
        expected_version: expected,
    })
}

fn withdraw(account: &str, amount: &str) -> Withdraw {
    Withdraw::new(Movement {
        account_id: account.into(),
        amount: amount.into(),
        description: None,
        expected_version: None,
    })
}

async fn open(commands: &Commands, id: &str, balance: &str) {
    let open = OpenAccount::new(Some(id.into()), "Ada".into(), Some(balance.into()), None);
    commands
        .execute(&CommandContext::fresh(), open)
        .await
        .expect("open");
}

#[tokio::test]
async fn a_retry_with_the_same_command_id_returns_the_first_result_and_appends_nothing() {
    let (_dir, store) = sqlite_store().await;
    let commands = Commands::new(store.clone(), 100, 0);
    open(&commands, "a", "1.00").await;
    let first = commands
        .execute(&ctx("d-1"), deposit("a", "2.00", None))
        .await
        .unwrap();
    let head = store.head();
    let again = commands
        .execute(&ctx("d-1"), deposit("a", "2.00", None))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(store.head(), head, "nothing appended");
}

#[tokio::test]
async fn the_same_command_id_for_another_command_is_refused_and_changes_nothing() {
    let (_dir, store) = sqlite_store().await;
    let commands = Commands::new(store.clone(), 100, 0);
    open(&commands, "a", "1.00").await;
    commands
        .execute(&ctx("d-1"), deposit("a", "2.00", None))
        .await
        .unwrap();
    let head = store.head();
    let err = commands
        .execute(&ctx("d-1"), deposit("a", "3.00", None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CommandError::Rejected(Rejection::CommandIdReused(_))),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::BadUserInput);
    assert_eq!(store.head(), head);
    let record = store.command("d-1").await.unwrap().unwrap();
    assert_eq!(
        record.input["amount"], "2.00",
        "the log keeps the command that owns the id"
    );
}

#[tokio::test]
async fn a_rejected_command_is_logged_and_its_retry_gets_the_same_answer() {
    let (_dir, store) = sqlite_store().await;
    let commands = Commands::new(store.clone(), 100, 0);
    open(&commands, "a", "1.00").await;
    let err = commands
        .execute(&ctx("w-1"), withdraw("a", "5.00"))
        .await
        .unwrap_err();
    assert!(err.is_rejection());
    assert_eq!(err.code(), ErrorCode::InsufficientFunds);
    let record = store.command("w-1").await.unwrap().unwrap();
    assert_eq!(record.status, CommandStatus::Rejected);
    assert_eq!(record.error_code, Some(ErrorCode::InsufficientFunds));
    // Money arrives meanwhile; the retry still gets the first answer.
    commands
        .execute(&CommandContext::fresh(), deposit("a", "10.00", None))
        .await
        .unwrap();
    let again = commands
        .execute(&ctx("w-1"), withdraw("a", "5.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &again,
            CommandError::Rejected(Rejection::Replayed {
                code: ErrorCode::InsufficientFunds,
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(again.to_string(), err.to_string());
}

#[tokio::test]
async fn a_race_lost_to_another_node_is_retried_on_what_the_winner_committed() {
    let (_dir, store) = sqlite_store().await;
    // Two nodes: their own caches (and locks) over one store.
    let node_a = Commands::new(store.clone(), 100, 0);
    let node_b = Commands::new(store.clone(), 100, 0);
    open(&node_a, "a", "0").await;
    node_b
        .execute(&CommandContext::fresh(), deposit("a", "1.00", None))
        .await
        .unwrap();
    // A's cache still holds version 1; B moved the account to 2.
    let out = node_a
        .execute(&CommandContext::fresh(), deposit("a", "2.00", None))
        .await
        .unwrap();
    assert_eq!(
        out.version, 3,
        "reloaded after the conflict and appended on top"
    );
    let loaded = node_b
        .accounts
        .replay(&stream_of::<Account>("a").unwrap())
        .await
        .unwrap();
    assert_eq!(loaded.state.balance.0, 300);
}

#[tokio::test]
async fn with_an_expected_version_a_lost_race_is_the_clients_conflict() {
    let (_dir, store) = sqlite_store().await;
    let commands = Commands::new(store.clone(), 100, 0);
    open(&commands, "a", "0").await;
    commands
        .execute(&CommandContext::fresh(), deposit("a", "1.00", Some(1)))
        .await
        .unwrap();
    let head = store.head();
    let err = commands
        .execute(&CommandContext::fresh(), deposit("a", "1.00", Some(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CommandError::Rejected(Rejection::Conflict {
                expected: 1,
                actual: 2,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(store.head(), head);
}

#[tokio::test]
async fn a_command_that_changes_nothing_succeeds_and_is_logged() {
    let (_dir, store) = sqlite_store().await;
    let commands = Commands::new(store.clone(), 100, 0);
    let register = RegisterUser::new(Some("u".into()), "ada@example.com".into(), "Ada".into());
    commands
        .execute(&CommandContext::fresh(), register)
        .await
        .unwrap();
    let head = store.head();
    let same = UpdateUser {
        user_id: "u".into(),
        email: Some("ADA@example.com".into()),
        name: None,
        expected_version: None,
    };
    let out = commands.execute(&ctx("noop"), same).await.unwrap();
    assert!(out.events.is_empty());
    assert_eq!(store.head(), head);
    let record = store.command("noop").await.unwrap().unwrap();
    assert_eq!(record.status, CommandStatus::Succeeded);
}
