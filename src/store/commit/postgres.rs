//! PostgreSQL's append: one or two simple-protocol messages per batch,
//! each holding several statements that the server runs in order.
//!
//! The reading path takes two:
//! 1. `BEGIN`, the advisory lock, then the three reads the checks need;
//! 2. the write of every row (and the NOTIFY), then `COMMIT`.
//!
//! Most batches take one: planned on what the writer already knows
//! (`view.rs`), they send `BEGIN`, the lock, a guard that fails unless the
//! stored state is the one the plan assumed, the write and `COMMIT`. A
//! failed guard writes nothing, and the batch takes the reading path,
//! whose first message starts with the `ROLLBACK` of the aborted one.
//! Each round trip saved is time the append lock is not held, for every
//! node, and at one client about an eighth of a command's time.
//!
//! Through the pool a batch took six round trips (`BEGIN`, the lock, the
//! read, the write, `COMMIT`, the ping on return), and from the lock to
//! the commit every node's appends wait.
//!
//! The reads still see every commit the lock waited for: in a
//! multi-statement message each statement takes its own snapshot (READ
//! COMMITTED), after the one before it finished.
//!
//! The statements are prepared once per connection (`PREPARE`), so a
//! batch parses none of them and PostgreSQL may reuse their plans. Their
//! arguments travel as dollar-quoted literals, since a simple-protocol
//! message binds no parameters; each literal's quote tag is one its text
//! cannot close ([`literal`]).
//!
//! On an error the connection is dropped: the server aborts the
//! transaction and lets the lock go, and the next batch opens another.
//! Errors are rare (a lost connection, a row the database refuses), and a
//! fresh connection leaves no doubt about what its session holds. A kept
//! connection that turns out closed (the server restarted, a proxy timed
//! it out) fails in the first round trip. On the reading path that round
//! trip writes nothing, and the batch begins again once on a new
//! connection, so no command pays for it. A single message may have
//! committed before its connection broke: the new connection's reads then
//! look for the plan's first event, and answer from the plan when it is
//! stored as planned.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use entity::{commands, events};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::{self, AssertSqlSafe, PgConnection};
use sea_orm::{DatabaseConnection, DbErr};

use super::view::{Guess, View};
use super::{
    APPEND_LOCK_CLASS, Committed, Lookups, batch_state, columns, conn_err, connect, db_err,
    rows_by_statement, stream_ids,
};
use crate::store::AppendRequest;
use crate::store::plan::{BatchPlan, BatchState, plan_batch};
use crate::store::statements::{self, GUARD_POSTGRES, READ_POSTGRES, WRITE_POSTGRES};

/// Run once on each new connection: the batch's statements, by name.
/// The lookups name their columns ([`columns`]).
fn prepare_script() -> String {
    let (events, found_events) = (
        columns::<events::Column>(""),
        columns::<events::Column>("e."),
    );
    let (commands, found_commands) = (
        columns::<commands::Column>(""),
        columns::<commands::Column>("c."),
    );
    format!(
        "PREPARE chronicle_read (jsonb) AS {READ_POSTGRES};
PREPARE chronicle_events (jsonb) AS SELECT {found_events} FROM jsonb_array_elements_text($1) AS k(id) \
CROSS JOIN LATERAL (SELECT {events} FROM events WHERE events.event_id = k.id::uuid LIMIT 1) e;
PREPARE chronicle_commands (jsonb) AS SELECT {found_commands} FROM jsonb_array_elements_text($1) AS k(id) \
CROSS JOIN LATERAL (SELECT {commands} FROM commands WHERE commands.id = k.id LIMIT 1) c;
PREPARE chronicle_guard (bigint, jsonb, jsonb, jsonb) AS {GUARD_POSTGRES};
PREPARE chronicle_write (jsonb, jsonb, jsonb, timestamptz, bigint, text) AS {WRITE_POSTGRES}"
    )
}

/// The writer's own connection to PostgreSQL, opened when first needed.
pub(crate) struct PgAppender {
    options: Arc<PgConnectOptions>,
    timeout: Duration,
    conn: Option<PgConnection>,
    view: View,
}

/// How a batch planned on the view ended.
enum Guessed {
    Committed(Committed),
    /// The guard failed: the transaction is still open, and aborted.
    Missed,
    /// The connection broke once the message was on its way: whether it
    /// committed is unknown until a read looks for the plan's first event.
    InDoubt(BatchPlan),
}

/// What the reading path does before its reads.
enum Before {
    Nothing,
    /// End the transaction a failed guard left aborted.
    Rollback,
    /// Find out whether this plan committed before its connection broke.
    Resolve(BatchPlan),
}

impl PgAppender {
    /// Connects as `db`'s pool does (same URL, same `search_path`).
    pub(crate) fn new(db: &DatabaseConnection) -> Self {
        let pool = db.get_postgres_connection_pool();
        Self {
            options: pool.connect_options(),
            timeout: pool.options().get_acquire_timeout(),
            conn: None,
            view: View::default(),
        }
    }

    /// One message when the view can plan the batch and the guard agrees;
    /// otherwise, or after a miss, the two of the reading path.
    pub(crate) async fn commit_batch(
        &mut self,
        jobs: &[AppendRequest],
        head_channel: &str,
        lock_key: i32,
    ) -> Result<Committed, DbErr> {
        let before = match self.guess(jobs) {
            None => Before::Nothing,
            Some((guard, plan)) => match self
                .commit_guessed(jobs, guard, plan, head_channel, lock_key)
                .await?
            {
                Guessed::Committed(committed) => return Ok(committed),
                Guessed::Missed => Before::Rollback,
                Guessed::InDoubt(plan) => Before::Resolve(plan),
            },
        };
        self.read_and_commit(jobs, head_channel, lock_key, before)
            .await
    }

    /// The batch planned on the view, with what its guard checks: only on a
    /// kept connection (a new one has no view worth the risk of a miss)
    /// and only for a plan that appends, whose first event then tells
    /// whether a message in doubt committed.
    fn guess(&mut self, jobs: &[AppendRequest]) -> Option<((i64, String), BatchPlan)> {
        self.conn.as_ref()?;
        let Guess { state, streams } = self.view.guess(jobs)?;
        let head = state.head;
        let plan = plan_batch(state, jobs);
        (!plan.new_events.is_empty()).then_some(((head, streams), plan))
    }

    /// The one message: the transaction, the lock, the guard, the write
    /// and the commit. Statements after a failed one in the message do not
    /// run, so a failed guard writes nothing.
    async fn commit_guessed(
        &mut self,
        jobs: &[AppendRequest],
        (head, streams): (i64, String),
        plan: BatchPlan,
        head_channel: &str,
        lock_key: i32,
    ) -> Result<Guessed, DbErr> {
        let lookups = Lookups::of(jobs);
        let script = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK_CLASS}, {lock_key}); \
             EXECUTE chronicle_guard({head}, {}, {}, {}); {}",
            literal(&streams),
            literal(&lookups.event_ids),
            literal(&lookups.commands),
            write_script(&plan, head_channel),
        );
        let conn = self.conn.as_mut().expect("guessed on a kept connection");
        let result = sqlx::raw_sql(AssertSqlSafe(script)).execute(conn).await;
        let (outcome, guessed) = match result {
            Ok(_) => {
                self.view.hit();
                self.view.committed(plan.head, &plan.touched);
                ("held", Ok(Guessed::Committed(plan.into())))
            }
            Err(err) if guard_failed(&err) => {
                self.view.missed();
                ("missed", Ok(Guessed::Missed))
            }
            Err(err) => {
                self.conn = None;
                self.view.forget();
                let err = db_err(err);
                if crate::db::is_unreachable(&err) {
                    ("in_doubt", Ok(Guessed::InDoubt(plan)))
                } else {
                    ("failed", Err(err))
                }
            }
        };
        metrics::counter!(crate::metrics::APPEND_GUESSES, "outcome" => outcome).increment(1);
        guessed
    }

    /// The reading path: lock and read in one message, plan, then write
    /// and commit in a second.
    async fn read_and_commit(
        &mut self,
        jobs: &[AppendRequest],
        head_channel: &str,
        lock_key: i32,
        before: Before,
    ) -> Result<Committed, DbErr> {
        let (mut prefix, doubt) = match before {
            Before::Nothing => ("", None),
            Before::Rollback => ("ROLLBACK; ", None),
            Before::Resolve(plan) => ("", Some(plan)),
        };
        let first = doubt.as_ref().map(|plan| plan.new_events[0].clone());
        let lookups = Lookups::with_event(jobs, first.as_ref().map(|e| e.id));
        let mut fresh = self.conn.is_none();
        let state = loop {
            let conn = match &mut self.conn {
                Some(conn) => conn,
                empty => empty.insert(prepared(&self.options, self.timeout).await?),
            };
            match lock_and_read(conn, &lookups, prefix, lock_key).await {
                Ok(state) => break state,
                // A connection the server, a proxy or a firewall closed
                // while it sat idle fails here, before anything was
                // written: the batch begins again once, on a new one.
                Err(err) if !fresh && crate::db::is_unreachable(&err) => {
                    self.conn = None;
                    fresh = true;
                    prefix = "";
                }
                Err(err) => {
                    self.conn = None;
                    self.view.forget();
                    return Err(err);
                }
            }
        };
        // The event is stored as planned (same position, same time): the
        // message in doubt committed. Otherwise its connection's end
        // rolled it back, and the batch is planned afresh on what is read.
        if let (Some(plan), Some(first)) = (doubt, first)
            && state
                .existing
                .get(&first.id)
                .is_some_and(|e| e.position == first.position && e.recorded_at == first.recorded_at)
        {
            // Only the reads' transaction is left to end; if that fails,
            // dropping the connection ends it, and the batch stays
            // committed either way.
            let _ = self.finish("ROLLBACK").await;
            self.view.committed(plan.head, &plan.touched);
            return Ok(plan.into());
        }
        self.view.read(&state, &stream_ids(jobs));
        let plan = plan_batch(state, jobs);
        let finish = if plan.stores_nothing() {
            "ROLLBACK".to_owned()
        } else {
            write_script(&plan, head_channel)
        };
        self.finish(&finish).await?;
        self.view.committed(plan.head, &plan.touched);
        Ok(plan.into())
    }

    /// The second round trip: the plan's rows and the commit, or a
    /// rollback when it stores nothing.
    async fn finish(&mut self, script: &str) -> Result<(), DbErr> {
        let conn = self.conn.as_mut().expect("the reads ran on it");
        let result = sqlx::raw_sql(AssertSqlSafe(script.to_owned()))
            .execute(conn)
            .await;
        if let Err(err) = result {
            // Closing the socket makes the server roll the transaction
            // back and let the lock go; the next batch starts afresh, its
            // statements prepared again.
            self.conn = None;
            self.view.forget();
            return Err(db_err(err));
        }
        Ok(())
    }
}

/// Whether a batch's guard refused its plan (a division by zero: no other
/// statement of the append divides).
fn guard_failed(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("22012"))
}

/// A new connection, with the batch's statements prepared.
async fn prepared(options: &PgConnectOptions, timeout: Duration) -> Result<PgConnection, DbErr> {
    let mut conn: PgConnection = connect(options, timeout).await?;
    sqlx::raw_sql(AssertSqlSafe(prepare_script()))
        .execute(&mut conn)
        .await
        .map_err(conn_err)?;
    Ok(conn)
}

/// The first round trip: the transaction, the lock, and the three reads.
async fn lock_and_read(
    conn: &mut PgConnection,
    lookups: &Lookups,
    prefix: &str,
    lock_key: i32,
) -> Result<BatchState, DbErr> {
    let script = format!(
        "{prefix}BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK_CLASS}, {lock_key}); \
         EXECUTE chronicle_read({}); EXECUTE chronicle_events({}); \
         EXECUTE chronicle_commands({})",
        literal(&lookups.streams),
        literal(&lookups.event_ids),
        literal(&lookups.commands),
    );
    let stream = sqlx::raw_sql(AssertSqlSafe(script)).fetch_many(&mut *conn);
    let statements = rows_by_statement(stream).await.map_err(db_err)?;
    // After the prefix, BEGIN and the lock: the three reads.
    let skip = 2 + usize::from(!prefix.is_empty());
    batch_state(statements.into_iter().skip(skip))
}

/// Every row, the NOTIFY, and the commit.
fn write_script(plan: &BatchPlan, head_channel: &str) -> String {
    // Nothing appended (only command log rows): nothing to announce.
    let head = if plan.new_events.is_empty() {
        0
    } else {
        plan.head
    };
    let [events, streams, commands] =
        statements::postgres_rows(&plan.new_events, &plan.touched, &plan.commands);
    format!(
        "EXECUTE chronicle_write({}, {}, {}, {}, {head}, {}); COMMIT",
        literal(&events),
        literal(&streams),
        literal(&commands),
        literal(&timestamp(plan.now)),
        literal(head_channel),
    )
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `text` as a dollar-quoted PostgreSQL literal: no character in it is
/// special, and its tag is one that first occurs where the literal ends,
/// so no text can close it early.
fn literal(text: &str) -> String {
    let mut tag = String::from("$q$");
    let mut n = 0;
    while format!("{text}{tag}").find(&tag) != Some(text.len()) {
        tag = format!("$q{n}$");
        n += 1;
    }
    format!("{tag}{text}{tag}")
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn a_literal_quotes_text_as_is() {
        assert_eq!(literal(r#"["a'b\c"]"#), r#"$q$["a'b\c"]$q$"#);
    }

    #[test]
    fn a_literal_picks_a_tag_the_text_cannot_close() {
        // The text holds the plain tag, or ends with what would make the
        // tag appear one character early.
        assert_eq!(literal("x$q$y"), "$q0$x$q$y$q0$");
        assert_eq!(literal("x$q"), "$q0$x$q$q0$");
        assert_eq!(literal("$q$ $q0$"), "$q1$$q$ $q0$$q1$");
    }
}
