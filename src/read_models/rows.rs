//! The statements that write a read model's rows: one per table and
//! database, taking every row of a batch as one JSON array argument.
//!
//! Built with SeaORM's `insert_many`, a batch's statement had one
//! placeholder per value, so its text changed with the number of rows,
//! and a text not seen before is prepared anew: on SQLite while holding
//! the one write lock the event writer waits on, on PostgreSQL with a
//! Parse and Describe of its own. With the
//! rows as one argument the text stays the same whatever the batch holds,
//! so each connection prepares it once and reuses it, as the event
//! writer's statements do (`store/statements.rs`).
//!
//! A row is a JSON object keyed by column, holding each value as SQLite
//! stores it when bound alone (`store/statements.rs` says why), so a row
//! reads back the same whichever way it was written:
//! timestamps in the driver's text ([`time`]), UUIDs hyphenated (SQLite
//! stores their 16 bytes), JSON documents as their text.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Statement};

/// What a column holds, as the rows carry it.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    BigInt,
    Int,
    Bool,
    /// A hyphenated UUID.
    Uuid,
    /// A timestamp in [`time`]'s form.
    Time,
    /// A JSON document's text, or null.
    Json,
}

impl Kind {
    fn postgres(self) -> &'static str {
        match self {
            Kind::Text | Kind::Json => "text",
            Kind::BigInt => "bigint",
            Kind::Int => "integer",
            Kind::Bool => "boolean",
            Kind::Uuid => "uuid",
            Kind::Time => "timestamptz",
        }
    }
}

/// A table's write of many rows: an insert, or with `key` an upsert that
/// replaces every other column of a row already stored.
pub struct RowsWrite {
    table: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// The conflict target of an upsert; `None` for a plain insert, which
    /// fails on a row already stored.
    key: Option<&'static [&'static str]>,
    sqlite: OnceLock<String>,
    postgres: OnceLock<String>,
}

impl RowsWrite {
    pub const fn new(
        table: &'static str,
        columns: &'static [(&'static str, Kind)],
        key: Option<&'static [&'static str]>,
    ) -> Self {
        Self {
            table,
            columns,
            key,
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
        }
    }

    /// The statement writing `rows` (a JSON array of row objects) on
    /// `backend`; `None` when there are none.
    pub fn statement(&self, backend: DbBackend, rows: Vec<serde_json::Value>) -> Option<Statement> {
        if rows.is_empty() {
            return None;
        }
        let sql = match backend {
            DbBackend::Postgres => self.postgres.get_or_init(|| self.postgres_sql()),
            _ => self.sqlite.get_or_init(|| self.sqlite_sql()),
        };
        let rows = serde_json::Value::Array(rows).to_string();
        Some(Statement::from_sql_and_values(
            backend,
            sql.as_str(),
            [rows.into()],
        ))
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }

    /// SQLite reads the rows with `jsonb_each`, whose `->>` reads each one
    /// in place (`store/statements.rs`); a UUID is stored as its bytes.
    /// `WHERE true` tells the upsert's `ON CONFLICT` from a join's `ON`.
    fn sqlite_sql(&self) -> String {
        let values: Vec<String> = self
            .columns
            .iter()
            .map(|(name, kind)| match kind {
                Kind::Uuid => format!("unhex(replace(value ->> '{name}', '-', ''))"),
                _ => format!("value ->> '{name}'"),
            })
            .collect();
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM jsonb_each(?) WHERE true{}",
            self.table,
            self.names(),
            values.join(", "),
            self.on_conflict()
        )
    }

    fn postgres_sql(&self) -> String {
        let record: Vec<String> = self
            .columns
            .iter()
            .map(|(name, kind)| format!("{name} {}", kind.postgres()))
            .collect();
        let values: Vec<String> = self
            .columns
            .iter()
            .map(|(name, kind)| match kind {
                Kind::Json => format!("{name}::jsonb"),
                _ => (*name).to_owned(),
            })
            .collect();
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM jsonb_to_recordset($1::jsonb) AS r({}){}",
            self.table,
            self.names(),
            values.join(", "),
            record.join(", "),
            self.on_conflict()
        )
    }

    fn on_conflict(&self) -> String {
        let Some(key) = self.key else {
            return String::new();
        };
        let set: Vec<String> = self
            .columns
            .iter()
            .filter(|(name, _)| !key.contains(name))
            .map(|(name, _)| format!("{name} = excluded.{name}"))
            .collect();
        format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            key.join(", "),
            set.join(", ")
        )
    }
}

/// A timestamp as a row carries it.
pub fn time(at: DateTime<Utc>) -> String {
    crate::store::sqlite_time(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    static WRITE: RowsWrite = RowsWrite::new(
        "t",
        &[("id", Kind::Uuid), ("n", Kind::BigInt), ("doc", Kind::Json)],
        Some(&["id"]),
    );

    #[test]
    fn the_text_is_the_same_whatever_the_rows() {
        let one = WRITE.statement(DbBackend::Sqlite, vec![serde_json::json!({})]);
        let two = WRITE.statement(DbBackend::Sqlite, vec![serde_json::json!({}); 2]);
        assert_eq!(one.unwrap().sql, two.unwrap().sql);
        assert!(WRITE.statement(DbBackend::Sqlite, Vec::new()).is_none());
    }

    #[test]
    fn an_upsert_replaces_every_column_but_the_key() {
        assert_eq!(
            WRITE.sqlite_sql(),
            "INSERT INTO t (id, n, doc) SELECT unhex(replace(value ->> 'id', '-', '')), \
             value ->> 'n', value ->> 'doc' FROM jsonb_each(?) WHERE true \
             ON CONFLICT (id) DO UPDATE SET n = excluded.n, doc = excluded.doc"
        );
        assert_eq!(
            WRITE.postgres_sql(),
            "INSERT INTO t (id, n, doc) SELECT id, n, doc::jsonb FROM \
             jsonb_to_recordset($1::jsonb) AS r(id uuid, n bigint, doc text) \
             ON CONFLICT (id) DO UPDATE SET n = excluded.n, doc = excluded.doc"
        );
    }
}
