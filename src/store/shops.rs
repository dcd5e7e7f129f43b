//! Queries on `shops`, the tenant root.

use chrono::Utc;
use sea_orm::{ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, Set};

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
