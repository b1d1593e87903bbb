//! `projections` and `projection(name)`.

use async_graphql::{Context, Object};

use crate::cluster::Registry;
use crate::graphql::ApiError;
use crate::graphql::types::{Node, Projection};
use crate::read_models::Projections;
use crate::store::EventStore;

#[derive(Default)]
pub struct ProjectionsQuery;

#[Object]
impl ProjectionsQuery {
    async fn projections(&self, ctx: &Context<'_>) -> Result<Vec<Projection>, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        let head = projections.stored_head().await?;
        let live = live_ids(ctx).await?;
        projections
            .names()
            .iter()
            .map(|name| Ok(Projection::new(projections.status(name)?, head).among(&live)))
            .collect()
    }

    /// One projection by name; null when there is none.
    async fn projection(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<Option<Projection>, ApiError> {
        let projections = ctx.data_unchecked::<Projections>();
        match projections.status(&name) {
            Ok(status) => {
                let head = projections.stored_head().await?;
                let live = live_ids(ctx).await?;
                Ok(Some(Projection::new(status, head).among(&live)))
            }
            Err(_) => Ok(None),
        }
    }

    /// The live nodes on this database: each node's heartbeat keeps its
    /// entry, a clean stop removes it, and one silent for a few seconds is
    /// left out.
    async fn nodes(&self, ctx: &Context<'_>) -> Result<Vec<Node>, ApiError> {
        let db = ctx.data_unchecked::<EventStore>().db();
        let projections = ctx.data_unchecked::<Projections>();
        let mut live = Registry::live(db).await?;
        // Who runs what, from the checkpoint rows (which every change is
        // announced for), fresher than the heartbeats.
        for node in &mut live {
            node.projections = projections
                .names()
                .iter()
                .filter(|name| {
                    projections
                        .status(name)
                        .is_ok_and(|s| s.node.as_deref() == Some(node.id.as_str()))
                })
                .map(|name| name.to_string())
                .collect();
        }
        Ok(live.into_iter().map(Node::from).collect())
    }
}

async fn live_ids(ctx: &Context<'_>) -> Result<Vec<String>, ApiError> {
    let db = ctx.data_unchecked::<EventStore>().db();
    Ok(Registry::live(db)
        .await?
        .into_iter()
        .map(|n| n.id)
        .collect())
}
