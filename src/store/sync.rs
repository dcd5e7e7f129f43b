//! What the sync engine stores: shop leases (one worker per shop at a time) with the shop's
//! last known Shopify cost bucket, job claims on the outbox, customer links and activity.
//!
//! A job's life: `pending` (written by a SCIM write) → `running` (claimed under the shop's
//! lease, with `locked_until`) → deleted when pushed, back to `pending` with a later
//! `run_after` after a retryable failure, or `failed` (parked) after too many. A `running`
//! job whose lock expired (its worker died) is due again. A SCIM write that finds only a
//! running job adds a new pending one, so no change made during a push is lost.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
    sea_query::{LockBehavior, LockType},
};

use crate::store::entity::{activity, customer_link, shop, sync_job, sync_shop};
use crate::store::outbox::PENDING;
use crate::store::shops::install_state;
use crate::store::{Database, Result};
use crate::types::ShopId;

/// Status of a job a worker holds.
pub const RUNNING: &str = "running";

/// Status of a job parked after too many failures.
pub const FAILED: &str = "failed";

/// The condition "this job is due at `now`".
fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(sync_job::Column::Status.eq(PENDING))
                .add(sync_job::Column::RunAfter.lte(now)),
        )
        .add(
            Condition::all()
                .add(sync_job::Column::Status.eq(RUNNING))
                .add(sync_job::Column::LockedUntil.lt(now)),
        )
}

/// Shops that have due jobs, at most `limit`, in no particular order.
pub async fn shops_with_due_jobs(
    db: &Database,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ShopId>> {
    Ok(sync_job::Entity::find()
        .select_only()
        .column(sync_job::Column::ShopId)
        .distinct()
        .filter(due(now))
        .limit(limit)
        .into_tuple()
        .all(db.conn())
        .await?)
}

/// A held shop lease.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The shop row.
    pub shop: shop::Model,
    /// The sync state, bucket included, as it was when the lease was taken.
    pub state: sync_shop::Model,
    /// Who holds it.
    pub holder: String,
}

/// Takes the lease of `shop_id` for `holder` until `until`.
///
/// Only an installed shop that nobody else holds a live lease on is taken. On PostgreSQL
/// the state row is locked with `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass over
/// it instead of waiting; on SQLite the claim runs in this process's single write
/// transaction.
pub async fn acquire_lease(
    db: &Database,
    shop_id: ShopId,
    holder: &str,
    until: DateTime<Utc>,
) -> Result<Option<Lease>> {
    let now = Utc::now();
    let Some(shop) = shop::Entity::find_by_id(shop_id).one(db.conn()).await? else {
        return Ok(None);
    };
    if shop.install_state != install_state::INSTALLED {
        return Ok(None);
    }
    sync_shop::Entity::insert(sync_shop::ActiveModel {
        shop_id: Set(shop_id),
        lease_holder: Set(None),
        lease_until: Set(None),
        bucket_available: Set(None),
        bucket_maximum: Set(None),
        restore_rate: Set(None),
        bucket_measured_at: Set(None),
        metafield_defined: Set(false),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(sync_shop::Column::ShopId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db.conn())
    .await?;

    let txn = db.begin_write().await?;
    let free = sync_shop::Entity::find()
        .filter(sync_shop::Column::ShopId.eq(shop_id))
        .filter(
            Condition::any()
                .add(sync_shop::Column::LeaseUntil.is_null())
                .add(sync_shop::Column::LeaseUntil.lt(now))
                .add(sync_shop::Column::LeaseHolder.eq(holder)),
        )
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(&*txn)
        .await?;
    let Some(state) = free else {
        return Ok(None);
    };
    sync_shop::Entity::update_many()
        .col_expr(sync_shop::Column::LeaseHolder, Expr::value(holder))
        .col_expr(sync_shop::Column::LeaseUntil, Expr::value(until))
        .col_expr(sync_shop::Column::UpdatedAt, Expr::value(now))
        .filter(sync_shop::Column::ShopId.eq(shop_id))
        .exec(&*txn)
        .await?;
    txn.commit().await?;

    Ok(Some(Lease {
        shop,
        state,
        holder: holder.to_owned(),
    }))
}

/// Extends a held lease; `false` when it was lost (expired and taken by another worker).
pub async fn renew_lease(db: &Database, lease: &Lease, until: DateTime<Utc>) -> Result<bool> {
    let txn = db.begin_write().await?;
    let renewed = sync_shop::Entity::update_many()
        .col_expr(sync_shop::Column::LeaseUntil, Expr::value(until))
        .filter(sync_shop::Column::ShopId.eq(lease.shop.id))
        .filter(sync_shop::Column::LeaseHolder.eq(lease.holder.as_str()))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(renewed.rows_affected == 1)
}

/// The shop's Shopify cost bucket as last measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketState {
    /// Points available.
    pub available: f64,
    /// Bucket size.
    pub maximum: f64,
    /// Points restored per second.
    pub restore_rate: f64,
    /// When measured.
    pub measured_at: DateTime<Utc>,
}

impl Lease {
    /// The bucket stored with the shop, if any was measured.
    pub fn bucket(&self) -> Option<BucketState> {
        Some(BucketState {
            available: self.state.bucket_available?,
            maximum: self.state.bucket_maximum?,
            restore_rate: self.state.restore_rate?,
            measured_at: self.state.bucket_measured_at?,
        })
    }
}

/// Gives the lease up, storing the bucket for the next holder.
pub async fn release_lease(
    db: &Database,
    lease: &Lease,
    bucket: Option<BucketState>,
) -> Result<()> {
    let txn = db.begin_write().await?;
    let mut update = sync_shop::Entity::update_many()
        .col_expr(sync_shop::Column::LeaseHolder, Expr::value(None::<String>))
        .col_expr(
            sync_shop::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(sync_shop::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(bucket) = bucket {
        update = update
            .col_expr(
                sync_shop::Column::BucketAvailable,
                Expr::value(bucket.available),
            )
            .col_expr(
                sync_shop::Column::BucketMaximum,
                Expr::value(bucket.maximum),
            )
            .col_expr(
                sync_shop::Column::RestoreRate,
                Expr::value(bucket.restore_rate),
            )
            .col_expr(
                sync_shop::Column::BucketMeasuredAt,
                Expr::value(bucket.measured_at),
            );
    }
    update
        .filter(sync_shop::Column::ShopId.eq(lease.shop.id))
        .filter(sync_shop::Column::LeaseHolder.eq(lease.holder.as_str()))
        .exec(&*txn)
        .await?;
    txn.commit().await
}

/// Records that the shop has the app's `id` metafield definition.
pub async fn mark_metafield_defined(db: &Database, shop_id: ShopId) -> Result<()> {
    let txn = db.begin_write().await?;
    sync_shop::Entity::update_many()
        .col_expr(sync_shop::Column::MetafieldDefined, Expr::value(true))
        .filter(sync_shop::Column::ShopId.eq(shop_id))
        .exec(&*txn)
        .await?;
    txn.commit().await
}

/// Claims up to `limit` due jobs of the leased shop, oldest first, until `until`.
pub async fn claim_jobs(
    db: &Database,
    lease: &Lease,
    limit: u64,
    until: DateTime<Utc>,
) -> Result<Vec<sync_job::Model>> {
    let now = Utc::now();
    let txn = db.begin_write().await?;
    let jobs = sync_job::Entity::find()
        .filter(sync_job::Column::ShopId.eq(lease.shop.id))
        .filter(due(now))
        .order_by_asc(sync_job::Column::Id)
        .limit(limit)
        .all(&*txn)
        .await?;
    let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
    if !ids.is_empty() {
        sync_job::Entity::update_many()
            .col_expr(sync_job::Column::Status, Expr::value(RUNNING))
            .col_expr(
                sync_job::Column::LockedBy,
                Expr::value(lease.holder.as_str()),
            )
            .col_expr(sync_job::Column::LockedUntil, Expr::value(until))
            .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
            .filter(sync_job::Column::ShopId.eq(lease.shop.id))
            .filter(sync_job::Column::Id.is_in(ids))
            .exec(&*txn)
            .await?;
    }
    txn.commit().await?;
    Ok(jobs)
}

/// Deletes jobs that were pushed.
pub async fn finish_jobs(db: &Database, shop_id: ShopId, ids: &[i64]) -> Result<()> {
    let txn = db.begin_write().await?;
    sync_job::Entity::delete_many()
        .filter(sync_job::Column::ShopId.eq(shop_id))
        .filter(sync_job::Column::Id.is_in(ids.iter().copied()))
        .exec(&*txn)
        .await?;
    txn.commit().await
}

/// Puts jobs back to run again no sooner than `run_after`, counting an attempt.
pub async fn retry_jobs(
    db: &Database,
    shop_id: ShopId,
    ids: &[i64],
    error: &str,
    run_after: DateTime<Utc>,
) -> Result<()> {
    settle_failed(db, shop_id, ids, error, Some(run_after)).await
}

/// Parks jobs as failed with their error, for an operator to look at and retry.
pub async fn park_jobs(db: &Database, shop_id: ShopId, ids: &[i64], error: &str) -> Result<()> {
    settle_failed(db, shop_id, ids, error, None).await
}

/// Releases jobs after a failed push, counting an attempt: pending again from `run_after`,
/// or parked as failed when there is none.
async fn settle_failed(
    db: &Database,
    shop_id: ShopId,
    ids: &[i64],
    error: &str,
    run_after: Option<DateTime<Utc>>,
) -> Result<()> {
    let mut update = sync_job::Entity::update_many()
        .col_expr(
            sync_job::Column::Attempts,
            Expr::col(sync_job::Column::Attempts).add(1),
        )
        .col_expr(sync_job::Column::LockedBy, Expr::value(None::<String>))
        .col_expr(
            sync_job::Column::LockedUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(sync_job::Column::LastError, Expr::value(error))
        .col_expr(sync_job::Column::UpdatedAt, Expr::value(Utc::now()));
    update = match run_after {
        Some(at) => update
            .col_expr(sync_job::Column::Status, Expr::value(PENDING))
            .col_expr(sync_job::Column::RunAfter, Expr::value(at)),
        None => update.col_expr(sync_job::Column::Status, Expr::value(FAILED)),
    };

    let txn = db.begin_write().await?;
    update
        .filter(sync_job::Column::ShopId.eq(shop_id))
        .filter(sync_job::Column::Id.is_in(ids.iter().copied()))
        .exec(&*txn)
        .await?;
    txn.commit().await
}

/// Parked jobs, oldest first; of one shop when `shop_id` is given.
pub async fn failed_jobs(db: &Database, shop_id: Option<ShopId>) -> Result<Vec<sync_job::Model>> {
    let mut query = sync_job::Entity::find().filter(sync_job::Column::Status.eq(FAILED));
    if let Some(shop_id) = shop_id {
        query = query.filter(sync_job::Column::ShopId.eq(shop_id));
    }
    Ok(query
        .order_by_asc(sync_job::Column::Id)
        .all(db.conn())
        .await?)
}

/// How many of the shop's jobs are parked.
pub async fn count_failed_jobs(db: &Database, shop_id: ShopId) -> Result<u64> {
    Ok(sync_job::Entity::find()
        .filter(sync_job::Column::ShopId.eq(shop_id))
        .filter(sync_job::Column::Status.eq(FAILED))
        .count(db.conn())
        .await?)
}

/// Makes parked jobs pending again (all of them when `id` is `None`); returns how many.
pub async fn retry_failed(db: &Database, id: Option<i64>) -> Result<u64> {
    let now = Utc::now();
    let txn = db.begin_write().await?;
    let mut update = sync_job::Entity::update_many()
        .col_expr(sync_job::Column::Status, Expr::value(PENDING))
        .col_expr(sync_job::Column::Attempts, Expr::value(0))
        .col_expr(sync_job::Column::RunAfter, Expr::value(now))
        .col_expr(sync_job::Column::UpdatedAt, Expr::value(now))
        .filter(sync_job::Column::Status.eq(FAILED));
    if let Some(id) = id {
        update = update.filter(sync_job::Column::Id.eq(id));
    }
    let result = update.exec(&*txn).await?;
    txn.commit().await?;
    Ok(result.rows_affected)
}

/// Jobs of the shop not yet pushed (pending, running or failed).
pub async fn open_jobs(db: &Database, shop_id: ShopId) -> Result<Vec<sync_job::Model>> {
    Ok(sync_job::Entity::find()
        .filter(sync_job::Column::ShopId.eq(shop_id))
        .order_by_asc(sync_job::Column::Id)
        .all(db.conn())
        .await?)
}

/// The customer link of a SCIM user.
pub async fn link<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    scim_user_id: &str,
) -> Result<Option<customer_link::Model>> {
    Ok(customer_link::Entity::find()
        .filter(customer_link::Column::ShopId.eq(shop_id))
        .filter(customer_link::Column::ScimUserId.eq(scim_user_id))
        .one(conn)
        .await?)
}

/// The shop's links, in SCIM id order.
pub async fn links(db: &Database, shop_id: ShopId) -> Result<Vec<customer_link::Model>> {
    Ok(customer_link::Entity::find()
        .filter(customer_link::Column::ShopId.eq(shop_id))
        .order_by_asc(customer_link::Column::ScimUserId)
        .all(db.conn())
        .await?)
}

/// What a link says after a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUpdate<'a> {
    /// The customer.
    pub customer_gid: Option<&'a str>,
    /// Fingerprint of what was written.
    pub fingerprint: Option<&'a str>,
    /// Tags the app owns now.
    pub tags_owned: &'a [String],
    /// Deprovisioning state.
    pub state: &'a str,
}

/// Creates or replaces the link of a SCIM user.
pub async fn save_link(
    db: &Database,
    shop_id: ShopId,
    scim_user_id: &str,
    update: &LinkUpdate<'_>,
) -> Result<()> {
    let now = Utc::now();
    let tags = serde_json::to_string(update.tags_owned).unwrap_or_else(|_| "[]".to_owned());
    let row = customer_link::ActiveModel {
        shop_id: Set(shop_id),
        scim_user_id: Set(scim_user_id.to_owned()),
        customer_gid: Set(update.customer_gid.map(str::to_owned)),
        fingerprint: Set(update.fingerprint.map(str::to_owned)),
        tags_owned: Set(tags),
        state: Set(update.state.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let txn = db.begin_write().await?;
    customer_link::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                customer_link::Column::ShopId,
                customer_link::Column::ScimUserId,
            ])
            .update_columns([
                customer_link::Column::CustomerGid,
                customer_link::Column::Fingerprint,
                customer_link::Column::TagsOwned,
                customer_link::Column::State,
                customer_link::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&*txn)
        .await?;
    txn.commit().await
}

/// Forgets a SCIM user's link (its customer was deleted).
pub async fn delete_link(db: &Database, shop_id: ShopId, scim_user_id: &str) -> Result<()> {
    let txn = db.begin_write().await?;
    customer_link::Entity::delete_many()
        .filter(customer_link::Column::ShopId.eq(shop_id))
        .filter(customer_link::Column::ScimUserId.eq(scim_user_id))
        .exec(&*txn)
        .await?;
    txn.commit().await
}

/// Records an activity of the shop.
pub async fn record_activity(
    db: &Database,
    shop_id: ShopId,
    kind: &str,
    scim_user_id: Option<&str>,
    customer_gid: Option<&str>,
    message: Option<&str>,
) -> Result<()> {
    let txn = db.begin_write().await?;
    activity::ActiveModel {
        shop_id: Set(shop_id),
        kind: Set(kind.to_owned()),
        scim_user_id: Set(scim_user_id.map(str::to_owned)),
        customer_gid: Set(customer_gid.map(str::to_owned)),
        message: Set(message.map(str::to_owned)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    txn.commit().await
}

/// The shop's latest activity, newest first.
pub async fn recent_activity(
    db: &Database,
    shop_id: ShopId,
    limit: u64,
) -> Result<Vec<activity::Model>> {
    Ok(activity::Entity::find()
        .filter(activity::Column::ShopId.eq(shop_id))
        .order_by_desc(activity::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?)
}
