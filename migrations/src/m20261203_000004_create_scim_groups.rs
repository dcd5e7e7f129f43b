//! Creates `scim_groups` and `scim_group_members`: provisioned groups and their user members.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, string, string_len, string_null, text, timestamp_with_time_zone,
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
                    .table(ScimGroups::Table)
                    .col(big_pk_auto(ScimGroups::Pk))
                    .col(big_integer(ScimGroups::ShopId))
                    .col(string_len(ScimGroups::Id, 36))
                    .col(string(ScimGroups::DisplayName))
                    // Lowercased: Entra matches groups by a unique displayName.
                    .col(string(ScimGroups::DisplayNameCi))
                    .col(string_null(ScimGroups::ExternalId))
                    // Canonical SCIM JSON without `id`, `meta` and `members`.
                    .col(text(ScimGroups::Resource))
                    .col(big_integer(ScimGroups::Version).default(1))
                    .col(timestamp_with_time_zone(ScimGroups::CreatedAt))
                    .col(timestamp_with_time_zone(ScimGroups::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_groups_shop")
                            .from(ScimGroups::Table, ScimGroups::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in [
            (
                "uq_scim_groups_shop_id",
                &[ScimGroups::ShopId, ScimGroups::Id][..],
                true,
            ),
            (
                "uq_scim_groups_shop_display_name",
                &[ScimGroups::ShopId, ScimGroups::DisplayNameCi][..],
                true,
            ),
            (
                "ix_scim_groups_shop_external_id",
                &[ScimGroups::ShopId, ScimGroups::ExternalId][..],
                false,
            ),
            (
                "ix_scim_groups_shop_pk",
                &[ScimGroups::ShopId, ScimGroups::Pk][..],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(ScimGroups::Table);
            for column in columns {
                index.col(column.clone());
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ScimGroupMembers::Table)
                    .col(big_integer(ScimGroupMembers::ShopId))
                    .col(big_integer(ScimGroupMembers::GroupPk))
                    .col(big_integer(ScimGroupMembers::UserPk))
                    .col(timestamp_with_time_zone(ScimGroupMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_scim_group_members")
                            .col(ScimGroupMembers::GroupPk)
                            .col(ScimGroupMembers::UserPk),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_group_members_group")
                            .from(ScimGroupMembers::Table, ScimGroupMembers::GroupPk)
                            .to(ScimGroups::Table, ScimGroups::Pk)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_group_members_user")
                            .from(ScimGroupMembers::Table, ScimGroupMembers::UserPk)
                            .to(ScimUsers::Table, ScimUsers::Pk)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_group_members_shop_user")
                    .table(ScimGroupMembers::Table)
                    .col(ScimGroupMembers::ShopId)
                    .col(ScimGroupMembers::UserPk)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScimGroupMembers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ScimGroups::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum ScimGroups {
    Table,
    Pk,
    ShopId,
    Id,
    DisplayName,
    DisplayNameCi,
    ExternalId,
    Resource,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimGroupMembers {
    Table,
    ShopId,
    GroupPk,
    UserPk,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScimUsers {
    Table,
    Pk,
}

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}
