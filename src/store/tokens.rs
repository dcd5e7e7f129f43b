//! SCIM bearer tokens at rest, and authentication of a presented token against the shop
//! named in the request URL. The only producer of [`TenantScope`].

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    Set,
};
use secrecy::SecretString;

use crate::scim::token::{NewToken, PresentedToken, TokenId};
use crate::store::entity::{scim_token, shop};
use crate::store::shops::install_state;
use crate::store::{Database, Error, Result};
use crate::types::{ShopDomain, ShopId};

/// `last_used_at` is refreshed at most this often, so authentication rarely writes.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);

/// Proof that a request authenticated with a live token of this shop.
///
/// Only [`authenticate`] creates one; every tenant query takes it (or its shop id).
#[derive(Debug, Clone)]
pub struct TenantScope {
    shop_id: ShopId,
    domain: ShopDomain,
    token_id: Option<TokenId>,
}

impl TenantScope {
    /// The shop every query of this request is limited to.
    pub fn shop_id(&self) -> ShopId {
        self.shop_id
    }

    /// The shop's domain.
    pub fn domain(&self) -> &ShopDomain {
        &self.domain
    }

    /// The SCIM token that authenticated the request; `None` for work Shopify asked for.
    pub fn token_id(&self) -> Option<&TokenId> {
        self.token_id.as_ref()
    }

    /// The scope of work done on Shopify's word rather than an identity provider's: a
    /// verified compliance webhook names the shop (`customers/redact`,
    /// `customers/data_request`).
    pub fn for_verified_shop(shop: &shop::Model) -> Self {
        Self {
            shop_id: shop.id,
            domain: shop.domain.clone(),
            token_id: None,
        }
    }
}

/// A token as listed to operators and admins: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last use, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<scim_token::Model> for TokenInfo {
    fn from(row: scim_token::Model) -> Self {
        Self {
            id: row.id,
            label: row.label,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Creates a token for `shop_id`; returns its listing and the plaintext, shown once.
pub async fn create(
    db: &Database,
    shop_id: ShopId,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
    created_by: &str,
) -> Result<(TokenInfo, SecretString)> {
    let token = NewToken::generate().map_err(|error| Error::Other(error.to_string()))?;
    let row = scim_token::ActiveModel {
        id: Set(token.id.as_str().to_owned()),
        shop_id: Set(shop_id),
        label: Set(label.to_owned()),
        digest: Set(token.digest.to_hex()),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_by: Set(Some(created_by.to_owned())),
    }
    .insert(db.conn())
    .await?;

    tracing::info!(scim.token_id = %token.id, "SCIM token created");
    Ok((row.into(), token.plaintext))
}

/// Lists a shop's tokens, newest first.
pub async fn list(db: &Database, shop_id: ShopId) -> Result<Vec<TokenInfo>> {
    let rows = scim_token::Entity::find()
        .filter(scim_token::Column::ShopId.eq(shop_id))
        .order_by_desc(scim_token::Column::CreatedAt)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(TokenInfo::from).collect())
}

/// Revokes a token of `shop_id`; `false` when the shop has no such live token.
pub async fn revoke(db: &Database, shop_id: ShopId, id: &TokenId) -> Result<bool> {
    let result = scim_token::Entity::update_many()
        .col_expr(scim_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(scim_token::Column::ShopId.eq(shop_id))
        .filter(scim_token::Column::Id.eq(id.as_str()))
        .filter(scim_token::Column::RevokedAt.is_null())
        .exec(db.conn())
        .await?;
    if result.rows_affected > 0 {
        tracing::info!(scim.token_id = %id, "SCIM token revoked");
    }
    Ok(result.rows_affected > 0)
}

/// Revokes every live token of `shop_id` (on uninstall); returns how many.
pub async fn revoke_all<C: sea_orm::ConnectionTrait>(conn: &C, shop_id: ShopId) -> Result<u64> {
    let result = scim_token::Entity::update_many()
        .col_expr(scim_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(scim_token::Column::ShopId.eq(shop_id))
        .filter(scim_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// The shop a token id belongs to, for the operator's `token revoke ID`.
pub async fn shop_of_token(db: &Database, id: &TokenId) -> Result<Option<shop::Model>> {
    let Some(token) = scim_token::Entity::find_by_id(id.as_str().to_owned())
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };
    Ok(shop::Entity::find_by_id(token.shop_id)
        .one(db.conn())
        .await?)
}

/// Checks a presented token against the shop named in the URL.
///
/// `None` covers every failure alike (unknown shop, uninstalled shop, unknown, revoked,
/// expired or mismatched token, a token of another shop), so callers answer all of them with
/// the same 401.
pub async fn authenticate(
    db: &Database,
    domain: &ShopDomain,
    presented: &PresentedToken,
) -> Result<Option<TenantScope>> {
    let Some(shop) = crate::store::shops::find_by_domain(db, domain).await? else {
        return Ok(None);
    };
    if shop.install_state == install_state::UNINSTALLED {
        return Ok(None);
    }
    let Some(token) = scim_token::Entity::find()
        .filter(scim_token::Column::ShopId.eq(shop.id))
        .filter(scim_token::Column::Id.eq(presented.id.as_str()))
        .one(db.conn())
        .await?
    else {
        return Ok(None);
    };

    let now = Utc::now();
    let live = token.revoked_at.is_none() && token.expires_at.is_none_or(|at| at > now);
    if !live || !presented.digest.matches_hex(&token.digest) {
        return Ok(None);
    }

    if token
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
    {
        scim_token::Entity::update_many()
            .col_expr(scim_token::Column::LastUsedAt, Expr::value(now))
            .filter(scim_token::Column::ShopId.eq(shop.id))
            .filter(scim_token::Column::Id.eq(token.id.as_str()))
            .exec(db.conn())
            .await?;
    }
    Ok(Some(TenantScope {
        shop_id: shop.id,
        domain: shop.domain,
        token_id: Some(presented.id.clone()),
    }))
}
