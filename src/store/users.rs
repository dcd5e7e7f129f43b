//! Tenant-scoped queries on `scim_users`. Every function takes the shop's id and filters by
//! it; rows are addressed by SCIM id or internal key only together with that shop id.
//!
//! The SCIM layer derives the indexed columns ([`UserFields`]) from a canonical resource;
//! this module owns how they are stored, e.g. that `user_name_ci` is the lowercased
//! `userName`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, Func};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _, Set,
};

use crate::store::entity::{scim_group_member, scim_user};
use crate::store::{Result, Selection, UniqueIndex, on_unique};
use crate::types::ShopId;

/// Unique index on (shop, lowercased `userName`).
pub const USER_NAME_INDEX: &str = "uq_scim_users_shop_user_name";

/// Unique index on (shop, SCIM id).
pub const ID_INDEX: &str = "uq_scim_users_shop_id";

const UNIQUE_INDEXES: &[UniqueIndex] = &[
    UniqueIndex {
        name: USER_NAME_INDEX,
        sqlite_columns: "scim_users.shop_id, scim_users.user_name_ci",
    },
    UniqueIndex {
        name: ID_INDEX,
        sqlite_columns: "scim_users.shop_id, scim_users.id",
    },
];

/// Largest number of bound values sent in one `IN (...)` list.
const IN_CHUNK: usize = 500;

/// What is written for a user: its canonical JSON and the columns derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFields {
    /// `userName` as sent.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The primary (else first) email, any case.
    pub primary_email: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active`.
    pub active: bool,
    /// Canonical SCIM JSON without `id` and `meta`.
    pub resource: String,
}

/// A condition a list query can evaluate in SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// SCIM id, case-exact.
    Id(String),
    /// `userName`, compared case-insensitively.
    UserName(String),
    /// `externalId`, case-exact.
    ExternalId(String),
    /// The indexed (primary, else first) email, compared case-insensitively.
    PrimaryEmail(String),
    /// `displayName` whose SQL `LOWER` equals this already-lowercased ASCII text.
    DisplayNameAsciiLower(String),
    /// `active`.
    Active(bool),
}

/// Inserts a user with version 1.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
    fields: &UserFields,
    now: DateTime<Utc>,
) -> Result<scim_user::Model> {
    scim_user::ActiveModel {
        shop_id: Set(shop_id),
        id: Set(id.to_owned()),
        user_name: Set(fields.user_name.clone()),
        user_name_ci: Set(fields.user_name.to_lowercase()),
        external_id: Set(fields.external_id.clone()),
        primary_email_ci: Set(fields.primary_email.as_deref().map(str::to_lowercase)),
        display_name: Set(fields.display_name.clone()),
        active: Set(fields.active),
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

/// Finds a user of the shop by SCIM id.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
) -> Result<Option<scim_user::Model>> {
    Ok(scim_user::Entity::find()
        .filter(scim_user::Column::ShopId.eq(shop_id))
        .filter(scim_user::Column::Id.eq(id))
        .one(conn)
        .await?)
}

/// Finds a user of the shop by SCIM id and, on PostgreSQL, locks its row until the
/// transaction ends (SQLite write transactions already hold the database lock).
pub async fn find_for_update<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    id: &str,
) -> Result<Option<scim_user::Model>> {
    Ok(scim_user::Entity::find()
        .filter(scim_user::Column::ShopId.eq(shop_id))
        .filter(scim_user::Column::Id.eq(id))
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// Rewrites a user's fields, stamping `version` and `updated_at`.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pk: i64,
    fields: &UserFields,
    version: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    scim_user::Entity::update_many()
        .col_expr(
            scim_user::Column::UserName,
            Expr::value(fields.user_name.clone()),
        )
        .col_expr(
            scim_user::Column::UserNameCi,
            Expr::value(fields.user_name.to_lowercase()),
        )
        .col_expr(
            scim_user::Column::ExternalId,
            Expr::value(fields.external_id.clone()),
        )
        .col_expr(
            scim_user::Column::PrimaryEmailCi,
            Expr::value(fields.primary_email.as_deref().map(str::to_lowercase)),
        )
        .col_expr(
            scim_user::Column::DisplayName,
            Expr::value(fields.display_name.clone()),
        )
        .col_expr(scim_user::Column::Active, Expr::value(fields.active))
        .col_expr(
            scim_user::Column::Resource,
            Expr::value(fields.resource.clone()),
        )
        .col_expr(scim_user::Column::Version, Expr::value(version))
        .col_expr(scim_user::Column::UpdatedAt, Expr::value(now))
        .filter(scim_user::Column::ShopId.eq(shop_id))
        .filter(scim_user::Column::Pk.eq(pk))
        .exec(conn)
        .await
        .map_err(|error| on_unique(error, UNIQUE_INDEXES))?;
    Ok(())
}

/// Deletes a user and its group memberships.
pub async fn delete<C: ConnectionTrait>(conn: &C, shop_id: ShopId, pk: i64) -> Result<()> {
    scim_group_member::Entity::delete_many()
        .filter(scim_group_member::Column::ShopId.eq(shop_id))
        .filter(scim_group_member::Column::UserPk.eq(pk))
        .exec(conn)
        .await?;
    scim_user::Entity::delete_many()
        .filter(scim_user::Column::ShopId.eq(shop_id))
        .filter(scim_user::Column::Pk.eq(pk))
        .exec(conn)
        .await?;
    Ok(())
}

/// The users of the shop with these SCIM ids; unknown ids are left out.
pub async fn find_by_ids<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    ids: &[String],
) -> Result<Vec<scim_user::Model>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let rows = scim_user::Entity::find()
            .filter(scim_user::Column::ShopId.eq(shop_id))
            .filter(scim_user::Column::Id.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// The users of the shop with these internal keys; unknown keys are left out.
pub async fn find_by_pks<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pks: &[i64],
) -> Result<Vec<scim_user::Model>> {
    let mut found = Vec::with_capacity(pks.len());
    for chunk in pks.chunks(IN_CHUNK) {
        let rows = scim_user::Entity::find()
            .filter(scim_user::Column::ShopId.eq(shop_id))
            .filter(scim_user::Column::Pk.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// How many users of the shop the selection holds.
pub async fn count<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    selection: &Selection<Key>,
) -> Result<u64> {
    let Some(condition) = condition(shop_id, selection) else {
        return Ok(0);
    };
    Ok(scim_user::Entity::find()
        .filter(condition)
        .count(conn)
        .await?)
}

/// Up to `limit` users of the selection after skipping `offset`, in key order.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    selection: &Selection<Key>,
    offset: u64,
    limit: u64,
) -> Result<Vec<scim_user::Model>> {
    let Some(condition) = condition(shop_id, selection) else {
        return Ok(Vec::new());
    };
    Ok(scim_user::Entity::find()
        .filter(condition)
        .order_by_asc(scim_user::Column::Pk)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The SQL condition of a selection within the shop; `None` when it matches nothing.
fn condition(shop_id: ShopId, selection: &Selection<Key>) -> Option<Condition> {
    let shop = Condition::all().add(scim_user::Column::ShopId.eq(shop_id));
    match selection {
        Selection::All => Some(shop),
        Selection::AnyOf(alternatives) if alternatives.is_empty() => None,
        Selection::AnyOf(alternatives) => {
            let any = alternatives.iter().fold(Condition::any(), |any, keys| {
                any.add(
                    keys.iter()
                        .fold(Condition::all(), |all, key| all.add(key_expr(key))),
                )
            });
            Some(shop.add(any))
        }
    }
}

fn key_expr(key: &Key) -> Condition {
    let expr = match key {
        Key::Id(id) => scim_user::Column::Id.eq(id.as_str()),
        Key::UserName(name) => scim_user::Column::UserNameCi.eq(name.to_lowercase()),
        Key::ExternalId(id) => scim_user::Column::ExternalId.eq(id.as_str()),
        Key::PrimaryEmail(email) => scim_user::Column::PrimaryEmailCi.eq(email.to_lowercase()),
        Key::DisplayNameAsciiLower(text) => {
            Expr::expr(Func::lower(Expr::col(scim_user::Column::DisplayName))).eq(text.as_str())
        }
        Key::Active(active) => scim_user::Column::Active.eq(*active),
    };
    Condition::all().add(expr)
}
