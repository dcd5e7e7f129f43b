//! The `webhook_inbox` table: verified Shopify webhook deliveries awaiting or past processing.

use sea_orm::entity::prelude::*;

/// One delivery, unique by `X-Shopify-Webhook-Id`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_inbox")]
pub struct Model {
    /// Row key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `X-Shopify-Webhook-Id`.
    pub webhook_id: String,
    /// `X-Shopify-Shop-Domain`, validated.
    pub shop_domain: String,
    /// `X-Shopify-Topic`.
    pub topic: String,
    /// `X-Shopify-API-Version`.
    pub api_version: Option<String>,
    /// `X-Shopify-Event-Id`.
    pub event_id: Option<String>,
    /// `X-Shopify-Triggered-At`, as sent.
    pub triggered_at: Option<String>,
    /// The Shopify customer id the delivery is about, if any.
    pub subject_id: Option<String>,
    /// The body exactly as received.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Arrival.
    pub received_at: DateTimeUtc,
    /// Processing attempts so far.
    pub attempts: i32,
    /// A processor's claim.
    pub locked_until: Option<DateTimeUtc>,
    /// When processing finished.
    pub processed_at: Option<DateTimeUtc>,
    /// What processing did.
    #[sea_orm(column_type = "Text", nullable)]
    pub outcome: Option<String>,
}

/// Deliveries name their shop by domain.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
