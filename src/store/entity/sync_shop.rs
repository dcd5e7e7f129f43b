//! The `sync_shops` table: a shop's sync lease and its last known Shopify cost bucket.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One shop's sync state.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_shops")]
pub struct Model {
    /// The shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shop_id: ShopId,
    /// Worker holding the lease.
    pub lease_holder: Option<String>,
    /// Lease expiry.
    pub lease_until: Option<DateTimeUtc>,
    /// Points available when last measured.
    pub bucket_available: Option<f64>,
    /// Bucket size.
    pub bucket_maximum: Option<f64>,
    /// Points restored per second.
    pub restore_rate: Option<f64>,
    /// When the bucket was measured.
    pub bucket_measured_at: Option<DateTimeUtc>,
    /// Whether the app's `id` metafield definition exists in the shop.
    pub metafield_defined: bool,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// Sync state belongs to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
