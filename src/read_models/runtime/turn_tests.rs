//! The joint turn against a real SQLite database: one transaction brings
//! every member to what applying alone would, and a member that cannot go
//! on leaves without holding the others back or writing anything.

use sea_orm::TransactionTrait;

use super::*;
use crate::domain::account::AccountEvent;
use crate::domain::user::UserEvent;
use crate::read_models::Projections;
use crate::read_models::testing::{Tables, append, sqlite_store};
use crate::store::LogFilter;

/// A projection that refuses every event of its category.
struct Refusing;

#[async_trait::async_trait]
impl Projection for Refusing {
    fn name(&self) -> &'static str {
        "Refusing"
    }

    fn category(&self) -> &'static str {
        "account"
    }

    async fn apply(
        &self,
        _to: &mut Target<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        Err(ProjectionError::Event(format!(
            "refused the event at {}",
            events[0].position
        )))
    }

    async fn reset(&self, _txn: &sea_orm::DatabaseTransaction) -> Result<(), sea_orm::DbErr> {
        Ok(())
    }
}

/// A turn with `projections` as members, all at checkpoint 0, and each
/// member's update channel.
fn turn_of(
    store: &EventStore,
    projections: Vec<Arc<dyn Projection>>,
) -> (Turn, Vec<mpsc::UnboundedReceiver<Update>>) {
    let (_, messages) = mpsc::unbounded_channel();
    let mut turn = Turn::new(store.clone(), messages, Duration::ZERO, Arc::default());
    let mut receivers = Vec::new();
    for projection in projections {
        let (updates, receiver) = mpsc::unbounded_channel();
        turn.members.insert(
            projection.name(),
            Member {
                projection,
                checkpoint: Checkpoint::start(),
                updates,
                memo: Memo::on(),
            },
        );
        receivers.push(receiver);
    }
    (turn, receivers)
}

async fn some_history(store: &EventStore) {
    let opened = AccountEvent::AccountOpened {
        owner: "Ada".into(),
        currency: "USD".into(),
        initial_balance: 1000,
    };
    let deposited = AccountEvent::MoneyDeposited {
        amount: 250,
        currency: "USD".into(),
        description: None,
    };
    append(store, "account-a", &[opened.clone(), deposited.clone()]).await;
    append(store, "account-b", &[opened]).await;
    let registered = UserEvent::UserRegistered {
        name: "Ada".into(),
        email: "ada@example.com".into(),
    };
    append(store, "user-u1", &[registered]).await;
    append(store, "account-b", &[deposited]).await;
}

/// A new store whose tables hold `store`'s log applied by each standard
/// projection alone, outside any turn.
async fn applied_alone(store: &EventStore) -> (tempfile::TempDir, EventStore) {
    let (dir, reference) = sqlite_store().await;
    let events = store
        .read_log(0, &LogFilter::default(), 1000)
        .await
        .unwrap();
    for projection in Projections::standard() {
        let txn = reference.db().begin().await.unwrap();
        let theirs: Vec<RecordedEvent> = events
            .iter()
            .filter(|e| category_of(&e.stream_id) == projection.category())
            .cloned()
            .collect();
        crate::read_models::apply_alone(projection.as_ref(), &txn, &theirs)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    (dir, reference)
}

fn names(projections: &[Arc<dyn Projection>]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = projections.iter().map(|p| p.name()).collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn given_caught_up_projections_when_a_turn_runs_then_each_ends_where_applying_alone_would() {
    let (_dir, store) = sqlite_store().await;
    some_history(&store).await;
    // The same events, applied by each projection alone elsewhere.
    let (_reference_dir, reference) = applied_alone(&store).await;

    let standard = Projections::standard();
    let due = names(&standard);
    let (mut turn, mut updates) = turn_of(&store, standard);
    let head = store.head();
    turn.turn(&due, head).await;

    assert_eq!(Tables::read(&store).await, Tables::read(&reference).await);
    let rows = checkpoint::load_many(store.db(), &due).await.unwrap();
    let processed: BTreeMap<&str, (i64, i64)> = rows
        .iter()
        .map(|(name, c)| (name.as_str(), (c.position, c.events_processed)))
        .collect();
    assert_eq!(
        processed,
        BTreeMap::from([
            ("AccountBalances", (head, 4)),
            ("DailySummary", (head, 4)),
            ("TransactionHistory", (head, 4)),
            ("Users", (head, 1)),
        ])
    );
    for receiver in &mut updates {
        match receiver.try_recv() {
            Ok(Update::Applied(next)) => assert_eq!(next.position, head),
            other => panic!("expected the new checkpoint, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn given_a_member_that_refuses_an_event_when_a_turn_runs_then_nothing_is_written_and_all_apply_alone()
 {
    let (_dir, store) = sqlite_store().await;
    some_history(&store).await;
    let members: Vec<Arc<dyn Projection>> =
        vec![Arc::new(crate::read_models::Users), Arc::new(Refusing)];
    let due = names(&members);
    let (mut turn, mut updates) = turn_of(&store, members);
    turn.turn(&due, store.head()).await;

    assert!(Tables::read(&store).await.users.is_empty());
    assert!(
        checkpoint::load_many(store.db(), &due)
            .await
            .unwrap()
            .is_empty()
    );
    for receiver in &mut updates {
        assert!(matches!(receiver.try_recv(), Ok(Update::Left(Left::Solo))));
        assert!(receiver.try_recv().is_err(), "the member was let go");
    }
    assert!(turn.members.is_empty());
}

#[tokio::test]
async fn given_an_operator_paused_one_member_when_a_turn_runs_then_it_leaves_and_the_others_apply()
{
    let (_dir, store) = sqlite_store().await;
    some_history(&store).await;
    let paused = Checkpoint {
        state: ProjectionState::Paused,
        ..Checkpoint::start()
    };
    checkpoint::save(store.db(), "Users", &paused)
        .await
        .unwrap();
    let members: Vec<Arc<dyn Projection>> = vec![
        Arc::new(crate::read_models::AccountBalances),
        Arc::new(crate::read_models::Users),
    ];
    let due = names(&members);
    let (mut turn, mut updates) = turn_of(&store, members);
    turn.turn(&due, store.head()).await;

    assert!(matches!(updates[0].try_recv(), Ok(Update::Applied(_))));
    match updates[1].try_recv() {
        Ok(Update::Left(Left::Adopt(row))) => assert_eq!(row.state, ProjectionState::Paused),
        other => panic!("expected the paused row, got {other:?}"),
    }
    let tables = Tables::read(&store).await;
    assert_eq!(tables.accounts.len(), 2);
    // Folded once ahead, then again on the stored rows once the paused one
    // showed: the balance counts each deposit once.
    assert_eq!(balance_of(&store, "a").await, 1250);
    assert!(
        tables.users.is_empty(),
        "a paused projection applies nothing"
    );
    assert_eq!(
        turn.members.keys().copied().collect::<Vec<_>>(),
        ["AccountBalances"]
    );
}

#[tokio::test]
async fn given_this_nodes_commits_were_broadcast_when_a_turn_runs_then_it_takes_them_as_stored() {
    let (_dir, store) = sqlite_store().await;
    let standard = Projections::standard();
    let due = names(&standard);
    let (mut turn, _updates) = turn_of(&store, standard);
    some_history(&store).await;
    let head = store.head();
    turn.keep_live();

    let stored = store
        .read_categories_until(0, head, &["account", "user"], 100)
        .await
        .unwrap();
    assert_eq!(
        turn.recent_between(0, head, &["account", "user"]),
        Some(stored)
    );
    let accounts = turn.recent_between(1, head, &["account"]).unwrap();
    assert!(
        accounts
            .iter()
            .all(|e| e.stream_id.starts_with("account-") && e.position > 1)
    );
    assert_eq!(
        turn.recent_between(0, head + 1, &["account"]),
        None,
        "a hole"
    );

    turn.turn(&due, head).await;
    let rows = checkpoint::load_many(store.db(), &due).await.unwrap();
    assert!(rows.values().all(|c| c.position == head));
    assert_eq!(Tables::read(&store).await.accounts.len(), 2);
}

/// AccountBalances alone as a member, after a first turn over
/// `some_history`: its memo holds accounts a and b.
async fn balances_after_a_turn(store: &EventStore) -> Turn {
    some_history(store).await;
    let (mut turn, _updates) = turn_of(store, vec![Arc::new(crate::read_models::AccountBalances)]);
    turn.turn(&["AccountBalances"], store.head()).await;
    turn
}

async fn deposit(store: &EventStore, stream: &str, amount: i64) {
    let deposited = AccountEvent::MoneyDeposited {
        amount,
        currency: "USD".into(),
        description: None,
    };
    append(store, stream, &[deposited]).await;
}

async fn balance_of(store: &EventStore, account: &str) -> i64 {
    crate::read_models::account_balances::get(store.db(), account)
        .await
        .unwrap()
        .unwrap()
        .balance
}

/// Writes a balance behind the turn's back, as nothing but another writer
/// could.
async fn overwrite_balance(store: &EventStore, account: &str, balance: i64) {
    use sea_orm::ConnectionTrait;
    store
        .db()
        .execute_unprepared(&format!(
            "UPDATE account_summaries SET balance = {balance} WHERE account_id = '{account}'"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn given_rows_a_turn_wrote_when_the_next_turn_folds_them_then_it_takes_them_from_its_memo() {
    let (_dir, store) = sqlite_store().await;
    let mut turn = balances_after_a_turn(&store).await;
    assert_eq!(balance_of(&store, "a").await, 1250);
    // Only a read of the table would see this.
    overwrite_balance(&store, "a", 7).await;

    deposit(&store, "account-a", 100).await;
    turn.turn(&["AccountBalances"], store.head()).await;

    assert_eq!(balance_of(&store, "a").await, 1350);
}

#[tokio::test]
async fn given_the_checkpoint_moved_behind_the_turn_when_it_applies_then_it_reads_the_table_again()
{
    let (_dir, store) = sqlite_store().await;
    let mut turn = balances_after_a_turn(&store).await;
    let seen = store.head();
    // Another writer (an operator's skip, say) moves the row and the
    // table: the memo no longer holds what the table does.
    deposit(&store, "account-a", 100).await;
    overwrite_balance(&store, "a", 10).await;
    let skipped = Checkpoint {
        position: seen + 1,
        ..Checkpoint::start()
    };
    checkpoint::save(store.db(), "AccountBalances", &skipped)
        .await
        .unwrap();

    deposit(&store, "account-a", 5).await;
    turn.turn(&["AccountBalances"], store.head()).await;

    assert_eq!(balance_of(&store, "a").await, 15);
}

#[tokio::test]
async fn given_a_memo_over_many_turns_when_the_log_is_folded_then_the_tables_match_applying_alone()
{
    let (_dir, store) = sqlite_store().await;
    let standard = Projections::standard();
    let due = names(&standard);
    let (mut turn, _updates) = turn_of(&store, standard);
    some_history(&store).await;
    turn.turn(&due, store.head()).await;
    for round in 0..5 {
        deposit(&store, "account-a", 10 + round).await;
        deposit(&store, "account-b", 20 + round).await;
        let withdrawn = AccountEvent::MoneyWithdrawn {
            amount: 3,
            currency: "USD".into(),
            description: None,
        };
        append(&store, "account-a", &[withdrawn]).await;
        turn.turn(&due, store.head()).await;
    }

    let (_reference_dir, reference) = applied_alone(&store).await;
    assert_eq!(Tables::read(&store).await, Tables::read(&reference).await);
    assert_eq!(balance_of(&store, "a").await, 1250 + 60 - 15);
}

/// The running node checks its lock once a second. A runner that left the
/// turn for that check came back with an empty memo, so a turn rarely
/// found a row it had written: with 1,000 accounts and one client on
/// PostgreSQL, 783 of 839 turns read their accounts back.
#[tokio::test]
async fn given_a_joined_runner_when_its_lock_is_checked_then_its_memo_is_kept() {
    let (_dir, store) = sqlite_store().await;
    some_history(&store).await;
    let projections = Projections::start(
        store.clone(),
        vec![Arc::new(crate::read_models::AccountBalances)],
        "test-node",
        true,
        Duration::ZERO,
    )
    .await
    .unwrap();
    let caught_up = || async {
        projections
            .wait_for(&["AccountBalances"], store.head(), Duration::from_secs(10))
            .await
            .unwrap();
    };
    caught_up().await;
    deposit(&store, "account-a", 100).await;
    caught_up().await;
    assert_eq!(balance_of(&store, "a").await, 1350);
    // Only a read of the table would see this.
    overwrite_balance(&store, "a", 7).await;

    // Past at least one check of the lock.
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    deposit(&store, "account-a", 5).await;
    caught_up().await;

    assert_eq!(balance_of(&store, "a").await, 1355);
    projections.stop().await;
}
