//! SQLite's write-ahead log is copied back into the database file by a
//! task of its own, not by the commit that happens to cross SQLite's
//! threshold.
//!
//! By default a connection checkpoints right after a commit that leaves
//! 1,000 or more pages in the log, inside that commit's call: it copies
//! the pages into the database file and fsyncs it while this process's
//! write turn is still held, so the event writer and the read models wait
//! for it. At 64 clients that was 5.3-7.5 % of the server's samples;
//! with no checkpoint at all (an upper bound, two rounds) they did about
//! a tenth more and their p99 fell from 32 to 24-26 ms. On a slow disk
//! one command in a few dozen also waited for the database file's fsync:
//! with this task the p99 at one client fell from 15-17 to 7-11 ms
//! (BENCHMARKS.md, eleventh pass). The writing connection
//! (`gate.rs`) therefore has `wal_autocheckpoint = 0`, and this task runs
//! a `PASSIVE` checkpoint every [`EVERY`] on a connection of its own,
//! which waits for no writer.
//!
//! A passive checkpoint never starts the log over: SQLite does that when a
//! write transaction begins and every page of the log is already in the
//! database file, and with writers appending while the checkpoint copies,
//! that is never so, and the log would grow without bound. So once it
//! holds [`RESTART_AT`] pages, the task checkpoints again while holding
//! the write turn: no writer of this process appends meanwhile, what is
//! left to copy is what came in since the last pass, and the next commit
//! starts the log over. The file keeps the largest size the log reached:
//! [`RESTART_AT`] pages plus what came in since the pass before, 33 MB
//! after 10 s at 6,000 commands a second (SQLite's own checkpoints kept
//! it near 5 MB, at the cost above).

use std::time::Duration;

use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{self, Connection, SqliteConnection};
use tokio::sync::watch;

use super::WriteGate;
use crate::metrics as m;

/// How often the log is checkpointed. At 64 clients at least 14,000
/// pages a second go into it (35 turns' checkpoints in an 8 s run, each
/// after 4,096 pages), so a pass copies some 3,000.
const EVERY: Duration = Duration::from_millis(200);

/// Pages in the log (4 KiB each by default, so 16 MiB) from which a pass
/// is repeated under the write turn, so that the log starts over.
const RESTART_AT: i64 = 4096;

/// How long the pass under the write turn waits for readers still on an
/// older snapshot. A long read (a rebuild's, a large query) must not hold
/// every writer up: the log then starts over at a later pass.
const READERS_WAIT: Duration = Duration::from_millis(10);

/// Starts the checkpointer of the database `options` open; it ends once
/// the store's head has no sender left (the store and its writer are
/// gone).
pub(crate) fn spawn(options: SqliteConnectOptions, gate: WriteGate, head: watch::Receiver<i64>) {
    tokio::spawn(async move {
        let mut conn: Option<SqliteConnection> = None;
        loop {
            tokio::time::sleep(EVERY).await;
            if head.has_changed().is_err() {
                break;
            }
            if let Err(err) = pass(&mut conn, &options, &gate, RESTART_AT).await {
                tracing::debug!(%err, "checkpoint of the write-ahead log failed");
                conn = None;
            }
        }
        tracing::debug!("checkpointer stopped");
    });
}

/// Where a checkpoint runs: beside the writers, or under the write turn.
#[derive(Clone, Copy)]
enum Pass {
    Background,
    Held,
}

/// One pass: a checkpoint, repeated under the write turn when the log
/// holds `restart_at` pages or more. Returns the pages left in the log.
async fn pass(
    conn: &mut Option<SqliteConnection>,
    options: &SqliteConnectOptions,
    gate: &WriteGate,
    restart_at: i64,
) -> Result<i64, sqlx::Error> {
    let conn = match conn {
        Some(conn) => conn,
        empty => {
            let options = options.clone().busy_timeout(READERS_WAIT);
            empty.insert(SqliteConnection::connect_with(&options).await?)
        }
    };
    let mut pages = checkpoint(conn, Pass::Background).await?;
    if pages >= restart_at {
        let _turn = gate.turn("checkpoint").await;
        pages = checkpoint(conn, Pass::Held).await?;
    }
    Ok(pages)
}

/// A checkpoint, and how many pages the log holds after it. In the
/// background it is `PASSIVE`: it copies what no reader still needs and
/// waits for nobody. Under the turn it is `RESTART`: it also waits (at
/// most [`READERS_WAIT`]) for the readers on older snapshots, so that
/// everything is copied and no reader still uses the log, which is what
/// lets the next commit start it over. A `PASSIVE` pass there left readers'
/// pages behind often enough, under load, for the log to reach 50 MB
/// (64 clients for 10 s; 33 MB with `RESTART`, 5 MB with SQLite's own
/// checkpoints at 1,000 pages).
async fn checkpoint(conn: &mut SqliteConnection, pass: Pass) -> Result<i64, sqlx::Error> {
    let (sql, kind) = match pass {
        Pass::Background => ("PRAGMA wal_checkpoint(PASSIVE)", "background"),
        Pass::Held => ("PRAGMA wal_checkpoint(RESTART)", "held"),
    };
    let (_busy, pages, _copied): (i64, i64, i64) = sqlx::query_as(sql).fetch_one(conn).await?;
    metrics::counter!(m::SQLITE_CHECKPOINTS, "kind" => kind).increment(1);
    metrics::gauge!(m::SQLITE_WAL_PAGES).set(pages as f64);
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::sqlx;

    use super::pass;
    use crate::read_models::testing::sqlite_store;
    use crate::store::{EventStore, ExpectedVersion, NewEvent, StreamId};

    async fn append(store: &EventStore, events: usize) {
        for _ in 0..events {
            store
                .append(
                    StreamId::parse("wal-1").unwrap(),
                    ExpectedVersion::Any,
                    vec![NewEvent::new("Happened", serde_json::json!({}))],
                )
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn the_writing_connection_leaves_checkpoints_to_the_task() {
        let (_dir, store) = sqlite_store().await;
        let mut conn = store.gate().writer().unwrap().acquire().await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(pages, 0);
    }

    #[tokio::test]
    async fn given_a_short_log_when_a_pass_runs_then_it_does_not_wait_for_the_write_turn() {
        let (_dir, store) = sqlite_store().await;
        append(&store, 3).await;
        let options = (*store.gate().writer().unwrap().connect_options()).clone();
        let turn = store.gate().turn("test").await;

        let mut conn = None;
        let pass = pass(&mut conn, &options, store.gate(), i64::MAX);
        let pages = tokio::time::timeout(Duration::from_secs(5), pass)
            .await
            .expect("done while the turn is held")
            .unwrap();

        assert!(pages > 0, "the log still holds its pages");
        drop(turn);
    }

    #[tokio::test]
    async fn given_a_long_log_when_a_pass_runs_then_it_takes_the_turn_and_the_next_commit_starts_the_log_over()
     {
        let (_dir, store) = sqlite_store().await;
        append(&store, 3).await;
        let options = (*store.gate().writer().unwrap().connect_options()).clone();
        let gate = store.gate().clone();
        let turn = gate.turn("test").await;

        let task = tokio::spawn(async move {
            let mut conn = None;
            pass(&mut conn, &options, &gate, 1).await.unwrap()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!task.is_finished(), "waits for the write turn");
        drop(turn);
        let before = task.await.unwrap();

        append(&store, 1).await;
        let options = (*store.gate().writer().unwrap().connect_options()).clone();
        let mut conn = None;
        let after = pass(&mut conn, &options, store.gate(), i64::MAX)
            .await
            .unwrap();
        assert!(
            after < before,
            "the log started over: {after} pages after, {before} before"
        );
    }
}
