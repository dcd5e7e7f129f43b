//! Tenant-scoped queries on `scim_groups` and `scim_group_members`. Every function takes the
//! shop's id and filters by it.
//!
//! Membership is a set of (group, user) internal keys; the group's JSON never holds
//! `members`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
};

use crate::store::entity::{scim_group, scim_group_member};
use crate::store::{Result, Selection, UniqueIndex, on_unique, users};
use crate::types::ShopId;

/// Unique index on (shop, lowercased `displayName`).
pub const DISPLAY_NAME_INDEX: &str = "uq_scim_groups_shop_display_name";

/// Unique index on (shop, SCIM id).
pub const ID_INDEX: &str = "uq_scim_groups_shop_id";

const UNIQUE_INDEXES: &[UniqueIndex] = &[
    UniqueIndex {
        name: DISPLAY_NAME_INDEX,
        sqlite_columns: "scim_groups.shop_id, scim_groups.display_name_ci",
    },
    UniqueIndex {
        name: ID_INDEX,
        sqlite_columns: "scim_groups.shop_id, scim_groups.id",
    },
];

/// Largest number of bound values sent in one `IN (...)` list.
const IN_CHUNK: usize = 500;

/// What is written for a group: its canonical JSON (without `members`) and derived columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFields {
    /// `displayName` as sent.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Canonical SCIM JSON without `id`, `meta` and `members`.
    pub resource: String,
}

/// A condition a list query can evaluate in SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// SCIM id, case-exact.
    Id(String),
    /// `displayName`, compared case-insensitively.
    DisplayName(String),
    /// `externalId`, case-exact.
    ExternalId(String),
}

/// One member of a group, with what a response shows of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The group's internal key.
    pub group_pk: i64,
    /// The user's internal key.
    pub user_pk: i64,
    /// The user's SCIM id.
    pub user_id: String,
    /// The user's `displayName`.
    pub display_name: Option<String>,
}

/// Inserts a group with version 1.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
    fields: &GroupFields,
    now: DateTime<Utc>,
) -> Result<scim_group::Model> {
    scim_group::ActiveModel {
        shop_id: Set(shop_id),
        id: Set(id.to_owned()),
        display_name: Set(fields.display_name.clone()),
        display_name_ci: Set(fields.display_name.to_lowercase()),
        external_id: Set(fields.external_id.clone()),
        resource: Set(fields.resource.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|error| on_unique(error, UNIQUE_INDEXES))
}

/// Finds a group of the shop by SCIM id.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
) -> Result<Option<scim_group::Model>> {
    Ok(scim_group::Entity::find()
        .filter(scim_group::Column::ShopId.eq(shop_id))
        .filter(scim_group::Column::Id.eq(id))
        .one(conn)
        .await?)
}

/// Finds a group of the shop by SCIM id and, on PostgreSQL, locks its row until the
/// transaction ends.
pub async fn find_for_update<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
) -> Result<Option<scim_group::Model>> {
    Ok(scim_group::Entity::find()
        .filter(scim_group::Column::ShopId.eq(shop_id))
        .filter(scim_group::Column::Id.eq(id))
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// The SCIM ids among `ids` that name groups of the shop.
pub async fn existing_ids<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    ids: &[String],
) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let rows = scim_group::Entity::find()
            .filter(scim_group::Column::ShopId.eq(shop_id))
            .filter(scim_group::Column::Id.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        found.extend(rows.into_iter().map(|row| row.id));
    }
    Ok(found)
}

/// Rewrites a group's fields, stamping `version` and `updated_at`.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pk: i64,
    fields: &GroupFields,
    version: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    scim_group::Entity::update_many()
        .col_expr(
            scim_group::Column::DisplayName,
            Expr::value(fields.display_name.clone()),
        )
        .col_expr(
            scim_group::Column::DisplayNameCi,
            Expr::value(fields.display_name.to_lowercase()),
        )
        .col_expr(
            scim_group::Column::ExternalId,
            Expr::value(fields.external_id.clone()),
        )
        .col_expr(
            scim_group::Column::Resource,
            Expr::value(fields.resource.clone()),
        )
        .col_expr(scim_group::Column::Version, Expr::value(version))
        .col_expr(scim_group::Column::UpdatedAt, Expr::value(now))
        .filter(scim_group::Column::ShopId.eq(shop_id))
        .filter(scim_group::Column::Pk.eq(pk))
        .exec(conn)
        .await
        .map_err(|error| on_unique(error, UNIQUE_INDEXES))?;
    Ok(())
}

/// Deletes a group and its memberships.
pub async fn delete<C: ConnectionTrait>(conn: &C, shop_id: ShopId, pk: i64) -> Result<()> {
    scim_group_member::Entity::delete_many()
        .filter(scim_group_member::Column::ShopId.eq(shop_id))
        .filter(scim_group_member::Column::GroupPk.eq(pk))
        .exec(conn)
        .await?;
    scim_group::Entity::delete_many()
        .filter(scim_group::Column::ShopId.eq(shop_id))
        .filter(scim_group::Column::Pk.eq(pk))
        .exec(conn)
        .await?;
    Ok(())
}

/// The members of these groups, ordered by group and then user key.
pub async fn members<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    group_pks: &[i64],
) -> Result<Vec<Member>> {
    let mut pairs = Vec::new();
    for chunk in group_pks.chunks(IN_CHUNK) {
        let rows = scim_group_member::Entity::find()
            .filter(scim_group_member::Column::ShopId.eq(shop_id))
            .filter(scim_group_member::Column::GroupPk.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        pairs.extend(rows.into_iter().map(|row| (row.group_pk, row.user_pk)));
    }
    pairs.sort_unstable();

    let mut user_pks: Vec<i64> = pairs.iter().map(|(_, user_pk)| *user_pk).collect();
    user_pks.sort_unstable();
    user_pks.dedup();
    let users: HashMap<i64, _> = users::find_by_pks(conn, shop_id, &user_pks)
        .await?
        .into_iter()
        .map(|user| (user.pk, user))
        .collect();

    Ok(pairs
        .into_iter()
        .filter_map(|(group_pk, user_pk)| {
            let user = users.get(&user_pk)?;
            Some(Member {
                group_pk,
                user_pk,
                user_id: user.id.clone(),
                display_name: user.display_name.clone(),
            })
        })
        .collect())
}

/// Adds users to a group; the caller passes only users that are not members yet.
pub async fn add_members<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    group_pk: i64,
    user_pks: &[i64],
    now: DateTime<Utc>,
) -> Result<()> {
    for chunk in user_pks.chunks(IN_CHUNK) {
        let rows = chunk.iter().map(|user_pk| scim_group_member::ActiveModel {
            shop_id: Set(shop_id),
            group_pk: Set(group_pk),
            user_pk: Set(*user_pk),
            created_at: Set(now),
        });
        scim_group_member::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Removes users from a group; users that are not members are ignored.
pub async fn remove_members<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    group_pk: i64,
    user_pks: &[i64],
) -> Result<()> {
    for chunk in user_pks.chunks(IN_CHUNK) {
        scim_group_member::Entity::delete_many()
            .filter(scim_group_member::Column::ShopId.eq(shop_id))
            .filter(scim_group_member::Column::GroupPk.eq(group_pk))
            .filter(scim_group_member::Column::UserPk.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// How many groups of the shop the selection holds.
pub async fn count<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    selection: &Selection<Key>,
) -> Result<u64> {
    let Some(condition) = condition(shop_id, selection) else {
        return Ok(0);
    };
    Ok(scim_group::Entity::find()
        .filter(condition)
        .count(conn)
        .await?)
}

/// Up to `limit` groups of the selection after skipping `offset`, in key order.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    selection: &Selection<Key>,
    offset: u64,
    limit: u64,
) -> Result<Vec<scim_group::Model>> {
    let Some(condition) = condition(shop_id, selection) else {
        return Ok(Vec::new());
    };
    Ok(scim_group::Entity::find()
        .filter(condition)
        .order_by_asc(scim_group::Column::Pk)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The SQL condition of a selection within the shop; `None` when it matches nothing.
fn condition(shop_id: ShopId, selection: &Selection<Key>) -> Option<Condition> {
    let shop = Condition::all().add(scim_group::Column::ShopId.eq(shop_id));
    match selection {
        Selection::All => Some(shop),
        Selection::AnyOf(alternatives) if alternatives.is_empty() => None,
        Selection::AnyOf(alternatives) => {
            let any = alternatives.iter().fold(Condition::any(), |any, keys| {
                any.add(keys.iter().fold(Condition::all(), |all, key| {
                    all.add(match key {
                        Key::Id(id) => scim_group::Column::Id.eq(id.as_str()),
                        Key::DisplayName(name) => {
                            scim_group::Column::DisplayNameCi.eq(name.to_lowercase())
                        }
                        Key::ExternalId(id) => scim_group::Column::ExternalId.eq(id.as_str()),
                    })
                }))
            });
            Some(shop.add(any))
        }
    }
}
