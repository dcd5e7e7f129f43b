//! Queries on `shops`, the tenant root.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    Set,
};

use crate::store::entity::shop;
use crate::store::{Database, Result};
use crate::types::{ShopDomain, ShopId};

/// Install states as stored in `shops.install_state`.
pub mod install_state {
    /// Created for SCIM before the Shopify side is wired (CLI `token create`).
    pub const NOT_INSTALLED: &str = "not_installed";
    /// Installed and holding valid Shopify tokens.
    pub const INSTALLED: &str = "installed";
    /// The merchant removed the app; SCIM tokens stop working.
    pub const UNINSTALLED: &str = "uninstalled";
    /// Shopify rejected the stored tokens and a refresh did not help: the merchant must
    /// open the app again so it can be re-authorised.
    pub const NEEDS_REAUTH: &str = "needs_reauth";
}

/// A Shopify token pair as stored: ciphertexts (never plaintext) and expiries.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTokens {
    /// Encrypted offline access token.
    pub access_ciphertext: String,
    /// When the access token expires; `None` for a non-expiring token.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Encrypted refresh token, for expiring tokens.
    pub refresh_ciphertext: Option<String>,
    /// When the refresh token expires.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Granted scopes, comma-separated.
    pub scopes: Option<String>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish_non_exhaustive()
    }
}

/// Stores a new token pair in one statement, so the access and refresh tokens always belong
/// together, and marks the shop installed. `installed_at` is set when `new_install`.
pub async fn save_tokens<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    tokens: &StoredTokens,
    new_install: bool,
) -> Result<()> {
    let now = Utc::now();
    let mut update = shop::Entity::update_many()
        .col_expr(
            shop::Column::InstallState,
            Expr::value(install_state::INSTALLED),
        )
        .col_expr(
            shop::Column::AccessTokenCiphertext,
            Expr::value(tokens.access_ciphertext.clone()),
        )
        .col_expr(
            shop::Column::AccessTokenExpiresAt,
            Expr::value(tokens.access_expires_at),
        )
        .col_expr(
            shop::Column::RefreshTokenCiphertext,
            Expr::value(tokens.refresh_ciphertext.clone()),
        )
        .col_expr(
            shop::Column::RefreshTokenExpiresAt,
            Expr::value(tokens.refresh_expires_at),
        )
        .col_expr(shop::Column::UpdatedAt, Expr::value(now));
    if let Some(scopes) = &tokens.scopes {
        update = update.col_expr(shop::Column::Scopes, Expr::value(scopes.clone()));
    }
    if new_install {
        update = update.col_expr(shop::Column::InstalledAt, Expr::value(now));
    }
    update
        .filter(shop::Column::Id.eq(shop_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets the shop's Shopify tokens and puts it in `state` (uninstalled or needing
/// re-authorisation).
pub async fn drop_tokens<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    state: &'static str,
) -> Result<()> {
    let now = Utc::now();
    let mut update = shop::Entity::update_many()
        .col_expr(shop::Column::InstallState, Expr::value(state))
        .col_expr(
            shop::Column::AccessTokenCiphertext,
            Expr::value(None::<String>),
        )
        .col_expr(
            shop::Column::AccessTokenExpiresAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(
            shop::Column::RefreshTokenCiphertext,
            Expr::value(None::<String>),
        )
        .col_expr(
            shop::Column::RefreshTokenExpiresAt,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(shop::Column::UpdatedAt, Expr::value(now));
    if state == install_state::UNINSTALLED {
        update = update.col_expr(shop::Column::UninstalledAt, Expr::value(now));
    }
    update
        .filter(shop::Column::Id.eq(shop_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records the scopes the merchant granted now.
pub async fn set_scopes(db: &Database, shop_id: ShopId, scopes: &str) -> Result<()> {
    shop::Entity::update_many()
        .col_expr(shop::Column::Scopes, Expr::value(scopes))
        .col_expr(shop::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(shop::Column::Id.eq(shop_id))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// Replaces the shop's settings JSON (validated by the caller).
pub async fn set_settings(db: &Database, shop_id: ShopId, settings: &str) -> Result<()> {
    shop::Entity::update_many()
        .col_expr(shop::Column::Settings, Expr::value(settings))
        .col_expr(shop::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(shop::Column::Id.eq(shop_id))
        .exec(db.conn())
        .await?;
    Ok(())
}

/// Deletes the shop and, through the foreign keys, every row of every tenant table.
pub async fn delete<C: ConnectionTrait>(conn: &C, shop_id: ShopId) -> Result<()> {
    shop::Entity::delete_many()
        .filter(shop::Column::Id.eq(shop_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Finds a shop by its domain.
pub async fn find_by_domain(db: &Database, domain: &ShopDomain) -> Result<Option<shop::Model>> {
    Ok(shop::Entity::find()
        .filter(shop::Column::Domain.eq(domain.clone()))
        .one(db.conn())
        .await?)
}

/// Finds a shop by domain, creating it in the "not installed" state when it does not exist.
pub async fn find_or_create(db: &Database, domain: &ShopDomain) -> Result<shop::Model> {
    if let Some(shop) = find_by_domain(db, domain).await? {
        return Ok(shop);
    }

    let now = Utc::now();
    let created = shop::ActiveModel {
        domain: Set(domain.clone()),
        install_state: Set(install_state::NOT_INSTALLED.to_owned()),
        settings: Set("{}".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db.conn())
    .await;
    match created {
        Ok(shop) => {
            tracing::info!(shop.domain = %domain, "shop created (not installed)");
            Ok(shop)
        }
        // Another caller created it first: read theirs.
        Err(error) => find_by_domain(db, domain).await?.ok_or(error.into()),
    }
}

/// The shop's id, for scoping tenant queries.
pub fn id_of(shop: &shop::Model) -> ShopId {
    shop.id
}
