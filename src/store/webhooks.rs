//! The webhook inbox.
//!
//! Verified deliveries are stored before they are acknowledged, claimed by a processor, and
//! marked processed once. A delivery is identified by its `X-Shopify-Webhook-Id`, so a
//! retried or duplicated delivery adds no second row.
//!
//! Rows name their shop by domain: deliveries arrive for shops we hold no row for, and
//! `shop/redact` must erase every delivery of the shop.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, Set,
};

use crate::store::entity::webhook_delivery;
use crate::store::{Database, Result};
use crate::types::ShopDomain;

/// A verified delivery to store.
#[derive(Clone)]
pub struct NewDelivery<'a> {
    /// `X-Shopify-Webhook-Id`.
    pub webhook_id: &'a str,
    /// The shop.
    pub shop: &'a ShopDomain,
    /// `X-Shopify-Topic`.
    pub topic: &'a str,
    /// `X-Shopify-API-Version`.
    pub api_version: Option<&'a str>,
    /// `X-Shopify-Event-Id`.
    pub event_id: Option<&'a str>,
    /// `X-Shopify-Triggered-At`.
    pub triggered_at: Option<&'a str>,
    /// The Shopify customer id the delivery concerns.
    pub subject_id: Option<String>,
    /// The body as received.
    pub body: &'a str,
}

/// Stores a delivery unless one with its webhook id exists; `true` when it is new.
pub async fn insert(db: &Database, delivery: &NewDelivery<'_>) -> Result<bool> {
    let row = webhook_delivery::ActiveModel {
        id: NotSet,
        webhook_id: Set(delivery.webhook_id.to_owned()),
        shop_domain: Set(delivery.shop.as_str().to_owned()),
        topic: Set(delivery.topic.to_owned()),
        api_version: Set(delivery.api_version.map(str::to_owned)),
        event_id: Set(delivery.event_id.map(str::to_owned)),
        triggered_at: Set(delivery.triggered_at.map(str::to_owned)),
        subject_id: Set(delivery.subject_id.clone()),
        body: Set(delivery.body.to_owned()),
        received_at: Set(Utc::now()),
        attempts: Set(0),
        locked_until: Set(None),
        processed_at: Set(None),
        outcome: Set(None),
    };

    let txn = db.begin_write().await?;
    let inserted = webhook_delivery::Entity::insert(row)
        .on_conflict(
            OnConflict::column(webhook_delivery::Column::WebhookId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&*txn)
        .await?;
    txn.commit().await?;
    Ok(inserted > 0)
}

/// Claims up to `limit` unprocessed deliveries of `topics`, oldest first, for `lease`: each
/// is taken by a conditional update, so two processors never hold the same row.
pub async fn claim(
    db: &Database,
    topics: &[&str],
    limit: u64,
    lease: Duration,
) -> Result<Vec<webhook_delivery::Model>> {
    let now = Utc::now();
    let candidates = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::ProcessedAt.is_null())
        .filter(webhook_delivery::Column::Topic.is_in(topics.iter().copied()))
        .filter(
            webhook_delivery::Column::LockedUntil
                .is_null()
                .or(webhook_delivery::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?;

    let mut claimed = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let until = now + lease;
        let txn = db.begin_write().await?;
        let taken = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(until))
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::col(webhook_delivery::Column::Attempts).add(1),
            )
            .filter(webhook_delivery::Column::Id.eq(candidate.id))
            .filter(webhook_delivery::Column::ProcessedAt.is_null())
            .filter(
                webhook_delivery::Column::LockedUntil
                    .is_null()
                    .or(webhook_delivery::Column::LockedUntil.lt(now)),
            )
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        if taken.rows_affected == 1 {
            claimed.push(webhook_delivery::Model {
                locked_until: Some(until),
                attempts: candidate.attempts + 1,
                ..candidate
            });
        }
    }
    Ok(claimed)
}

/// Records that a claimed delivery is done, with what was done.
pub async fn finish<C: ConnectionTrait>(conn: &C, id: i64, outcome: &str) -> Result<()> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::ProcessedAt,
            Expr::value(Utc::now()),
        )
        .col_expr(
            webhook_delivery::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(webhook_delivery::Column::Outcome, Expr::value(outcome))
        .filter(webhook_delivery::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Gives a claimed delivery back after a failure, to be retried no sooner than `retry_at`.
pub async fn release(db: &Database, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
    let txn = db.begin_write().await?;
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(retry_at))
        .col_expr(webhook_delivery::Column::Outcome, Expr::value(error))
        .filter(webhook_delivery::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    txn.commit().await
}

/// Erases every delivery of `shop` (on `shop/redact`).
pub async fn delete_for_shop<C: ConnectionTrait>(conn: &C, shop: &ShopDomain) -> Result<u64> {
    let result = webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::ShopDomain.eq(shop.as_str()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Erases the deliveries of `shop` about customer `customer_id` (on `customers/redact`),
/// except the one being processed.
pub async fn delete_for_customer<C: ConnectionTrait>(
    conn: &C,
    shop: &ShopDomain,
    customer_id: &str,
    keep_id: i64,
) -> Result<u64> {
    let result = webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::ShopDomain.eq(shop.as_str()))
        .filter(webhook_delivery::Column::SubjectId.eq(customer_id))
        .filter(webhook_delivery::Column::Id.ne(keep_id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Every stored delivery of `shop`, oldest first (for tests and operators).
pub async fn for_shop(db: &Database, shop: &ShopDomain) -> Result<Vec<webhook_delivery::Model>> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::ShopDomain.eq(shop.as_str()))
        .order_by_asc(webhook_delivery::Column::Id)
        .all(db.conn())
        .await?)
}
