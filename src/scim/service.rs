//! The SCIM resource service: create, read, replace, patch, delete and list Users and Groups
//! of one tenant (RFC 7644 §3.3–3.6, §3.14), over the database and the sync outbox.
//!
//! Every write runs in one transaction that also enqueues a sync job for each subject whose
//! Shopify state may change (the user; for a group, the group and every user who joined or
//! left it), so the write and its jobs exist together or not at all. A write that changes
//! nothing (a PATCH re-adding a member, a PUT of the stored representation) keeps the version
//! and `lastModified` and enqueues nothing.
//!
//! Representation: `id` is a random UUID; `meta.version` and the `ETag` are `W/"<n>"` with
//! `n` the row's version, starting at 1; timestamps are RFC 3339 UTC with milliseconds.
//! A created or replaced user without `active` is stored as `active: true`; a PATCH may
//! unassign it, and such a user counts as active. Group members are users of the same
//! shop, returned as `{value, display?, type: "User", $ref}` in user key order.
//!
//! Lists are ordered by internal key unless `sortBy` is given (Okta needs a stable order
//! across pages). Filters the database can answer exactly run
//! as SQL with `COUNT` and `LIMIT`/`OFFSET`; anything else is evaluated in memory over at
//! most [`MAX_CANDIDATES`] rows that SQL selected, and so is `sortBy`. The translation and
//! its limits (only one email per user is indexed) are documented in `scim::query`.
//!
//! # Known limitations
//! - Nested groups are not supported: a member must be a user.
//! - Deleting a user drops its memberships without a new version or job for its groups;
//!   the user's own job carries the change.
//! - `If-Match` is compared weakly against the current version; `If-None-Match` is the web
//!   layer's job.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, SubsecRound as _, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde_json::{Map, Value, json};

use crate::scim::attr::{AttrPath, ResourceTypeDef};
use crate::scim::error::{Error, Result};
use crate::scim::patch::{self, MemberChange};
use crate::scim::query;
use crate::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use crate::scim::{filter, resource};
use crate::store::entity::{scim_group, scim_user};
use crate::store::outbox::{self, SubjectKind};
use crate::store::tokens::TenantScope;
use crate::store::{self, Database, Selection, groups, users};
use crate::types::ShopId;

/// Page size when the client gives no `count`.
pub const DEFAULT_COUNT: i64 = 100;

/// Largest page returned; a larger `count` is clamped.
pub const MAX_COUNT: i64 = 1000;

/// Most rows a list loads to filter or sort in memory; beyond, the answer is `tooMany`.
pub const MAX_CANDIDATES: u64 = 10_000;

/// What every service call needs: the pool, the authenticated tenant and the base URL.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The pool.
    pub db: &'a Database,
    /// The tenant every query is limited to.
    pub scope: &'a TenantScope,
    /// The tenant's SCIM base URL without trailing slash, e.g.
    /// `https://host/scim/v2/demo-shop`.
    pub base_url: &'a str,
}

impl Ctx<'_> {
    fn shop_id(&self) -> ShopId {
        self.scope.shop_id()
    }
}

/// The two resource types this service manages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl Kind {
    /// The resource type definition.
    pub fn resource_type(self) -> &'static ResourceTypeDef {
        match self {
            Self::User => &USER_RESOURCE,
            Self::Group => &GROUP_RESOURCE,
        }
    }

    /// The resource type name, `User` or `Group`.
    pub fn name(self) -> &'static str {
        self.resource_type().name
    }
}

/// A resource as stored, ready to be projected and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The complete canonical JSON: `schemas`, `id`, `meta`, the attributes and, for groups
    /// when asked, `members`.
    pub resource: Value,
    /// The `ETag`, equal to `meta.version`: `W/"<n>"`.
    pub version: String,
}

/// The parameters of a list request (RFC 7644 §3.4.2), as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// `filter`, unparsed.
    pub filter: Option<String>,
    /// `sortBy`, unparsed.
    pub sort_by: Option<String>,
    /// Whether `sortOrder` is `descending`.
    pub descending: bool,
    /// `startIndex`, 1-based; below 1 means 1.
    pub start_index: i64,
    /// `count`; `None` is [`DEFAULT_COUNT`], a negative value 0, above [`MAX_COUNT`] is
    /// clamped.
    pub count: Option<i64>,
    /// Whether Groups carry `members` (false for `excludedAttributes=members`).
    pub include_members: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            filter: None,
            sort_by: None,
            descending: false,
            start_index: 1,
            count: None,
            include_members: true,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// How many resources match in all.
    pub total_results: u64,
    /// The 1-based index of the first resource of this page.
    pub start_index: u64,
    /// The resources of this page, complete (before attribute projection).
    pub resources: Vec<Value>,
}

// ---------------------------------------------------------------------------------------------
// Operations

/// Creates a resource from a POST body (RFC 7644 §3.3).
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
    scim.resource_id = tracing::field::Empty,
))]
pub async fn create(ctx: &Ctx<'_>, kind: Kind, body: &Value) -> Result<Stored> {
    let mut canonical = resource::normalize(body, kind.resource_type())?;
    let id = uuid::Uuid::new_v4().to_string();
    tracing::Span::current().record("scim.resource_id", id.as_str());
    let now = now();

    let txn = ctx.db.begin_write().await?;
    let stored = match kind {
        Kind::User => {
            default_active(&mut canonical);
            let fields = user_fields(&mut canonical)?;
            let row = users::insert(&txn, ctx.shop_id(), &id, &fields, now).await?;
            outbox::enqueue(&txn, ctx.shop_id(), SubjectKind::User, &id).await?;
            render_user(ctx, &row)?
        }
        Kind::Group => {
            let member_ids = take_members(&mut canonical)?;
            let fields = group_fields(&canonical)?;
            let wanted = resolve_members(&txn, ctx.shop_id(), &member_ids).await?;
            let row = groups::insert(&txn, ctx.shop_id(), &id, &fields, now).await?;
            let pks: Vec<i64> = wanted.iter().map(|(_, pk)| *pk).collect();
            groups::add_members(&txn, ctx.shop_id(), row.pk, &pks, now).await?;
            outbox::enqueue(&txn, ctx.shop_id(), SubjectKind::Group, &id).await?;
            for (user_id, _) in &wanted {
                outbox::enqueue(&txn, ctx.shop_id(), SubjectKind::User, user_id).await?;
            }
            render_group_loading(ctx, &txn, &row, true).await?
        }
    };
    txn.commit().await?;

    tracing::info!("SCIM resource created");
    Ok(stored)
}

/// Reads one resource of the tenant; groups carry `members` when `include_members`.
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
    scim.resource_id = %id,
))]
pub async fn get(ctx: &Ctx<'_>, kind: Kind, id: &str, include_members: bool) -> Result<Stored> {
    let conn = ctx.db.conn();
    match kind {
        Kind::User => {
            let row = users::find(conn, ctx.shop_id(), id)
                .await?
                .ok_or(Error::NotFound)?;
            render_user(ctx, &row)
        }
        Kind::Group => {
            let row = groups::find(conn, ctx.shop_id(), id)
                .await?
                .ok_or(Error::NotFound)?;
            render_group_loading(ctx, conn, &row, include_members).await
        }
    }
}

/// Replaces a resource's writable attributes with a PUT body (RFC 7644 §3.5.1); for groups
/// the member set becomes the body's `members`. An `id` in the body is ignored.
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
    scim.resource_id = %id,
))]
pub async fn replace(
    ctx: &Ctx<'_>,
    kind: Kind,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Stored> {
    let mut canonical = resource::normalize(body, kind.resource_type())?;

    let txn = ctx.db.begin_write().await?;
    let stored = match kind {
        Kind::User => {
            let row = lock_user(ctx, &txn, id, if_match).await?;
            default_active(&mut canonical);
            write_user(ctx, &txn, row, canonical).await?
        }
        Kind::Group => {
            let member_ids = take_members(&mut canonical)?;
            let row = lock_group(ctx, &txn, id, if_match).await?;
            let changes = [MemberChange::ReplaceAll(member_ids)];
            write_group(ctx, &txn, row, canonical, &changes).await?
        }
    };
    txn.commit().await?;
    Ok(stored)
}

/// Applies a `PatchOp` body (RFC 7644 §3.5.2), all or nothing.
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
    scim.resource_id = %id,
))]
pub async fn patch(
    ctx: &Ctx<'_>,
    kind: Kind,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> Result<Stored> {
    let operations = patch::parse_request(body)?;
    let rt = kind.resource_type();

    let txn = ctx.db.begin_write().await?;
    let stored = match kind {
        Kind::User => {
            let row = lock_user(ctx, &txn, id, if_match).await?;
            let mut doc = parse_stored(&row.resource)?;
            patch::apply(&mut doc, &operations, rt)?;
            write_user(ctx, &txn, row, doc).await?
        }
        Kind::Group => {
            let row = lock_group(ctx, &txn, id, if_match).await?;
            let mut doc = parse_stored(&row.resource)?;
            let applied = patch::apply(&mut doc, &operations, rt)?;
            write_group(ctx, &txn, row, doc, &applied.members).await?
        }
    };
    txn.commit().await?;
    Ok(stored)
}

/// Deletes a resource for good (RFC 7644 §3.6); a group's memberships go with it.
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
    scim.resource_id = %id,
))]
pub async fn delete(ctx: &Ctx<'_>, kind: Kind, id: &str, if_match: Option<&str>) -> Result<()> {
    let shop_id = ctx.shop_id();

    let txn = ctx.db.begin_write().await?;
    match kind {
        Kind::User => {
            let row = lock_user(ctx, &txn, id, if_match).await?;
            users::delete(&txn, shop_id, row.pk).await?;
            outbox::enqueue(&txn, shop_id, SubjectKind::User, &row.id).await?;
        }
        Kind::Group => {
            let row = lock_group(ctx, &txn, id, if_match).await?;
            let former = groups::members(&txn, shop_id, &[row.pk]).await?;
            groups::delete(&txn, shop_id, row.pk).await?;
            outbox::enqueue(&txn, shop_id, SubjectKind::Group, &row.id).await?;
            for member in &former {
                outbox::enqueue(&txn, shop_id, SubjectKind::User, &member.user_id).await?;
            }
        }
    }
    txn.commit().await?;

    tracing::info!("SCIM resource deleted");
    Ok(())
}

/// Lists the tenant's resources of one type (RFC 7644 §3.4.2): filtered, sorted, paged.
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
))]
pub async fn list(ctx: &Ctx<'_>, kind: Kind, query: &ListQuery) -> Result<ListPage> {
    let rt = kind.resource_type();
    let filter = match query.filter.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => {
            let filter = filter::parse(text)?;
            filter.validate(rt)?;
            Some(filter)
        }
        _ => None,
    };
    let sort_by = match query.sort_by.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => {
            let path = AttrPath::parse(text)
                .map_err(|_| Error::InvalidPath("sortBy is not an attribute path".to_owned()))?;
            filter::compare_for_sort(&json!({}), &json!({}), &path, rt)?;
            Some(path)
        }
        _ => None,
    };
    let start_index = u64::try_from(query.start_index.max(1)).unwrap_or(1);
    let count =
        u64::try_from(query.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_COUNT)).unwrap_or(0);
    let window = Window {
        offset: start_index - 1,
        count,
    };

    let (total_results, resources) = match kind {
        Kind::User => list_users(ctx, filter.as_ref(), sort_by.as_ref(), query, window).await?,
        Kind::Group => list_groups(ctx, filter.as_ref(), sort_by.as_ref(), query, window).await?,
    };
    tracing::debug!(scim.total_results = total_results, "SCIM list answered");
    Ok(ListPage {
        total_results,
        start_index,
        resources,
    })
}

/// Lists Users, then Groups, as one sequence: the root `/.search` (RFC 7644 §3.4.3).
///
/// A filter or `sortBy` naming an attribute one type lacks matches nothing of that type; it
/// is an error only when it fits neither.
pub async fn list_all(ctx: &Ctx<'_>, query: &ListQuery) -> Result<ListPage> {
    let start_index = u64::try_from(query.start_index.max(1)).unwrap_or(1);
    let count =
        u64::try_from(query.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_COUNT)).unwrap_or(0);

    let mut totals = Vec::new();
    let mut first_error = None;
    for kind in [Kind::User, Kind::Group] {
        let probe = ListQuery {
            count: Some(0),
            ..query.clone()
        };
        match list(ctx, kind, &probe).await {
            Ok(page) => totals.push((kind, page.total_results)),
            Err(error @ (Error::InvalidFilter(_) | Error::InvalidPath(_))) => {
                first_error.get_or_insert(error);
            }
            Err(other) => return Err(other),
        }
    }
    if totals.is_empty()
        && let Some(error) = first_error
    {
        return Err(error);
    }

    let mut resources = Vec::new();
    let mut skip = start_index - 1;
    for &(kind, total) in &totals {
        let remaining = count.saturating_sub(resources.len() as u64);
        if skip >= total {
            skip -= total;
            continue;
        }
        if remaining == 0 {
            break;
        }
        let page_query = ListQuery {
            start_index: i64::try_from(skip + 1).unwrap_or(i64::MAX),
            count: Some(i64::try_from(remaining.min(total - skip)).unwrap_or(0)),
            ..query.clone()
        };
        resources.extend(list(ctx, kind, &page_query).await?.resources);
        skip = 0;
    }
    Ok(ListPage {
        total_results: totals.iter().map(|(_, total)| total).sum(),
        start_index,
        resources,
    })
}

// ---------------------------------------------------------------------------------------------
// Writes

/// Loads a user for writing and checks `If-Match`.
async fn lock_user(
    ctx: &Ctx<'_>,
    txn: &DatabaseTransaction,
    id: &str,
    if_match: Option<&str>,
) -> Result<scim_user::Model> {
    let row = users::find_for_update(txn, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound)?;
    check_if_match(if_match, row.version)?;
    Ok(row)
}

/// Loads a group for writing and checks `If-Match`.
async fn lock_group(
    ctx: &Ctx<'_>,
    txn: &DatabaseTransaction,
    id: &str,
    if_match: Option<&str>,
) -> Result<scim_group::Model> {
    let row = groups::find_for_update(txn, ctx.shop_id(), id)
        .await?
        .ok_or(Error::NotFound)?;
    check_if_match(if_match, row.version)?;
    Ok(row)
}

/// Stores a user's new canonical JSON, unless it equals the stored one.
async fn write_user(
    ctx: &Ctx<'_>,
    txn: &DatabaseTransaction,
    row: scim_user::Model,
    mut doc: Value,
) -> Result<Stored> {
    let fields = user_fields(&mut doc)?;
    if doc == parse_stored(&row.resource)? {
        tracing::debug!("SCIM write changed nothing");
        return render_user(ctx, &row);
    }

    let shop_id = ctx.shop_id();
    users::update(txn, shop_id, row.pk, &fields, row.version + 1, now()).await?;
    outbox::enqueue(txn, shop_id, SubjectKind::User, &row.id).await?;

    let updated = users::find(txn, shop_id, &row.id)
        .await?
        .ok_or(Error::NotFound)?;
    tracing::info!(scim.version = updated.version, "SCIM resource updated");
    render_user(ctx, &updated)
}

/// Stores a group's new canonical JSON and applies member changes in order, unless neither
/// changes anything.
async fn write_group(
    ctx: &Ctx<'_>,
    txn: &DatabaseTransaction,
    row: scim_group::Model,
    doc: Value,
    changes: &[MemberChange],
) -> Result<Stored> {
    let shop_id = ctx.shop_id();
    let fields = group_fields(&doc)?;
    let doc_changed = doc != parse_stored(&row.resource)?;

    let current: Vec<(String, i64)> = groups::members(txn, shop_id, &[row.pk])
        .await?
        .into_iter()
        .map(|member| (member.user_id, member.user_pk))
        .collect();
    let named = named_member_ids(changes);
    let known = resolve_members(txn, shop_id, &named).await?;
    let pk_of: HashMap<&str, i64> = current
        .iter()
        .chain(known.iter())
        .map(|(id, pk)| (id.as_str(), *pk))
        .collect();
    let wanted = apply_member_changes(current.iter().map(|(id, _)| id.clone()), changes);

    let before: HashSet<&str> = current.iter().map(|(id, _)| id.as_str()).collect();
    let after: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let added: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|id| !before.contains(id))
        .collect();
    let removed: Vec<&str> = current
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| !after.contains(id))
        .collect();
    if !doc_changed && added.is_empty() && removed.is_empty() {
        tracing::debug!("SCIM write changed nothing");
        return render_group_loading(ctx, txn, &row, true).await;
    }

    let now = now();
    groups::update(txn, shop_id, row.pk, &fields, row.version + 1, now).await?;
    let pks =
        |ids: &[&str]| -> Vec<i64> { ids.iter().filter_map(|id| pk_of.get(id).copied()).collect() };
    groups::add_members(txn, shop_id, row.pk, &pks(&added), now).await?;
    groups::remove_members(txn, shop_id, row.pk, &pks(&removed)).await?;
    outbox::enqueue(txn, shop_id, SubjectKind::Group, &row.id).await?;
    for user_id in added.iter().chain(removed.iter()) {
        outbox::enqueue(txn, shop_id, SubjectKind::User, user_id).await?;
    }

    let updated = groups::find(txn, shop_id, &row.id)
        .await?
        .ok_or(Error::NotFound)?;
    tracing::info!(
        scim.version = updated.version,
        scim.members_added = added.len(),
        scim.members_removed = removed.len(),
        "SCIM resource updated"
    );
    render_group_loading(ctx, txn, &updated, true).await
}

/// Every member id that an add or a replacement names, once each, in order.
fn named_member_ids(changes: &[MemberChange]) -> Vec<String> {
    let mut seen = HashSet::new();
    changes
        .iter()
        .flat_map(|change| match change {
            MemberChange::Add(ids) | MemberChange::ReplaceAll(ids) => ids.as_slice(),
            MemberChange::Remove(_) | MemberChange::RemoveAll => &[],
        })
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect()
}

/// The member set after applying `changes` in order to `current`; order is kept, with new
/// members appended.
fn apply_member_changes(
    current: impl IntoIterator<Item = String>,
    changes: &[MemberChange],
) -> Vec<String> {
    let mut members: Vec<String> = current.into_iter().collect();
    for change in changes {
        match change {
            MemberChange::Add(ids) => {
                for id in ids {
                    if !members.contains(id) {
                        members.push(id.clone());
                    }
                }
            }
            MemberChange::Remove(ids) => members.retain(|member| !ids.contains(member)),
            MemberChange::RemoveAll => members.clear(),
            MemberChange::ReplaceAll(ids) => {
                members.clear();
                for id in ids {
                    if !members.contains(id) {
                        members.push(id.clone());
                    }
                }
            }
        }
    }
    members
}

/// Looks up member ids as users of the shop, in the given order; any id that names no
/// user is `invalidValue` (a group id says that nesting is unsupported).
async fn resolve_members<C: ConnectionTrait>(
    conn: &C,
    shop_id: ShopId,
    ids: &[String],
) -> Result<Vec<(String, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: HashMap<String, i64> = users::find_by_ids(conn, shop_id, ids)
        .await?
        .into_iter()
        .map(|user| (user.id, user.pk))
        .collect();

    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !found.contains_key(id.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        if !groups::existing_ids(conn, shop_id, &missing)
            .await?
            .is_empty()
        {
            return Err(nested_groups());
        }
        return Err(Error::InvalidValue(format!(
            "members.value: {} member id(s) name no user of this shop",
            missing.len()
        )));
    }
    Ok(ids
        .iter()
        .filter_map(|id| found.get(id).map(|pk| (id.clone(), *pk)))
        .collect())
}

fn nested_groups() -> Error {
    Error::InvalidValue("nested groups are not supported".to_owned())
}

/// Removes `members` from a canonical group and returns their ids, once each.
fn take_members(canonical: &mut Value) -> Result<Vec<String>> {
    let Some(members) = canonical
        .as_object_mut()
        .and_then(|object| object.remove("members"))
    else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<String> = Vec::new();
    for member in members.as_array().map(Vec::as_slice).unwrap_or_default() {
        let is_group = member
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.eq_ignore_ascii_case("Group"));
        if is_group {
            return Err(nested_groups());
        }
        let id = member
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::InvalidValue("members.value is required".to_owned()))?;
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// Writes `active: true` into a created or replaced user that does not say otherwise.
///
/// A PATCH that removes `active` leaves it unassigned; the user then counts as active.
fn default_active(doc: &mut Value) {
    if let Some(object) = doc.as_object_mut() {
        object.entry("active").or_insert(Value::Bool(true));
    }
}

/// Derives a user's indexed columns; a user without `active` counts as active.
fn user_fields(doc: &mut Value) -> Result<users::UserFields> {
    let object = doc
        .as_object_mut()
        .ok_or_else(|| Error::InvalidSyntax("the resource must be a JSON object".to_owned()))?;

    let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
    let user_name =
        text("userName").ok_or_else(|| Error::InvalidValue("userName is required".to_owned()))?;
    let external_id = text("externalId");
    let display_name = text("displayName");
    let active = object
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let primary_email = resource::primary_email(doc).map(str::to_owned);
    Ok(users::UserFields {
        user_name,
        external_id,
        primary_email,
        display_name,
        active,
        resource: doc.to_string(),
    })
}

/// Derives a group's indexed columns from its canonical JSON without `members`.
fn group_fields(doc: &Value) -> Result<groups::GroupFields> {
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    let display_name = text("displayName")
        .ok_or_else(|| Error::InvalidValue("displayName is required".to_owned()))?;
    Ok(groups::GroupFields {
        display_name,
        external_id: text("externalId"),
        resource: doc.to_string(),
    })
}

/// Checks an `If-Match` header (RFC 9110 §13.1.1, weak comparison) against a version.
fn check_if_match(if_match: Option<&str>, version: i64) -> Result<()> {
    let Some(header) = if_match.map(str::trim) else {
        return Ok(());
    };
    if header == "*" {
        return Ok(());
    }
    let current = version.to_string();
    let matches = header.split(',').any(|tag| {
        let tag = tag.trim();
        let opaque = tag.strip_prefix("W/").unwrap_or(tag);
        opaque.trim_matches('"') == current
    });
    if matches {
        Ok(())
    } else {
        Err(Error::PreconditionFailed)
    }
}

// ---------------------------------------------------------------------------------------------
// Lists

/// The part of the result a page shows.
#[derive(Debug, Clone, Copy)]
struct Window {
    offset: u64,
    count: u64,
}

impl Window {
    fn slice<T>(self, items: Vec<T>) -> Vec<T> {
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let count = usize::try_from(self.count).unwrap_or(usize::MAX);
        items.into_iter().skip(offset).take(count).collect()
    }
}

async fn list_users(
    ctx: &Ctx<'_>,
    filter: Option<&filter::Filter>,
    sort_by: Option<&AttrPath>,
    query: &ListQuery,
    window: Window,
) -> Result<(u64, Vec<Value>)> {
    let conn = ctx.db.conn();
    let shop_id = ctx.shop_id();
    let narrowed = filter.map_or(
        query::Narrowed {
            selection: Selection::All,
            exact: true,
        },
        query::users,
    );

    if narrowed.exact && sort_by.is_none() {
        let total = users::count(conn, shop_id, &narrowed.selection).await?;
        if window.count == 0 {
            return Ok((total, Vec::new()));
        }
        let rows = users::page(
            conn,
            shop_id,
            &narrowed.selection,
            window.offset,
            window.count,
        )
        .await?;
        let resources = rows
            .iter()
            .map(|row| render_user(ctx, row).map(|stored| stored.resource))
            .collect::<Result<_>>()?;
        return Ok((total, resources));
    }

    let rows = users::page(conn, shop_id, &narrowed.selection, 0, MAX_CANDIDATES + 1).await?;
    check_candidates(rows.len())?;
    let candidates = rows
        .iter()
        .map(|row| render_user(ctx, row).map(|stored| stored.resource))
        .collect::<Result<Vec<_>>>()?;
    let matched = keep_matching(candidates, filter, Kind::User)?;
    let sorted = sort(matched, sort_by, query.descending, Kind::User)?;
    Ok((count_of(&sorted), window.slice(sorted)))
}

async fn list_groups(
    ctx: &Ctx<'_>,
    filter: Option<&filter::Filter>,
    sort_by: Option<&AttrPath>,
    query: &ListQuery,
    window: Window,
) -> Result<(u64, Vec<Value>)> {
    let conn = ctx.db.conn();
    let shop_id = ctx.shop_id();
    let narrowed = filter.map_or(
        query::Narrowed {
            selection: Selection::All,
            exact: true,
        },
        query::groups,
    );

    if narrowed.exact && sort_by.is_none() {
        let total = groups::count(conn, shop_id, &narrowed.selection).await?;
        if window.count == 0 {
            return Ok((total, Vec::new()));
        }
        let rows = groups::page(
            conn,
            shop_id,
            &narrowed.selection,
            window.offset,
            window.count,
        )
        .await?;
        let resources = render_groups(ctx, conn, &rows, query.include_members).await?;
        return Ok((total, resources));
    }

    let rows = groups::page(conn, shop_id, &narrowed.selection, 0, MAX_CANDIDATES + 1).await?;
    check_candidates(rows.len())?;
    let needs_members = filter.is_some_and(query::mentions_members)
        || sort_by.is_some_and(|path| path.name.eq_ignore_ascii_case("members"));
    let candidates = render_groups(ctx, conn, &rows, needs_members).await?;
    let matched = keep_matching(candidates, filter, Kind::Group)?;
    let sorted = sort(matched, sort_by, query.descending, Kind::Group)?;
    let total = count_of(&sorted);
    let mut page = window.slice(sorted);

    if query.include_members && !needs_members {
        let by_id: HashMap<&str, &scim_group::Model> =
            rows.iter().map(|row| (row.id.as_str(), row)).collect();
        let page_rows: Vec<&scim_group::Model> = page
            .iter()
            .filter_map(|resource| resource.get("id").and_then(Value::as_str))
            .filter_map(|id| by_id.get(id).copied())
            .collect();
        let pks: Vec<i64> = page_rows.iter().map(|row| row.pk).collect();
        let members = groups::members(conn, shop_id, &pks).await?;
        for (resource, row) in page.iter_mut().zip(page_rows) {
            set_members(
                ctx,
                resource,
                members.iter().filter(|m| m.group_pk == row.pk),
            );
        }
    } else if !query.include_members {
        for resource in &mut page {
            if let Some(object) = resource.as_object_mut() {
                object.remove("members");
            }
        }
    }
    Ok((total, page))
}

fn check_candidates(loaded: usize) -> Result<()> {
    if u64::try_from(loaded).unwrap_or(u64::MAX) > MAX_CANDIDATES {
        return Err(Error::TooMany(format!(
            "the query must examine more than {MAX_CANDIDATES} resources; \
             filter on id, userName, externalId or displayName with eq"
        )));
    }
    Ok(())
}

fn count_of(items: &[Value]) -> u64 {
    u64::try_from(items.len()).unwrap_or(u64::MAX)
}

/// Keeps the resources the filter matches.
fn keep_matching(
    resources: Vec<Value>,
    filter: Option<&filter::Filter>,
    kind: Kind,
) -> Result<Vec<Value>> {
    let Some(filter) = filter else {
        return Ok(resources);
    };
    let mut kept = Vec::new();
    for resource in resources {
        if filter.matches(&resource, kind.resource_type())? {
            kept.push(resource);
        }
    }
    Ok(kept)
}

/// Sorts by `sort_by` when given; ties and the default keep key order (the input order).
fn sort(
    mut resources: Vec<Value>,
    sort_by: Option<&AttrPath>,
    descending: bool,
    kind: Kind,
) -> Result<Vec<Value>> {
    let Some(path) = sort_by else {
        return Ok(resources);
    };
    let mut failure = None;
    resources.sort_by(
        |a, b| match filter::compare_for_sort(a, b, path, kind.resource_type()) {
            Ok(order) if descending => order.reverse(),
            Ok(order) => order,
            Err(error) => {
                failure.get_or_insert(error);
                Ordering::Equal
            }
        },
    );
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(resources),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn location(ctx: &Ctx<'_>, kind: Kind, id: &str) -> String {
    format!("{}{}/{id}", ctx.base_url, kind.resource_type().endpoint)
}

fn parse_stored(text: &str) -> Result<Value> {
    match serde_json::from_str(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Error::Store(store::Error::Other(
            "a stored resource is not a JSON object".to_owned(),
        ))),
    }
}

/// Adds `id` and `meta` to a stored resource.
fn render(
    ctx: &Ctx<'_>,
    kind: Kind,
    id: &str,
    stored: &str,
    version: i64,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
) -> Result<Stored> {
    let mut resource = parse_stored(stored)?;
    let version = etag(version);
    if let Some(object) = resource.as_object_mut() {
        object.insert("id".to_owned(), id.into());
        object.insert(
            "meta".to_owned(),
            json!({
                "resourceType": kind.name(),
                "created": timestamp(created),
                "lastModified": timestamp(modified),
                "location": location(ctx, kind, id),
                "version": version,
            }),
        );
    }
    Ok(Stored { resource, version })
}

fn render_user(ctx: &Ctx<'_>, row: &scim_user::Model) -> Result<Stored> {
    render(
        ctx,
        Kind::User,
        &row.id,
        &row.resource,
        row.version,
        row.created_at,
        row.updated_at,
    )
}

fn render_group(ctx: &Ctx<'_>, row: &scim_group::Model) -> Result<Stored> {
    render(
        ctx,
        Kind::Group,
        &row.id,
        &row.resource,
        row.version,
        row.created_at,
        row.updated_at,
    )
}

/// Renders one group, with its members when asked.
async fn render_group_loading<C: ConnectionTrait>(
    ctx: &Ctx<'_>,
    conn: &C,
    row: &scim_group::Model,
    include_members: bool,
) -> Result<Stored> {
    let mut stored = render_group(ctx, row)?;
    if include_members {
        let members = groups::members(conn, ctx.shop_id(), &[row.pk]).await?;
        set_members(ctx, &mut stored.resource, members.iter());
    }
    Ok(stored)
}

/// Renders groups in order, loading all their members in one go when asked.
async fn render_groups<C: ConnectionTrait>(
    ctx: &Ctx<'_>,
    conn: &C,
    rows: &[scim_group::Model],
    include_members: bool,
) -> Result<Vec<Value>> {
    let members = if include_members {
        let pks: Vec<i64> = rows.iter().map(|row| row.pk).collect();
        groups::members(conn, ctx.shop_id(), &pks).await?
    } else {
        Vec::new()
    };
    let mut by_group: HashMap<i64, Vec<&groups::Member>> = HashMap::new();
    for member in &members {
        by_group.entry(member.group_pk).or_default().push(member);
    }

    rows.iter()
        .map(|row| {
            let mut stored = render_group(ctx, row)?;
            if include_members {
                let listed = by_group.get(&row.pk).map(Vec::as_slice).unwrap_or_default();
                set_members(ctx, &mut stored.resource, listed.iter().copied());
            }
            Ok(stored.resource)
        })
        .collect()
}

/// Writes `members` into a rendered group (an empty list when it has none).
fn set_members<'m>(
    ctx: &Ctx<'_>,
    resource: &mut Value,
    members: impl Iterator<Item = &'m groups::Member>,
) {
    let listed: Vec<Value> = members
        .map(|member| {
            let mut entry = Map::new();
            entry.insert("value".to_owned(), member.user_id.clone().into());
            if let Some(display) = &member.display_name {
                entry.insert("display".to_owned(), display.clone().into());
            }
            entry.insert("type".to_owned(), "User".into());
            entry.insert(
                "$ref".to_owned(),
                location(ctx, Kind::User, &member.user_id).into(),
            );
            Value::Object(entry)
        })
        .collect();
    if let Some(object) = resource.as_object_mut() {
        object.insert("members".to_owned(), Value::Array(listed));
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};

    use super::*;
    use crate::scim::schema::{GROUP_URN, USER_URN};
    use crate::store::entity::scim_group_member;
    use crate::store::testing::TestDb;

    const BASE: &str = "https://scim.test/scim/v2/shop";

    fn ctx<'a>(test: &'a TestDb, scope: &'a TenantScope) -> Ctx<'a> {
        Ctx {
            db: &test.db,
            scope,
            base_url: BASE,
        }
    }

    fn user_body(user_name: &str, family_name: &str) -> Value {
        json!({
            "schemas": [USER_URN],
            "userName": user_name,
            "name": { "givenName": "Ada", "familyName": family_name },
            "emails": [{
                "value": format!("{user_name}@example.com"),
                "type": "work",
                "primary": true,
            }],
        })
    }

    fn id_of(stored: &Stored) -> String {
        stored.resource["id"].as_str().unwrap().to_owned()
    }

    async fn create_user(ctx: &Ctx<'_>, user_name: &str) -> String {
        id_of(
            &create(ctx, Kind::User, &user_body(user_name, "Lovelace"))
                .await
                .unwrap(),
        )
    }

    /// Pending jobs as (kind, subject) pairs.
    async fn jobs(ctx: &Ctx<'_>) -> Vec<(String, String)> {
        outbox::pending(ctx.db.conn(), ctx.shop_id())
            .await
            .unwrap()
            .into_iter()
            .map(|job| (job.kind, job.subject_id))
            .collect()
    }

    /// Members of a group as stored, by SCIM user id, in user key order.
    async fn member_rows(ctx: &Ctx<'_>, group_id: &str) -> Vec<String> {
        let group = groups::find(ctx.db.conn(), ctx.shop_id(), group_id)
            .await
            .unwrap()
            .unwrap();
        let rows = scim_group_member::Entity::find()
            .filter(scim_group_member::Column::ShopId.eq(ctx.shop_id()))
            .filter(scim_group_member::Column::GroupPk.eq(group.pk))
            .order_by_asc(scim_group_member::Column::UserPk)
            .all(ctx.db.conn())
            .await
            .unwrap();
        let pks: Vec<i64> = rows.iter().map(|row| row.user_pk).collect();
        let users = users::find_by_pks(ctx.db.conn(), ctx.shop_id(), &pks)
            .await
            .unwrap();
        pks.iter()
            .map(|pk| users.iter().find(|u| u.pk == *pk).unwrap().id.clone())
            .collect()
    }

    fn ops(operations: Value) -> Value {
        json!({ "schemas": [patch::PATCH_OP_URN], "Operations": operations })
    }

    fn user_names(page: &ListPage) -> Vec<&str> {
        page.resources
            .iter()
            .map(|r| r["userName"].as_str().unwrap())
            .collect()
    }

    // ----- Users -----------------------------------------------------------------------------

    #[tokio::test]
    async fn a_created_user_comes_back_from_get_with_id_and_meta() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-create").await;
        let ctx = ctx(&test, &scope);

        let created = create(&ctx, Kind::User, &user_body("Ada", "Lovelace"))
            .await
            .unwrap();
        let id = id_of(&created);
        let fetched = get(&ctx, Kind::User, &id, true).await.unwrap();

        assert_eq!(fetched, created);
        assert!(uuid::Uuid::parse_str(&id).is_ok());
        let meta = &created.resource["meta"];
        assert_eq!(meta["resourceType"], "User");
        assert_eq!(meta["location"], format!("{BASE}/Users/{id}"));
        assert_eq!(meta["version"], "W/\"1\"");
        assert_eq!(created.version, "W/\"1\"");
        assert_eq!(meta["created"], meta["lastModified"]);
        let created_at = meta["created"].as_str().unwrap();
        assert!(created_at.ends_with('Z'));
        assert!(DateTime::parse_from_rfc3339(created_at).is_ok());
        assert_eq!(created.resource["userName"], "Ada");
        assert_eq!(created.resource["active"], true);
        assert_eq!(jobs(&ctx).await, [("user".to_owned(), id)]);
    }

    #[tokio::test]
    async fn a_user_name_taken_in_the_shop_in_any_case_is_a_uniqueness_conflict() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-unique").await;
        let ctx = ctx(&test, &scope);
        create_user(&ctx, "Ada.Lovelace").await;

        let error = create(&ctx, Kind::User, &user_body("ada.LOVELACE", "X"))
            .await
            .unwrap_err();

        assert!(matches!(error, Error::Uniqueness(_)), "{error:?}");
        assert_eq!(error.status(), 409);
        assert_eq!(jobs(&ctx).await.len(), 1);
    }

    #[tokio::test]
    async fn the_same_user_name_may_exist_in_another_shop() {
        let test = TestDb::fresh().await;
        let scope_a = test.scope("svc-shop-a").await;
        let scope_b = test.scope("svc-shop-b").await;
        create_user(&ctx(&test, &scope_a), "ada").await;

        let created = create(&ctx(&test, &scope_b), Kind::User, &user_body("ada", "L")).await;

        assert!(created.is_ok(), "{created:?}");
    }

    #[tokio::test]
    async fn another_shops_resources_are_not_found_by_id() {
        let test = TestDb::fresh().await;
        let scope_a = test.scope("svc-owner").await;
        let scope_b = test.scope("svc-intruder").await;
        let owner = ctx(&test, &scope_a);
        let intruder = ctx(&test, &scope_b);
        let user_id = create_user(&owner, "ada").await;
        let group = json!({ "displayName": "Staff", "members": [{ "value": user_id }] });
        let group_id = id_of(&create(&owner, Kind::Group, &group).await.unwrap());
        let deactivate = ops(json!([{ "op": "replace", "value": { "active": false } }]));

        let get_user = get(&intruder, Kind::User, &user_id, true).await;
        let get_group = get(&intruder, Kind::Group, &group_id, true).await;
        let patched = patch(&intruder, Kind::User, &user_id, &deactivate, None).await;
        let replaced = replace(&intruder, Kind::User, &user_id, &user_body("x", "y"), None).await;
        let deleted = delete(&intruder, Kind::Group, &group_id, None).await;
        let listed = list(
            &intruder,
            Kind::User,
            &ListQuery {
                filter: Some(format!("id eq \"{user_id}\"")),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
        let as_member = json!({ "displayName": "Mine", "members": [{ "value": user_id }] });
        let borrowed = create(&intruder, Kind::Group, &as_member).await;

        for outcome in [
            get_user.map(|_| ()),
            get_group.map(|_| ()),
            patched.map(|_| ()),
            replaced.map(|_| ()),
            deleted,
        ] {
            assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
        }
        assert_eq!(listed.total_results, 0);
        assert!(
            matches!(borrowed, Err(Error::InvalidValue(_))),
            "{borrowed:?}"
        );
        assert!(get(&owner, Kind::User, &user_id, true).await.is_ok());
        assert!(jobs(&intruder).await.is_empty());
    }

    #[tokio::test]
    async fn deactivating_by_patch_bumps_the_version_and_leaves_one_pending_job() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-patch").await;
        let ctx = ctx(&test, &scope);
        let id = create_user(&ctx, "ada").await;
        let deactivate = ops(json!([{ "op": "replace", "value": { "active": false } }]));
        let rename = ops(json!([{ "op": "replace", "path": "displayName", "value": "Ada L" }]));

        let patched = patch(&ctx, Kind::User, &id, &deactivate, None)
            .await
            .unwrap();
        let renamed = patch(&ctx, Kind::User, &id, &rename, None).await.unwrap();

        assert_eq!(patched.resource["active"], false);
        assert_eq!(patched.version, "W/\"2\"");
        assert_eq!(patched.resource["meta"]["version"], "W/\"2\"");
        assert_eq!(renamed.version, "W/\"3\"");
        let row = users::find(ctx.db.conn(), ctx.shop_id(), &id)
            .await
            .unwrap()
            .unwrap();
        assert!(!row.active);
        assert_eq!(row.display_name.as_deref(), Some("Ada L"));
        assert_eq!(jobs(&ctx).await, [("user".to_owned(), id)]);
    }

    #[tokio::test]
    async fn a_patch_that_changes_nothing_keeps_version_and_last_modified() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-noop").await;
        let ctx = ctx(&test, &scope);
        let id = create_user(&ctx, "ada").await;
        let before = get(&ctx, Kind::User, &id, true).await.unwrap();
        outbox_done(&ctx).await;
        let same = ops(json!([
            { "op": "replace", "value": { "active": true, "userName": "ada" } },
            { "op": "Replace", "path": "name.familyName", "value": "Lovelace" }
        ]));

        let after = patch(&ctx, Kind::User, &id, &same, None).await.unwrap();

        assert_eq!(after, before);
        assert!(jobs(&ctx).await.is_empty());
    }

    /// Marks every pending job done, as the sync worker would.
    async fn outbox_done(ctx: &Ctx<'_>) {
        use sea_orm::sea_query::Expr;

        crate::store::entity::sync_job::Entity::update_many()
            .col_expr(
                crate::store::entity::sync_job::Column::Status,
                Expr::value("done"),
            )
            .filter(crate::store::entity::sync_job::Column::ShopId.eq(ctx.shop_id()))
            .exec(ctx.db.conn())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_write_after_the_job_ran_enqueues_a_new_one() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-requeue").await;
        let ctx = ctx(&test, &scope);
        let id = create_user(&ctx, "ada").await;
        outbox_done(&ctx).await;
        let deactivate = ops(json!([{ "op": "replace", "path": "active", "value": "False" }]));

        patch(&ctx, Kind::User, &id, &deactivate, None)
            .await
            .unwrap();

        assert_eq!(jobs(&ctx).await, [("user".to_owned(), id)]);
    }

    #[tokio::test]
    async fn if_match_naming_another_version_fails_the_precondition() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-etag").await;
        let ctx = ctx(&test, &scope);
        let id = create_user(&ctx, "ada").await;
        let deactivate = ops(json!([{ "op": "replace", "value": { "active": false } }]));

        let stale_patch = patch(&ctx, Kind::User, &id, &deactivate, Some("W/\"7\"")).await;
        let stale_put = replace(&ctx, Kind::User, &id, &user_body("b", "c"), Some("\"2\"")).await;
        let stale_delete = delete(&ctx, Kind::User, &id, Some("W/\"0\"")).await;
        let strong = patch(&ctx, Kind::User, &id, &deactivate, Some("\"1\"")).await;
        let any = replace(&ctx, Kind::User, &id, &user_body("b", "c"), Some("*")).await;
        let weak = delete(&ctx, Kind::User, &id, Some("W/\"3\", W/\"9\"")).await;

        for outcome in [stale_patch.map(|_| ()), stale_put.map(|_| ()), stale_delete] {
            assert!(
                matches!(outcome, Err(Error::PreconditionFailed)),
                "{outcome:?}"
            );
        }
        assert_eq!(strong.unwrap().version, "W/\"2\"");
        assert_eq!(any.unwrap().version, "W/\"3\"");
        assert!(weak.is_ok());
    }

    #[tokio::test]
    async fn a_patch_whose_second_operation_fails_changes_nothing_and_enqueues_nothing() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-atomic").await;
        let ctx = ctx(&test, &scope);
        let id = create_user(&ctx, "ada").await;
        outbox_done(&ctx).await;
        let before = get(&ctx, Kind::User, &id, true).await.unwrap();
        let half_bad = ops(json!([
            { "op": "replace", "path": "active", "value": false },
            { "op": "remove", "path": "userName" }
        ]));

        let error = patch(&ctx, Kind::User, &id, &half_bad, None)
            .await
            .unwrap_err();

        assert_eq!(error.status(), 400);
        assert_eq!(get(&ctx, Kind::User, &id, true).await.unwrap(), before);
        assert!(jobs(&ctx).await.is_empty());
    }

    #[tokio::test]
    async fn a_rename_onto_a_taken_user_name_is_a_conflict_and_changes_nothing() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-rename").await;
        let ctx = ctx(&test, &scope);
        create_user(&ctx, "ada").await;
        let id = create_user(&ctx, "grace").await;
        outbox_done(&ctx).await;
        let rename = ops(json!([{ "op": "replace", "path": "userName", "value": "ADA" }]));

        let error = patch(&ctx, Kind::User, &id, &rename, None)
            .await
            .unwrap_err();

        assert!(matches!(error, Error::Uniqueness(_)), "{error:?}");
        let row = users::find(ctx.db.conn(), ctx.shop_id(), &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((row.user_name.as_str(), row.version), ("grace", 1));
        assert!(jobs(&ctx).await.is_empty());
    }

    #[tokio::test]
    async fn put_replaces_every_writable_attribute_and_ignores_id_and_meta() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-put").await;
        let ctx = ctx(&test, &scope);
        let id = create_user(&ctx, "ada").await;
        let mut body = get(&ctx, Kind::User, &id, true).await.unwrap().resource;
        body["id"] = json!("not-the-id");
        body["externalId"] = json!("okta-1");
        body.as_object_mut().unwrap().remove("name");

        let replaced = replace(&ctx, Kind::User, &id, &body, None).await.unwrap();
        let unchanged = replace(&ctx, Kind::User, &id, &body, None).await.unwrap();

        assert_eq!(replaced.resource["id"], json!(id));
        assert_eq!(replaced.resource["externalId"], "okta-1");
        assert!(replaced.resource.get("name").is_none());
        assert_eq!(replaced.version, "W/\"2\"");
        assert_eq!(unchanged, replaced);
        let row = users::find(ctx.db.conn(), ctx.shop_id(), &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.external_id.as_deref(), Some("okta-1"));
        assert_eq!(row.primary_email_ci.as_deref(), Some("ada@example.com"));
    }

    #[tokio::test]
    async fn a_deleted_user_is_not_found_and_leaves_its_groups() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-delete").await;
        let ctx = ctx(&test, &scope);
        let id = create_user(&ctx, "ada").await;
        let group = json!({ "displayName": "Staff", "members": [{ "value": id }] });
        let group_id = id_of(&create(&ctx, Kind::Group, &group).await.unwrap());
        outbox_done(&ctx).await;

        delete(&ctx, Kind::User, &id, None).await.unwrap();

        assert!(matches!(
            get(&ctx, Kind::User, &id, true).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            delete(&ctx, Kind::User, &id, None).await,
            Err(Error::NotFound)
        ));
        assert!(member_rows(&ctx, &group_id).await.is_empty());
        assert_eq!(jobs(&ctx).await, [("user".to_owned(), id)]);
    }

    // ----- Groups ----------------------------------------------------------------------------

    #[tokio::test]
    async fn a_group_created_with_members_stores_them_and_enqueues_their_jobs() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-group").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        let grace = create_user(&ctx, "grace").await;
        outbox_done(&ctx).await;
        let body = json!({
            "schemas": [GROUP_URN],
            "displayName": "Staff",
            "members": [{ "value": ada, "display": "Ada" }, { "value": grace, "$ref": null }]
        });

        let created = create(&ctx, Kind::Group, &body).await.unwrap();

        let id = id_of(&created);
        assert_eq!(
            created.resource["members"],
            json!([
                { "value": ada, "type": "User", "$ref": format!("{BASE}/Users/{ada}") },
                { "value": grace, "type": "User", "$ref": format!("{BASE}/Users/{grace}") }
            ])
        );
        assert_eq!(
            created.resource["meta"]["location"],
            format!("{BASE}/Groups/{id}")
        );
        assert_eq!(member_rows(&ctx, &id).await, [ada.clone(), grace.clone()]);
        assert_eq!(
            jobs(&ctx).await,
            [
                ("group".to_owned(), id.clone()),
                ("user".to_owned(), ada),
                ("user".to_owned(), grace)
            ]
        );
        let without = get(&ctx, Kind::Group, &id, false).await.unwrap();
        assert!(without.resource.get("members").is_none());
    }

    #[tokio::test]
    async fn group_members_change_set_based_by_patch() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-members").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        let grace = create_user(&ctx, "grace").await;
        let linus = create_user(&ctx, "linus").await;
        let body = json!({ "displayName": "Staff", "members": [{ "value": ada }] });
        let id = id_of(&create(&ctx, Kind::Group, &body).await.unwrap());
        outbox_done(&ctx).await;
        let okta_push = ops(json!([
            { "op": "remove", "path": format!("members[value eq \"{ada}\"]") },
            { "op": "add", "path": "members", "value": [{ "value": grace }, { "value": linus }] }
        ]));
        let readd = ops(json!([
            { "op": "Add", "path": "members", "value": [{ "value": grace }] },
            { "op": "Remove", "path": "members", "value": [{ "value": ada }] }
        ]));

        let pushed = patch(&ctx, Kind::Group, &id, &okta_push, None)
            .await
            .unwrap();
        let jobs_after_push = jobs(&ctx).await;
        outbox_done(&ctx).await;
        let again = patch(&ctx, Kind::Group, &id, &readd, None).await.unwrap();

        assert_eq!(pushed.version, "W/\"2\"");
        assert_eq!(member_rows(&ctx, &id).await, [grace.clone(), linus.clone()]);
        assert_eq!(
            jobs_after_push,
            [
                ("group".to_owned(), id.clone()),
                ("user".to_owned(), grace),
                ("user".to_owned(), linus),
                ("user".to_owned(), ada),
            ]
        );
        assert_eq!(again, pushed);
        assert!(jobs(&ctx).await.is_empty());
    }

    #[tokio::test]
    async fn put_replaces_the_member_set_and_renames() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-group-put").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        let grace = create_user(&ctx, "grace").await;
        let body = json!({ "displayName": "Staff", "members": [{ "value": ada }] });
        let id = id_of(&create(&ctx, Kind::Group, &body).await.unwrap());
        outbox_done(&ctx).await;
        let put = json!({ "id": id, "displayName": "Team", "members": [{ "value": grace }] });

        let replaced = replace(&ctx, Kind::Group, &id, &put, None).await.unwrap();

        assert_eq!(replaced.resource["displayName"], "Team");
        assert_eq!(member_rows(&ctx, &id).await, [grace]);
        assert_eq!(jobs(&ctx).await.len(), 3);
    }

    #[tokio::test]
    async fn unknown_members_and_nested_groups_are_invalid_values() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-bad-members").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        let staff = json!({ "displayName": "Staff", "members": [{ "value": ada }] });
        let staff_id = id_of(&create(&ctx, Kind::Group, &staff).await.unwrap());
        outbox_done(&ctx).await;
        let unknown_id = uuid::Uuid::new_v4().to_string();

        let unknown = create(
            &ctx,
            Kind::Group,
            &json!({ "displayName": "A", "members": [{ "value": unknown_id }] }),
        )
        .await
        .unwrap_err();
        let typed = create(
            &ctx,
            Kind::Group,
            &json!({ "displayName": "B", "members": [{ "value": staff_id, "type": "Group" }] }),
        )
        .await
        .unwrap_err();
        let nested = patch(
            &ctx,
            Kind::Group,
            &staff_id,
            &ops(json!([{ "op": "add", "path": "members", "value": [{ "value": staff_id }] }])),
            None,
        )
        .await
        .unwrap_err();

        assert!(matches!(&unknown, Error::InvalidValue(d) if !d.contains(&unknown_id)));
        assert!(matches!(&typed, Error::InvalidValue(d) if d.contains("nested")));
        assert!(matches!(&nested, Error::InvalidValue(d) if d.contains("nested")));
        assert_eq!(member_rows(&ctx, &staff_id).await, [ada]);
        assert!(jobs(&ctx).await.is_empty());
    }

    #[tokio::test]
    async fn group_display_names_are_unique_per_shop_ignoring_case() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-group-unique").await;
        let other = test.scope("svc-group-other").await;
        let ctx_a = ctx(&test, &scope);
        create(&ctx_a, Kind::Group, &json!({ "displayName": "Sales" }))
            .await
            .unwrap();

        let duplicate = create(&ctx_a, Kind::Group, &json!({ "displayName": "SALES" })).await;
        let elsewhere = create(
            &ctx(&test, &other),
            Kind::Group,
            &json!({ "displayName": "sales" }),
        )
        .await;

        assert!(
            matches!(duplicate, Err(Error::Uniqueness(_))),
            "{duplicate:?}"
        );
        assert!(elsewhere.is_ok());
    }

    #[tokio::test]
    async fn deleting_a_group_enqueues_jobs_for_its_former_members() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-group-delete").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        let body = json!({ "displayName": "Staff", "members": [{ "value": ada }] });
        let id = id_of(&create(&ctx, Kind::Group, &body).await.unwrap());
        outbox_done(&ctx).await;

        delete(&ctx, Kind::Group, &id, None).await.unwrap();

        assert!(matches!(
            get(&ctx, Kind::Group, &id, true).await,
            Err(Error::NotFound)
        ));
        assert_eq!(
            jobs(&ctx).await,
            [("group".to_owned(), id), ("user".to_owned(), ada.clone())]
        );
        assert!(get(&ctx, Kind::User, &ada, true).await.is_ok());
    }

    // ----- Lists -----------------------------------------------------------------------------

    async fn five_users(ctx: &Ctx<'_>) {
        for (name, family) in [
            ("carol", "Shaw"),
            ("Ada", "Lovelace"),
            ("bob", "Jensen"),
            ("erin", "Lovelace"),
            ("dave", "Knuth"),
        ] {
            create(ctx, Kind::User, &user_body(name, family))
                .await
                .unwrap();
        }
    }

    fn filtered(filter: &str) -> ListQuery {
        ListQuery {
            filter: Some(filter.to_owned()),
            ..ListQuery::default()
        }
    }

    #[tokio::test]
    async fn a_user_name_filter_matches_ignoring_case() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-eq").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;

        let page = list(&ctx, Kind::User, &filtered(r#"userName eq "ADA""#))
            .await
            .unwrap();
        let email = list(
            &ctx,
            Kind::User,
            &filtered(r#"emails[type eq "work"].value eq "BOB@example.com""#),
        )
        .await
        .unwrap();

        assert_eq!((page.total_results, page.start_index), (1, 1));
        assert_eq!(user_names(&page), ["Ada"]);
        assert_eq!(user_names(&email), ["bob"]);
    }

    #[tokio::test]
    async fn external_id_active_and_display_name_filters_combine() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-combined").await;
        let ctx = ctx(&test, &scope);
        let mut body = user_body("zoe", "Lovelace");
        body["externalId"] = json!("okta-1");
        body["displayName"] = json!("Zoe Lovelace");
        create(&ctx, Kind::User, &body).await.unwrap();
        five_users(&ctx).await;
        let dave = list(&ctx, Kind::User, &filtered(r#"userName eq "dave""#))
            .await
            .unwrap();
        let dave_id = dave.resources[0]["id"].as_str().unwrap().to_owned();
        let deactivate = ops(json!([{ "op": "replace", "value": { "active": false } }]));
        patch(&ctx, Kind::User, &dave_id, &deactivate, None)
            .await
            .unwrap();

        let by_external = list(
            &ctx,
            Kind::User,
            &filtered(r#"externalId eq "okta-1" and active eq true"#),
        )
        .await
        .unwrap();
        let wrong_case_external = list(&ctx, Kind::User, &filtered(r#"externalId eq "OKTA-1""#))
            .await
            .unwrap();
        let by_display = list(
            &ctx,
            Kind::User,
            &filtered(r#"displayName eq "zoe LOVELACE""#),
        )
        .await
        .unwrap();
        let inactive = list(&ctx, Kind::User, &filtered("active eq false"))
            .await
            .unwrap();

        assert_eq!(user_names(&by_external), ["zoe"]);
        assert_eq!(wrong_case_external.total_results, 0);
        assert_eq!(user_names(&by_display), ["zoe"]);
        assert_eq!(user_names(&inactive), ["dave"]);
    }

    #[tokio::test]
    async fn a_filter_that_matches_nothing_gives_an_empty_page() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-none").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;

        let by_id = list(
            &ctx,
            Kind::User,
            &filtered(&format!("id eq \"{}\"", uuid::Uuid::new_v4())),
        )
        .await
        .unwrap();
        let in_memory = list(&ctx, Kind::User, &filtered(r#"title co "x""#))
            .await
            .unwrap();

        assert_eq!((by_id.total_results, by_id.resources.len()), (0, 0));
        assert_eq!((in_memory.total_results, in_memory.resources.len()), (0, 0));
    }

    #[tokio::test]
    async fn pages_follow_creation_order_whatever_their_size() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-page").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;
        let page = |start_index, count| ListQuery {
            start_index,
            count,
            ..ListQuery::default()
        };

        let all = list(&ctx, Kind::User, &page(0, None)).await.unwrap();
        let second = list(&ctx, Kind::User, &page(3, Some(2))).await.unwrap();
        let only_total = list(&ctx, Kind::User, &page(1, Some(0))).await.unwrap();
        let negative = list(&ctx, Kind::User, &page(1, Some(-5))).await.unwrap();
        let beyond = list(&ctx, Kind::User, &page(9, Some(2))).await.unwrap();

        assert_eq!(user_names(&all), ["carol", "Ada", "bob", "erin", "dave"]);
        assert_eq!(all.start_index, 1);
        assert_eq!(user_names(&second), ["bob", "erin"]);
        assert_eq!((second.total_results, second.start_index), (5, 3));
        assert_eq!(
            (only_total.total_results, only_total.resources.len()),
            (5, 0)
        );
        assert_eq!((negative.total_results, negative.resources.len()), (5, 0));
        assert_eq!((beyond.total_results, beyond.resources.len()), (5, 0));
    }

    #[tokio::test]
    async fn a_filter_on_an_unindexed_attribute_is_evaluated_in_memory() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-memory").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;

        let all = list(
            &ctx,
            Kind::User,
            &filtered(r#"name.familyName eq "lovelace""#),
        )
        .await
        .unwrap();
        let paged = list(
            &ctx,
            Kind::User,
            &ListQuery {
                start_index: 2,
                count: Some(1),
                ..filtered(r#"name.familyName eq "Lovelace" or userName eq "dave""#)
            },
        )
        .await
        .unwrap();

        assert_eq!(user_names(&all), ["Ada", "erin"]);
        assert_eq!(all.total_results, 2);
        assert_eq!(paged.total_results, 3);
        assert_eq!(user_names(&paged), ["erin"]);
    }

    #[tokio::test]
    async fn sort_by_user_name_descending_ignores_case() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-sort").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;

        let page = list(
            &ctx,
            Kind::User,
            &ListQuery {
                sort_by: Some("userName".to_owned()),
                descending: true,
                count: Some(3),
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();

        assert_eq!(page.total_results, 5);
        assert_eq!(user_names(&page), ["erin", "dave", "carol"]);
    }

    #[tokio::test]
    async fn invalid_filters_and_sort_paths_are_rejected() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-bad").await;
        let ctx = ctx(&test, &scope);

        let syntax = list(&ctx, Kind::User, &filtered(r#"userName eq"#)).await;
        let unknown = list(&ctx, Kind::User, &filtered(r#"nosuch eq "x""#)).await;
        let sort = list(
            &ctx,
            Kind::User,
            &ListQuery {
                sort_by: Some("nosuch".to_owned()),
                ..ListQuery::default()
            },
        )
        .await;

        for outcome in [syntax, unknown, sort] {
            assert!(
                matches!(outcome, Err(Error::InvalidFilter(_))),
                "{outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn groups_are_found_by_display_name_with_or_without_members() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-list-groups").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        for name in ["Sales", "Support"] {
            let body = json!({ "displayName": name, "members": [{ "value": ada }] });
            create(&ctx, Kind::Group, &body).await.unwrap();
        }

        let with = list(&ctx, Kind::Group, &filtered(r#"displayName eq "sales""#))
            .await
            .unwrap();
        let without = list(
            &ctx,
            Kind::Group,
            &ListQuery {
                include_members: false,
                ..filtered(r#"displayName eq "SUPPORT""#)
            },
        )
        .await
        .unwrap();
        let by_member = list(
            &ctx,
            Kind::Group,
            &ListQuery {
                include_members: false,
                sort_by: Some("displayName".to_owned()),
                descending: true,
                ..filtered(&format!("members.value eq \"{ada}\""))
            },
        )
        .await
        .unwrap();

        assert_eq!(with.total_results, 1);
        assert_eq!(with.resources[0]["displayName"], "Sales");
        assert_eq!(with.resources[0]["members"][0]["value"], json!(ada));
        assert_eq!(without.resources[0]["displayName"], "Support");
        assert!(without.resources[0].get("members").is_none());
        let names: Vec<&Value> = by_member
            .resources
            .iter()
            .map(|group| &group["displayName"])
            .collect();
        assert_eq!(names, [&json!("Support"), &json!("Sales")]);
        assert!(by_member.resources[0].get("members").is_none());
    }
}
