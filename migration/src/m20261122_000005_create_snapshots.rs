//! Aggregate snapshots.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Snapshots::Table)
                    .if_not_exists()
                    .col(string_len(Snapshots::StreamId, 255))
                    .col(big_integer(Snapshots::Version))
                    .col(json_binary(Snapshots::State))
                    .col(integer(Snapshots::StateSchemaVersion))
                    .col(timestamp_with_time_zone(Snapshots::CreatedAt))
                    // Loading asks for the latest at or below a version.
                    .primary_key(
                        Index::create()
                            .col(Snapshots::StreamId)
                            .col(Snapshots::Version),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Snapshots::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Snapshots {
    Table,
    StreamId,
    Version,
    State,
    StateSchemaVersion,
    CreatedAt,
}
