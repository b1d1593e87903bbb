//! The read models of TransactionHistory, DailySummary and Users.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Transactions::Table)
                    .if_not_exists()
                    .col(uuid(Transactions::Id).primary_key())
                    .col(string_len(Transactions::AccountId, 255))
                    .col(string_len(Transactions::Kind, 16))
                    .col(big_integer(Transactions::Amount))
                    .col(big_integer(Transactions::BalanceAfter))
                    .col(string_len(Transactions::Currency, 3))
                    .col(text_null(Transactions::Description))
                    .col(string_len_null(Transactions::CounterpartyAccountId, 255))
                    .col(big_integer(Transactions::Position))
                    .col(timestamp_with_time_zone(Transactions::OccurredAt))
                    .to_owned(),
            )
            .await?;
        // An account's history newest first, a page after a position, and
        // the projection's "latest balance of each account" all walk it.
        manager
            .create_index(
                Index::create()
                    .name("ux_transactions_account_position")
                    .table(Transactions::Table)
                    .col(Transactions::AccountId)
                    .col(Transactions::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DailySummaries::Table)
                    .if_not_exists()
                    .col(string_len(DailySummaries::Date, 10))
                    .col(string_len(DailySummaries::Currency, 3))
                    .col(big_integer(DailySummaries::Deposits))
                    .col(big_integer(DailySummaries::Withdrawals))
                    .col(big_integer(DailySummaries::NetChange))
                    .col(integer(DailySummaries::TransactionCount))
                    .primary_key(
                        Index::create()
                            .col(DailySummaries::Date)
                            .col(DailySummaries::Currency),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(string_len(Users::UserId, 255).primary_key())
                    .col(string_len(Users::Email, 255))
                    .col(string_len(Users::Name, 255))
                    .col(boolean(Users::Deleted))
                    .col(big_integer(Users::Version))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DailySummaries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Transactions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Transactions {
    Table,
    Id,
    AccountId,
    Kind,
    Amount,
    BalanceAfter,
    Currency,
    Description,
    CounterpartyAccountId,
    Position,
    OccurredAt,
}

#[derive(DeriveIden)]
enum DailySummaries {
    Table,
    Date,
    Currency,
    Deposits,
    Withdrawals,
    NetChange,
    TransactionCount,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    UserId,
    Email,
    Name,
    Deleted,
    Version,
    CreatedAt,
    UpdatedAt,
}
