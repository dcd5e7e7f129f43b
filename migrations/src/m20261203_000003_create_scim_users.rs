//! Creates `scim_users`: provisioned users, one row each, with the columns filters use.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, boolean, string, string_len, string_null, text,
    timestamp_with_time_zone,
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
                    .table(ScimUsers::Table)
                    // Internal key; also the stable default order of list responses.
                    .col(big_pk_auto(ScimUsers::Pk))
                    .col(big_integer(ScimUsers::ShopId))
                    // The SCIM `id` (a UUID), public and case-exact.
                    .col(string_len(ScimUsers::Id, 36))
                    .col(string(ScimUsers::UserName))
                    // `userName` lowercased: SCIM compares it case-insensitively.
                    .col(string(ScimUsers::UserNameCi))
                    .col(string_null(ScimUsers::ExternalId))
                    // Primary (else first) email, lowercased, for `emails` filters.
                    .col(string_null(ScimUsers::PrimaryEmailCi))
                    .col(string_null(ScimUsers::DisplayName))
                    .col(boolean(ScimUsers::Active).default(true))
                    // Canonical SCIM JSON without `id` and `meta`.
                    .col(text(ScimUsers::Resource))
                    // Bumped on every change; the ETag and `meta.version`.
                    .col(big_integer(ScimUsers::Version).default(1))
                    .col(timestamp_with_time_zone(ScimUsers::CreatedAt))
                    .col(timestamp_with_time_zone(ScimUsers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_users_shop")
                            .from(ScimUsers::Table, ScimUsers::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        for (name, columns, unique) in [
            (
                "uq_scim_users_shop_id",
                &[ScimUsers::ShopId, ScimUsers::Id][..],
                true,
            ),
            (
                "uq_scim_users_shop_user_name",
                &[ScimUsers::ShopId, ScimUsers::UserNameCi][..],
                true,
            ),
            (
                "ix_scim_users_shop_external_id",
                &[ScimUsers::ShopId, ScimUsers::ExternalId][..],
                false,
            ),
            (
                "ix_scim_users_shop_email",
                &[ScimUsers::ShopId, ScimUsers::PrimaryEmailCi][..],
                false,
            ),
            (
                "ix_scim_users_shop_display_name",
                &[ScimUsers::ShopId, ScimUsers::DisplayName][..],
                false,
            ),
            (
                "ix_scim_users_shop_pk",
                &[ScimUsers::ShopId, ScimUsers::Pk][..],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(ScimUsers::Table);
            for column in columns {
                index.col(column.clone());
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScimUsers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum ScimUsers {
    Table,
    Pk,
    ShopId,
    Id,
    UserName,
    UserNameCi,
    ExternalId,
    PrimaryEmailCi,
    DisplayName,
    Active,
    Resource,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}
