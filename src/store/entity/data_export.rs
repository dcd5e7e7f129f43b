//! The `data_exports` table: answers to `customers/data_request`, for the admin to download.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One export.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_exports")]
pub struct Model {
    /// Row key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning shop.
    pub shop_id: ShopId,
    /// Shopify's numeric customer id.
    pub customer_id: String,
    /// Shopify's data request id.
    pub data_request_id: Option<String>,
    /// The export as JSON text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// When it was made.
    pub created_at: DateTimeUtc,
}

/// Exports belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
