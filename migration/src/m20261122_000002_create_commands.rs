//! The command log (`commands`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Commands::Table)
                    .if_not_exists()
                    .col(string_len(Commands::Id, 255).primary_key())
                    .col(string_len(Commands::CommandType, 64))
                    .col(json_binary(Commands::Input))
                    .col(string_len(Commands::Status, 16))
                    .col(string_len_null(Commands::ErrorCode, 64))
                    .col(text_null(Commands::ErrorMessage))
                    .col(string_len_null(Commands::StreamId, 255))
                    .col(big_integer_null(Commands::Version))
                    .col(big_integer_null(Commands::FirstPosition))
                    .col(big_integer_null(Commands::Position))
                    .col(timestamp_with_time_zone(Commands::CreatedAt))
                    .col(timestamp_with_time_zone_null(Commands::CompletedAt))
                    .to_owned(),
            )
            .await?;
        // `commands(status, after)` pages newest first by (created_at, id).
        manager
            .create_index(
                Index::create()
                    .name("ix_commands_created")
                    .table(Commands::Table)
                    .col(Commands::CreatedAt)
                    .col(Commands::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_commands_status_created")
                    .table(Commands::Table)
                    .col(Commands::Status)
                    .col(Commands::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Commands::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Commands {
    Table,
    Id,
    CommandType,
    Input,
    Status,
    ErrorCode,
    ErrorMessage,
    StreamId,
    Version,
    FirstPosition,
    Position,
    CreatedAt,
    CompletedAt,
}
