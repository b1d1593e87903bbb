//! The write path shared by every command: answer a retried command id from
//! the log, else load, decide and append with the loaded versions, retrying
//! a lost race (bounded, with jitter) unless the client fixed the version.
//! Every outcome lands in the command log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use rand::Rng;

use super::{CacheUpdate, CommandContext, CommandError, CommandOutput, Commands};
use crate::store::{
    AppendOutcome, AppendRequest, CommandEntry, CommandRecord, CommandStatus, StoreError,
    StreamAppend, StreamId,
};

/// Attempts before a command that keeps losing races gives up with
/// CONCURRENCY_CONFLICT. Each loss means another command on the same
/// aggregate committed, so progress is made; the bound only caps latency.
const MAX_ATTEMPTS: u32 = 12;

/// What one attempt decided: the appends, the stream that answers for the
/// command, and the states to cache once they are committed.
pub(crate) struct Plan {
    pub appends: Vec<StreamAppend>,
    pub primary: StreamId,
    /// The primary stream's version when the command appends nothing.
    pub unchanged_version: i64,
    pub cache: Vec<CacheUpdate>,
}

impl Commands {
    /// Runs a command on the aggregates `serialize_on` (stream ids), which
    /// it holds this node's locks of. `attempt` loads and decides; it runs
    /// again after a lost race (the conflicting streams' cache entries are
    /// dropped first, so it sees the winner's events).
    pub(crate) async fn run<'a, F>(
        &self,
        ctx: &CommandContext,
        command_type: &str,
        input: serde_json::Value,
        client_fixed_version: bool,
        serialize_on: &[&str],
        mut attempt: F,
    ) -> Result<CommandOutput, CommandError>
    where
        F: FnMut() -> BoxFuture<'a, Result<Plan, CommandError>>,
    {
        let entry = CommandEntry {
            id: ctx.command_id.clone(),
            command_type: command_type.to_owned(),
            input,
            received_at: ctx.received_at,
            id_from_client: ctx.id_from_client,
        };
        if ctx.id_from_client
            && let Some(record) = self.store.command(&entry.id).await?
            && let Some(answer) = self.answer_from_log(&entry, record).await
        {
            return answer;
        }
        let guards = self.locks.lock(serialize_on).await;
        let mut retries = 0;
        let result = loop {
            let plan = match attempt().await {
                Ok(plan) => plan,
                Err(err) if !ctx.id_from_client => break Err(err),
                Err(err) => match self.succeeded_meanwhile(&entry).await {
                    Some(answer) => break answer,
                    None => break Err(err),
                },
            };
            match self.commit(&entry, plan).await {
                Err(CommandError::Conflict { .. })
                    if !client_fixed_version && retries + 1 < MAX_ATTEMPTS =>
                {
                    retries += 1;
                    tokio::time::sleep(backoff(retries)).await;
                }
                Err(CommandError::Store(StoreError::CommandRecorded(record))) => {
                    // A concurrent retry of this command id committed first.
                    match self.answer_from_log(&entry, *record).await {
                        Some(answer) => break answer,
                        None => {
                            break Err(CommandError::Internal(
                                "command log answered nothing".into(),
                            ));
                        }
                    }
                }
                other => break other,
            }
        };
        drop(guards);
        if let Err(err) = &result {
            self.log_unsuccessful(&entry, err).await;
        }
        record(command_type, &result, retries, entry.received_at);
        result
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
            Err(StoreError::Conflict {
                stream,
                expected,
                actual,
            }) => {
                for s in &streams {
                    self.forget(s).await;
                }
                Err(CommandError::Conflict {
                    stream,
                    expected,
                    actual,
                })
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
        if let Some(answer) = self.succeeded_meanwhile(entry).await {
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

    /// The first result, when a racing retry of this command id succeeded
    /// after the log was first checked. This attempt then decided on the
    /// state that success produced (the account it opens exists, the money
    /// it withdraws is gone, the name it sets is set), so its refusal or
    /// empty success is not the answer.
    async fn succeeded_meanwhile(
        &self,
        entry: &CommandEntry,
    ) -> Option<Result<CommandOutput, CommandError>> {
        match self.store.command(&entry.id).await {
            Ok(Some(record)) if record.status == CommandStatus::Succeeded => {
                self.answer_from_log(entry, record).await
            }
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
            return Some(Err(CommandError::CommandIdReused(format!(
                "commandId {} was already used for a different command ({})",
                record.id, record.command_type
            ))));
        }
        match record.status {
            CommandStatus::Failed => None,
            CommandStatus::Rejected => Some(Err(CommandError::Replayed {
                code: record.error_code.unwrap_or_else(|| "BAD_USER_INPUT".into()),
                message: record.error_message.unwrap_or_default(),
            })),
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
            CommandError::CommandIdReused(_) | CommandError::Replayed { .. }
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

fn record(
    command_type: &str,
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
    let kind = command_type.to_owned();
    metrics::counter!(m::COMMANDS, "type" => kind.clone(), "status" => status.as_str())
        .increment(1);
    if retries > 0 {
        metrics::counter!(m::COMMAND_RETRIES, "type" => kind.clone()).increment(u64::from(retries));
        tracing::debug!(command_type, retries, "command retried after conflicts");
    }
    let elapsed = (Utc::now() - received).to_std().unwrap_or_default();
    metrics::histogram!(m::COMMAND_SECONDS, "type" => kind).record(elapsed.as_secs_f64());
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

/// Exponential backoff from 1 ms, capped at 32 ms, with full jitter so
/// that racing commands spread out instead of colliding again.
fn backoff(retry: u32) -> Duration {
    let cap_us = 1_000u64 << retry.min(5);
    Duration::from_micros(rand::rng().random_range(cap_us / 4..=cap_us))
}
