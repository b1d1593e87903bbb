//! `CommandResult`, the command log's `CommandRecord`, and its connection.

use async_graphql::connection::{Connection, ConnectionNameType, EdgeNameType, EmptyFields};
use async_graphql::{Enum, ID, OutputType, SimpleObject};

use super::Event;
use crate::commands::CommandOutput;
use crate::graphql::scalars::{DateTime, Long};
use crate::store::{CommandRecord as StoredCommand, CommandStatus as StoredStatus};

#[derive(Clone, Debug, SimpleObject)]
pub struct CommandResult {
    pub command_id: ID,
    /// The aggregate's stream (for a transfer: the source account's).
    pub stream_id: ID,
    /// That stream's version after the command.
    pub version: Long,
    /// Global position of the command's last event: pass it as minPosition
    /// to read your own write.
    pub position: Long,
    /// Every event the command appended, in order (a transfer appends to
    /// both accounts).
    pub events: Vec<Event>,
}

impl From<CommandOutput> for CommandResult {
    fn from(o: CommandOutput) -> Self {
        Self {
            command_id: ID(o.command_id),
            stream_id: ID(o.stream_id),
            version: Long(o.version),
            position: Long(o.position),
            events: o.events.into_iter().map(Event::from).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum CommandStatus {
    Succeeded,
    Rejected,
    Failed,
}

impl From<StoredStatus> for CommandStatus {
    fn from(s: StoredStatus) -> Self {
        match s {
            StoredStatus::Succeeded => Self::Succeeded,
            StoredStatus::Rejected => Self::Rejected,
            StoredStatus::Failed => Self::Failed,
        }
    }
}

impl From<CommandStatus> for StoredStatus {
    fn from(s: CommandStatus) -> Self {
        match s {
            CommandStatus::Succeeded => Self::Succeeded,
            CommandStatus::Rejected => Self::Rejected,
            CommandStatus::Failed => Self::Failed,
        }
    }
}

#[derive(Clone, Debug, SimpleObject)]
pub struct CommandRecord {
    pub id: ID,
    #[graphql(name = "type")]
    pub command_type: String,
    pub status: CommandStatus,
    /// The error's extensions.code when REJECTED or FAILED.
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub stream_id: Option<ID>,
    pub version: Option<Long>,
    pub position: Option<Long>,
    pub created_at: DateTime,
    pub completed_at: Option<DateTime>,
}

impl From<StoredCommand> for CommandRecord {
    fn from(r: StoredCommand) -> Self {
        Self {
            id: ID(r.id),
            command_type: r.command_type,
            status: r.status.into(),
            error_code: r.error_code.map(|code| code.as_str().to_owned()),
            error: r.error_message,
            stream_id: r.stream_id.map(ID),
            version: r.version.map(Long),
            position: r.position.map(Long),
            created_at: r.created_at.into(),
            completed_at: r.completed_at.map(Into::into),
        }
    }
}

/// The contract names the command log's list `CommandConnection` (not
/// async-graphql's default, `CommandRecordConnection`).
pub struct CommandConnectionName;

impl ConnectionNameType for CommandConnectionName {
    fn type_name<T: OutputType>() -> String {
        "CommandConnection".into()
    }
}

pub struct CommandEdgeName;

impl EdgeNameType for CommandEdgeName {
    fn type_name<T: OutputType>() -> String {
        "CommandEdge".into()
    }
}

pub type CommandConnection = Connection<
    String,
    CommandRecord,
    EmptyFields,
    EmptyFields,
    CommandConnectionName,
    CommandEdgeName,
>;
