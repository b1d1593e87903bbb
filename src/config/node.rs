//! What this node is in a fleet that shares one database: its id and its
//! role.

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

/// What a node runs, as seed 001 splits its services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum NodeRole {
    /// Commands, queries, subscriptions, and the projections it wins.
    #[default]
    All,
    /// Commands, queries and subscriptions; never runs a projection.
    Api,
    /// Runs projections; serves only health, readiness and metrics.
    Projector,
}

impl NodeRole {
    /// As stored and as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Api => "API",
            Self::Projector => "PROJECTOR",
        }
    }

    pub fn runs_projections(self) -> bool {
        self != Self::Api
    }

    pub fn serves_graphql(self) -> bool {
        self != Self::Projector
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct NodeConfig {
    /// What this node runs.
    #[arg(long, env = "CHRONICLE_ROLE", value_enum, default_value_t = NodeRole::All)]
    pub role: NodeRole,

    /// This node's name among the nodes on one database (default: the
    /// host name and the port it listens on, e.g. `web-1:8080`).
    #[arg(long, env = "CHRONICLE_NODE_ID")]
    pub node_id: Option<String>,
}

impl NodeConfig {
    /// The id, given or made from the host name and the listening port.
    pub fn id(&self, listening: Option<SocketAddr>) -> String {
        if let Some(id) = self
            .node_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            return id.to_owned();
        }
        let host = host_name();
        match listening {
            Some(addr) => format!("{host}:{}", addr.port()),
            // In-process servers (tests, embedding) have no port yet.
            None => format!("{host}:{}", uuid::Uuid::now_v7().simple()),
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "chronicle".to_owned())
}
