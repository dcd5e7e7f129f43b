//! Creates `sync_jobs`: the transactional outbox of changes Shopify should receive.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, integer, string_len, string_null, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait's signature elides SchemaManager's lifetime; naming it breaks the impl"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncJobs::Table)
                    .col(big_pk_auto(SyncJobs::Id))
                    .col(big_integer(SyncJobs::ShopId))
                    // `user` or `group`: what the subject id names.
                    .col(string_len(SyncJobs::Kind, 16))
                    // SCIM id of the subject; the job carries no payload, the worker reads
                    // the subject's current state (or its absence, after a delete).
                    .col(string_len(SyncJobs::SubjectId, 36))
                    // pending | running | failed | done
                    .col(string_len(SyncJobs::Status, 16).default("pending"))
                    .col(integer(SyncJobs::Attempts).default(0))
                    .col(timestamp_with_time_zone(SyncJobs::RunAfter))
                    .col(string_null(SyncJobs::LockedBy))
                    .col(timestamp_with_time_zone_null(SyncJobs::LockedUntil))
                    .col(text_null(SyncJobs::LastError))
                    .col(timestamp_with_time_zone(SyncJobs::CreatedAt))
                    .col(timestamp_with_time_zone(SyncJobs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sync_jobs_shop")
                            .from(SyncJobs::Table, SyncJobs::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_jobs_shop_status_run_after")
                    .table(SyncJobs::Table)
                    .col(SyncJobs::ShopId)
                    .col(SyncJobs::Status)
                    .col(SyncJobs::RunAfter)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_jobs_shop_subject")
                    .table(SyncJobs::Table)
                    .col(SyncJobs::ShopId)
                    .col(SyncJobs::Kind)
                    .col(SyncJobs::SubjectId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SyncJobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SyncJobs {
    Table,
    Id,
    ShopId,
    Kind,
    SubjectId,
    Status,
    Attempts,
    RunAfter,
    LockedBy,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}
