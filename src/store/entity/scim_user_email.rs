//! The `scim_user_emails` table: every address of every user, lowercased, for filters.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One address of one user.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_user_emails")]
pub struct Model {
    /// Owning shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: ShopId,
    /// The user's internal key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_pk: i64,
    /// `emails[].value`, lowercased.
    #[sea_orm(primary_key, auto_increment = false)]
    pub value_ci: String,
}

/// Addresses belong to a user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
