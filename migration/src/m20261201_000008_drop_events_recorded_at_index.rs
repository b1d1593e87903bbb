//! Drops `ix_events_recorded_at`: time travel (`accountAt(asOf)`) walks an
//! account's stream backward by version, through the `(stream_id,
//! version)` index, and never read this one, while every append paid to
//! maintain it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_events_recorded_at")
                    .table(Events::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_events_recorded_at")
                    .table(Events::Table)
                    .col(Events::RecordedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    RecordedAt,
}
