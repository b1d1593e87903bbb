//! Several nodes on one database: who runs each projection (the lease on
//! its checkpoint row: the node and an epoch that every apply transaction
//! checks, so a node that lost the projection cannot write for it), and
//! the live nodes, each with a heartbeat.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(ProjectionCheckpoints::Table)
                    .add_column(big_integer(ProjectionCheckpoints::LeaseEpoch).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProjectionCheckpoints::Table)
                    .add_column(string_null(ProjectionCheckpoints::LeaseNode))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Nodes::Table)
                    .if_not_exists()
                    .col(string(Nodes::Id).primary_key())
                    .col(string(Nodes::Role))
                    .col(string(Nodes::Version))
                    .col(string(Nodes::Address))
                    .col(timestamp_with_time_zone(Nodes::StartedAt))
                    .col(timestamp_with_time_zone(Nodes::LastSeenAt))
                    .col(json_binary(Nodes::Projections))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Nodes::Table).to_owned())
            .await?;
        for column in [
            ProjectionCheckpoints::LeaseNode,
            ProjectionCheckpoints::LeaseEpoch,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ProjectionCheckpoints::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProjectionCheckpoints {
    Table,
    LeaseEpoch,
    LeaseNode,
}

#[derive(DeriveIden)]
enum Nodes {
    Table,
    Id,
    Role,
    Version,
    Address,
    StartedAt,
    LastSeenAt,
    Projections,
}
