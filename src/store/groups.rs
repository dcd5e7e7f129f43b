//! Tenant-scoped writes and list keys of `scim_groups`, and group membership
//! (`scim_group_members`); what groups share with users is in [`crate::store::resources`].
//!
//! Membership is a set of (group, user) internal keys; the group's JSON never holds
//! `members` and the user's never holds `groups`: both are read from here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::SimpleExpr;
use sea_orm::{ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _, Set};

use crate::store::entity::{scim_group, scim_group_member, scim_user};
use crate::store::resources::{self, IN_CHUNK, Position, ResourceTable, Row};
use crate::store::{Result, UniqueIndex, WriteTxn};
use crate::types::ShopId;

/// Unique index on (shop, lowercased `displayName`).
pub const DISPLAY_NAME_INDEX: &str = "uq_scim_groups_shop_display_name";

/// Unique index on (shop, SCIM id).
pub const ID_INDEX: &str = "uq_scim_groups_shop_id";

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

impl ResourceTable for scim_group::Entity {
    const RESOURCE_TYPE: &'static str = "Group";
    const SHOP_ID: scim_group::Column = scim_group::Column::ShopId;
    const ID: scim_group::Column = scim_group::Column::Id;
    const PK: scim_group::Column = scim_group::Column::Pk;
    const SEQ: scim_group::Column = scim_group::Column::Seq;
    const VERSION: scim_group::Column = scim_group::Column::Version;
    const UPDATED_AT: scim_group::Column = scim_group::Column::UpdatedAt;
    const MEMBERSHIP: scim_group_member::Column = scim_group_member::Column::GroupPk;
    const UNIQUE_INDEXES: &'static [UniqueIndex] = &[
        UniqueIndex {
            name: DISPLAY_NAME_INDEX,
            sqlite_columns: "scim_groups.shop_id, scim_groups.display_name_ci",
        },
        UniqueIndex {
            name: ID_INDEX,
            sqlite_columns: "scim_groups.shop_id, scim_groups.id",
        },
    ];

    type Key = Key;

    fn key_condition(_shop_id: ShopId, key: &Key) -> SimpleExpr {
        match key {
            Key::Id(id) => scim_group::Column::Id.eq(id.as_str()),
            Key::DisplayName(name) => scim_group::Column::DisplayNameCi.eq(name.to_lowercase()),
            Key::ExternalId(id) => scim_group::Column::ExternalId.eq(id.as_str()),
        }
    }

    fn into_row(model: scim_group::Model) -> Row {
        Row {
            pk: model.pk,
            id: model.id,
            seq: model.seq,
            display_name: Some(model.display_name),
            resource: model.resource,
            version: model.version,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// Which side of memberships a lookup starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Groups, to list their members.
    Groups,
    /// Users, to list their groups.
    Users,
}

/// One membership seen from one side: `owner_pk` is on the side asked about, `other` the
/// resource on the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// The internal key of the group (for [`Side::Groups`]) or user (for [`Side::Users`]).
    pub owner_pk: i64,
    /// The user who is a member, or the group the user belongs to.
    pub other: Row,
}

/// Inserts a group with version 1.
pub async fn insert(
    txn: &WriteTxn,
    shop_id: ShopId,
    id: &str,
    position: Position,
    fields: &GroupFields,
    now: DateTime<Utc>,
) -> Result<Row> {
    resources::insert::<scim_group::Entity>(txn, shop_id, position, |seq| scim_group::ActiveModel {
        shop_id: Set(shop_id),
        id: Set(id.to_owned()),
        seq: Set(seq),
        display_name: Set(fields.display_name.clone()),
        display_name_ci: Set(fields.display_name.to_lowercase()),
        external_id: Set(fields.external_id.clone()),
        resource: Set(fields.resource.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .await
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
    let columns = vec![
        (
            scim_group::Column::DisplayName,
            fields.display_name.clone().into(),
        ),
        (
            scim_group::Column::DisplayNameCi,
            fields.display_name.to_lowercase().into(),
        ),
        (
            scim_group::Column::ExternalId,
            fields.external_id.clone().into(),
        ),
        (scim_group::Column::Resource, fields.resource.clone().into()),
    ];
    resources::update::<scim_group::Entity, C>(conn, shop_id, pk, columns, version, now).await
}

/// The memberships of these groups or users, ordered by owner and then by the other side's
/// list position.
pub async fn related<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    side: Side,
    owner_pks: &[i64],
) -> Result<Vec<Related>> {
    let owner_column = match side {
        Side::Groups => scim_group_member::Column::GroupPk,
        Side::Users => scim_group_member::Column::UserPk,
    };
    let pair = |m: &scim_group_member::Model| match side {
        Side::Groups => (m.group_pk, m.user_pk),
        Side::Users => (m.user_pk, m.group_pk),
    };
    let mut pairs = Vec::new();
    for chunk in owner_pks.chunks(IN_CHUNK) {
        let rows = scim_group_member::Entity::find()
            .filter(scim_group_member::Column::ShopId.eq(shop_id))
            .filter(owner_column.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        pairs.extend(rows.iter().map(pair));
    }

    let mut other_pks: Vec<i64> = pairs.iter().map(|(_, other)| *other).collect();
    other_pks.sort_unstable();
    other_pks.dedup();
    let others = match side {
        Side::Groups => {
            resources::find_by_pks::<scim_user::Entity, C>(conn, shop_id, &other_pks).await?
        }
        Side::Users => {
            resources::find_by_pks::<scim_group::Entity, C>(conn, shop_id, &other_pks).await?
        }
    };
    let others: HashMap<i64, Row> = others.into_iter().map(|row| (row.pk, row)).collect();

    let mut related: Vec<Related> = pairs
        .into_iter()
        .filter_map(|(owner_pk, other_pk)| {
            let other = others.get(&other_pk)?.clone();
            Some(Related { owner_pk, other })
        })
        .collect();
    related.sort_by_key(|entry| (entry.owner_pk, entry.other.seq));
    Ok(related)
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
