//! Snapshots of aggregates: read when a stream is loaded, written off the
//! hot path when a commit crosses every N-th version, or on demand.

use chrono::Utc;

use super::{CommandError, Loaded, Repository};
use crate::domain::Snapshot;
use crate::store::{StoredSnapshot, StreamId};

impl<A: Snapshot> Repository<A> {
    /// The latest usable snapshot at or below `version` (an empty state at
    /// version 0 when there is none). A snapshot of another state shape is
    /// not even read, and one that no longer parses is skipped: the events
    /// are the truth.
    pub(super) async fn snapshot_at_or_below(
        &self,
        stream: &StreamId,
        version: Option<i64>,
    ) -> Result<Loaded<A>, CommandError> {
        let empty = Loaded {
            state: A::default(),
            version: 0,
        };
        let found = self
            .store
            .latest_snapshot(stream.as_str(), version, A::STATE_VERSION)
            .await?;
        let Some(snapshot) = found else {
            return Ok(empty);
        };
        match serde_json::from_value::<A>(snapshot.state) {
            Ok(state) => Ok(Loaded {
                state,
                version: snapshot.version,
            }),
            Err(err) => {
                tracing::warn!(stream = %stream, version = snapshot.version, %err, "unreadable snapshot ignored");
                Ok(empty)
            }
        }
    }

    /// Whether going from version `before` to `after` crosses a snapshot
    /// point.
    pub fn snapshot_due(&self, before: i64, after: i64) -> bool {
        self.snapshot_every > 0 && before / self.snapshot_every != after / self.snapshot_every
    }

    /// Writes `loaded` as the stream's snapshot at its version.
    pub async fn write_snapshot(
        &self,
        stream: &StreamId,
        loaded: &Loaded<A>,
    ) -> Result<StoredSnapshot, CommandError> {
        let snapshot = snapshot_of(stream, loaded)?;
        self.store.save_snapshot(&snapshot).await?;
        Ok(snapshot)
    }

    /// Writes the snapshot in the background: a command's latency never
    /// includes it, and a failure costs only a longer replay later.
    pub fn write_snapshot_later(&self, stream: &StreamId, loaded: Loaded<A>) {
        let store = self.store.clone();
        let stream = stream.clone();
        tokio::spawn(async move {
            let written = match snapshot_of(&stream, &loaded) {
                Ok(snapshot) => store
                    .save_snapshot(&snapshot)
                    .await
                    .map_err(CommandError::from),
                Err(err) => Err(err),
            };
            if let Err(err) = written {
                tracing::warn!(stream = %stream, version = loaded.version, error = %err, "snapshot not written");
            }
        });
    }
}

fn snapshot_of<A: Snapshot>(
    stream: &StreamId,
    loaded: &Loaded<A>,
) -> Result<StoredSnapshot, CommandError> {
    let state = serde_json::to_value(&loaded.state).map_err(|err| {
        CommandError::internal(format!("cannot serialize the state of {stream}: {err}"))
    })?;
    Ok(StoredSnapshot {
        stream_id: stream.to_string(),
        version: loaded.version,
        state,
        state_schema_version: A::STATE_VERSION,
        created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
    })
}
