//! What a command is: one type per command (`account.rs`, `transfer.rs`,
//! `user.rs`), saying its name, the aggregates it locks, whether the
//! client fixed the version, and how it plans its appends. One executor
//! (`execute.rs`) does the rest for all of them: the command log, retries
//! after a lost race, the cache.
//!
//! Adding a command means: a domain variant with its given/when/then
//! tests, one type implementing [`Command`], one resolver line calling
//! `Commands::execute`.

use std::future::Future;

use serde::Serialize;

use super::{CacheUpdate, CommandContext, CommandError, Commands};
use crate::store::{StreamAppend, StreamId};

/// One kind of command. Its fields, serialized, are the input the command
/// log keeps: a retry with the same command id must carry equal fields,
/// so anything the server generates (a new account's id) is kept out of
/// them (`#[serde(skip)]`).
pub trait Command: Serialize + Send + Sync {
    /// The name the command log records and the metrics count.
    const NAME: &'static str;

    /// The streams this command decides on; while it decides and queues
    /// its append it holds this node's lock of each, so commands on one
    /// aggregate queue instead of racing. Only these streams' states are
    /// decided on before their append commits (`in_flight.rs`).
    fn locks(&self) -> Vec<String>;

    /// The version the client said the aggregate must be at. When given, a
    /// lost race is the client's conflict; otherwise the executor reloads
    /// and tries again.
    fn expected_version(&self) -> Option<i64> {
        None
    }

    /// Loads what the command decides on, decides, and plans the appends.
    /// Runs again after a lost race, on what the winner committed.
    fn plan(
        &self,
        ctx: &CommandContext,
        commands: &Commands,
    ) -> impl Future<Output = Result<Plan, CommandError>> + Send;
}

/// What one attempt decided: the appends, the stream that answers for the
/// command, and the states they produce, to cache.
pub struct Plan {
    pub appends: Vec<StreamAppend>,
    pub primary: StreamId,
    /// The primary stream's version when the command appends nothing.
    pub unchanged_version: i64,
    pub cache: Vec<CacheUpdate>,
}
