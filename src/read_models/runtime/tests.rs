//! At-least-once delivery against a real SQLite database: a batch applied
//! but not checkpointed leaves nothing, and a batch delivered again after
//! it committed changes nothing, for every standard read model.

use sea_orm::TransactionTrait;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::domain::account::AccountEvent;
use crate::domain::user::UserEvent;
use crate::read_models::Projections;
use crate::read_models::runtime::lease::Leases;
use crate::read_models::testing::{Tables, append, sqlite_store};
use crate::store::LogFilter;

/// A runner that believes it is at `checkpoint`, driven by hand: no task,
/// nobody listening.
fn runner(store: &EventStore, projection: Arc<dyn Projection>, checkpoint: Checkpoint) -> Runner {
    let (status, _) = watch::channel(status_of(projection.name(), &checkpoint, true));
    let (_, control) = mpsc::channel(1);
    let seat = NodeSeat {
        id: Arc::from("test-node"),
        may_run: true,
        leases: Leases::new(store),
        turns: super::super::turn::Turns::start(store.clone(), std::time::Duration::ZERO),
    };
    Runner {
        store: store.clone(),
        projection,
        checkpoint,
        status,
        control,
        failures: 0,
        seat,
        held: None,
    }
}

/// Every kind of event each read model handles, on two accounts and a
/// user, plus an email reservation that Users must skip.
async fn history(store: &EventStore) -> Vec<RecordedEvent> {
    let opened = |currency: &str, balance| AccountEvent::AccountOpened {
        owner: "Ada".into(),
        currency: currency.into(),
        initial_balance: balance,
    };
    let money = |amount| (amount, "USD".to_owned(), Some("note".to_owned()));
    let (amount, currency, description) = money(250);
    append(store, "account-a", &[opened("USD", 1000)]).await;
    append(store, "account-b", &[opened("USD", 0)]).await;
    append(
        store,
        "account-a",
        &[
            AccountEvent::MoneyDeposited {
                amount,
                currency: currency.clone(),
                description: description.clone(),
            },
            AccountEvent::MoneyWithdrawn {
                amount: 100,
                currency: currency.clone(),
                description: None,
            },
            AccountEvent::MoneyTransferredOut {
                transfer_id: uuid::Uuid::nil(),
                to_account_id: "b".into(),
                amount: 300,
                currency: currency.clone(),
                description,
            },
        ],
    )
    .await;
    append(
        store,
        "account-b",
        &[
            AccountEvent::MoneyTransferredIn {
                transfer_id: uuid::Uuid::nil(),
                from_account_id: "a".into(),
                amount: 300,
                currency: currency.clone(),
                description: None,
            },
            AccountEvent::MoneyWithdrawn {
                amount: 300,
                currency,
                description: None,
            },
            AccountEvent::AccountClosed {},
        ],
    )
    .await;
    append(store, "account-c", &[opened("JPY", 5000)]).await;
    let registered = UserEvent::UserRegistered {
        email: "ada@example.com".into(),
        name: "Ada".into(),
    };
    let renamed = UserEvent::UserUpdated {
        email: None,
        name: Some("Ada L.".into()),
    };
    append(
        store,
        "user-u1",
        &[registered, renamed, UserEvent::UserDeleted {}],
    )
    .await;
    let reservation = crate::store::NewEvent::new("EmailReserved", serde_json::json!({}));
    let stream = crate::store::StreamId::parse("useremail-x").unwrap();
    store
        .append(
            stream,
            crate::store::ExpectedVersion::Any,
            vec![reservation],
        )
        .await
        .unwrap();
    store
        .read_log(0, &LogFilter::default(), 1000)
        .await
        .unwrap()
}

/// Applies `events` through the runtime's commit path, projection by
/// projection, each runner starting from what it believes its checkpoint is.
async fn commit_all(store: &EventStore, believed: &Checkpoint, events: &[RecordedEvent]) {
    for projection in Projections::standard() {
        let mut runner = runner(store, projection, believed.clone());
        let through = events.last().map_or(0, |e| e.position);
        runner.commit(events, through, false).await.expect("commit");
    }
}

async fn stored(store: &EventStore) -> Vec<Checkpoint> {
    let mut checkpoints = Vec::new();
    for projection in Projections::standard() {
        let found = checkpoint::load(store.db(), projection.name())
            .await
            .unwrap();
        checkpoints.push(found.expect("a checkpoint"));
    }
    checkpoints
}

#[tokio::test]
async fn a_batch_delivered_again_after_it_committed_changes_no_read_model() {
    let (_dir, store) = sqlite_store().await;
    let events = history(&store).await;
    commit_all(&store, &Checkpoint::start(), &events).await;
    let once = Tables::read(&store).await;
    assert_eq!(once.transactions.len(), 8, "{once:#?}");
    use crate::read_models::transaction_history::TransactionKind as K;
    let running: Vec<(&str, K, i64)> = once
        .transactions
        .iter()
        .map(|t| (t.account_id.as_str(), t.kind, t.balance_after))
        .collect();
    assert_eq!(
        running,
        [
            ("a", K::Opening, 1000),
            ("b", K::Opening, 0),
            ("a", K::Deposit, 1250),
            ("a", K::Withdrawal, 1150),
            ("a", K::TransferOut, 850),
            ("b", K::TransferIn, 300),
            ("b", K::Withdrawal, 0),
            ("c", K::Opening, 5000),
        ]
    );
    let daily: Vec<(&str, &str, &str, &str, i64)> = once
        .daily
        .iter()
        .map(|d| {
            (
                d.currency.as_str(),
                d.deposits.as_str(),
                d.withdrawals.as_str(),
                d.net_change.as_str(),
                d.transaction_count,
            )
        })
        .collect();
    assert_eq!(
        daily,
        [
            ("JPY", "5000", "0", "5000", 1),
            ("USD", "1250", "400", "850", 6)
        ]
    );
    assert_eq!(once.users.len(), 1);
    assert!(once.users[0].deleted && once.users[0].name == "Ada L.");
    let checkpoints = stored(&store).await;

    // A runner that lost track (another node applied the batch, or its
    // own commit's answer was lost) delivers the whole batch again, then
    // an overlapping one.
    commit_all(&store, &Checkpoint::start(), &events).await;
    commit_all(&store, &Checkpoint::start(), &events[events.len() / 2..]).await;

    assert_eq!(Tables::read(&store).await, once);
    let again = stored(&store).await;
    for (before, after) in checkpoints.iter().zip(&again) {
        assert_eq!(
            (before.position, before.events_processed),
            (after.position, after.events_processed)
        );
    }
}

#[tokio::test]
async fn a_batch_applied_but_never_checkpointed_leaves_nothing_and_replays_exactly() {
    let (_dir, store) = sqlite_store().await;
    let events = history(&store).await;
    let (_reference_dir, reference) = sqlite_store().await;
    commit_all(&reference, &Checkpoint::start(), &events).await;

    // The crash: every projection applies the first half, and the
    // process dies before the checkpoint commits.
    let half = events.len() / 2;
    for projection in Projections::standard() {
        let txn = store.db().begin().await.unwrap();
        crate::read_models::apply_alone(projection.as_ref(), &txn, &events[..half])
            .await
            .unwrap();
        txn.rollback().await.unwrap();
    }
    let left = Tables::read(&store).await;
    let empty = Tables {
        accounts: vec![],
        transactions: vec![],
        daily: vec![],
        users: vec![],
    };
    assert_eq!(left, empty);

    // After the restart the whole log is delivered from checkpoint 0.
    commit_all(&store, &Checkpoint::start(), &events[..half]).await;
    commit_all(&store, &Checkpoint::start(), &events).await;
    assert_eq!(Tables::read(&store).await, Tables::read(&reference).await);
}

/// Under a steady load the head moves during every step. A runner that
/// joined the joint turn only after a step found nothing new stayed out of
/// it for as long as the load lasted, each projection taking a read-model
/// transaction of its own for every commit.
#[tokio::test]
async fn given_a_batch_that_reached_the_head_when_it_commits_then_the_runner_is_caught_up() {
    let (_dir, store) = sqlite_store().await;
    history(&store).await;
    let balances: Arc<dyn Projection> = Arc::new(crate::read_models::AccountBalances);
    let mut runner = runner(&store, balances, Checkpoint::start());

    let next = runner.step().await.map_err(|f| f.error).unwrap();

    assert!(matches!(next, Next::Idle), "{next:?}");
    assert_eq!(runner.checkpoint.position, store.head());
    assert_eq!(runner.checkpoint.state, ProjectionState::Running);
}

#[tokio::test]
async fn given_a_full_batch_when_it_commits_then_the_runner_reads_on() {
    let (_dir, store) = sqlite_store().await;
    let deposit = AccountEvent::MoneyDeposited {
        amount: 1,
        currency: "USD".into(),
        description: None,
    };
    let opened = AccountEvent::AccountOpened {
        owner: "Ada".into(),
        currency: "USD".into(),
        initial_balance: 0,
    };
    append(&store, "account-a", &[opened]).await;
    for _ in 0..BATCH / 100 {
        append(&store, "account-a", &vec![deposit.clone(); 100]).await;
    }
    let balances: Arc<dyn Projection> = Arc::new(crate::read_models::AccountBalances);
    let mut runner = runner(&store, balances, Checkpoint::start());

    let next = runner.step().await.map_err(|f| f.error).unwrap();

    assert!(matches!(next, Next::Continue), "{next:?}");
    assert_eq!(runner.checkpoint.position, BATCH as i64);
    assert_eq!(runner.checkpoint.state, ProjectionState::CatchingUp);
    let next = runner.step().await.map_err(|f| f.error).unwrap();
    assert!(matches!(next, Next::Idle), "{next:?}");
    assert_eq!(runner.checkpoint.position, store.head());
}
