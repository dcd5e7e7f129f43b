//! The `scim_tokens` table: bearer tokens of one shop, stored as digests.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// A token row. `digest` is the hex SHA-256 of the whole token text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_tokens")]
pub struct Model {
    /// Public token id (also inside the token text).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owning shop.
    pub shop_id: ShopId,
    /// Label chosen by the admin.
    pub label: String,
    /// Hex SHA-256 of the token.
    pub digest: String,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Optional expiry.
    pub expires_at: Option<DateTimeUtc>,
    /// Last successful authentication (updated at most once a minute).
    pub last_used_at: Option<DateTimeUtc>,
    /// Revocation time.
    pub revoked_at: Option<DateTimeUtc>,
    /// Who created it (`cli`, `admin`).
    pub created_by: Option<String>,
}

/// Tokens belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
