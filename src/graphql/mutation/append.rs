//! `appendEvents`: the generic append to any stream outside the aggregate
//! categories.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use serde_json::Value;
use uuid::Uuid;

use crate::graphql::ApiError;
use crate::graphql::mutation::RequestMeta;
use crate::graphql::scalars::{Json, Long};
use crate::graphql::types::Event;
use crate::store::{EventStore, ExpectedVersion, NewEvent, StreamId};

#[derive(InputObject)]
pub struct EventInput {
    /// Optional client-chosen UUID, for idempotent retries.
    pub id: Option<ID>,
    #[graphql(name = "type")]
    pub event_type: String,
    pub data: Json,
    pub metadata: Option<Json>,
}

#[derive(InputObject)]
pub struct AppendEventsInput {
    pub stream_id: ID,
    /// The version the stream must be at before this append: 0 = the stream
    /// must not exist yet. Omit for no check.
    pub expected_version: Option<Long>,
    pub events: Vec<EventInput>,
}

#[derive(SimpleObject)]
pub struct AppendResult {
    pub stream_id: ID,
    /// Stream version after the append.
    pub version: Long,
    /// Global position of the last appended event.
    pub position: Long,
    pub events: Vec<Event>,
}

#[derive(Default)]
pub struct AppendMutation;

#[Object]
impl AppendMutation {
    /// Generic append to any stream outside the aggregate categories (account-, user-).
    /// Also refused: useremail- (the email reservations), and each of these in
    /// any letter case; their streams are written by the aggregates' commands
    /// only.
    async fn append_events(
        &self,
        ctx: &Context<'_>,
        input: AppendEventsInput,
    ) -> Result<AppendResult, ApiError> {
        let stream = StreamId::parse(input.stream_id.0)?;
        let expected = ExpectedVersion::from_option(input.expected_version.map(|v| v.0))?;
        let actor = ctx.data_opt::<RequestMeta>().and_then(|m| m.actor.clone());
        let events = input
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| new_event(i, e, actor.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let store = ctx.data_unchecked::<EventStore>();
        let outcome = store.append(stream.clone(), expected, events).await?;
        let version = outcome.versions.first().map_or(0, |(_, v)| *v);
        Ok(AppendResult {
            stream_id: ID(stream.to_string()),
            version: Long(version),
            position: Long(outcome.position),
            events: outcome.events.into_iter().map(Event::from).collect(),
        })
    }
}

/// The event as the store takes it. An authenticated caller's `sub` is its
/// `actor`, whatever the client's metadata says.
fn new_event(index: usize, input: EventInput, actor: Option<&str>) -> Result<NewEvent, ApiError> {
    let id = input
        .id
        .map(|id| {
            Uuid::parse_str(&id).map_err(|_| {
                ApiError::bad_input(format!("events[{index}].id {:?} is not a UUID", id.0))
            })
        })
        .transpose()?;
    let mut metadata = match input.metadata.map(|m| m.0) {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(ApiError::bad_input(format!(
                "events[{index}].metadata must be a JSON object, got {}",
                json_kind(&other)
            )));
        }
    };
    if let Some(actor) = actor {
        metadata.insert("actor".into(), Value::from(actor));
    }
    let mut event = NewEvent::new(input.event_type, input.data.0).with_metadata(metadata);
    event.id = id;
    Ok(event)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
