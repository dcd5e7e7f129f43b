//! Tenant-scoped writes and list keys of `scim_users` and its address index
//! `scim_user_emails`; what users share with groups is in [`crate::store::resources`].
//!
//! The SCIM layer derives the indexed columns ([`UserFields`]) from a canonical resource;
//! this module owns how they are stored, e.g. that `user_name_ci` is the lowercased
//! `userName` and that every address is indexed lowercased.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, Func, Query, SimpleExpr};
use sea_orm::{ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _, Set};

use crate::store::entity::{scim_group_member, scim_user, scim_user_email};
use crate::store::resources::{self, IN_CHUNK, Position, ResourceTable, Row};
use crate::store::{Result, UniqueIndex, WriteTxn};
use crate::types::ShopId;

/// Unique index on (shop, lowercased `userName`).
pub const USER_NAME_INDEX: &str = "uq_scim_users_shop_user_name";

/// Unique index on (shop, SCIM id).
pub const ID_INDEX: &str = "uq_scim_users_shop_id";

/// What is written for a user: its canonical JSON and the columns derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFields {
    /// `userName` as sent.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Every `emails[].value`, any case.
    pub emails: Vec<String>,
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
    /// Any of the user's email addresses, compared case-insensitively.
    Email(String),
    /// `displayName` whose SQL `LOWER` equals this already-lowercased ASCII text.
    DisplayNameAsciiLower(String),
    /// `active`.
    Active(bool),
}

impl ResourceTable for scim_user::Entity {
    const RESOURCE_TYPE: &'static str = "User";
    const SHOP_ID: scim_user::Column = scim_user::Column::ShopId;
    const ID: scim_user::Column = scim_user::Column::Id;
    const PK: scim_user::Column = scim_user::Column::Pk;
    const SEQ: scim_user::Column = scim_user::Column::Seq;
    const VERSION: scim_user::Column = scim_user::Column::Version;
    const UPDATED_AT: scim_user::Column = scim_user::Column::UpdatedAt;
    const MEMBERSHIP: scim_group_member::Column = scim_group_member::Column::UserPk;
    const UNIQUE_INDEXES: &'static [UniqueIndex] = &[
        UniqueIndex {
            name: USER_NAME_INDEX,
            sqlite_columns: "scim_users.shop_id, scim_users.user_name_ci",
        },
        UniqueIndex {
            name: ID_INDEX,
            sqlite_columns: "scim_users.shop_id, scim_users.id",
        },
    ];

    type Key = Key;

    fn key_condition(shop_id: ShopId, key: &Key) -> SimpleExpr {
        match key {
            Key::Id(id) => scim_user::Column::Id.eq(id.as_str()),
            Key::UserName(name) => scim_user::Column::UserNameCi.eq(name.to_lowercase()),
            Key::ExternalId(id) => scim_user::Column::ExternalId.eq(id.as_str()),
            Key::Email(email) => scim_user::Column::Pk.in_subquery(
                Query::select()
                    .column(scim_user_email::Column::UserPk)
                    .from(scim_user_email::Entity)
                    .and_where(scim_user_email::Column::ShopId.eq(shop_id))
                    .and_where(scim_user_email::Column::ValueCi.eq(email.to_lowercase()))
                    .to_owned(),
            ),
            Key::DisplayNameAsciiLower(text) => {
                Expr::expr(Func::lower(Expr::col(scim_user::Column::DisplayName))).eq(text.as_str())
            }
            Key::Active(active) => scim_user::Column::Active.eq(*active),
        }
    }

    fn into_row(model: scim_user::Model) -> Row {
        Row {
            pk: model.pk,
            id: model.id,
            seq: model.seq,
            display_name: model.display_name,
            resource: model.resource,
            version: model.version,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// Inserts a user with version 1 and indexes its addresses.
pub async fn insert(
    txn: &WriteTxn,
    shop_id: ShopId,
    id: &str,
    position: Position,
    fields: &UserFields,
    now: DateTime<Utc>,
) -> Result<Row> {
    let row = resources::insert::<scim_user::Entity>(txn, shop_id, position, |seq| {
        scim_user::ActiveModel {
            shop_id: Set(shop_id),
            id: Set(id.to_owned()),
            seq: Set(seq),
            user_name: Set(fields.user_name.clone()),
            user_name_ci: Set(fields.user_name.to_lowercase()),
            external_id: Set(fields.external_id.clone()),
            display_name: Set(fields.display_name.clone()),
            active: Set(fields.active),
            resource: Set(fields.resource.clone()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    })
    .await?;

    index_emails(&**txn, shop_id, row.pk, &fields.emails).await?;
    Ok(row)
}

/// Rewrites a user's fields and addresses, stamping `version` and `updated_at`.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pk: i64,
    fields: &UserFields,
    version: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let columns = vec![
        (scim_user::Column::UserName, fields.user_name.clone().into()),
        (
            scim_user::Column::UserNameCi,
            fields.user_name.to_lowercase().into(),
        ),
        (
            scim_user::Column::ExternalId,
            fields.external_id.clone().into(),
        ),
        (
            scim_user::Column::DisplayName,
            fields.display_name.clone().into(),
        ),
        (scim_user::Column::Active, fields.active.into()),
        (scim_user::Column::Resource, fields.resource.clone().into()),
    ];
    resources::update::<scim_user::Entity, C>(conn, shop_id, pk, columns, version, now).await?;

    scim_user_email::Entity::delete_many()
        .filter(scim_user_email::Column::ShopId.eq(shop_id))
        .filter(scim_user_email::Column::UserPk.eq(pk))
        .exec(conn)
        .await?;
    index_emails(conn, shop_id, pk, &fields.emails).await
}

/// Records a user's addresses, lowercased, each once.
async fn index_emails<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    pk: i64,
    emails: &[String],
) -> Result<()> {
    let mut lowered: Vec<String> = emails.iter().map(|email| email.to_lowercase()).collect();
    lowered.sort_unstable();
    lowered.dedup();

    for chunk in lowered.chunks(IN_CHUNK) {
        let rows = chunk.iter().map(|value| scim_user_email::ActiveModel {
            shop_id: Set(shop_id),
            user_pk: Set(pk),
            value_ci: Set(value.clone()),
        });
        scim_user_email::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// SCIM ids of the shop's users with `email` among their addresses (any case).
pub async fn ids_with_email<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    email: &str,
) -> Result<Vec<String>> {
    use sea_orm::QuerySelect as _;

    let ids: Vec<String> = scim_user::Entity::find()
        .select_only()
        .column(scim_user::Column::Id)
        .filter(scim_user::Column::ShopId.eq(shop_id))
        .filter(
            scim_user::Column::Pk.in_subquery(
                Query::select()
                    .column(scim_user_email::Column::UserPk)
                    .from(scim_user_email::Entity)
                    .and_where(scim_user_email::Column::ShopId.eq(shop_id))
                    .and_where(scim_user_email::Column::ValueCi.eq(email.trim().to_lowercase()))
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids)
}
