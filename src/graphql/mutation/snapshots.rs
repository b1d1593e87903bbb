//! Snapshots on demand: take one now, or drop them (they are a cache; the
//! next loads replay the events and new snapshots follow).

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

use crate::commands::Commands;
use crate::graphql::ApiError;
use crate::graphql::scalars::Long;
use crate::graphql::types::Snapshot;
use crate::store::EventStore;

#[derive(Default)]
pub struct SnapshotMutation;

#[Object]
impl SnapshotMutation {
    /// Writes a snapshot of an aggregate stream at its current version.
    /// NOT_FOUND when the stream has no events; BAD_USER_INPUT for a stream
    /// that is not an aggregate's.
    async fn create_snapshot(
        &self,
        ctx: &Context<'_>,
        stream_id: ID,
    ) -> Result<Snapshot, ApiError> {
        let commands = ctx.data_unchecked::<Arc<Commands>>();
        match commands.create_snapshot(&stream_id).await? {
            Some(snapshot) => Ok(snapshot.into()),
            None => Err(ApiError::not_found(format!(
                "stream {} has no events",
                stream_id.0
            ))),
        }
    }

    /// Drops the snapshots of one stream, or of every stream when none is
    /// given; returns how many were dropped.
    async fn drop_snapshots(
        &self,
        ctx: &Context<'_>,
        stream_id: Option<ID>,
    ) -> Result<Long, ApiError> {
        let store = ctx.data_unchecked::<EventStore>();
        Ok(Long(
            store
                .drop_snapshots(stream_id.as_deref().map(String::as_str))
                .await?,
        ))
    }
}
