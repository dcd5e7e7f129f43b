//! The `scim_users` table: provisioned users with their filterable columns.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// A user row; `resource` holds the canonical SCIM JSON without `id` and `meta`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_users")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub pk: i64,
    /// Owning shop.
    pub shop_id: ShopId,
    /// SCIM `id`.
    pub id: String,
    /// Position within the shop's users: list order, never reused.
    pub seq: i64,
    /// `userName` as sent.
    pub user_name: String,
    /// `userName` lowercased.
    pub user_name_ci: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active`.
    pub active: bool,
    /// Canonical SCIM JSON.
    #[sea_orm(column_type = "Text")]
    pub resource: String,
    /// Version, published as the `ETag`.
    pub version: i64,
    /// `meta.created`.
    pub created_at: DateTimeUtc,
    /// `meta.lastModified`.
    pub updated_at: DateTimeUtc,
}

/// Users belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
