//! The write model looked at rather than changed: an account as it was at
//! a version or a time, and snapshots taken on demand.

use chrono::{DateTime, Utc};

use super::{CommandError, Commands, Loaded, stream_of};
use crate::domain::Aggregate;
use crate::domain::account::Account;
use crate::domain::user::{EmailReservation, User};
use crate::store::{Direction, StoredSnapshot, StreamId};

/// Which past state to rebuild.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    /// The latest.
    Now,
    Version(i64),
    Time(DateTime<Utc>),
}

impl Commands {
    /// An account as it was: `None` when it did not exist yet at that time
    /// or the version is past its end. Returns the state, its version and
    /// the time of its last event.
    pub async fn account_at(
        &self,
        account_id: &str,
        as_of: AsOf,
    ) -> Result<Option<(Loaded<Account>, DateTime<Utc>)>, CommandError> {
        let stream = stream_of::<Account>(account_id)?;
        let version = match as_of {
            AsOf::Version(v) if v < 1 => {
                return Err(CommandError::invalid(format!(
                    "version must be 1 or more, got {v}"
                )));
            }
            AsOf::Version(v) => Some(v),
            AsOf::Time(t) => self.version_at(&stream, t).await?,
            AsOf::Now => self
                .store
                .stream_info(stream.as_str())
                .await?
                .map(|s| s.version),
        };
        match version {
            Some(version) => self.accounts.load_at(&stream, version).await,
            None => Ok(None),
        }
    }

    /// The version of the last event of `stream` recorded at or before `t`.
    async fn version_at(
        &self,
        stream: &StreamId,
        t: DateTime<Utc>,
    ) -> Result<Option<i64>, CommandError> {
        // Streams are read newest first until an event old enough shows up;
        // a stream's events are recorded in version order.
        let mut from = None;
        loop {
            let page = self
                .store
                .read_stream(stream.as_str(), from, Direction::Backward, 1_000)
                .await?;
            if let Some(event) = page.iter().find(|e| e.recorded_at <= t) {
                return Ok(Some(event.version));
            }
            match page.last() {
                Some(oldest) if oldest.version > 1 => from = Some(oldest.version - 1),
                _ => return Ok(None),
            }
        }
    }

    /// Writes a snapshot of an aggregate stream at its current version.
    /// `None` when the stream has no events.
    pub async fn create_snapshot(
        &self,
        stream_id: &str,
    ) -> Result<Option<StoredSnapshot>, CommandError> {
        let stream = StreamId::parse(stream_id)?;
        match stream.category() {
            Account::CATEGORY => snapshot_now(&self.accounts, &stream).await,
            User::CATEGORY => snapshot_now(&self.users, &stream).await,
            EmailReservation::CATEGORY => snapshot_now(&self.emails, &stream).await,
            other => Err(CommandError::invalid(format!(
                "snapshots are taken of aggregate streams (account-, user-, useremail-); {other:?} is not one"
            ))),
        }
    }
}

async fn snapshot_now<A: crate::domain::Snapshot>(
    repo: &super::Repository<A>,
    stream: &StreamId,
) -> Result<Option<StoredSnapshot>, CommandError> {
    let loaded = repo.replay(stream).await?;
    if loaded.version == 0 {
        return Ok(None);
    }
    repo.write_snapshot(stream, &loaded).await.map(Some)
}
