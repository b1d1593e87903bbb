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

/// The account's balance as stored (not as cached), in minor units.
async fn stored_balance(commands: &Commands, id: &str) -> i64 {
    let stream = StreamId::parse(format!("account-{id}")).unwrap();
    commands
        .accounts()
        .replay(&stream)
        .await
        .unwrap()
        .state
        .balance
        .0
}

/// Waits until an append on `stream` is queued and not yet committed.
async fn until_queued(commands: &Commands, stream: &str) {
    for _ in 0..500 {
        if matches!(
            commands.in_flight.look(stream),
            in_flight::Found::Pending(_)
        ) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("nothing was queued on {stream}");
}

#[tokio::test]
async fn given_one_hot_account_when_many_commands_run_at_once_then_each_commits_once_on_the_last() {
    let (_dir, store) = sqlite_store().await;
    let commands = std::sync::Arc::new(Commands::new(store.clone(), 100, 0));
    open(&commands, "hot", "0.00").await;
    let runs = (0..60).map(|i| {
        let commands = commands.clone();
        tokio::spawn(async move {
            match i % 3 {
                // Withdrawals decided on deposits still queued.
                2 => commands
                    .execute(&CommandContext::fresh(), withdraw("hot", "1.00"))
                    .await
                    .map(|o| o.version),
                _ => commands
                    .execute(&CommandContext::fresh(), deposit("hot", "1.00", None))
                    .await
                    .map(|o| o.version),
            }
        })
    });
    let mut versions = Vec::new();
    let mut refused = 0;
    for run in futures::future::join_all(runs).await {
        match run.unwrap() {
            Ok(version) => versions.push(version),
            Err(err) => {
                assert_eq!(err.code(), ErrorCode::InsufficientFunds, "{err:?}");
                refused += 1;
            }
        }
    }
    versions.sort_unstable();
    let expected: Vec<i64> = (2..2 + versions.len() as i64).collect();
    assert_eq!(versions, expected, "one version each, no gap");
    let withdrawn = versions.len() as i64 - 40;
    assert_eq!(withdrawn + refused, 20);
    assert_eq!(
        stored_balance(&commands, "hot").await,
        (40 - withdrawn) * 100
    );
}

type Run = tokio::task::JoinHandle<Result<CommandOutput, CommandError>>;

fn spawn<C: Command + 'static>(
    commands: &std::sync::Arc<Commands>,
    ctx: CommandContext,
    command: C,
) -> Run {
    let commands = commands.clone();
    tokio::spawn(async move { commands.execute(&ctx, command).await })
}

/// Account `a` holding 1.00, a command id (`used`) the log already
/// answers, so the writer refuses any other append under it, and the
/// writer held until the caller lets go of the transaction: whatever is
/// queued meanwhile stays queued.
async fn held_writer() -> (
    tempfile::TempDir,
    std::sync::Arc<Commands>,
    crate::store::WriteTxn,
) {
    let (dir, store) = sqlite_store().await;
    let commands = std::sync::Arc::new(Commands::new(store.clone(), 100, 0));
    open(&commands, "a", "1.00").await;
    let _ = commands.execute(&ctx("used"), withdraw("a", "9.00")).await;
    let hold = store.gate().begin(store.db()).await.unwrap();
    (dir, commands, hold)
}

#[tokio::test]
async fn given_a_refusal_decided_on_a_queued_append_when_that_append_fails_then_it_is_decided_again()
 {
    let (_dir, commands, hold) = held_writer().await;
    let first = spawn(&commands, ctx("used"), withdraw("a", "1.00"));
    until_queued(&commands, "account-a").await;
    // On the queued state (nothing left) this would be refused.
    let second = spawn(&commands, CommandContext::fresh(), withdraw("a", "0.40"));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        !second.is_finished(),
        "a refusal waits for what it saw queued"
    );
    hold.rollback().await.unwrap();

    let first = first.await.unwrap().unwrap_err();
    assert!(
        matches!(first, CommandError::Rejected(Rejection::CommandIdReused(_))),
        "{first:?}"
    );
    let second = second.await.unwrap().expect("decided on what is stored");
    assert_eq!(second.version, 2);
    assert_eq!(stored_balance(&commands, "a").await, 60);
}

#[tokio::test]
async fn given_a_deposit_decided_on_a_queued_append_when_that_append_fails_then_it_commits_on_what_is_stored()
 {
    let (_dir, commands, hold) = held_writer().await;
    let first = spawn(&commands, ctx("used"), deposit("a", "5.00", None));
    until_queued(&commands, "account-a").await;
    let second = spawn(
        &commands,
        CommandContext::fresh(),
        deposit("a", "2.00", None),
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    hold.rollback().await.unwrap();

    assert!(first.await.unwrap().is_err());
    let second = second.await.unwrap().expect("retried on what is stored");
    assert_eq!(
        second.version, 2,
        "after the opening, not after the failed deposit"
    );
    assert_eq!(stored_balance(&commands, "a").await, 300);
}
