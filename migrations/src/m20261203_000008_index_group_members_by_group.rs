//! Indexes `scim_group_members` by (shop, group): loading or deleting a group's members
//! otherwise walks every membership of the shop, since the primary key does not lead with
//! the shop and the existing index is by user.

use sea_orm_migration::async_trait::async_trait;
use sea_orm_migration::prelude::*;

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
            .create_index(
                Index::create()
                    .name("ix_scim_group_members_shop_group")
                    .table(ScimGroupMembers::Table)
                    .col(ScimGroupMembers::ShopId)
                    .col(ScimGroupMembers::GroupPk)
                    .col(ScimGroupMembers::UserPk)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_scim_group_members_shop_group")
                    .table(ScimGroupMembers::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ScimGroupMembers {
    Table,
    ShopId,
    GroupPk,
    UserPk,
}
