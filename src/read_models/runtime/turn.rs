//! The joint turn: the projections this node runs that are caught up apply
//! each new stretch of the log in one read-model transaction, not one
//! each. One read of the log serves them all (the union of their
//! categories), their checkpoint rows are locked in one statement and
//! saved in one, and on SQLite the event writer waits behind one
//! read-model transaction instead of four. The rows a member wrote are
//! remembered for its next batch (`memo.rs`), and the writes of every
//! member go to the database together (`writes.rs`): a turn is mostly four
//! round trips (BEGIN, the checkpoints, the writes, COMMIT), where on
//! SQLite four runners took 26 at one command per turn.
//!
//! A turn folds its batch before its transaction begins, on the rows as
//! its last transaction left them, and in the transaction only checks that
//! every member's checkpoint row is still that one (as it is unless an
//! operator or another node wrote it, and then it folds again there). On
//! SQLite the fold held the one write lock the event writer waits on:
//! taken out, a turn holds it 0.79-0.84 ms instead of 1.07-1.24 ms at one
//! client, and 3.1-3.7 ms instead of 4.4-4.8 ms at 64 (BENCHMARKS.md).
//!
//! Turns start at least `--projection-interval-ms` apart, and on SQLite
//! at least four event commits apart (`pace.rs`), so at light load a turn
//! covers several commits instead of one each.
//!
//! A runner joins once it is caught up and RUNNING, and leaves to do
//! anything else: obey a control, check its lock, step down, or find an
//! event it cannot apply. Leaving is a message the turn handles between
//! transactions; it then drops the member's update channel, so a runner
//! that sees its channel close knows none of its batches is in flight.
//! A turn that fails sends every member back to its own transactions,
//! where the event at fault is found and reported as before
//! (`runner.rs`). Both decide each projection's batch with `advance.rs`:
//! the joint turn changes how many transactions there are, not what any
//! of them does to a checkpoint.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use sea_orm::DatabaseExecutor;
use tokio::sync::{Notify, broadcast, mpsc};
use tokio::time::{Duration, Instant};

use self::fold::{Batch, as_stored, fold, unchanged};
use super::checkpoint::{self, Checkpoint};
use super::pace::Pace;
use super::{BATCH, IDLE_POLL, ProjectionState};
use crate::read_models::{Memo, Projection, ProjectionError, Target};
use crate::store::{EventStore, RecordedEvent, category_of};

/// The most broadcast events a turn keeps.
const KEPT_EVENTS: usize = 4 * BATCH as usize;

/// A caught-up runner's seat in the turn.
pub(super) struct Member {
    pub projection: Arc<dyn Projection>,
    /// The runner's view when it joined; the turn keeps it current.
    pub checkpoint: Checkpoint,
    pub updates: mpsc::UnboundedSender<Update>,
    /// The rows its earlier turns read and wrote: the turn's own, since it
    /// is their one writer while the runner is a member (`memo.rs`). A
    /// member that joins again starts with an empty one.
    pub memo: Memo,
}

/// What a turn tells a member's runner.
#[derive(Debug)]
pub(super) enum Update {
    /// A turn moved the checkpoint (or found the row already further):
    /// the runner's view now.
    Applied(Checkpoint),
    /// The turn let the member go, for this reason; its channel closes.
    Left(Left),
}

#[derive(Debug)]
pub(super) enum Left {
    /// Another node runs the projection now.
    Fenced,
    /// An operator paused or reset the row: the runner takes it.
    Adopt(Checkpoint),
    /// A turn failed: the runner applies on its own, where a bad event is
    /// isolated and reported.
    Solo,
}

enum Message {
    Join(Member),
    Leave(&'static str),
}

/// This node's joint turn; its task ends when every handle is gone.
#[derive(Clone)]
pub(super) struct Turns {
    inbox: mpsc::UnboundedSender<Message>,
    hurry: Arc<Notify>,
}

impl Turns {
    /// Starts the turn task; its turns start at least `interval` apart
    /// (`pace.rs`).
    pub fn start(store: EventStore, interval: Duration) -> Self {
        let (inbox, messages) = mpsc::unbounded_channel();
        let hurry = Arc::new(Notify::new());
        let turn = Turn::new(store, messages, interval, hurry.clone());
        tokio::spawn(turn.run());
        Self { inbox, hurry }
    }

    /// A reader waits for a position: the next turn starts without
    /// waiting out the interval.
    pub fn hurry(&self) {
        self.hurry.notify_one();
    }

    pub fn join(&self, member: Member) {
        // The task ends only once every handle is dropped, this one too.
        let _ = self.inbox.send(Message::Join(member));
    }

    /// Takes the member out between two transactions; its update channel
    /// closes once that is done.
    pub fn leave(&self, name: &'static str) {
        let _ = self.inbox.send(Message::Leave(name));
    }
}

struct Turn {
    store: EventStore,
    /// By name: the order their rows are locked in.
    members: BTreeMap<&'static str, Member>,
    messages: mpsc::UnboundedReceiver<Message>,
    /// This node's commits as its writer broadcast them, kept from the
    /// members' lowest checkpoint on: a turn takes its events from here
    /// when they cover its stretch of the log without a hole, and reads
    /// the log only when they do not (another node's commits, a member
    /// far behind, a lagging receiver).
    live: broadcast::Receiver<Arc<[RecordedEvent]>>,
    recent: VecDeque<Arc<[RecordedEvent]>>,
    pace: Pace,
    hurry: Arc<Notify>,
}

impl Turn {
    fn new(
        store: EventStore,
        messages: mpsc::UnboundedReceiver<Message>,
        interval: Duration,
        hurry: Arc<Notify>,
    ) -> Self {
        Self {
            live: store.live_events(),
            recent: VecDeque::new(),
            store,
            members: BTreeMap::new(),
            messages,
            pace: Pace::new(interval),
            hurry,
        }
    }

    async fn run(mut self) {
        let mut head = self.store.watch_head();
        loop {
            head.borrow_and_update();
            while let Ok(message) = self.messages.try_recv() {
                self.take(message);
            }
            self.keep_live();
            let head_now = self.store.head();
            self.settle(head_now);
            let due: Vec<&'static str> = self
                .members
                .iter()
                .filter(|(_, m)| m.checkpoint.position < head_now)
                .map(|(name, _)| *name)
                .collect();
            if !due.is_empty() {
                let commit_cost = self.store.gate().event_commit_cost();
                if let Some(at) = self.pace.wait_until(Instant::now(), commit_cost) {
                    // The commits of the wait join this turn. A runner
                    // that leaves (a pause, a lease check) does not wait
                    // for it.
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.hurry.notified() => self.pace.hurry(),
                        message = self.messages.recv() => match message {
                            Some(message) => self.take(message),
                            None => return,
                        },
                    }
                    continue;
                }
                self.pace.started(Instant::now());
                self.turn(&due, head_now).await;
                continue;
            }
            tokio::select! {
                message = self.messages.recv() => match message {
                    Some(message) => self.take(message),
                    None => return,
                },
                // With no member nothing is due; a join wakes it.
                changed = head.changed(), if !self.members.is_empty() => {
                    if changed.is_err() { return }
                }
                () = tokio::time::sleep(IDLE_POLL), if !self.members.is_empty() => {
                    // Nothing woke it: look for commits no notification
                    // announced (the runners' idle poll, once for all).
                    if let Err(err) = self.store.stored_head().await {
                        tracing::debug!(%err, "idle poll of the head failed");
                    }
                }
            }
        }
    }

    fn take(&mut self, message: Message) {
        match message {
            Message::Join(member) => {
                self.members.insert(member.projection.name(), member);
            }
            Message::Leave(name) => {
                self.members.remove(name);
            }
        }
    }

    /// A member whose last batch was a full one reads as CATCHING_UP; at
    /// the head it is RUNNING again (stored as RUNNING either way).
    fn settle(&mut self, head: i64) {
        for member in self.members.values_mut() {
            if member.checkpoint.state == ProjectionState::CatchingUp
                && member.checkpoint.position >= head
            {
                member.checkpoint.state = ProjectionState::Running;
                let _ = member
                    .updates
                    .send(Update::Applied(member.checkpoint.clone()));
            }
        }
    }

    /// Applies the log after the `due` members' checkpoints, up to `head`,
    /// in one transaction, and tells each member how it went.
    async fn turn(&mut self, due: &[&'static str], head: i64) {
        let _turn = self.store.gate().read_model_turn().await;
        let updates = match self.apply(due, head).await {
            Ok(updates) => updates,
            Err(error) => {
                tracing::debug!(%error, "a joint projection turn failed: each applies alone");
                due.iter()
                    .map(|name| (*name, Update::Left(Left::Solo)))
                    .collect()
            }
        };
        for (name, update) in updates {
            match update {
                Update::Applied(next) => {
                    if let Some(member) = self.members.get_mut(name) {
                        member.checkpoint = next.clone();
                        let _ = member.updates.send(Update::Applied(next));
                    }
                }
                Update::Left(left) => {
                    if let Some(member) = self.members.remove(name) {
                        let _ = member.updates.send(Update::Left(left));
                    }
                }
            }
        }
    }

    async fn apply(
        &mut self,
        due: &[&'static str],
        head: i64,
    ) -> Result<Vec<(&'static str, Update)>, ProjectionError> {
        let after = due
            .iter()
            .map(|name| self.members[name].checkpoint.position)
            .min()
            .unwrap_or(head);
        let mut categories: Vec<&str> = due
            .iter()
            .map(|name| self.members[name].projection.category())
            .collect();
        categories.sort_unstable();
        categories.dedup();
        let events = match self.recent_between(after, head, &categories) {
            Some(events) => events,
            None => {
                self.store
                    .read_categories_until(after, head, &categories, BATCH)
                    .await?
            }
        };
        let more = events.len() as u64 == BATCH;
        let through = match events.last() {
            Some(last) if more => last.position,
            _ => head,
        };
        let batch = Batch {
            events: &events,
            through,
            more,
        };
        // Folded before the write transaction begins, on the rows as this
        // turn left them: on SQLite that work no longer holds the one write
        // lock the event writer waits on.
        let assumed: HashMap<String, Checkpoint> = due
            .iter()
            .map(|name| (name.to_string(), as_stored(&self.members[name].checkpoint)))
            .collect();
        let pool = self.store.gate().read_models().clone();
        let reads = DatabaseExecutor::Connection(&pool);
        let mut folded = fold(&mut self.members, due, &assumed, &batch, &reads).await?;
        let txn = self.store.gate().begin_read_model().await?;
        let stored = checkpoint::load_many(&*txn, due).await?;
        if !due
            .iter()
            .all(|name| unchanged(stored.get(*name), &assumed[*name]))
        {
            // Someone else wrote a row since this turn's last transaction
            // (an operator, another node): what was folded may stand on
            // rows that are gone. Fold again, on what is stored.
            for name in due {
                if let Some(member) = self.members.get_mut(name) {
                    member.memo.clear();
                }
            }
            let reads = DatabaseExecutor::Transaction(&txn);
            folded = fold(&mut self.members, due, &stored, &batch, &reads).await?;
        }
        for name in &folded.announce {
            checkpoint::announce(&*txn, &self.store, name).await?;
        }
        let saved = folded.saves.iter().map(|(name, c)| (*name, c));
        checkpoint::save_with(&mut folded.writes, saved)?;
        folded.writes.send(&txn).await?;
        txn.commit().await?;
        Ok(folded.updates)
    }

    /// Takes the commits broadcast since the last look, and drops those
    /// every member is past.
    fn keep_live(&mut self) {
        loop {
            match self.live.try_recv() {
                Ok(batch) => self.recent.push_back(batch),
                // Missed commits leave a hole: the log serves until the
                // kept ones are passed.
                Err(broadcast::error::TryRecvError::Lagged(_)) => self.recent.clear(),
                Err(_) => break,
            }
        }
        let lowest = self.members.values().map(|m| m.checkpoint.position).min();
        let mut kept: usize = self.recent.iter().map(|batch| batch.len()).sum();
        while let Some(front) = self.recent.front() {
            let last = front.last().map_or(0, |e| e.position);
            // A member further behind than a few batches reads the log
            // anyway (`recent_between`): keeping more would only cost
            // memory while it catches up under load.
            if lowest.is_none_or(|lowest| last <= lowest) || kept > KEPT_EVENTS {
                kept -= front.len();
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    /// The events of `categories` in `after < position <= head`, when the
    /// kept commits hold every position of that stretch (and it is no
    /// longer than a batch).
    fn recent_between(
        &self,
        after: i64,
        head: i64,
        categories: &[&str],
    ) -> Option<Vec<RecordedEvent>> {
        if head - after > BATCH as i64 {
            return None;
        }
        let mut next = after + 1;
        let mut events = Vec::new();
        for event in self.recent.iter().flat_map(|batch| batch.iter()) {
            if event.position <= after {
                continue;
            }
            if event.position > head {
                break;
            }
            if event.position != next {
                return None;
            }
            next += 1;
            if categories.contains(&category_of(&event.stream_id)) {
                events.push(event.clone());
            }
        }
        (next == head + 1).then_some(events)
    }
}

/// What a runner alone and a joint turn both do with an
/// [`Advance::Apply`] inside their transaction: fold the events the row
/// has not seen, and announce a change of state to the other nodes. Each
/// saves the checkpoint its own way (the turn, all of them at once).
pub(super) async fn apply_fresh(
    to: &mut Target<'_>,
    store: &EventStore,
    projection: &dyn Projection,
    fresh: &[RecordedEvent],
    announce: bool,
) -> Result<(), ProjectionError> {
    if !fresh.is_empty() {
        projection.apply(to, fresh).await?;
    }
    if announce {
        checkpoint::announce(to.reads, store, projection.name()).await?;
    }
    Ok(())
}

#[path = "turn_fold.rs"]
mod fold;

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
