//! The one executor of every command: take the command's locks, plan (load
//! and decide), queue the append with the loaded versions, let the locks
//! go and wait for the commit (`in_flight.rs` says why that is safe),
//! retrying a lost race (bounded, with jitter) unless the client fixed the
//! version. Every outcome lands in the command log.
//!
//! A retried command id is answered from the log, with its first answer:
//! by the append itself, which reads the log under the append lock and
//! refuses to run an id that already succeeded or was rejected
//! (`store/plan.rs`), and, when the retry appends nothing (refused again,
//! or a change to the same values), by a read of the log then. So the
//! common case, a new command, costs no read of the log before it runs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::command::{Command, Plan};
use super::error::{Failure, Rejection};
use super::in_flight::Found;
use super::{CacheUpdate, CommandContext, CommandError, CommandOutput, Commands};
use crate::store::{
    AppendOutcome, AppendRequest, CommandEntry, CommandRecord, CommandStatus, Fate, FateState,
    StoreError, StreamId,
};

/// An append queued by [`Commands::queue`], waiting for its outcome.
struct Queued {
    outcome: std::pin::Pin<Box<dyn Future<Output = Result<AppendOutcome, StoreError>> + Send>>,
    fate: std::sync::Arc<Fate>,
    streams: Vec<StreamId>,
    primary: StreamId,
    /// The states to cache (and snapshot) once committed; those of the
    /// streams the command locks are cached already, when it is queued.
    cache: Vec<CacheUpdate>,
}

/// Attempts before a command that keeps losing races gives up with
/// CONCURRENCY_CONFLICT. Each loss means another command on the same
/// aggregate committed, so progress is made; the bound only caps latency.
const MAX_ATTEMPTS: u32 = 12;

impl Commands {
    /// Runs `command` for `ctx`: its outcome is durable (events and command
    /// log) when this returns.
    pub async fn execute<C: Command>(
        &self,
        ctx: &CommandContext,
        command: C,
    ) -> Result<CommandOutput, CommandError> {
        let entry = entry_of(ctx, &command)?;
        let (result, retries) = self.attempts(ctx, &entry, &command).await;
        if let Err(err) = &result {
            self.log_unsuccessful(&entry, err).await;
        }
        record(C::NAME, &result, retries, entry.received_at);
        result
    }

    /// Plans and commits until the command succeeds, is refused, or loses
    /// a race it may not retry; also returns how many times it retried.
    async fn attempts<C: Command>(
        &self,
        ctx: &CommandContext,
        entry: &CommandEntry,
        command: &C,
    ) -> (Result<CommandOutput, CommandError>, u32) {
        let fixed = command.expected_version().is_some();
        let keys = command.locks();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut retries = 0;
        loop {
            match self.attempt(ctx, entry, command, &keys).await {
                Err(CommandError::Rejected(Rejection::Conflict { .. }))
                    if !fixed && retries + 1 < MAX_ATTEMPTS =>
                {
                    retries += 1;
                    tokio::time::sleep(backoff(retries)).await;
                }
                other => return (other, retries),
            }
        }
    }

    /// One decision under the command's locks. An append is queued before
    /// they are let go and awaited after (`in_flight.rs`): the next command
    /// on the aggregate decides on the state it will produce meanwhile.
    async fn attempt<C: Command>(
        &self,
        ctx: &CommandContext,
        entry: &CommandEntry,
        command: &C,
        keys: &[&str],
    ) -> Result<CommandOutput, CommandError> {
        let guards = self.locks.lock(keys).await;
        let plan = match self.decide(ctx, command, keys).await {
            Ok(plan) => plan,
            Err(err) if !ctx.id_from_client => return Err(err),
            Err(err) => return self.recorded_answer(entry).await.unwrap_or(Err(err)),
        };
        if plan.appends.is_empty() {
            return self.commit_no_op(entry, plan).await;
        }
        let queued = self.queue(entry, plan, keys).await?;
        drop(guards);
        self.settle(entry, queued).await
    }

    /// Plans on settled state where it matters: a refusal or a change of
    /// nothing is decided again once the appends queued on the command's
    /// aggregates have settled (an append's own decision is checked by the
    /// writer instead). A cached state whose append failed is dropped first.
    async fn decide<C: Command>(
        &self,
        ctx: &CommandContext,
        command: &C,
        keys: &[&str],
    ) -> Result<Plan, CommandError> {
        loop {
            let mut pending = Vec::new();
            for key in keys {
                match self.in_flight.look(key) {
                    Found::Settled => {}
                    Found::Failed => self.forget_key(key).await,
                    Found::Pending(fate) => pending.push(fate),
                }
            }
            let plan = command.plan(ctx, self).await;
            let on_whole_state = plan.as_ref().map_or(true, |p| p.appends.is_empty());
            if !on_whole_state || pending.is_empty() {
                return plan;
            }
            for fate in pending {
                fate.settled().await;
            }
        }
    }

    /// Queues the plan's append, caches the states it will produce for the
    /// streams this command locks, and records it as in flight.
    async fn queue(
        &self,
        entry: &CommandEntry,
        plan: Plan,
        keys: &[&str],
    ) -> Result<Queued, CommandError> {
        let fate = Fate::new();
        let locked = |s: &StreamId| keys.contains(&s.as_str());
        let after = plan
            .appends
            .iter()
            .filter(|a| locked(&a.stream))
            .filter_map(|a| {
                let expected = a.expected.as_number()?;
                self.in_flight.base(&a.stream, expected)
            })
            .collect();
        let versions: Vec<(StreamId, i64)> = plan
            .appends
            .iter()
            .filter(|a| locked(&a.stream))
            .filter_map(|a| {
                let expected = a.expected.as_number()?;
                Some((a.stream.clone(), expected + a.events.len() as i64))
            })
            .collect();
        let streams: Vec<StreamId> = plan.appends.iter().map(|a| a.stream.clone()).collect();
        let request = AppendRequest {
            streams: plan.appends,
            command: Some(entry.clone()),
            fate: Some(fate.clone()),
            after,
        };
        let outcome = self.store.enqueue(request).await?;
        self.remember_queued(&plan.cache, &versions).await;
        for (stream, version) in &versions {
            self.in_flight.queued(stream, *version, &fate);
        }
        Ok(Queued {
            outcome: Box::pin(outcome),
            fate,
            streams,
            primary: plan.primary,
            cache: plan.cache,
        })
    }

    /// Waits for a queued append's outcome.
    async fn settle(
        &self,
        entry: &CommandEntry,
        queued: Queued,
    ) -> Result<CommandOutput, CommandError> {
        let result = queued.outcome.await;
        let answer = match result {
            Ok(outcome) => {
                self.remember(queued.cache, &outcome).await;
                Ok(output(&entry.id, queued.primary, &outcome))
            }
            Err(err) => {
                // The writer settled it unless it never got to the job (it
                // stopped): commands waiting on it must not wait forever.
                queued.fate.settle(FateState::Failed);
                // Whatever failed, the states cached for it were never
                // stored.
                for s in &queued.streams {
                    self.forget(s).await;
                }
                match err {
                    // A concurrent retry of this command id committed first.
                    StoreError::CommandRecorded(record) => self
                        .answer_from_log(entry, *record)
                        .await
                        .unwrap_or_else(|| {
                            Err(CommandError::internal("command log answered nothing"))
                        }),
                    err => Err(err.into()),
                }
            }
        };
        for s in &queued.streams {
            self.in_flight.done(s, &queued.fate);
        }
        answer
    }

    /// A command that changes nothing (an update to the same values)
    /// succeeds without events; it is still logged, so a retry answers alike.
    async fn commit_no_op(
        &self,
        entry: &CommandEntry,
        plan: Plan,
    ) -> Result<CommandOutput, CommandError> {
        if entry.id_from_client
            && let Some(answer) = self.recorded_answer(entry).await
        {
            return answer;
        }
        let position = self.store.head();
        let record = CommandRecord {
            stream_id: Some(plan.primary.to_string()),
            version: Some(plan.unchanged_version),
            position: Some(position),
            ..CommandRecord::without_events(entry, CommandStatus::Succeeded, None)
        };
        self.store.record_without_events(&record).await?;
        Ok(CommandOutput {
            command_id: entry.id.clone(),
            stream_id: plan.primary.to_string(),
            version: plan.unchanged_version,
            position,
            events: Vec::new(),
        })
    }

    /// The first answer to this command id, when the log has one: a
    /// retry's (this attempt then decided on the state its first run
    /// produced: the account it opens exists, the money it withdrew is
    /// gone, so its own refusal or empty success is not the answer), or a
    /// racing retry's that succeeded meanwhile.
    async fn recorded_answer(
        &self,
        entry: &CommandEntry,
    ) -> Option<Result<CommandOutput, CommandError>> {
        match self.store.command(&entry.id).await {
            Ok(Some(record)) => self.answer_from_log(entry, record).await,
            _ => None,
        }
    }

    /// The answer for a command id found in the log: the first result for a
    /// retry of a success or a rejection; `None` when the command should run
    /// (its earlier attempt failed on our side).
    async fn answer_from_log(
        &self,
        entry: &CommandEntry,
        record: CommandRecord,
    ) -> Option<Result<CommandOutput, CommandError>> {
        if !record.is_retry_of(entry) {
            return Some(Err(Rejection::CommandIdReused(format!(
                "commandId {} was already used for a different command ({})",
                record.id, record.command_type
            ))
            .into()));
        }
        match record.status {
            CommandStatus::Failed => None,
            CommandStatus::Rejected => Some(Err(Rejection::Replayed {
                code: record.error_code.unwrap_or(crate::ErrorCode::BadUserInput),
                message: record.error_message.unwrap_or_default(),
            }
            .into())),
            CommandStatus::Succeeded => Some(self.replay_success(record).await),
        }
    }

    async fn replay_success(&self, record: CommandRecord) -> Result<CommandOutput, CommandError> {
        let position = record.position.unwrap_or(0);
        let events = match record.first_position {
            Some(first) => self.store.read_positions(first, position).await?,
            None => Vec::new(),
        };
        Ok(CommandOutput {
            command_id: record.id,
            stream_id: record.stream_id.unwrap_or_default(),
            version: record.version.unwrap_or(0),
            position,
            events,
        })
    }

    async fn log_unsuccessful(&self, entry: &CommandEntry, err: &CommandError) {
        if matches!(
            err,
            CommandError::Rejected(Rejection::CommandIdReused(_) | Rejection::Replayed { .. })
        ) {
            return; // the log already holds this id's own outcome
        }
        let status = if err.is_rejection() {
            CommandStatus::Rejected
        } else {
            CommandStatus::Failed
        };
        let message = err.to_string();
        let record = CommandRecord::without_events(entry, status, Some((err.code(), &message)));
        if let Err(log_err) = self.store.record_without_events(&record).await {
            tracing::warn!(command = %entry.id, error = %log_err, "could not record a command's failure");
        }
    }
}

/// The command-log entry of `command`: its id, name and input.
fn entry_of<C: Command>(ctx: &CommandContext, command: &C) -> Result<CommandEntry, CommandError> {
    let input = serde_json::to_value(command).map_err(|err| {
        CommandError::from(Failure::Internal(format!(
            "cannot serialize a {} command: {err}",
            C::NAME
        )))
    })?;
    Ok(CommandEntry {
        id: ctx.command_id.clone(),
        command_type: C::NAME.to_owned(),
        input,
        received_at: ctx.received_at,
        id_from_client: ctx.id_from_client,
    })
}

fn record(
    command_type: &'static str,
    result: &Result<CommandOutput, CommandError>,
    retries: u32,
    received: DateTime<Utc>,
) {
    use crate::metrics as m;
    let status = match result {
        Ok(_) => CommandStatus::Succeeded,
        Err(err) if err.is_rejection() => CommandStatus::Rejected,
        Err(_) => CommandStatus::Failed,
    };
    metrics::counter!(m::COMMANDS, "type" => command_type, "status" => status.as_str())
        .increment(1);
    if retries > 0 {
        metrics::counter!(m::COMMAND_RETRIES, "type" => command_type).increment(u64::from(retries));
        tracing::debug!(command_type, retries, "command retried after conflicts");
    }
    let elapsed = (Utc::now() - received).to_std().unwrap_or_default();
    metrics::histogram!(m::COMMAND_SECONDS, "type" => command_type).record(elapsed.as_secs_f64());
}

fn output(command_id: &str, primary: StreamId, outcome: &AppendOutcome) -> CommandOutput {
    let version = outcome
        .versions
        .iter()
        .find(|(s, _)| *s == primary)
        .map_or(0, |(_, v)| *v);
    CommandOutput {
        command_id: command_id.to_owned(),
        stream_id: primary.to_string(),
        version,
        position: outcome.position,
        events: outcome.events.clone(),
    }
}

/// Exponential backoff from 1 ms, capped at 32 ms, with "equal jitter": a
/// wait drawn from the upper three quarters of the cap, so that racing
/// commands spread out instead of colliding again while each still waits
/// long enough for the winner to commit.
fn backoff(retry: u32) -> Duration {
    let cap_us = 1_000u64 << retry.min(5);
    Duration::from_micros(rand::rng().random_range(cap_us / 4..=cap_us))
}
