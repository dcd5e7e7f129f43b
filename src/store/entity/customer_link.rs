//! The `customer_links` table: which Shopify customer a SCIM user became.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One SCIM user's customer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_links")]
pub struct Model {
    /// Owning shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: ShopId,
    /// SCIM id of the user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scim_user_id: String,
    /// The customer's GID.
    pub customer_gid: Option<String>,
    /// Fingerprint of the fields last written.
    pub fingerprint: Option<String>,
    /// JSON list of the tags the app owns on the customer.
    #[sea_orm(column_type = "Text")]
    pub tags_owned: String,
    /// `active`, `inactive`, `deleted` or `erased`.
    pub state: String,
    /// First link.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// Links belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
