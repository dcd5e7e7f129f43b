//! What `scim_users` and `scim_groups` have in common, written once.
//!
//! That is: rows addressed by SCIM id or internal key within a shop, inserts that hand out
//! list positions, version stamps, deletion, and list pages.
//!
//! # List order and deep pages
//! Every row gets a position `seq` within its shop and table when it is inserted, from the
//! counter in `scim_sequences`; positions only grow and are never reused. Lists are in
//! position order. `scim_list_blocks` counts the live rows of each block of
//! [`LIST_BLOCK_SIZE`] positions and is kept in step by every insert and delete, in the same
//! transaction. An unfiltered page at any offset therefore costs one read of the shop's block
//! counts (one row per [`LIST_BLOCK_SIZE`] positions; their sum is `totalResults`) and one
//! index range read that skips fewer than [`LIST_BLOCK_SIZE`] entries, instead of counting
//! and skipping every earlier row.
//!
//! A narrowed selection (a filter the database evaluates) is counted and skipped in SQL on the
//! filtered column's per-tenant index; such selections are small.
//!
//! Neither counter makes concurrent inserts of one shop wait for each other's commit: on
//! PostgreSQL a position is taken outside the inserting transaction (positions may be
//! skipped, never repeated), and each block's count is split over [`LIST_BLOCK_STRIPES`]
//! rows that consecutive positions update in turn. SQLite runs one writer at a time anyway.

use chrono::{DateTime, Utc};
use migrations::{LIST_BLOCK_SIZE, LIST_BLOCK_STRIPES};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait as _, Condition, ConnectionTrait,
    EntityTrait, IntoActiveModel, PaginatorTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, Set,
};

use crate::store::entity::{scim_group_member, scim_list_block, scim_sequence};
use crate::store::{Backend, Database, Result, Selection, UniqueIndex, WriteTxn, on_unique};
use crate::types::ShopId;

/// Largest number of bound values sent in one `IN (...)` list.
pub(crate) const IN_CHUNK: usize = 500;

/// A table of SCIM resources of one type.
pub trait ResourceTable: EntityTrait<Model: Sync> {
    /// The resource type, as stored in `scim_sequences` and `scim_list_blocks`.
    const RESOURCE_TYPE: &'static str;
    /// The owning shop.
    const SHOP_ID: Self::Column;
    /// The SCIM id.
    const ID: Self::Column;
    /// The internal key.
    const PK: Self::Column;
    /// The list position.
    const SEQ: Self::Column;
    /// The version, published as the `ETag`.
    const VERSION: Self::Column;
    /// When the row last changed.
    const UPDATED_AT: Self::Column;
    /// The column of `scim_group_members` that points at this table.
    const MEMBERSHIP: scim_group_member::Column;
    /// The unique indexes a write may violate.
    const UNIQUE_INDEXES: &'static [UniqueIndex];

    /// A condition on indexed columns that list queries evaluate in SQL.
    type Key;

    /// The SQL condition of one key, for rows of the shop.
    fn key_condition(shop_id: ShopId, key: &Self::Key) -> SimpleExpr;

    /// The columns every resource has, taken from a row.
    fn into_row(model: Self::Model) -> Row;
}

/// What every stored resource has: enough to render it and to address it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Internal key.
    pub pk: i64,
    /// SCIM id.
    pub id: String,
    /// List position within the shop.
    pub seq: i64,
    /// `displayName`, shown next to references to this resource.
    pub display_name: Option<String>,
    /// Canonical SCIM JSON without `id` and `meta`.
    pub resource: String,
    /// Version, published as the `ETag`.
    pub version: i64,
    /// `meta.created`.
    pub created_at: DateTime<Utc>,
    /// `meta.lastModified`.
    pub updated_at: DateTime<Utc>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// How many rows the selection holds in all.
    pub total: u64,
    /// The rows of the page, in list order.
    pub rows: Vec<Row>,
}

/// Finds a row of the shop by SCIM id.
pub async fn find<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
) -> Result<Option<Row>> {
    find_one::<T, C>(conn, shop_id, id, false).await
}

/// Finds a row of the shop by SCIM id and, on PostgreSQL, locks it until the transaction
/// ends (SQLite write transactions already hold the database lock).
pub async fn find_for_update<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
) -> Result<Option<Row>> {
    find_one::<T, C>(conn, shop_id, id, true).await
}

/// The rows of the shop with these SCIM ids; unknown ids are left out.
pub async fn find_by_ids<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    ids: &[String],
) -> Result<Vec<Row>> {
    find_many::<T, C, String>(conn, shop_id, T::ID, ids).await
}

/// The rows of the shop with these internal keys; unknown keys are left out.
pub async fn find_by_pks<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pks: &[i64],
) -> Result<Vec<Row>> {
    find_many::<T, C, i64>(conn, shop_id, T::PK, pks).await
}

async fn find_one<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
    lock: bool,
) -> Result<Option<Row>> {
    let mut select = T::find()
        .filter(T::SHOP_ID.eq(shop_id))
        .filter(T::ID.eq(id));
    if lock {
        select = select.lock_exclusive();
    }
    Ok(select.one(conn).await?.map(T::into_row))
}

/// The rows of the shop whose `column` holds one of `values`, asked in chunks.
async fn find_many<T, C, V>(
    conn: &C,
    shop_id: ShopId,
    column: T::Column,
    values: &[V],
) -> Result<Vec<Row>>
where
    T: ResourceTable,
    C: ConnectionTrait,
    V: Into<sea_orm::Value> + Clone,
{
    let mut found = Vec::with_capacity(values.len());
    for chunk in values.chunks(IN_CHUNK) {
        let rows = T::find()
            .filter(T::SHOP_ID.eq(shop_id))
            .filter(column.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        found.extend(rows.into_iter().map(T::into_row));
    }
    Ok(found)
}

/// A list position for a row about to be inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Taken and committed already (PostgreSQL).
    Taken(i64),
    /// To be taken inside the inserting transaction (SQLite, where a second writer would
    /// wait for that transaction).
    InTransaction,
}

/// Reserves the list position of a row the caller is about to insert, before its
/// transaction begins.
///
/// On PostgreSQL the counter is advanced at once, so its row lock lasts one statement
/// instead of the whole inserting transaction; a failed insert leaves a gap, which the block
/// counts absorb. Taking it before the transaction also keeps an inserting transaction from
/// waiting for a second pooled connection.
pub async fn reserve_position<T: ResourceTable>(
    db: &Database,
    shop_id: ShopId,
) -> Result<Position> {
    match db.backend() {
        Backend::Postgres => Ok(Position::Taken(
            next_position::<T, _>(db.conn(), shop_id).await?,
        )),
        Backend::Sqlite => Ok(Position::InTransaction),
    }
}

/// Inserts the row `build` makes from its list position, and counts it in its block.
pub(crate) async fn insert<T>(
    txn: &WriteTxn,
    shop_id: ShopId,
    position: Position,
    build: impl FnOnce(i64) -> T::ActiveModel,
) -> Result<Row>
where
    T: ResourceTable,
    T::Model: IntoActiveModel<T::ActiveModel>,
    T::ActiveModel: ActiveModelTrait<Entity = T> + ActiveModelBehavior + Send,
{
    let seq = match position {
        Position::Taken(seq) => seq,
        Position::InTransaction => next_position::<T, _>(&**txn, shop_id).await?,
    };

    let model = build(seq)
        .insert(&**txn)
        .await
        .map_err(|error| on_unique(error, T::UNIQUE_INDEXES))?;
    count_in_block::<T, _>(&**txn, shop_id, seq, 1).await?;
    Ok(T::into_row(model))
}

/// Sets `columns` of a row and stamps its new `version` and `updated_at`.
pub(crate) async fn update<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pk: i64,
    columns: Vec<(T::Column, SimpleExpr)>,
    version: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = T::update_many()
        .col_expr(T::VERSION, Expr::value(version))
        .col_expr(T::UPDATED_AT, Expr::value(now));
    for (column, value) in columns {
        update = update.col_expr(column, value);
    }

    update
        .filter(T::SHOP_ID.eq(shop_id))
        .filter(T::PK.eq(pk))
        .exec(conn)
        .await
        .map_err(|error| on_unique(error, T::UNIQUE_INDEXES))?;
    Ok(())
}

/// Gives rows a new version and `lastModified` without changing their JSON: something they
/// show but do not store (a user's `groups`, a group's `members`) changed.
pub async fn touch<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pks: &[i64],
    now: DateTime<Utc>,
) -> Result<()> {
    for chunk in pks.chunks(IN_CHUNK) {
        T::update_many()
            .col_expr(T::VERSION, Expr::col(T::VERSION).add(1))
            .col_expr(T::UPDATED_AT, Expr::value(now))
            .filter(T::SHOP_ID.eq(shop_id))
            .filter(T::PK.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Deletes a row with its memberships, and stops counting it in its block.
pub async fn delete<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    row: &Row,
) -> Result<()> {
    scim_group_member::Entity::delete_many()
        .filter(scim_group_member::Column::ShopId.eq(shop_id))
        .filter(T::MEMBERSHIP.eq(row.pk))
        .exec(conn)
        .await?;
    T::delete_many()
        .filter(T::SHOP_ID.eq(shop_id))
        .filter(T::PK.eq(row.pk))
        .exec(conn)
        .await?;
    count_in_block::<T, C>(conn, shop_id, row.seq, -1).await
}

/// The page of `selection` that skips `offset` rows and holds at most `limit`, with the
/// selection's total.
pub async fn page<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    selection: &Selection<T::Key>,
    offset: u64,
    limit: u64,
) -> Result<Page> {
    let Some(condition) = condition::<T>(shop_id, selection) else {
        return Ok(Page {
            total: 0,
            rows: Vec::new(),
        });
    };
    if matches!(selection, Selection::All) {
        return page_by_position::<T, C>(conn, shop_id, offset, limit).await;
    }

    let total = T::find().filter(condition.clone()).count(conn).await?;
    if limit == 0 || offset >= total {
        return Ok(Page {
            total,
            rows: Vec::new(),
        });
    }
    let rows = T::find()
        .filter(condition)
        .order_by_asc(T::SEQ)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(Page {
        total,
        rows: rows.into_iter().map(T::into_row).collect(),
    })
}

/// The unfiltered page at `offset`, found through the block counts.
async fn page_by_position<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    offset: u64,
    limit: u64,
) -> Result<Page> {
    let blocks: Vec<(i64, i64)> = scim_list_block::Entity::find()
        .select_only()
        .column(scim_list_block::Column::Block)
        .column_as(Expr::cust("CAST(SUM(live) AS BIGINT)"), "live")
        .filter(scim_list_block::Column::ShopId.eq(shop_id))
        .filter(scim_list_block::Column::ResourceType.eq(T::RESOURCE_TYPE))
        .filter(scim_list_block::Column::Live.gt(0))
        .group_by(scim_list_block::Column::Block)
        .order_by_asc(scim_list_block::Column::Block)
        .into_tuple()
        .all(conn)
        .await?;
    let total = blocks
        .iter()
        .map(|(_, live)| u64::try_from(*live).unwrap_or(0))
        .sum();

    let Some(start) = locate(&blocks, offset).filter(|_| limit > 0) else {
        return Ok(Page {
            total,
            rows: Vec::new(),
        });
    };
    let rows = T::find()
        .filter(T::SHOP_ID.eq(shop_id))
        .filter(T::SEQ.gte(start.first_seq))
        .order_by_asc(T::SEQ)
        .offset(start.skip)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(Page {
        total,
        rows: rows.into_iter().map(T::into_row).collect(),
    })
}

/// Where the row at a list offset is: skip `skip` rows from position `first_seq` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Start {
    first_seq: i64,
    skip: u64,
}

/// Finds the block that holds the row at `offset` (0-based) from `(block, live)` counts in
/// block order; `None` when the offset is past the end.
fn locate(blocks: &[(i64, i64)], offset: u64) -> Option<Start> {
    let mut before = 0_u64;
    for &(block, live) in blocks {
        let live = u64::try_from(live).unwrap_or(0);
        if offset < before + live {
            return Some(Start {
                first_seq: block.saturating_mul(LIST_BLOCK_SIZE),
                skip: offset - before,
            });
        }
        before += live;
    }
    None
}

/// Takes the next list position of the shop's table.
async fn next_position<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
) -> Result<i64> {
    let first = scim_sequence::ActiveModel {
        shop_id: Set(shop_id),
        resource_type: Set(T::RESOURCE_TYPE.to_owned()),
        last_seq: Set(1),
    };
    // One statement: advancing and reading the counter in two would let two callers outside
    // a transaction read the same value.
    let taken = scim_sequence::Entity::insert(first)
        .on_conflict(
            OnConflict::columns([
                scim_sequence::Column::ShopId,
                scim_sequence::Column::ResourceType,
            ])
            .value(
                scim_sequence::Column::LastSeq,
                Expr::col((scim_sequence::Entity, scim_sequence::Column::LastSeq)).add(1),
            )
            .to_owned(),
        )
        .exec_with_returning(conn)
        .await?;

    Ok(taken.last_seq)
}

/// Adds `delta` to the count of the block and stripe holding position `seq`, dropping a
/// count that becomes zero.
async fn count_in_block<T: ResourceTable, C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    seq: i64,
    delta: i64,
) -> Result<()> {
    let block = seq.div_euclid(LIST_BLOCK_SIZE);
    let stripe = i32::try_from(seq.rem_euclid(LIST_BLOCK_STRIPES)).unwrap_or(0);
    let first = scim_list_block::ActiveModel {
        shop_id: Set(shop_id),
        resource_type: Set(T::RESOURCE_TYPE.to_owned()),
        block: Set(block),
        stripe: Set(stripe),
        live: Set(delta),
    };
    scim_list_block::Entity::insert(first)
        .on_conflict(
            OnConflict::columns([
                scim_list_block::Column::ShopId,
                scim_list_block::Column::ResourceType,
                scim_list_block::Column::Block,
                scim_list_block::Column::Stripe,
            ])
            .value(
                scim_list_block::Column::Live,
                Expr::col((scim_list_block::Entity, scim_list_block::Column::Live)).add(delta),
            )
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;

    if delta < 0 {
        scim_list_block::Entity::delete_many()
            .filter(scim_list_block::Column::ShopId.eq(shop_id))
            .filter(scim_list_block::Column::ResourceType.eq(T::RESOURCE_TYPE))
            .filter(scim_list_block::Column::Block.eq(block))
            .filter(scim_list_block::Column::Stripe.eq(stripe))
            .filter(scim_list_block::Column::Live.lte(0))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// The SQL condition of a selection within the shop; `None` when it matches nothing.
fn condition<T: ResourceTable>(
    shop_id: ShopId,
    selection: &Selection<T::Key>,
) -> Option<Condition> {
    let shop = Condition::all().add(T::SHOP_ID.eq(shop_id));
    match selection {
        Selection::All => Some(shop),
        Selection::AnyOf(alternatives) if alternatives.is_empty() => None,
        Selection::AnyOf(alternatives) => {
            let any = alternatives.iter().fold(Condition::any(), |any, keys| {
                let all = keys.iter().fold(Condition::all(), |all, key| {
                    all.add(T::key_condition(shop_id, key))
                });
                any.add(all)
            });
            Some(shop.add(any))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_is_found_in_the_block_that_holds_it() {
        let blocks = [(0, 511), (1, 3), (4, 512)];

        assert_eq!(
            locate(&blocks, 0),
            Some(Start {
                first_seq: 0,
                skip: 0
            })
        );
        assert_eq!(
            locate(&blocks, 510),
            Some(Start {
                first_seq: 0,
                skip: 510
            })
        );
        assert_eq!(
            locate(&blocks, 511),
            Some(Start {
                first_seq: LIST_BLOCK_SIZE,
                skip: 0
            })
        );
        assert_eq!(
            locate(&blocks, 515),
            Some(Start {
                first_seq: 4 * LIST_BLOCK_SIZE,
                skip: 1
            })
        );
    }

    #[test]
    fn an_offset_past_the_last_row_is_not_found() {
        assert_eq!(locate(&[(0, 2)], 2), None);
        assert_eq!(locate(&[], 0), None);
    }
}
