//! The mutation root, merged from one object per area.

mod account;
mod append;
mod projections;
mod snapshots;
mod user;

use std::sync::Arc;

use async_graphql::{Context, ID, MergedObject};

use crate::commands::{Command, CommandContext, Commands};
use crate::graphql::ApiError;
use crate::graphql::types::CommandResult;
use crate::store::MAX_NAME_LEN;

#[derive(Default, MergedObject)]
pub struct Mutation(
    account::AccountMutation,
    user::UserMutation,
    append::AppendMutation,
    projections::ProjectionMutation,
    snapshots::SnapshotMutation,
);

/// What the HTTP layer knows about the request that commands record.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    /// From the `X-Correlation-Id` header.
    pub correlation_id: Option<String>,
    /// The caller's `sub`, recorded as every event's `actor`.
    pub actor: Option<String>,
}

/// Runs `command` with the request's context: how every command
/// mutation ends.
async fn execute<C: Command>(
    ctx: &Context<'_>,
    command_id: Option<ID>,
    command: C,
) -> Result<CommandResult, ApiError> {
    let context = context(ctx, command_id)?;
    let commands = ctx.data_unchecked::<Arc<Commands>>();
    Ok(commands.execute(&context, command).await?.into())
}

/// The context of one command: its id (the client's idempotency key, else
/// a new one), and the request's correlation id and actor.
fn context(ctx: &Context<'_>, command_id: Option<ID>) -> Result<CommandContext, ApiError> {
    let mut command = CommandContext::fresh();
    match command_id {
        Some(id) if id.trim().is_empty() || id.len() > MAX_NAME_LEN => {
            return Err(ApiError::bad_input(format!(
                "commandId must be 1 to {MAX_NAME_LEN} characters and not blank"
            )));
        }
        Some(id) => {
            command.command_id = id.0;
            command.id_from_client = true;
        }
        None => {}
    }
    let meta = ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default();
    command.correlation_id = meta
        .correlation_id
        .unwrap_or_else(|| command.command_id.clone());
    command.actor = meta.actor;
    Ok(command)
}
