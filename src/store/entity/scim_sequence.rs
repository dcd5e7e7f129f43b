//! The `scim_sequences` table: the last list position handed out per shop and resource type.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One counter.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_sequences")]
pub struct Model {
    /// Owning shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: ShopId,
    /// `User` or `Group`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_type: String,
    /// The position given to the newest row.
    pub last_seq: i64,
}

/// Counters belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
