//! The append transaction's statements, folded so that a commit makes as
//! few round trips as it can while it holds the append lock: one read of
//! everything the checks need (the head, the streams' versions, which
//! command ids already succeeded), and one write of everything the batch
//! stores (events, stream versions, command log, and on PostgreSQL the
//! NOTIFY). Every statement after the lock waits behind it on every node,
//! so each round trip saved here is saved for the whole fleet. On SQLite
//! a "round trip" is a hand-off to the connection's worker thread and
//! back (a bare `BEGIN` took 0.09-0.13 ms that way on a two-core host),
//! during which the one write lock is held: the write is three
//! statements in one call there.
//!
//! The rows and id lists travel as one JSON array parameter each rather
//! than one placeholder per value: the statement text stays the same
//! whatever the batch holds, so each connection prepares it once and
//! reuses it. A JSON `null` in a record becomes SQL NULL on the way in,
//! hence the `COALESCE(…, 'null')` for the JSON columns, which hold JSON
//! null as a value.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};
use serde_json::{Value, json};

use super::{AppendRequest, CommandRecord, RecordedEvent, category_of};

/// What the checks read, in one statement.
pub(crate) struct ReadState {
    pub head: i64,
    pub versions: HashMap<String, i64>,
    /// Client-chosen command ids already in the command log.
    pub recorded: HashSet<String>,
}

const READ_SQLITE: &str = "\
SELECT 0 AS kind, '' AS id, COALESCE(MAX(position), 0) AS n FROM events \
UNION ALL SELECT 1, id, version FROM streams WHERE id IN (SELECT value FROM json_each(?1)) \
UNION ALL SELECT 2, id, 1 FROM commands WHERE id IN (SELECT value FROM json_each(?2))";

/// One index probe per id (`LATERAL … LIMIT 1`), whatever the planner
/// believes of the tables: with `= ANY(…)` it chose a sequential scan of
/// `streams` while its statistics still called the table small, comparing
/// every row with every id, 4.4 ms a batch under load at 1,000 streams and
/// growing with them; and with `IN (SELECT …)` a hash join over a scan of
/// `commands`.
const READ_POSTGRES: &str = "\
SELECT 0 AS kind, ''::text AS id, COALESCE(MAX(position), 0)::bigint AS n FROM events \
UNION ALL SELECT 1, s.id::text, s.version FROM jsonb_array_elements_text($1::jsonb) AS k(id) \
CROSS JOIN LATERAL (SELECT id, version FROM streams WHERE streams.id = k.id LIMIT 1) s \
UNION ALL SELECT 2, c.id::text, 1::bigint \
FROM jsonb_array_elements_text($2::jsonb) AS k(id) \
CROSS JOIN LATERAL (SELECT id FROM commands WHERE commands.id = k.id LIMIT 1) c";

/// The head, the versions of every stream the jobs touch, and which of
/// their client-chosen command ids already succeeded (by primary key; the
/// status is read, not filtered on, so SQLite never picks the status index
/// and scans the log).
pub(crate) async fn read_state(
    txn: &DatabaseTransaction,
    jobs: &[AppendRequest],
) -> Result<ReadState, DbErr> {
    let mut streams: Vec<&str> = jobs
        .iter()
        .flat_map(|j| &j.streams)
        .map(|a| a.stream.as_str())
        .collect();
    streams.sort_unstable();
    streams.dedup();
    let commands: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.command.as_ref())
        .filter(|c| c.id_from_client)
        .map(|c| c.id.as_str())
        .collect();
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => READ_POSTGRES,
        _ => READ_SQLITE,
    };
    let values = [
        json!(streams).to_string().into(),
        json!(commands).to_string().into(),
    ];
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut state = ReadState {
        head: 0,
        versions: HashMap::with_capacity(streams.len()),
        recorded: HashSet::new(),
    };
    for row in rows {
        let kind: i32 = row.try_get("", "kind")?;
        let id: String = row.try_get("", "id")?;
        let n: i64 = row.try_get("", "n")?;
        match kind {
            0 => state.head = n,
            1 => drop(state.versions.insert(id, n)),
            _ => drop(state.recorded.insert(id)),
        }
    }
    Ok(state)
}

const WRITE_POSTGRES: &str = "\
WITH new_events AS (
  INSERT INTO events (position, event_id, stream_id, version, event_type, schema_version, data, metadata, recorded_at)
  SELECT position, event_id, stream_id, version, event_type, schema_version,
    COALESCE(data, 'null'), COALESCE(metadata, 'null'), recorded_at
  FROM jsonb_to_recordset($1::jsonb) AS e(position bigint, event_id uuid, stream_id text, version bigint,
    event_type text, schema_version int, data jsonb, metadata jsonb, recorded_at timestamptz)
), moved_streams AS (
  INSERT INTO streams (id, category, version, created_at, updated_at)
  SELECT id, category, version, $4::timestamptz, $4::timestamptz
  FROM jsonb_to_recordset($2::jsonb) AS s(id text, category text, version bigint)
  ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
), logged_commands AS (
  INSERT INTO commands (id, command_type, input, status, error_code, error_message, stream_id, version,
    first_position, position, created_at, completed_at)
  SELECT id, command_type, COALESCE(input, 'null'), status, error_code, error_message, stream_id,
    version, first_position, position, created_at, completed_at
  FROM jsonb_to_recordset($3::jsonb) AS c(id text, command_type text, input jsonb, status text,
    error_code text, error_message text, stream_id text, version bigint, first_position bigint,
    position bigint, created_at timestamptz, completed_at timestamptz)
  ON CONFLICT (id) DO UPDATE SET command_type = excluded.command_type, input = excluded.input,
    status = excluded.status, error_code = excluded.error_code, error_message = excluded.error_message,
    stream_id = excluded.stream_id, version = excluded.version, first_position = excluded.first_position,
    position = excluded.position, completed_at = excluded.completed_at
  WHERE commands.status <> 'SUCCEEDED'
)
SELECT CASE WHEN $5::bigint > 0 THEN pg_notify($6, $5::text) END AS notified";

/// Everything a batch stores, in one PostgreSQL statement: its events, its
/// streams' new versions, its command log rows (a success is final: a row
/// already SUCCEEDED is never replaced), and the NOTIFY that carries the
/// new head to the other nodes (`notify_head` 0: nothing was appended,
/// nothing to announce). The NOTIFY is delivered when, and only if, the
/// transaction commits, in commit order.
pub(crate) async fn write_postgres(
    txn: &DatabaseTransaction,
    new_events: &[RecordedEvent],
    touched: &HashMap<String, i64>,
    commands: &[CommandRecord],
    now: DateTime<Utc>,
    notify: (&str, i64),
) -> Result<(), DbErr> {
    let events: Vec<Value> = new_events
        .iter()
        .map(|e| event_row(e, (&e.data, &e.metadata), e.recorded_at))
        .collect();
    let streams = stream_rows(touched);
    let commands: Vec<Value> = commands.iter().map(command_row).collect();
    let (channel, head) = notify;
    let values = [
        Value::Array(events).to_string().into(),
        Value::Array(streams).to_string().into(),
        Value::Array(commands).to_string().into(),
        now.into(),
        head.into(),
        channel.into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        WRITE_POSTGRES,
        values,
    ))
    .await?;
    Ok(())
}

const WRITE_SQLITE: &str = "\
INSERT INTO events (position, event_id, stream_id, version, event_type, schema_version, data, metadata, recorded_at)
SELECT value ->> 'position', unhex(replace(value ->> 'event_id', '-', '')), value ->> 'stream_id',
  value ->> 'version', value ->> 'event_type', value ->> 'schema_version', value ->> 'data',
  value ->> 'metadata', value ->> 'recorded_at'
FROM json_each(?1);
INSERT INTO streams (id, category, version, created_at, updated_at)
SELECT value ->> 'id', value ->> 'category', value ->> 'version', ?4, ?4 FROM json_each(?2) WHERE true
ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;
INSERT INTO commands (id, command_type, input, status, error_code, error_message, stream_id, version,
  first_position, position, created_at, completed_at)
SELECT value ->> 'id', value ->> 'command_type', value ->> 'input', value ->> 'status',
  value ->> 'error_code', value ->> 'error_message', value ->> 'stream_id', value ->> 'version',
  value ->> 'first_position', value ->> 'position', value ->> 'created_at', value ->> 'completed_at'
FROM json_each(?3) WHERE true
ON CONFLICT (id) DO UPDATE SET command_type = excluded.command_type, input = excluded.input,
  status = excluded.status, error_code = excluded.error_code, error_message = excluded.error_message,
  stream_id = excluded.stream_id, version = excluded.version, first_position = excluded.first_position,
  position = excluded.position, completed_at = excluded.completed_at
WHERE commands.status <> 'SUCCEEDED'";

/// What [`write_postgres`] stores, on SQLite: three statements sent as one
/// (one hand-off to the worker thread, where they run in order).
///
/// Values travel as SQLite stores them when bound one by one, so rows
/// written here read back exactly like rows written any other way: JSON
/// documents as their text, carried as JSON strings (`->>` hands the text
/// over untouched; extracting them as JSON would re-render their numbers),
/// timestamps in the text form the driver writes, event ids as 16-byte
/// blobs.
pub(crate) async fn write_sqlite(
    txn: &DatabaseTransaction,
    new_events: &[RecordedEvent],
    touched: &HashMap<String, i64>,
    commands: &[CommandRecord],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let events: Vec<Value> = new_events
        .iter()
        .map(|e| {
            let documents = (e.data.to_string(), e.metadata.to_string());
            event_row(e, documents, sqlite_time(e.recorded_at))
        })
        .collect();
    let commands: Vec<Value> = commands
        .iter()
        .map(|r| {
            let mut row = command_row(r);
            row["input"] = r.input.to_string().into();
            row["created_at"] = sqlite_time(r.created_at).into();
            row["completed_at"] = r.completed_at.map(sqlite_time).into();
            row
        })
        .collect();
    let values = [
        Value::Array(events).to_string().into(),
        Value::Array(stream_rows(touched)).to_string().into(),
        Value::Array(commands).to_string().into(),
        sqlite_time(now).into(),
    ];
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        WRITE_SQLITE,
        values,
    ))
    .await?;
    Ok(())
}

/// A timestamp as the SQLite driver writes a bound `DateTime<Utc>`.
fn sqlite_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// An event's row, with its documents and time as each database takes
/// them.
fn event_row<D: serde::Serialize, T: serde::Serialize>(
    e: &RecordedEvent,
    (data, metadata): (D, D),
    recorded_at: T,
) -> Value {
    json!({
        "position": e.position, "event_id": e.id, "stream_id": e.stream_id,
        "version": e.version, "event_type": e.event_type,
        "schema_version": e.schema_version, "data": data,
        "metadata": metadata, "recorded_at": recorded_at,
    })
}

fn stream_rows(touched: &HashMap<String, i64>) -> Vec<Value> {
    touched
        .iter()
        .map(|(id, version)| json!({ "id": id, "category": category_of(id), "version": version }))
        .collect()
}

fn command_row(r: &CommandRecord) -> Value {
    json!({
        "id": r.id, "command_type": r.command_type, "input": r.input,
        "status": r.status.as_str(), "error_code": r.error_code.map(|c| c.as_str()),
        "error_message": r.error_message, "stream_id": r.stream_id, "version": r.version,
        "first_position": r.first_position, "position": r.position,
        "created_at": r.created_at, "completed_at": r.completed_at,
    })
}
