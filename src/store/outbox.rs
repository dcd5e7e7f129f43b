//! The transactional outbox: `sync_jobs` rows that tell the sync worker which subjects'
//! Shopify state to recompute.
//!
//! A job carries no payload, only the subject, because the worker pushes the subject's
//! current state (or acts on its absence). That is also why pending jobs collapse: a second
//! write before the worker runs needs no second job. [`enqueue`] must run on the transaction
//! of the write it follows, so that the job exists exactly when the write does.
//!
//! Collapsing is check-then-insert without a unique index: on PostgreSQL two concurrent
//! transactions may each add a pending job for the same subject. That costs one redundant,
//! idempotent push, never a lost one.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, Set,
};

use crate::store::Result;
use crate::store::entity::sync_job;
use crate::types::ShopId;

/// Status of a job waiting for a worker.
pub const PENDING: &str = "pending";

/// What a job's subject id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// A SCIM User (a Shopify customer).
    User,
    /// A SCIM Group (a customer tag).
    Group,
}

impl SubjectKind {
    /// The value stored in `sync_jobs.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }
}

/// Records that `subject_id` must be synced, unless a pending job for it already exists.
/// Returns whether a row was inserted.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    kind: SubjectKind,
    subject_id: &str,
) -> Result<bool> {
    let pending = sync_job::Entity::find()
        .filter(sync_job::Column::ShopId.eq(shop_id))
        .filter(sync_job::Column::Kind.eq(kind.as_str()))
        .filter(sync_job::Column::SubjectId.eq(subject_id))
        .filter(sync_job::Column::Status.eq(PENDING))
        .count(conn)
        .await?;
    if pending > 0 {
        return Ok(false);
    }

    let now = Utc::now();
    sync_job::ActiveModel {
        shop_id: Set(shop_id),
        kind: Set(kind.as_str().to_owned()),
        subject_id: Set(subject_id.to_owned()),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        run_after: Set(now),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(true)
}

/// The pending jobs of a shop, oldest first.
pub async fn pending<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
) -> Result<Vec<sync_job::Model>> {
    use sea_orm::QueryOrder as _;

    Ok(sync_job::Entity::find()
        .filter(sync_job::Column::ShopId.eq(shop_id))
        .filter(sync_job::Column::Status.eq(PENDING))
        .order_by_asc(sync_job::Column::Id)
        .all(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use sea_orm::TransactionTrait as _;

    use super::*;
    use crate::store::testing::TestDb;

    #[tokio::test]
    async fn a_second_enqueue_for_a_pending_subject_adds_no_job() {
        let test = TestDb::fresh().await;
        let shop = test.scope("outbox-a").await.shop_id();

        let txn = test.db.conn().begin().await.unwrap();
        let first = enqueue(&txn, shop, SubjectKind::User, "u1").await.unwrap();
        let second = enqueue(&txn, shop, SubjectKind::User, "u1").await.unwrap();
        let other_kind = enqueue(&txn, shop, SubjectKind::Group, "u1").await.unwrap();
        txn.commit().await.unwrap();

        assert!(first && !second && other_kind);
        assert_eq!(pending(test.db.conn(), shop).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_rolled_back_transaction_leaves_no_job() {
        let test = TestDb::fresh().await;
        let shop = test.scope("outbox-b").await.shop_id();

        let txn = test.db.conn().begin().await.unwrap();
        enqueue(&txn, shop, SubjectKind::User, "u1").await.unwrap();
        txn.rollback().await.unwrap();

        assert!(pending(test.db.conn(), shop).await.unwrap().is_empty());
    }
}
