//! Creates `scim_tokens`: the bearer tokens an identity provider uses for one shop.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, string, string_len, string_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
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
                    .table(ScimTokens::Table)
                    // The public token id, also embedded in the token text; not a secret.
                    .col(string_len(ScimTokens::Id, 32).primary_key())
                    .col(big_integer(ScimTokens::ShopId))
                    .col(string(ScimTokens::Label))
                    // Hex SHA-256 of the whole token; the token itself is never stored.
                    .col(string_len(ScimTokens::Digest, 64))
                    .col(timestamp_with_time_zone(ScimTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ScimTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ScimTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ScimTokens::RevokedAt))
                    // Who or what created it (`cli`, `admin`), for the audit trail.
                    .col(string_null(ScimTokens::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_tokens_shop")
                            .from(ScimTokens::Table, ScimTokens::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("ix_scim_tokens_shop_created")
                    .table(ScimTokens::Table)
                    .col(ScimTokens::ShopId)
                    .col(ScimTokens::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScimTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ScimTokens {
    Table,
    Id,
    ShopId,
    Label,
    Digest,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}
