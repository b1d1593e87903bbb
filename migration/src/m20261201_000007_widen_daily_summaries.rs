//! DailySummary sums as exact decimal text instead of 64-bit integers.
//!
//! A day's deposits in one currency are a sum over every account, so no
//! bound on one amount keeps them within 64 bits: a client depositing the
//! largest amount often enough would overflow the column and wedge the
//! projection. The sums are now 128-bit integers of minor units, stored as
//! their decimal text (portable between SQLite and PostgreSQL, exact in
//! both), and the day's count a 64-bit integer.
//!
//! The table is a read model, so it is recreated empty and the
//! projection's checkpoint is removed: DailySummary rebuilds from the log
//! at the next start, as after `rebuildProjection`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DailySummaries::Table).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DailySummaries::Table)
                    .col(string_len(DailySummaries::Date, 10))
                    .col(string_len(DailySummaries::Currency, 3))
                    .col(string_len(DailySummaries::Deposits, 40))
                    .col(string_len(DailySummaries::Withdrawals, 40))
                    .col(string_len(DailySummaries::NetChange, 41))
                    .col(big_integer(DailySummaries::TransactionCount))
                    .primary_key(
                        Index::create()
                            .col(DailySummaries::Date)
                            .col(DailySummaries::Currency),
                    )
                    .to_owned(),
            )
            .await?;
        let reset = Query::delete()
            .from_table(ProjectionCheckpoints::Table)
            .and_where(Expr::col(ProjectionCheckpoints::Name).eq("DailySummary"))
            .to_owned();
        manager.exec_stmt(reset).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The narrow table cannot hold every sum the wide one may; going
        // back means rebuilding from the log with the older server.
        Err(DbErr::Migration(
            "widen_daily_summaries cannot be undone; rebuild DailySummary instead".to_owned(),
        ))
    }
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
enum ProjectionCheckpoints {
    Table,
    Name,
}
