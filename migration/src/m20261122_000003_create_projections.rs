//! Projection checkpoints and the AccountBalances read model.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProjectionCheckpoints::Table)
                    .if_not_exists()
                    .col(string_len(ProjectionCheckpoints::Name, 64).primary_key())
                    .col(big_integer(ProjectionCheckpoints::Position))
                    .col(string_len(ProjectionCheckpoints::Status, 16))
                    .col(big_integer(ProjectionCheckpoints::EventsProcessed))
                    .col(text_null(ProjectionCheckpoints::LastError))
                    .col(big_integer_null(ProjectionCheckpoints::FailedPosition))
                    .col(timestamp_with_time_zone(ProjectionCheckpoints::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountSummaries::Table)
                    .if_not_exists()
                    .col(string_len(AccountSummaries::AccountId, 255).primary_key())
                    .col(string_len(AccountSummaries::Owner, 255))
                    .col(string_len(AccountSummaries::Currency, 3))
                    .col(big_integer(AccountSummaries::Balance))
                    .col(string_len(AccountSummaries::Status, 8))
                    .col(big_integer(AccountSummaries::Version))
                    .col(integer(AccountSummaries::TransactionCount))
                    .col(timestamp_with_time_zone(AccountSummaries::OpenedAt))
                    .col(timestamp_with_time_zone(AccountSummaries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // `accounts(filter: { owner })` looks accounts up by owner.
        manager
            .create_index(
                Index::create()
                    .name("ix_account_summaries_owner")
                    .table(AccountSummaries::Table)
                    .col(AccountSummaries::Owner)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountSummaries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ProjectionCheckpoints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProjectionCheckpoints {
    Table,
    Name,
    Position,
    Status,
    EventsProcessed,
    LastError,
    FailedPosition,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AccountSummaries {
    Table,
    AccountId,
    Owner,
    Currency,
    Balance,
    Status,
    Version,
    TransactionCount,
    OpenedAt,
    UpdatedAt,
}
