//! The event log (`events`) and its stream index (`streams`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .if_not_exists()
                    .col(big_integer(Events::Position).primary_key())
                    .col(uuid_uniq(Events::EventId))
                    .col(string_len(Events::StreamId, 255))
                    .col(big_integer(Events::Version))
                    .col(string_len(Events::EventType, 255))
                    .col(integer(Events::SchemaVersion))
                    .col(json_binary(Events::Data))
                    .col(json_binary(Events::Metadata))
                    .col(timestamp_with_time_zone(Events::RecordedAt))
                    .to_owned(),
            )
            .await?;
        // The last line of defence for optimistic concurrency, and the index
        // that stream reads walk.
        manager
            .create_index(
                Index::create()
                    .name("ux_events_stream_version")
                    .table(Events::Table)
                    .col(Events::StreamId)
                    .col(Events::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Dropped again by m20261201_000008: nothing reads by time.
        manager
            .create_index(
                Index::create()
                    .name("ix_events_recorded_at")
                    .table(Events::Table)
                    .col(Events::RecordedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Streams::Table)
                    .if_not_exists()
                    .col(string_len(Streams::Id, 255).primary_key())
                    .col(string_len(Streams::Category, 255))
                    .col(big_integer(Streams::Version))
                    .col(timestamp_with_time_zone(Streams::CreatedAt))
                    .col(timestamp_with_time_zone(Streams::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_streams_category")
                    .table(Streams::Table)
                    .col(Streams::Category)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Streams::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Position,
    EventId,
    StreamId,
    Version,
    EventType,
    SchemaVersion,
    Data,
    Metadata,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Streams {
    Table,
    Id,
    Category,
    Version,
    CreatedAt,
    UpdatedAt,
}
