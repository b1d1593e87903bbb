//! The live nodes: each node writes its row (id, role, version, address,
//! the projections it runs) every [`HEARTBEAT`], and deletes it when it
//! stops cleanly; a node whose row is older than [`LIVE_FOR`] is taken for
//! dead (killed, or cut off from the database) and is not listed.
//!
//! On PostgreSQL both the beat and the age are the database's clock
//! (`now()`), so nodes whose clocks disagree still see each other; SQLite
//! has one node, and its clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::nodes as row;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};
use tokio_util::sync::CancellationToken;

use crate::config::NodeRole;
use crate::read_models::Projections;

pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Three missed heartbeats and a little.
pub const LIVE_FOR: Duration = Duration::from_secs(7);

/// A live node, as `nodes` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveNode {
    pub id: String,
    pub role: String,
    pub version: String,
    pub address: String,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub projections: Vec<String>,
}

/// This node's row, and the others'.
#[derive(Clone)]
pub struct Registry {
    db: DatabaseConnection,
    me: LiveNode,
}

impl Registry {
    pub fn new(db: DatabaseConnection, id: String, role: NodeRole, address: String) -> Self {
        let now = Utc::now();
        let me = LiveNode {
            id,
            role: role.as_str().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            address,
            started_at: now,
            last_seen_at: now,
            projections: Vec::new(),
        };
        Self { db, me }
    }

    /// Beats until `shutdown`, then deletes this node's row.
    pub fn start(self, projections: Projections, shutdown: CancellationToken) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let running = projections.running_here().iter().map(|n| n.to_string()).collect();
                        if let Err(err) = self.beat(running).await {
                            tracing::warn!(%err, "node heartbeat failed");
                        }
                    }
                    () = shutdown.cancelled() => break,
                }
            }
            if let Err(err) = row::Entity::delete_by_id(self.me.id.clone())
                .exec(&self.db)
                .await
            {
                tracing::debug!(%err, "could not remove this node's row");
            }
        });
    }

    async fn beat(&self, projections: Vec<String>) -> Result<(), DbErr> {
        use row::Column as C;
        let me = &self.me;
        let model = row::ActiveModel {
            id: Set(me.id.clone()),
            role: Set(me.role.clone()),
            version: Set(me.version.clone()),
            address: Set(me.address.clone()),
            started_at: Set(me.started_at),
            last_seen_at: Set(Utc::now()),
            projections: Set(serde_json::json!(projections)),
        };
        row::Entity::insert(model)
            .on_conflict(
                OnConflict::column(C::Id)
                    .update_columns([
                        C::Role,
                        C::Version,
                        C::Address,
                        C::StartedAt,
                        C::LastSeenAt,
                        C::Projections,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        if self.db.get_database_backend() == DbBackend::Postgres {
            // The upsert takes values, not expressions: the beat's time is
            // then set from the database's clock.
            row::Entity::update_many()
                .col_expr(C::LastSeenAt, Expr::cust("now()"))
                .filter(C::Id.eq(me.id.clone()))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// The nodes seen within [`LIVE_FOR`], by id.
    pub async fn live(db: &DatabaseConnection) -> Result<Vec<LiveNode>, DbErr> {
        let seen_within = if db.get_database_backend() == DbBackend::Postgres {
            Expr::col(row::Column::LastSeenAt).gt(Expr::cust(format!(
                "now() - interval '{} milliseconds'",
                LIVE_FOR.as_millis()
            )))
        } else {
            let since = Utc::now() - chrono::Duration::from_std(LIVE_FOR).unwrap_or_default();
            Expr::col(row::Column::LastSeenAt).gt(since)
        };
        let rows = row::Entity::find()
            .filter(seen_within)
            .order_by_asc(row::Column::Id)
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| LiveNode {
                projections: serde_json::from_value(m.projections).unwrap_or_default(),
                id: m.id,
                role: m.role,
                version: m.version,
                address: m.address,
                started_at: m.started_at,
                last_seen_at: m.last_seen_at,
            })
            .collect())
    }
}
