//! The command log: what became of each command id. A successful command's
//! row is written by the writer in the same transaction as its events, so
//! "succeeded" and "its events are stored" are one fact; rejected and failed
//! commands are recorded on their own.

use chrono::{DateTime, Utc};
use entity::commands;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::error_code::ErrorCode;
use crate::paging::{ListOrder, Slice};

/// A command riding on an append, recorded as SUCCEEDED with it.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandEntry {
    pub id: String,
    pub command_type: String,
    pub input: Value,
    pub received_at: DateTime<Utc>,
    /// A client's id may be a retry, so the append looks it up; an id the
    /// server generated (a fresh UUID) cannot be, so it is not looked up.
    pub id_from_client: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandStatus {
    Succeeded,
    Rejected,
    Failed,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "SUCCEEDED",
            Self::Rejected => "REJECTED",
            Self::Failed => "FAILED",
        }
    }

    /// The status a stored text names; an unknown one is an error, never a
    /// guess.
    fn parse(s: &str) -> Result<Self, DbErr> {
        match s {
            "SUCCEEDED" => Ok(Self::Succeeded),
            "REJECTED" => Ok(Self::Rejected),
            "FAILED" => Ok(Self::Failed),
            other => Err(DbErr::Type(format!(
                "commands.status {other:?} is not a command status"
            ))),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CommandRecord {
    pub id: String,
    pub command_type: String,
    pub input: Value,
    pub status: CommandStatus,
    pub error_code: Option<ErrorCode>,
    pub error_message: Option<String>,
    pub stream_id: Option<String>,
    pub version: Option<i64>,
    pub first_position: Option<i64>,
    pub position: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl CommandRecord {
    /// A command that appended nothing: rejected, failed, or a success
    /// that changed nothing. `error` is its code and message.
    pub fn without_events(
        entry: &CommandEntry,
        status: CommandStatus,
        error: Option<(ErrorCode, &str)>,
    ) -> Self {
        Self {
            id: entry.id.clone(),
            command_type: entry.command_type.clone(),
            input: entry.input.clone(),
            status,
            error_code: error.map(|(code, _)| code),
            error_message: error.map(|(_, message)| message.to_owned()),
            stream_id: None,
            version: None,
            first_position: None,
            position: None,
            created_at: entry.received_at,
            completed_at: Some(Utc::now()),
        }
    }

    /// Whether `entry` is the same command as this record's (a retry) rather
    /// than another command reusing its id.
    pub fn is_retry_of(&self, entry: &CommandEntry) -> bool {
        self.command_type == entry.command_type && self.input == entry.input
    }
}

impl TryFrom<commands::Model> for CommandRecord {
    type Error = DbErr;

    fn try_from(m: commands::Model) -> Result<Self, DbErr> {
        let error_code = match m.error_code.as_deref() {
            None => None,
            Some(text) => Some(ErrorCode::parse(text).ok_or_else(|| {
                DbErr::Type(format!("commands.error_code {text:?} is not an error code"))
            })?),
        };
        Ok(Self {
            id: m.id,
            command_type: m.command_type,
            input: m.input,
            status: CommandStatus::parse(&m.status)?,
            error_code,
            error_message: m.error_message,
            stream_id: m.stream_id,
            version: m.version,
            first_position: m.first_position,
            position: m.position,
            created_at: m.created_at,
            completed_at: m.completed_at,
        })
    }
}

fn active(r: &CommandRecord) -> commands::ActiveModel {
    commands::ActiveModel {
        id: Set(r.id.clone()),
        command_type: Set(r.command_type.clone()),
        input: Set(r.input.clone()),
        status: Set(r.status.as_str().to_owned()),
        error_code: Set(r.error_code.map(|code| code.as_str().to_owned())),
        error_message: Set(r.error_message.clone()),
        stream_id: Set(r.stream_id.clone()),
        version: Set(r.version),
        first_position: Set(r.first_position),
        position: Set(r.position),
        created_at: Set(r.created_at),
        completed_at: Set(r.completed_at),
    }
}

/// The records of `ids` that are in the log, by primary key alone: with
/// a status in the query, SQLite (no statistics) takes the status index
/// for an IN list of five or more ids and scans every successful command,
/// which made batch commits slower as the log grew.
pub(crate) async fn by_ids<C: ConnectionTrait>(
    conn: &C,
    ids: Vec<String>,
) -> Result<Vec<CommandRecord>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    commands::Entity::find()
        .filter(commands::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(CommandRecord::try_from)
        .collect()
}

/// The records of `ids` whose command succeeded.
pub(crate) async fn succeeded<C: ConnectionTrait>(
    conn: &C,
    ids: Vec<String>,
) -> Result<Vec<CommandRecord>, DbErr> {
    let mut records = by_ids(conn, ids).await?;
    records.retain(|r| r.status == CommandStatus::Succeeded);
    Ok(records)
}

/// Writes records, replacing a failed or rejected attempt of the same id.
pub(crate) async fn upsert<C: ConnectionTrait>(
    conn: &C,
    records: &[CommandRecord],
) -> Result<(), DbErr> {
    if records.is_empty() {
        return Ok(());
    }
    use commands::Column as C;
    // A success is final: a late rejection of a racing retry must not
    // replace it (the condition makes the check and the write one step).
    let not_succeeded =
        Expr::col((commands::Entity, C::Status)).ne(CommandStatus::Succeeded.as_str());
    commands::Entity::insert_many(records.iter().map(active))
        .on_conflict(
            OnConflict::column(C::Id)
                .update_columns([
                    C::CommandType,
                    C::Input,
                    C::Status,
                    C::ErrorCode,
                    C::ErrorMessage,
                    C::StreamId,
                    C::Version,
                    C::FirstPosition,
                    C::Position,
                    C::CompletedAt,
                ])
                .action_and_where(not_succeeded)
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Records a command that appended nothing, unless the id already
/// succeeded (a racing retry that committed wins over a late rejection).
pub(crate) async fn record_without_events<C: ConnectionTrait>(
    db: &C,
    record: &CommandRecord,
) -> Result<(), DbErr> {
    if !succeeded(db, vec![record.id.clone()]).await?.is_empty() {
        return Ok(());
    }
    upsert(db, std::slice::from_ref(record)).await
}

pub(crate) async fn get(db: &DatabaseConnection, id: &str) -> Result<Option<CommandRecord>, DbErr> {
    commands::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(CommandRecord::try_from)
        .transpose()
}

/// The sort key of the command log: when a command arrived, then its id.
pub type CommandKey = (DateTime<Utc>, String);

/// A slice of the command log, which is listed newest first.
pub(crate) async fn list(
    db: &DatabaseConnection,
    status: Option<CommandStatus>,
    slice: &Slice<CommandKey>,
) -> Result<Vec<CommandRecord>, DbErr> {
    let mut query = commands::Entity::find();
    if let Some(status) = status {
        query = query.filter(commands::Column::Status.eq(status.as_str()));
    }
    // Newest first: "after" a key is older than it, "before" newer.
    if let Some((at, id)) = &slice.after {
        query = query.filter(
            Condition::any()
                .add(commands::Column::CreatedAt.lt(*at))
                .add(
                    Condition::all()
                        .add(commands::Column::CreatedAt.eq(*at))
                        .add(commands::Column::Id.lt(id.clone())),
                ),
        );
    }
    if let Some((at, id)) = &slice.before {
        query = query.filter(
            Condition::any()
                .add(commands::Column::CreatedAt.gt(*at))
                .add(
                    Condition::all()
                        .add(commands::Column::CreatedAt.eq(*at))
                        .add(commands::Column::Id.gt(id.clone())),
                ),
        );
    }
    let order = if slice.reads_ascending(ListOrder::Descending) {
        Order::Asc
    } else {
        Order::Desc
    };
    let rows = query
        .order_by(commands::Column::CreatedAt, order.clone())
        .order_by(commands::Column::Id, order)
        .limit(slice.limit)
        .all(db)
        .await?;
    rows.into_iter().map(CommandRecord::try_from).collect()
}
