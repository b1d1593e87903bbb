//! The append transaction's statements, in the text each database runs
//! (`commit/`). A batch reads the head and the versions of the streams it
//! touches in one statement, and stores everything (events, stream
//! versions, command log, and on PostgreSQL the NOTIFY) in one write: one
//! statement on PostgreSQL, three sent as one on SQLite. On PostgreSQL a
//! batch planned without reading checks its plan with one statement in
//! front of the write instead ([`GUARD_POSTGRES`]). Every statement
//! after the append lock waits behind it on every node, so each round trip
//! saved here is saved for the whole fleet.
//!
//! The rows and id lists travel as one JSON array argument each rather
//! than one placeholder per value: the statement text stays the same
//! whatever the batch holds, so each connection prepares it once and
//! reuses it. A JSON `null` in a record becomes SQL NULL on the way in,
//! hence the `COALESCE(…, 'null')` for the JSON columns, which hold JSON
//! null as a value.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{CommandRecord, RecordedEvent, category_of};

/// The head and the versions of the streams in `?1`, by primary key. The
/// command ids and event ids are looked up apart, whole records at once
/// (`commit/sqlite.rs`).
pub(crate) const READ_SQLITE: &str = "\
SELECT 0 AS kind, '' AS id, COALESCE(MAX(position), 0) AS n FROM events \
UNION ALL SELECT 1, id, version FROM streams WHERE id IN (SELECT value FROM json_each(?1))";

/// [`READ_SQLITE`] on PostgreSQL: one index probe per id (`LATERAL …
/// LIMIT 1`), whatever the planner believes of the tables. With `= ANY(…)`
/// it chose a sequential scan of `streams` while its statistics still
/// called the table small, comparing every row with every id, 4.4 ms a
/// batch under load at 1,000 streams and growing with them.
pub(crate) const READ_POSTGRES: &str = "\
SELECT 0 AS kind, ''::text AS id, COALESCE(MAX(position), 0)::bigint AS n FROM events \
UNION ALL SELECT 1, s.id::text, s.version FROM jsonb_array_elements_text($1::jsonb) AS k(id) \
CROSS JOIN LATERAL (SELECT id, version FROM streams WHERE streams.id = k.id LIMIT 1) s";

/// The check in front of a write planned without reading (`commit/view.rs`):
/// it divides by zero, failing the transaction before anything is
/// written, unless the stored state is the one the plan assumed. It checks
/// exactly what the reads give the plan: the head (`$1`), the version of
/// every stream the batch touches (`$2`, `{id, version}`, 0 for none), and
/// that none of the client-chosen event ids (`$3`) and command ids (`$4`)
/// is stored. Each probe is one index lookup, as in [`READ_POSTGRES`].
pub(crate) const GUARD_POSTGRES: &str = "\
SELECT 1 / (CASE WHEN (SELECT COALESCE(MAX(position), 0) FROM events) = $1
  AND NOT EXISTS (SELECT 1 FROM jsonb_to_recordset($2::jsonb) AS k(id text, version bigint)
    LEFT JOIN LATERAL (SELECT version FROM streams WHERE streams.id = k.id LIMIT 1) s ON true
    WHERE COALESCE(s.version, 0) <> k.version)
  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text($3::jsonb) AS k(id)
    CROSS JOIN LATERAL (SELECT 1 FROM events WHERE events.event_id = k.id::uuid LIMIT 1) e)
  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text($4::jsonb) AS k(id)
    CROSS JOIN LATERAL (SELECT 1 FROM commands WHERE commands.id = k.id LIMIT 1) c)
  THEN 1 ELSE 0 END) AS held";

/// [`GUARD_POSTGRES`] on SQLite, where dividing by zero gives NULL and no
/// error: a failed check reads malformed JSON instead (`json_extract` of
/// text that is not JSON), the one error no other statement of the batch
/// can raise, since they read JSON the writer serialized. Its arguments
/// follow [`WRITE_SQLITE`]'s four: the head (`?5`), the streams' versions
/// (`?6`, `{id, version}`, 0 for none), the client-chosen event ids (`?7`)
/// and command ids (`?8`).
pub(crate) const GUARD_SQLITE: &str = "\
SELECT CASE WHEN (SELECT COALESCE(MAX(position), 0) FROM events) = ?5
  AND NOT EXISTS (SELECT 1 FROM json_each(?6) AS k
    WHERE COALESCE((SELECT version FROM streams WHERE streams.id = k.value ->> 'id'), 0) <> k.value ->> 'version')
  AND NOT EXISTS (SELECT 1 FROM events WHERE event_id IN (SELECT unhex(replace(value, '-', '')) FROM json_each(?7)))
  AND NOT EXISTS (SELECT 1 FROM commands WHERE id IN (SELECT value FROM json_each(?8)))
  THEN 1 ELSE json_extract('the stored state is not the planned one at ' || ?5, '$') END AS held";

pub(crate) const WRITE_POSTGRES: &str = "\
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

/// The rows [`WRITE_POSTGRES`] stores, as its first three arguments:
/// events, streams' new versions, command log rows. The statement stores
/// them in one go (a success is final: a row already SUCCEEDED is never
/// replaced), with the NOTIFY that carries the new head to the other
/// nodes (its head 0: nothing was appended, nothing to announce). The
/// NOTIFY is delivered when, and only if, the transaction commits, in
/// commit order.
pub(crate) fn postgres_rows(
    new_events: &[RecordedEvent],
    touched: &HashMap<String, i64>,
    commands: &[CommandRecord],
) -> [String; 3] {
    let events: Vec<_> = new_events
        .iter()
        .map(|e| EventRow::new(e, (&e.data, &e.metadata), e.recorded_at))
        .collect();
    let commands: Vec<_> = commands
        .iter()
        .map(|r| CommandRow::new(r, &r.input, |at| at))
        .collect();
    [json(&events), json(&stream_rows(touched)), json(&commands)]
}

/// [`WRITE_POSTGRES`] on SQLite, three statements. The rows come from
/// `jsonb_each`, whose `value` is each element in SQLite's binary JSON,
/// which `->>` reads in place: `json_each` renders every element back to
/// text for `->>` to parse again, which was an eighth of the CPU of the
/// append benchmark, most of it in its 100-event appends.
pub(crate) const WRITE_SQLITE: &str = "\
INSERT INTO events (position, event_id, stream_id, version, event_type, schema_version, data, metadata, recorded_at)
SELECT value ->> 'position', unhex(replace(value ->> 'event_id', '-', '')), value ->> 'stream_id',
  value ->> 'version', value ->> 'event_type', value ->> 'schema_version', value ->> 'data',
  value ->> 'metadata', value ->> 'recorded_at'
FROM jsonb_each(?1);
INSERT INTO streams (id, category, version, created_at, updated_at)
SELECT value ->> 'id', value ->> 'category', value ->> 'version', ?4, ?4 FROM jsonb_each(?2) WHERE true
ON CONFLICT (id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;
INSERT INTO commands (id, command_type, input, status, error_code, error_message, stream_id, version,
  first_position, position, created_at, completed_at)
SELECT value ->> 'id', value ->> 'command_type', value ->> 'input', value ->> 'status',
  value ->> 'error_code', value ->> 'error_message', value ->> 'stream_id', value ->> 'version',
  value ->> 'first_position', value ->> 'position', value ->> 'created_at', value ->> 'completed_at'
FROM jsonb_each(?3) WHERE true
ON CONFLICT (id) DO UPDATE SET command_type = excluded.command_type, input = excluded.input,
  status = excluded.status, error_code = excluded.error_code, error_message = excluded.error_message,
  stream_id = excluded.stream_id, version = excluded.version, first_position = excluded.first_position,
  position = excluded.position, completed_at = excluded.completed_at
WHERE commands.status <> 'SUCCEEDED'";

/// What [`WRITE_SQLITE`] stores, as its four arguments: the rows of
/// [`postgres_rows`], and the time. Its three statements run in order.
///
/// Values travel as SQLite stores them when bound one by one, so rows
/// written here read back exactly like rows written any other way: JSON
/// documents as their text, carried as JSON strings (`->>` hands the text
/// over untouched; extracting them as JSON would re-render their numbers),
/// timestamps in the text form the driver writes, event ids as 16-byte
/// blobs.
pub(crate) fn sqlite_rows(
    new_events: &[RecordedEvent],
    touched: &HashMap<String, i64>,
    commands: &[CommandRecord],
    now: DateTime<Utc>,
) -> [String; 4] {
    let events: Vec<_> = new_events
        .iter()
        .map(|e| {
            let documents = (e.data.to_string(), e.metadata.to_string());
            EventRow::new(e, documents, sqlite_time(e.recorded_at))
        })
        .collect();
    let commands: Vec<_> = commands
        .iter()
        .map(|r| CommandRow::new(r, r.input.to_string(), sqlite_time))
        .collect();
    [
        json(&events),
        json(&stream_rows(touched)),
        json(&commands),
        sqlite_time(now),
    ]
}

/// Rows as one JSON array, serialized straight from borrowed fields
/// rather than built as `serde_json::Value` maps first (a map, its keys
/// and a copy of every string per row). On SQLite the event writer builds
/// them while it holds the write turn (`commit/sqlite.rs`), so what they
/// cost, every other writer waits for.
fn json<T: Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).expect("rows of strings, numbers and JSON serialize")
}

/// A timestamp as the SQLite driver writes a bound `DateTime<Utc>` (which
/// PostgreSQL reads as well): how rows written from JSON carry their
/// times, here and in the read models' writes (`read_models/rows.rs`).
pub(crate) fn sqlite_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// An event's row, with its documents and time as each database takes
/// them.
#[derive(Serialize)]
struct EventRow<'a, D, T> {
    position: i64,
    event_id: Uuid,
    stream_id: &'a str,
    version: i64,
    event_type: &'a str,
    schema_version: i32,
    data: D,
    metadata: D,
    recorded_at: T,
}

impl<'a, D, T> EventRow<'a, D, T> {
    fn new(e: &'a RecordedEvent, (data, metadata): (D, D), recorded_at: T) -> Self {
        Self {
            position: e.position,
            event_id: e.id,
            stream_id: &e.stream_id,
            version: e.version,
            event_type: &e.event_type,
            schema_version: e.schema_version,
            data,
            metadata,
            recorded_at,
        }
    }
}

#[derive(Serialize)]
struct StreamRow<'a> {
    id: &'a str,
    category: &'a str,
    version: i64,
}

fn stream_rows(touched: &HashMap<String, i64>) -> Vec<StreamRow<'_>> {
    touched
        .iter()
        .map(|(id, version)| StreamRow {
            id,
            category: category_of(id),
            version: *version,
        })
        .collect()
}

/// A command log row, with its input and times as each database takes
/// them.
#[derive(Serialize)]
struct CommandRow<'a, J, T> {
    id: &'a str,
    command_type: &'a str,
    input: J,
    status: &'static str,
    error_code: Option<&'static str>,
    error_message: Option<&'a str>,
    stream_id: Option<&'a str>,
    version: Option<i64>,
    first_position: Option<i64>,
    position: Option<i64>,
    created_at: T,
    completed_at: Option<T>,
}

impl<'a, J, T> CommandRow<'a, J, T> {
    fn new(r: &'a CommandRecord, input: J, time: impl Fn(DateTime<Utc>) -> T) -> Self {
        Self {
            id: &r.id,
            command_type: &r.command_type,
            input,
            status: r.status.as_str(),
            error_code: r.error_code.map(|c| c.as_str()),
            error_message: r.error_message.as_deref(),
            stream_id: r.stream_id.as_deref(),
            version: r.version,
            first_position: r.first_position,
            position: r.position,
            created_at: time(r.created_at),
            completed_at: r.completed_at.map(time),
        }
    }
}
