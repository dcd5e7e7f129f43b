//! The `shops` table: one row per Shopify store, the tenant root.

use sea_orm::entity::prelude::*;

use crate::types::{ShopDomain, ShopId};

/// A shop row. Token columns hold AES-256-GCM ciphertext, never plaintext.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shops")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: ShopId,
    /// Permanent `*.myshopify.com` domain.
    #[sea_orm(unique)]
    pub domain: ShopDomain,
    /// `not_installed`, `installed`, `uninstalled` or `needs_reauth`.
    pub install_state: String,
    /// Shopify plan name.
    pub plan: Option<String>,
    /// Granted access scopes, comma-separated.
    pub scopes: Option<String>,
    /// Encrypted offline access token.
    #[sea_orm(column_type = "Text", nullable)]
    pub access_token_ciphertext: Option<String>,
    /// When the access token expires.
    pub access_token_expires_at: Option<DateTimeUtc>,
    /// Encrypted refresh token.
    #[sea_orm(column_type = "Text", nullable)]
    pub refresh_token_ciphertext: Option<String>,
    /// When the refresh token expires.
    pub refresh_token_expires_at: Option<DateTimeUtc>,
    /// Per-shop settings as JSON text.
    #[sea_orm(column_type = "Text")]
    pub settings: String,
    /// Last installation.
    pub installed_at: Option<DateTimeUtc>,
    /// Last uninstallation.
    pub uninstalled_at: Option<DateTimeUtc>,
    /// Row creation.
    pub created_at: DateTimeUtc,
    /// Last change to the row.
    pub updated_at: DateTimeUtc,
}

/// `shops` has no outgoing relations; tenant tables point at it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
