//! The `activity` table: the sync engine's record of what it did, for the admin page.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity")]
pub struct Model {
    /// Row key, in time order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning shop.
    pub shop_id: ShopId,
    /// `pushed`, `adopted`, `deprovisioned`, `deleted`, `erased`, `failed` or `warning`.
    pub kind: String,
    /// The SCIM user concerned.
    pub scim_user_id: Option<String>,
    /// The customer concerned.
    pub customer_gid: Option<String>,
    /// What happened.
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    /// When.
    pub created_at: DateTimeUtc,
}

/// Activity belongs to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
