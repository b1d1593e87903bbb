//! The one executor of every command: take the command's locks, plan (load
//! and decide) and append with the loaded versions, retrying a lost race
//! (bounded, with jitter) unless the client fixed the version. Every
//! outcome lands in the command log.
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
use super::{CommandContext, CommandError, CommandOutput, Commands};
use crate::store::{
    AppendOutcome, AppendRequest, CommandEntry, CommandRecord, CommandStatus, StoreError, StreamId,
};

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
        let keys = command.locks();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let guards = self.locks.lock(&keys).await;
        let (result, retries) = self.attempts(ctx, &entry, &command).await;
        drop(guards);
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
        let mut retries = 0;
        loop {
            let plan = match command.plan(ctx, self).await {
                Ok(plan) => plan,
                Err(err) if !ctx.id_from_client => return (Err(err), retries),
                Err(err) => {
                    let answer = self.recorded_answer(entry).await;
                    return (answer.unwrap_or(Err(err)), retries);
                }
            };
            match self.commit(entry, plan).await {
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

    async fn commit(
        &self,
        entry: &CommandEntry,
        plan: Plan,
    ) -> Result<CommandOutput, CommandError> {
        if plan.appends.is_empty() {
            return self.commit_no_op(entry, plan).await;
        }
        let streams: Vec<StreamId> = plan.appends.iter().map(|a| a.stream.clone()).collect();
        let request = AppendRequest {
            streams: plan.appends,
            command: Some(entry.clone()),
        };
        match self.store.submit(request).await {
            Ok(outcome) => {
                self.remember(plan.cache, &outcome).await;
                Ok(output(&entry.id, plan.primary, &outcome))
            }
            Err(StoreError::CommandRecorded(record)) => {
                // A concurrent retry of this command id committed first.
                self.answer_from_log(entry, *record)
                    .await
                    .unwrap_or_else(|| Err(CommandError::internal("command log answered nothing")))
            }
            Err(err @ StoreError::Conflict { .. }) => {
                for s in &streams {
                    self.forget(s).await;
                }
                Err(err.into())
            }
            Err(err) => Err(err.into()),
        }
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
