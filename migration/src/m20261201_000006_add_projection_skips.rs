//! Events an operator skipped in a projection (one that could not be
//! applied), kept on the projection's checkpoint row as a JSON array of
//! `{ position, error, at }`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ProjectionCheckpoints::Table)
                    .add_column(json_binary_null(ProjectionCheckpoints::SkippedEvents))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ProjectionCheckpoints::Table)
                    .drop_column(ProjectionCheckpoints::SkippedEvents)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ProjectionCheckpoints {
    Table,
    SkippedEvents,
}
