//! Creates `shops`: one row per Shopify store, the tenant every other table hangs off.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, string, string_null, text, text_null, timestamp_with_time_zone,
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
                    .table(Shops::Table)
                    .col(big_pk_auto(Shops::Id))
                    // The permanent `*.myshopify.com` domain, lowercase; custom domains change.
                    .col(string(Shops::Domain))
                    // not_installed | installed | uninstalled | needs_reauth
                    .col(string(Shops::InstallState).default("not_installed"))
                    // Shopify plan name; sets the shop's GraphQL restore rate.
                    .col(string_null(Shops::Plan))
                    // Scopes Shopify granted, comma-separated, as returned by the token grant.
                    .col(string_null(Shops::Scopes))
                    // AES-256-GCM (nonce || ciphertext), base64; never plaintext.
                    .col(text_null(Shops::AccessTokenCiphertext))
                    .col(timestamp_with_time_zone_null(Shops::AccessTokenExpiresAt))
                    .col(text_null(Shops::RefreshTokenCiphertext))
                    .col(timestamp_with_time_zone_null(Shops::RefreshTokenExpiresAt))
                    // JSON: attribute mapping, tags, deprovisioning policy.
                    .col(text(Shops::Settings).default("{}"))
                    .col(timestamp_with_time_zone_null(Shops::InstalledAt))
                    .col(timestamp_with_time_zone_null(Shops::UninstalledAt))
                    .col(timestamp_with_time_zone(Shops::CreatedAt))
                    .col(timestamp_with_time_zone(Shops::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("uq_shops_domain")
                    .table(Shops::Table)
                    .col(Shops::Domain)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Shops::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
    Domain,
    InstallState,
    Plan,
    Scopes,
    AccessTokenCiphertext,
    AccessTokenExpiresAt,
    RefreshTokenCiphertext,
    RefreshTokenExpiresAt,
    Settings,
    InstalledAt,
    UninstalledAt,
    CreatedAt,
    UpdatedAt,
}
