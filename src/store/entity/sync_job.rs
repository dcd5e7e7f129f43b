//! The `sync_jobs` table: the outbox of subjects whose Shopify state must be recomputed.

use sea_orm::entity::prelude::*;

use crate::types::ShopId;

/// One pending or finished push of a subject's current state.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_jobs")]
pub struct Model {
    /// Job id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning shop.
    pub shop_id: ShopId,
    /// `user` or `group`.
    pub kind: String,
    /// SCIM id of the subject.
    pub subject_id: String,
    /// `pending`, `running`, `failed` or `done`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Earliest time to run.
    pub run_after: DateTimeUtc,
    /// Worker holding the lease.
    pub locked_by: Option<String>,
    /// Lease expiry.
    pub locked_until: Option<DateTimeUtc>,
    /// Last failure.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// Enqueue time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// Jobs belong to a shop.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
