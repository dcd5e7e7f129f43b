//! Webhooks from Shopify (`shopify.md` §4).
//!
//! Verified over the raw body, stored in the inbox under their `X-Shopify-Webhook-Id` and
//! acknowledged at once; processed afterwards by [`process_pending`], which a background
//! task runs.
//!
//! Processed here: `app/uninstalled`, `app/scopes_update` and the compliance topics
//! `customers/data_request` (an export of what we hold, kept for the admin),
//! `customers/redact` (that customer's data erased) and `shop/redact` (everything of the
//! shop erased). Customer topics (`customers/create|update|delete`) are only stored:
//! nothing applies them to the SCIM store yet.

use chrono::Duration;
use serde_json::{Value, json};

use crate::scim::service::{self, Kind, ShopAccess};
use crate::shopify::install::Platform;
use crate::shopify::signature::verify_webhook;
use crate::shopify::{AppCredentials, Error, Result};
use crate::store::entity::{shop, webhook_delivery};
use crate::store::webhooks::NewDelivery;
use crate::store::{self, Database, exports, shops, users, webhooks};
use crate::types::ShopDomain;

/// Topics this module processes.
pub const PLATFORM_TOPICS: &[&str] = &[
    "app/uninstalled",
    "app/scopes_update",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
];

/// Customer topics, stored for the sync engine.
pub const CUSTOMER_TOPICS: &[&str] = &["customers/create", "customers/update", "customers/delete"];

/// How long a processor may hold a claimed delivery.
const LEASE: Duration = Duration::seconds(60);

/// Processing attempts before a delivery is set aside as failed.
pub const MAX_ATTEMPTS: i32 = 8;

/// The `X-Shopify-*` headers of a delivery, as the web layer read them.
#[derive(Debug, Clone, Default)]
pub struct DeliveryHeaders {
    /// `X-Shopify-Hmac-Sha256`.
    pub hmac: Option<String>,
    /// `X-Shopify-Topic`.
    pub topic: Option<String>,
    /// `X-Shopify-Shop-Domain`.
    pub shop_domain: Option<String>,
    /// `X-Shopify-API-Version`.
    pub api_version: Option<String>,
    /// `X-Shopify-Webhook-Id`.
    pub webhook_id: Option<String>,
    /// `X-Shopify-Event-Id`.
    pub event_id: Option<String>,
    /// `X-Shopify-Triggered-At`.
    pub triggered_at: Option<String>,
}

/// What became of a received delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Stored for processing.
    Stored,
    /// A delivery with this webhook id was stored before; nothing was added.
    Duplicate,
}

/// Verifies and stores one delivery. Missing headers are [`Error::Malformed`] (400), a bad
/// HMAC is [`Error::InvalidSignature`] (401); both are checked before anything is stored.
pub async fn receive(
    db: &Database,
    credentials: &AppCredentials,
    headers: &DeliveryHeaders,
    body: &[u8],
) -> Result<Receipt> {
    fn required<'h>(value: &'h Option<String>, what: &'static str) -> Result<&'h str> {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or(Error::Malformed(what))
    }
    let hmac = required(&headers.hmac, "missing X-Shopify-Hmac-Sha256")?;
    let topic = required(&headers.topic, "missing X-Shopify-Topic")?;
    let shop = required(&headers.shop_domain, "missing X-Shopify-Shop-Domain")?;
    let api_version = required(&headers.api_version, "missing X-Shopify-API-Version")?;
    let webhook_id = required(&headers.webhook_id, "missing X-Shopify-Webhook-Id")?;

    verify_webhook(credentials, body, hmac)?;

    let shop = ShopDomain::parse(shop).map_err(|_| Error::InvalidShop)?;
    let text = std::str::from_utf8(body).map_err(|_| Error::Malformed("body is not UTF-8"))?;
    let payload: Value =
        serde_json::from_str(text).map_err(|_| Error::Malformed("body is not JSON"))?;
    let delivery = NewDelivery {
        webhook_id,
        shop: &shop,
        topic,
        api_version: Some(api_version),
        event_id: headers.event_id.as_deref(),
        triggered_at: headers.triggered_at.as_deref(),
        subject_id: customer_id(&payload),
        body: text,
    };
    let stored = webhooks::insert(db, &delivery).await?;

    if stored {
        tracing::debug!(shop.domain = %shop, webhook.topic = topic, "webhook stored");
        Ok(Receipt::Stored)
    } else {
        tracing::debug!(shop.domain = %shop, webhook.topic = topic, "duplicate webhook");
        Ok(Receipt::Duplicate)
    }
}

/// The Shopify customer id a payload is about: `id` of customer topics, `customer.id` of
/// compliance topics.
fn customer_id(payload: &Value) -> Option<String> {
    let id = payload
        .get("customer")
        .and_then(|customer| customer.get("id"))
        .or_else(|| payload.get("admin_graphql_api_id").and(payload.get("id")))?;
    match id {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// Processes up to `limit` stored platform deliveries; returns how many were finished.
///
/// A delivery that fails is released to be retried later, and after [`MAX_ATTEMPTS`] it is
/// finished with its error as the outcome, so one bad delivery cannot block the rest.
pub async fn process_pending(platform: &Platform, limit: u64) -> Result<usize> {
    let claimed = webhooks::claim(platform.db(), PLATFORM_TOPICS, limit, LEASE).await?;
    let mut finished = 0;
    for delivery in claimed {
        let shop = delivery.shop_domain.clone();
        match process(platform, &delivery).await {
            Ok(outcome) => {
                // `shop/redact` erased the delivery itself along with the rest.
                if outcome != Outcome::Erased {
                    webhooks::finish(platform.db().conn(), delivery.id, outcome.as_str()).await?;
                }
                tracing::info!(
                    shop.domain = %shop,
                    webhook.topic = %delivery.topic,
                    webhook.outcome = outcome.as_str(),
                    "webhook processed"
                );
                finished += 1;
            }
            Err(error) if delivery.attempts >= MAX_ATTEMPTS => {
                tracing::error!(
                    shop.domain = %shop,
                    webhook.topic = %delivery.topic,
                    error.chain = %crate::telemetry::error_chain(&error),
                    "webhook failed for good"
                );
                webhooks::finish(platform.db().conn(), delivery.id, "failed").await?;
                finished += 1;
            }
            Err(error) => {
                tracing::warn!(
                    shop.domain = %shop,
                    webhook.topic = %delivery.topic,
                    error.chain = %crate::telemetry::error_chain(&error),
                    "webhook processing failed; will retry"
                );
                let backoff = Duration::seconds(2_i64.pow(delivery.attempts.clamp(0, 10) as u32));
                webhooks::release(
                    platform.db(),
                    delivery.id,
                    "retrying",
                    chrono::Utc::now() + backoff,
                )
                .await?;
            }
        }
    }
    Ok(finished)
}

/// What processing a delivery did, stored as its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Uninstalled,
    ScopesUpdated,
    Exported,
    Redacted,
    Erased,
    UnknownShop,
    Ignored,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Uninstalled => "uninstalled",
            Self::ScopesUpdated => "scopes_updated",
            Self::Exported => "exported",
            Self::Redacted => "redacted",
            Self::Erased => "erased",
            Self::UnknownShop => "unknown_shop",
            Self::Ignored => "ignored",
        }
    }
}

async fn process(platform: &Platform, delivery: &webhook_delivery::Model) -> Result<Outcome> {
    let shop = ShopDomain::parse(&delivery.shop_domain).map_err(|_| Error::InvalidShop)?;
    let payload: Value = serde_json::from_str(&delivery.body)
        .map_err(|_| Error::Malformed("stored body is not JSON"))?;

    match delivery.topic.as_str() {
        "app/uninstalled" => Ok(if platform.uninstall(&shop).await? {
            Outcome::Uninstalled
        } else {
            Outcome::UnknownShop
        }),
        "app/scopes_update" => scopes_update(platform.db(), &shop, &payload).await,
        "customers/data_request" => data_request(platform, &shop, &payload).await,
        "customers/redact" => redact_customer(platform, &shop, delivery, &payload).await,
        "shop/redact" => redact_shop(platform.db(), &shop).await,
        _ => Ok(Outcome::Ignored),
    }
}

async fn scopes_update(db: &Database, shop: &ShopDomain, payload: &Value) -> Result<Outcome> {
    let Some(row) = shops::find_by_domain(db, shop).await? else {
        return Ok(Outcome::UnknownShop);
    };
    let scopes: Vec<&str> = payload["current"]
        .as_array()
        .map(|scopes| scopes.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    shops::set_scopes(db, row.id, &scopes.join(",")).await?;
    Ok(Outcome::ScopesUpdated)
}

/// A shop that a verified compliance delivery names, with access to its SCIM resources.
struct VerifiedShop {
    row: shop::Model,
    access: ShopAccess,
}

impl VerifiedShop {
    /// The shop, if we hold it.
    async fn load(db: &Database, domain: &ShopDomain) -> Result<Option<Self>> {
        let Some(row) = shops::find_by_domain(db, domain).await? else {
            return Ok(None);
        };
        Ok(Some(Self {
            access: ShopAccess::for_verified_shop(&row),
            row,
        }))
    }

    /// The SCIM users the payload's customer is: those holding the customer's email.
    async fn users_of_customer(&self, db: &Database, payload: &Value) -> Result<Vec<String>> {
        let Some(email) = payload["customer"]["email"]
            .as_str()
            .filter(|email| !email.is_empty())
        else {
            return Ok(Vec::new());
        };
        Ok(users::ids_with_email(db.conn(), self.row.id, email).await?)
    }
}

async fn data_request(platform: &Platform, shop: &ShopDomain, payload: &Value) -> Result<Outcome> {
    let db = platform.db();
    let Some(verified) = VerifiedShop::load(db, shop).await? else {
        return Ok(Outcome::UnknownShop);
    };
    let ctx = verified.access.ctx(db);

    let mut resources = Vec::new();
    for id in verified.users_of_customer(db, payload).await? {
        match service::get(&ctx, Kind::User, &id, true).await {
            Ok(stored) => resources.push(stored.resource),
            Err(crate::scim::error::Error::NotFound) => {}
            Err(error) => return Err(scim_failure(error)),
        }
    }
    let customer_id = customer_id(payload).unwrap_or_default();
    let export = json!({
        "shop_domain": shop.as_str(),
        "customer": { "id": payload["customer"]["id"] },
        "data_request": payload.get("data_request").cloned().unwrap_or(Value::Null),
        "scim_users": resources,
    });
    let request_id = payload["data_request"]["id"]
        .as_i64()
        .map(|id| id.to_string());
    exports::insert(
        db.conn(),
        verified.row.id,
        &customer_id,
        request_id.as_deref(),
        &export.to_string(),
    )
    .await?;
    Ok(Outcome::Exported)
}

async fn redact_customer(
    platform: &Platform,
    shop: &ShopDomain,
    delivery: &webhook_delivery::Model,
    payload: &Value,
) -> Result<Outcome> {
    let db = platform.db();
    let Some(verified) = VerifiedShop::load(db, shop).await? else {
        return Ok(Outcome::UnknownShop);
    };
    let ctx = verified.access.ctx(db);

    for id in verified.users_of_customer(db, payload).await? {
        match service::delete(&ctx, Kind::User, &id, None).await {
            Ok(()) | Err(crate::scim::error::Error::NotFound) => {}
            Err(error) => return Err(scim_failure(error)),
        }
    }
    let customer_id = customer_id(payload).unwrap_or_default();
    let txn = db.begin_write().await?;
    exports::delete_for_customer(&*txn, verified.row.id, &customer_id).await?;
    webhooks::delete_for_customer(&*txn, shop, &customer_id, delivery.id).await?;
    txn.commit().await?;
    Ok(Outcome::Redacted)
}

async fn redact_shop(db: &Database, shop: &ShopDomain) -> Result<Outcome> {
    let row = shops::find_by_domain(db, shop).await?;
    let txn = db.begin_write().await?;
    if let Some(row) = row {
        shops::delete(&*txn, row.id).await?;
    }
    let erased = webhooks::delete_for_shop(&*txn, shop).await?;
    txn.commit().await?;

    tracing::info!(shop.domain = %shop, webhook.deliveries_erased = erased, "shop data erased");
    Ok(Outcome::Erased)
}

fn scim_failure(error: crate::scim::error::Error) -> Error {
    match error {
        crate::scim::error::Error::Store(error) => Error::Store(error),
        other => Error::Store(store::Error::Other(other.to_string())),
    }
}
