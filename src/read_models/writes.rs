//! The writes of one read-model transaction, sent together once every
//! projection in it has applied its batch.
//!
//! On SQLite each statement is a hand-off to the connection's worker
//! thread and back, made while the transaction holds the one write lock
//! the event writer waits on. A turn of the four projections wrote their
//! rows and checkpoints in four or five such hand-offs; sent as one call
//! (SQLite runs the statements of a call in order, and sqlx binds each
//! statement's `?` parameters from the next values), they take one.
//! PostgreSQL takes one statement per prepared query, so there the writes
//! go as one statement instead: every write but the last becomes a
//! data-modifying `WITH` query of the last. Each table's write takes its
//! rows as one argument (`rows.rs`), so the joined text depends only on
//! which tables a turn writes, and each connection prepares it once.
//! PostgreSQL runs every such query once, whether or not it is read.
//!
//! A projection reads only its own tables, and reads before it writes, so
//! deferring the writes to the end of the transaction changes no read.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement, Values};

use super::rows::RowsWrite;

/// Statements to run, in order, before the transaction commits.
pub struct Writes {
    backend: DbBackend,
    statements: Vec<Statement>,
}

impl Writes {
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
        }
    }

    /// The database the statements are built for.
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Adds a statement built for [`backend`](Self::backend), with
    /// positional (`?`) parameters only: they are numbered across the
    /// call, so a numbered one (`?2`) would point into another statement.
    pub fn push(&mut self, statement: Statement) {
        debug_assert!(
            !numbered_parameter(&statement.sql),
            "a numbered parameter in a deferred write: {}",
            statement.sql
        );
        self.statements.push(statement);
    }

    /// Adds `write` of `rows`, if there are any (`rows.rs`).
    pub fn push_rows(&mut self, write: &RowsWrite, rows: Vec<serde_json::Value>) {
        if let Some(statement) = write.statement(self.backend, rows) {
            self.push(statement);
        }
    }

    /// Runs the statements in `txn`, in the order they were added.
    pub async fn send(self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let statements = if self.statements.len() < 2 {
            self.statements
        } else {
            match self.backend {
                DbBackend::Sqlite => vec![sqlite_joined(self.statements)],
                DbBackend::Postgres => postgres_joined(self.statements),
                _ => self.statements,
            }
        };
        for statement in statements {
            txn.execute_raw(statement).await?;
        }
        Ok(())
    }
}

/// SQLite's statements as one call, run in order.
fn sqlite_joined(statements: Vec<Statement>) -> Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        sql.push_str(&statement.sql);
        sql.push_str(";\n");
        values.extend(statement.values.map(|Values(v)| v).unwrap_or_default());
    }
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

/// PostgreSQL's writes as one statement, each but the last a `WITH`
/// query. Only statements with one parameter, `$1` (the rows' writes),
/// are joined, their parameters renumbered; anything else keeps its own
/// statement, in order.
fn postgres_joined(statements: Vec<Statement>) -> Vec<Statement> {
    let one_argument = |s: &Statement| {
        s.values.as_ref().is_some_and(|Values(v)| v.len() == 1)
            && s.sql.matches('$').count() == 1
            && s.sql.contains("$1")
    };
    if !statements.iter().all(one_argument) {
        return statements;
    }
    let last = statements.len() - 1;
    let mut sql = String::new();
    let mut values = Vec::new();
    for (i, statement) in statements.into_iter().enumerate() {
        let text = statement.sql.replace("$1", &format!("${}", i + 1));
        if i < last {
            sql.push_str(if i == 0 { "WITH " } else { ", " });
            sql.push_str(&format!("w{i} AS ({text})"));
        } else {
            sql.push(' ');
            sql.push_str(&text);
        }
        values.extend(statement.values.map(|Values(v)| v).unwrap_or_default());
    }
    vec![Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    )]
}

/// Whether `sql` holds a `?` followed by a digit outside string literals.
fn numbered_parameter(sql: &str) -> bool {
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    use super::*;
    use crate::read_models::testing::sqlite_store;

    fn insert(backend: DbBackend, id: &str, n: i64) -> Statement {
        Statement::from_sql_and_values(
            backend,
            "INSERT INTO t (id, n) VALUES (?, ?)",
            [id.into(), n.into()],
        )
    }

    /// A store with a table `t (id, n)` to write to.
    async fn store_with_table() -> (tempfile::TempDir, crate::store::EventStore) {
        let (dir, store) = sqlite_store().await;
        store
            .db()
            .execute_unprepared("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn given_writes_of_several_statements_when_sent_then_each_binds_its_own_values() {
        let (_dir, store) = store_with_table().await;
        let db = store.db();
        let txn = db.begin().await.unwrap();
        let mut writes = Writes::new(DbBackend::Sqlite);
        writes.push(insert(DbBackend::Sqlite, "a", 1));
        writes.push(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE t SET n = n + ? WHERE id = ?",
            [10.into(), "a".into()],
        ));
        writes.push(insert(DbBackend::Sqlite, "b", 2));

        writes.send(&txn).await.unwrap();
        txn.commit().await.unwrap();

        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT id, n FROM t ORDER BY id",
            ))
            .await
            .unwrap();
        let rows: Vec<(String, i64)> = rows
            .iter()
            .map(|r| (r.try_get("", "id").unwrap(), r.try_get("", "n").unwrap()))
            .collect();
        assert_eq!(rows, [("a".to_owned(), 11), ("b".to_owned(), 2)]);
    }

    #[tokio::test]
    async fn given_a_failing_statement_among_the_writes_when_sent_then_the_call_fails() {
        let (_dir, store) = store_with_table().await;
        let db = store.db();
        let txn = db.begin().await.unwrap();
        let mut writes = Writes::new(DbBackend::Sqlite);
        writes.push(insert(DbBackend::Sqlite, "a", 1));
        writes.push(insert(DbBackend::Sqlite, "a", 2));

        assert!(writes.send(&txn).await.is_err());
    }

    #[test]
    fn postgres_writes_of_one_argument_each_become_one_statement() {
        let write = |table: &str, n: i64| {
            Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("INSERT INTO {table} SELECT * FROM jsonb_to_recordset($1::jsonb)"),
                [n.into()],
            )
        };

        let joined = postgres_joined(vec![write("a", 1), write("b", 2), write("c", 3)]);

        assert_eq!(joined.len(), 1);
        assert_eq!(
            joined[0].sql,
            "WITH w0 AS (INSERT INTO a SELECT * FROM jsonb_to_recordset($1::jsonb)), \
             w1 AS (INSERT INTO b SELECT * FROM jsonb_to_recordset($2::jsonb)) \
             INSERT INTO c SELECT * FROM jsonb_to_recordset($3::jsonb)"
        );
        assert_eq!(
            joined[0].values,
            Some(Values(vec![1i64.into(), 2i64.into(), 3i64.into()]))
        );
    }

    #[test]
    fn postgres_statements_of_other_arguments_keep_their_own() {
        let other = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE t SET n = $1 WHERE id = $2",
            [1i64.into(), "a".into()],
        );
        let write = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO t SELECT * FROM jsonb_to_recordset($1::jsonb)",
            ["[]".into()],
        );

        assert_eq!(postgres_joined(vec![other, write]).len(), 2);
    }

    #[test]
    fn numbered_parameters_are_told_from_positional_ones_and_literals() {
        assert!(numbered_parameter("SELECT ?1"));
        assert!(!numbered_parameter("SELECT ?, ?"));
        assert!(!numbered_parameter("SELECT '?1', ?"));
    }
}
