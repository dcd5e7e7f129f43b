//! The `scim_list_blocks` table: how many rows of one shop and resource type have a list
//! position in each block of `LIST_BLOCK_SIZE` positions, split over `LIST_BLOCK_STRIPES`
//! rows per block.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One block's count.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_list_blocks")]
pub struct Model {
    /// Owning shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: ShopId,
    /// `User` or `Group`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_type: String,
    /// `seq / LIST_BLOCK_SIZE`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub block: i64,
    /// `seq % LIST_BLOCK_STRIPES`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub stripe: i32,
    /// Rows whose position falls in this block and stripe.
    pub live: i64,
}

/// Blocks belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
