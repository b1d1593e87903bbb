//! The command log: one command by id, or all of them newest first.

use async_graphql::{Context, ID, Object};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::ApiConfig;
use crate::graphql::ApiError;
use crate::graphql::pagination::{PageArgs, Window};
use crate::graphql::types::{CommandConnection, CommandRecord, CommandStatus};
use crate::store::EventStore;
use chrono::{DateTime, Utc};

#[derive(Default)]
pub struct CommandsQuery;

#[Object]
impl CommandsQuery {
    /// A command by id; null when no command with that id was received.
    async fn command(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CommandRecord>, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        Ok(store.command(&id).await?.map(CommandRecord::from))
    }

    /// The command log, newest first.
    #[graphql(complexity = "crate::graphql::pagination::cost(first, last, child_complexity)")]
    async fn commands(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<CommandStatus>,
    ) -> Result<CommandConnection, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        let args = PageArgs {
            first,
            after: after.as_deref().map(decode_cursor).transpose()?,
            last,
            before: before.as_deref().map(decode_cursor).transpose()?,
        };
        let window = Window::new(args, ctx.data_unchecked::<ApiConfig>())?;
        let rows = store
            .commands(status.map(Into::into), &window.slice)
            .await?;
        window.page(
            rows,
            |r| encode_cursor(r.created_at, &r.id),
            |r| Ok(CommandRecord::from(r)),
        )
    }
}

/// The command log sorts by (created_at, id): both go into the cursor.
fn encode_cursor(at: DateTime<Utc>, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("c1:{}:{id}", at.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), ApiError> {
    let unknown = || {
        ApiError::bad_input(format!(
            "unknown cursor {cursor:?}: pass an endCursor from this list"
        ))
    };
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| unknown())?;
    let text = String::from_utf8(raw).map_err(|_| unknown())?;
    let rest = text.strip_prefix("c1:").ok_or_else(unknown)?;
    let (micros, id) = rest.split_once(':').ok_or_else(unknown)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(unknown)?;
    Ok((at, id.to_owned()))
}
