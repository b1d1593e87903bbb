//! Chronicle's schema migrations, one dated file each, listed in order by
//! [`Migrator`]. They run at start-up (`chronicle serve`) or on demand
//! (`chronicle migrate`); the same files serve SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_event_store;
mod m20261122_000002_create_commands;
mod m20261122_000003_create_projections;
mod m20261122_000004_create_read_models;
mod m20261122_000005_create_snapshots;
mod m20261201_000006_add_projection_skips;
mod m20261201_000007_widen_daily_summaries;
mod m20261201_000008_drop_events_recorded_at_index;
mod m20261202_000009_add_nodes_and_leases;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_event_store::Migration),
            Box::new(m20261122_000002_create_commands::Migration),
            Box::new(m20261122_000003_create_projections::Migration),
            Box::new(m20261122_000004_create_read_models::Migration),
            Box::new(m20261122_000005_create_snapshots::Migration),
            Box::new(m20261201_000006_add_projection_skips::Migration),
            Box::new(m20261201_000007_widen_daily_summaries::Migration),
            Box::new(m20261201_000008_drop_events_recorded_at_index::Migration),
            Box::new(m20261202_000009_add_nodes_and_leases::Migration),
        ]
    }
}
