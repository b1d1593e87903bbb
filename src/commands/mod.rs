//! The write side: commands in, events out.
//!
//! A command is a type (`command.rs`): one per command, in one file per
//! aggregate (`account.rs`, `transfer.rs`, `user.rs`). Its `plan` loads the
//! aggregate(s) through a cached [`Repository`] and calls the pure
//! `decide` of `crate::domain`; `Commands::execute` (`execute.rs`) runs
//! every command the same way: the command log, the locks, the append with
//! the versions it loaded, retries after a lost race.

mod account;
mod command;
mod error;
mod execute;
mod history;
mod in_flight;
mod locks;
mod repository;
mod snapshots;
mod transfer;
mod user;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

pub use account::{CloseAccount, Deposit, Movement, OpenAccount, Withdraw};
pub use command::{Command, Plan};
pub use error::{CommandError, Failure, Rejection};
pub use history::AsOf;
pub use repository::{Loaded, Repository};
pub use transfer::TransferMoney;
pub use user::{DeleteUser, RegisterUser, UpdateUser};

use crate::domain::account::Account;
use crate::domain::user::{EmailReservation, User};
use crate::domain::{Aggregate, DomainEvent, Snapshot};
use crate::store::{
    AppendOutcome, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamAppend, StreamId,
};

/// The categories whose streams only their aggregate's commands write.
pub const AGGREGATE_CATEGORIES: [&str; 3] = [
    Account::CATEGORY,
    User::CATEGORY,
    EmailReservation::CATEGORY,
];

/// Who sent a command and why: becomes every event's metadata.
#[derive(Clone, Debug)]
pub struct CommandContext {
    /// The client's idempotency key, or a generated one.
    pub command_id: String,
    /// Whether the client chose `command_id`. Only a client's id can be a
    /// retry; a fresh UUID cannot be in the command log, so its lookup is
    /// skipped.
    pub id_from_client: bool,
    /// Ties together everything one user action caused; from the
    /// `X-Correlation-Id` header, else the command id.
    pub correlation_id: String,
    pub actor: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl CommandContext {
    /// A command with a new, server-generated id (what a mutation without
    /// `commandId` gets): no actor, correlated with itself. The id is a
    /// UUIDv7, which starts with the time: each lands beside the last in
    /// the command log's key, where a random one would touch a page of its
    /// own.
    pub fn fresh() -> Self {
        let command_id = uuid::Uuid::now_v7().to_string();
        Self {
            correlation_id: command_id.clone(),
            command_id,
            id_from_client: false,
            actor: None,
            // Stored precision (PostgreSQL's) is microseconds; the command
            // log's cursor relies on the stored value being exactly this one.
            received_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
        }
    }

    fn metadata(&self) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert("correlationId".into(), json!(self.correlation_id));
        // A command's events are caused by the command itself.
        meta.insert("causationId".into(), json!(self.command_id));
        meta.insert("commandId".into(), json!(self.command_id));
        if let Some(actor) = &self.actor {
            meta.insert("actor".into(), json!(actor));
        }
        meta
    }
}

/// What a successful command reports.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandOutput {
    pub command_id: String,
    /// The aggregate's stream (for a transfer, the source account's).
    pub stream_id: String,
    /// That stream's version after the command.
    pub version: i64,
    /// Global position of the command's last event.
    pub position: i64,
    pub events: Vec<RecordedEvent>,
}

/// A state an append produces, to cache: once it is queued for the
/// streams the command locks (`in_flight.rs`), once it commits for others.
#[derive(Clone)]
pub enum CacheUpdate {
    Account(StreamId, Account),
    User(StreamId, User),
    Email(StreamId, EmailReservation),
}

impl CacheUpdate {
    fn stream(&self) -> &StreamId {
        match self {
            Self::Account(s, _) | Self::User(s, _) | Self::Email(s, _) => s,
        }
    }
}

/// The command handlers, with one cached repository per aggregate type.
pub struct Commands {
    store: EventStore,
    locks: locks::AggregateLocks,
    in_flight: in_flight::InFlight,
    accounts: Repository<Account>,
    users: Repository<User>,
    emails: Repository<EmailReservation>,
}

impl Commands {
    /// `cache_capacity` aggregates are kept per aggregate type; a snapshot
    /// is written every `snapshot_every` events of a stream.
    pub fn new(store: EventStore, cache_capacity: u64, snapshot_every: i64) -> Self {
        Self {
            accounts: Repository::new(store.clone(), cache_capacity, snapshot_every),
            users: Repository::new(store.clone(), cache_capacity, snapshot_every),
            emails: Repository::new(store.clone(), cache_capacity, snapshot_every),
            locks: locks::AggregateLocks::default(),
            in_flight: in_flight::InFlight::default(),
            store,
        }
    }

    pub fn accounts(&self) -> &Repository<Account> {
        &self.accounts
    }

    async fn remember(&self, updates: Vec<CacheUpdate>, outcome: &AppendOutcome) {
        for update in updates {
            match update {
                CacheUpdate::Account(s, state) => remember(&self.accounts, s, state, outcome).await,
                CacheUpdate::User(s, state) => remember(&self.users, s, state, outcome).await,
                CacheUpdate::Email(s, state) => remember(&self.emails, s, state, outcome).await,
            }
        }
    }

    /// Caches the states a queued append will produce on the streams in
    /// `versions` (those the command locks), at those versions.
    async fn remember_queued(&self, updates: &[CacheUpdate], versions: &[(StreamId, i64)]) {
        for update in updates {
            let Some((_, version)) = versions.iter().find(|(s, _)| s == update.stream()) else {
                continue;
            };
            let version = *version;
            match update.clone() {
                CacheUpdate::Account(s, state) => {
                    self.accounts.remember(&s, Loaded { state, version }).await
                }
                CacheUpdate::User(s, state) => {
                    self.users.remember(&s, Loaded { state, version }).await
                }
                CacheUpdate::Email(s, state) => {
                    self.emails.remember(&s, Loaded { state, version }).await
                }
            }
        }
    }

    /// [`forget`](Self::forget) by lock key: a stream id.
    async fn forget_key(&self, key: &str) {
        if let Ok(stream) = StreamId::parse(key) {
            self.forget(&stream).await;
        }
    }

    async fn forget(&self, stream: &StreamId) {
        match stream.category() {
            Account::CATEGORY => self.accounts.forget(stream).await,
            User::CATEGORY => self.users.forget(stream).await,
            EmailReservation::CATEGORY => self.emails.forget(stream).await,
            _ => {}
        }
    }
}

async fn remember<A: Snapshot>(
    repo: &Repository<A>,
    stream: StreamId,
    state: A,
    outcome: &AppendOutcome,
) {
    // A stream the append did not touch keeps its cached state as it is.
    let Some(version) = outcome
        .versions
        .iter()
        .find(|(s, _)| *s == stream)
        .map(|(_, v)| *v)
    else {
        return;
    };
    let appended = outcome
        .events
        .iter()
        .filter(|e| e.stream_id == stream.as_str())
        .count() as i64;
    let loaded = Loaded { state, version };
    if repo.snapshot_due(version - appended, version) {
        repo.write_snapshot_later(&stream, loaded.clone());
    }
    repo.remember(&stream, loaded).await;
}

/// The stream of aggregate `A` with id `id`, e.g. `account-42`.
pub(crate) fn stream_of<A: Aggregate>(id: &str) -> Result<StreamId, CommandError> {
    if id.trim().is_empty() {
        return Err(CommandError::invalid(format!(
            "{} id must not be empty",
            A::CATEGORY
        )));
    }
    Ok(StreamId::parse(format!("{}-{id}", A::CATEGORY))?)
}

/// The store's expectation for a stream loaded at `version`.
fn expect(version: i64) -> ExpectedVersion {
    if version == 0 {
        ExpectedVersion::NoStream
    } else {
        ExpectedVersion::Exact(version)
    }
}

/// Domain events as events to store, with the command's metadata.
fn to_new_events<E: DomainEvent>(
    events: &[E],
    ctx: &CommandContext,
) -> Result<Vec<NewEvent>, CommandError> {
    events
        .iter()
        .map(|event| {
            let (event_type, data) = event.to_parts().map_err(|err| {
                CommandError::internal(format!("cannot serialize {event:?}: {err}"))
            })?;
            let mut new = NewEvent::new(event_type.clone(), data).with_metadata(ctx.metadata());
            new.schema_version = E::schema_version(&event_type);
            Ok(new)
        })
        .collect()
}

/// The append of `events` to a stream loaded at `loaded.version`, or
/// nothing when there are none.
fn append_of<A: Aggregate>(
    stream: &StreamId,
    loaded: &Loaded<A>,
    events: &[A::Event],
    ctx: &CommandContext,
) -> Result<Option<StreamAppend>, CommandError> {
    if events.is_empty() {
        return Ok(None);
    }
    Ok(Some(StreamAppend {
        stream: stream.clone(),
        expected: expect(loaded.version),
        events: to_new_events(events, ctx)?,
    }))
}

/// The plan of a command on a single aggregate.
fn single_plan<A: Aggregate>(
    stream: StreamId,
    loaded: Loaded<A>,
    events: Vec<A::Event>,
    ctx: &CommandContext,
    cache: impl FnOnce(StreamId, A) -> CacheUpdate,
) -> Result<Plan, CommandError> {
    let append = append_of(&stream, &loaded, &events, ctx)?;
    let state = loaded.state.fold(&events);
    Ok(Plan {
        appends: append.into_iter().collect(),
        primary: stream.clone(),
        unchanged_version: loaded.version,
        cache: vec![cache(stream, state)],
    })
}

#[cfg(test)]
mod tests;
