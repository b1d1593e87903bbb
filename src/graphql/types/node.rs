//! `Node`: a live Chronicle node on this database.

use async_graphql::{Enum, SimpleObject};

use crate::cluster::LiveNode;
use crate::graphql::scalars::DateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum NodeRole {
    All,
    Api,
    Projector,
}

/// A live Chronicle node on this database.
#[derive(Clone, Debug, SimpleObject)]
pub struct Node {
    pub id: String,
    pub role: NodeRole,
    pub version: String,
    /// The address it listens on.
    pub address: String,
    pub started_at: DateTime,
    pub last_seen_at: DateTime,
    /// Names of the projections this node runs now.
    pub projections: Vec<String>,
}

impl From<LiveNode> for Node {
    fn from(n: LiveNode) -> Self {
        let role = match n.role.as_str() {
            "API" => NodeRole::Api,
            "PROJECTOR" => NodeRole::Projector,
            _ => NodeRole::All,
        };
        Self {
            id: n.id,
            role,
            version: n.version,
            address: n.address,
            started_at: n.started_at.into(),
            last_seen_at: n.last_seen_at.into(),
            projections: n.projections,
        }
    }
}
