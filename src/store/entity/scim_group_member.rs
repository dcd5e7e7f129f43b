//! The `scim_group_members` table: which users belong to which group.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One membership.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_group_members")]
pub struct Model {
    /// Owning shop.
    pub shop_id: ShopId,
    /// The group's internal key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_pk: i64,
    /// The user's internal key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_pk: i64,
    /// When the membership began.
    pub created_at: DateTimeUtc,
}

/// Memberships point at a group and a user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
