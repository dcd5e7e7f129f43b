//! The `scim_groups` table: provisioned groups (members live in `scim_group_members`).

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// A group row; `resource` holds the canonical SCIM JSON without `id`, `meta`, `members`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_groups")]
pub struct Model {
    /// Internal key.
    #[sea_orm(primary_key)]
    pub pk: i64,
    /// Owning shop.
    pub shop_id: ShopId,
    /// SCIM `id`.
    pub id: String,
    /// Position within the shop's groups: list order, never reused.
    pub seq: i64,
    /// `displayName` as sent.
    pub display_name: String,
    /// `displayName` lowercased; unique per shop.
    pub display_name_ci: String,
    /// `externalId`.
    pub external_id: Option<String>,
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

/// Groups belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
