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
//! unassign it, and such a user counts as active.
//!
//! Membership is shown on both sides: a group's `members` (`{value, display?, type: "User",
//! $ref}`) and a user's read-only `groups` (`{value, display, type: "direct", $ref}`), each
//! in the other side's list order. Both are loaded only when the response can show them.
//! Since each side shows the other's `displayName`, a write that changes a membership or a
//! shown name also gives the resources on the other side a new version, so that their
//! `ETag`s stay honest.
//!
//! Lists are in creation order unless `sortBy` is given (Okta needs a stable order across
//! pages). Filters the database can answer exactly run as SQL and pages are found through
//! the list positions of `store::resources`, so a deep page costs what the first does;
//! anything else is evaluated in memory over at most [`MAX_CANDIDATES`] rows that SQL
//! selected, and so is `sortBy`. The translation is documented in `scim::query`.
//!
//! # Known limitations
//! - Nested groups are not supported: a member must be a user.
//! - `If-Match` is compared weakly against the current version; `If-None-Match` is the web
//!   layer's job.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, SubsecRound as _, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value, json};

use crate::scim::attr::{AttrPath, ResourceTypeDef};
use crate::scim::error::{Error, Result};
use crate::scim::filter::{self, Filter};
use crate::scim::patch::{self, MemberChange};
use crate::scim::query::{self, Narrowed};
use crate::scim::resource;
use crate::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use crate::store::entity::{scim_group, scim_user};
use crate::store::groups::{self, Related, Side};
use crate::store::outbox::{self, SubjectKind};
use crate::store::resources::{self, Page, Row};
use crate::store::tokens::TenantScope;
use crate::store::{self, Database, Selection, WriteTxn, users};
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

/// The service context of a shop the app acts on by itself.
///
/// Webhook processing and the sync engine call the service with no request behind it: the
/// scope is the verified shop's, and the resources' base URL is relative
/// (`/scim/v2/{handle}`), since no request says which host was used.
#[derive(Debug, Clone)]
pub struct ShopAccess {
    scope: TenantScope,
    base_url: String,
}

impl ShopAccess {
    /// Access to a shop the caller has verified (a signed webhook, a leased sync job).
    pub fn for_verified_shop(shop: &crate::store::entity::shop::Model) -> Self {
        Self {
            scope: TenantScope::for_verified_shop(shop),
            base_url: format!("/scim/v2/{}", shop.domain.handle()),
        }
    }

    /// The service context on `db`.
    pub fn ctx<'a>(&'a self, db: &'a Database) -> Ctx<'a> {
        Ctx {
            db,
            scope: &self.scope,
            base_url: &self.base_url,
        }
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

    /// The attribute that shows memberships from this side: a user's `groups`, a group's
    /// `members`.
    pub fn related_attribute(self) -> &'static str {
        match self {
            Self::User => "groups",
            Self::Group => "members",
        }
    }

    /// The other side of memberships.
    fn other(self) -> Self {
        match self {
            Self::User => Self::Group,
            Self::Group => Self::User,
        }
    }

    fn side(self) -> Side {
        match self {
            Self::User => Side::Users,
            Self::Group => Side::Groups,
        }
    }

    fn subject(self) -> SubjectKind {
        match self {
            Self::User => SubjectKind::User,
            Self::Group => SubjectKind::Group,
        }
    }
}

/// A resource as stored, ready to be projected and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The complete canonical JSON: `schemas`, `id`, `meta`, the attributes and, when asked,
    /// the memberships (`members` or `groups`).
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
    /// Which resource types carry their memberships ([`Kind::related_attribute`]); the web
    /// layer leaves out the ones the projection would drop.
    pub related: Vec<Kind>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            filter: None,
            sort_by: None,
            descending: false,
            start_index: 1,
            count: None,
            related: vec![Kind::User, Kind::Group],
        }
    }
}

impl ListQuery {
    fn wants_related(&self, kind: Kind) -> bool {
        self.related.contains(&kind)
    }

    fn start_index(&self) -> u64 {
        u64::try_from(self.start_index.max(1)).unwrap_or(1)
    }

    fn count(&self) -> u64 {
        u64::try_from(self.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_COUNT)).unwrap_or(0)
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
    let shop_id = ctx.shop_id();
    let now = now();

    let position = match kind {
        Kind::User => resources::reserve_position::<scim_user::Entity>(ctx.db, shop_id).await?,
        Kind::Group => resources::reserve_position::<scim_group::Entity>(ctx.db, shop_id).await?,
    };
    let txn = ctx.db.begin_write().await?;
    let row = match kind {
        Kind::User => {
            default_active(&mut canonical);
            let fields = user_fields(&mut canonical)?;
            let row = users::insert(&txn, shop_id, &id, position, &fields, now).await?;
            outbox::enqueue(&*txn, shop_id, SubjectKind::User, &id).await?;
            row
        }
        Kind::Group => {
            let member_ids = take_members(&mut canonical)?;
            let fields = group_fields(&canonical)?;
            let wanted = resolve_members(&*txn, shop_id, &member_ids).await?;
            let row = groups::insert(&txn, shop_id, &id, position, &fields, now).await?;
            let pks: Vec<i64> = wanted.iter().map(|(_, pk)| *pk).collect();
            groups::add_members(&*txn, shop_id, row.pk, &pks, now).await?;
            resources::touch::<scim_user::Entity, _>(&*txn, shop_id, &pks, now).await?;
            outbox::enqueue(&*txn, shop_id, SubjectKind::Group, &id).await?;
            for (user_id, _) in &wanted {
                outbox::enqueue(&*txn, shop_id, SubjectKind::User, user_id).await?;
            }
            row
        }
    };
    let stored = render_one(ctx, &*txn, kind, &row, true).await?;
    txn.commit().await?;

    tracing::info!("SCIM resource created");
    Ok(stored)
}

/// Reads one resource of the tenant, with its memberships when `include_related`.
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
    scim.resource_id = %id,
))]
pub async fn get(ctx: &Ctx<'_>, kind: Kind, id: &str, include_related: bool) -> Result<Stored> {
    let conn = ctx.db.conn();

    let row = match kind {
        Kind::User => resources::find::<scim_user::Entity, _>(conn, ctx.shop_id(), id).await?,
        Kind::Group => resources::find::<scim_group::Entity, _>(conn, ctx.shop_id(), id).await?,
    }
    .ok_or(Error::NotFound)?;

    render_one(ctx, conn, kind, &row, include_related).await
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
    let row = lock(ctx, &txn, kind, id, if_match).await?;
    let stored = match kind {
        Kind::User => {
            default_active(&mut canonical);
            write_user(ctx, &txn, row, canonical).await?
        }
        Kind::Group => {
            let member_ids = take_members(&mut canonical)?;
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

    let txn = ctx.db.begin_write().await?;
    let row = lock(ctx, &txn, kind, id, if_match).await?;
    let mut doc = parse_stored(&row.resource)?;
    let applied = patch::apply(&mut doc, &operations, kind.resource_type())?;
    let stored = match kind {
        Kind::User => write_user(ctx, &txn, row, doc).await?,
        Kind::Group => write_group(ctx, &txn, row, doc, &applied.members).await?,
    };
    txn.commit().await?;
    Ok(stored)
}

/// Deletes a resource for good (RFC 7644 §3.6), with its memberships.
///
/// Each resource on the other side of a dropped membership gets a new version; a deleted
/// group's former members also get a sync job, since their tags change.
#[tracing::instrument(level = "debug", skip_all, fields(
    shop.domain = %ctx.scope.domain(),
    scim.resource_type = kind.name(),
    scim.resource_id = %id,
))]
pub async fn delete(ctx: &Ctx<'_>, kind: Kind, id: &str, if_match: Option<&str>) -> Result<()> {
    let shop_id = ctx.shop_id();
    let now = now();

    let txn = ctx.db.begin_write().await?;
    let row = lock(ctx, &txn, kind, id, if_match).await?;
    let former = groups::related(&*txn, shop_id, kind.side(), &[row.pk]).await?;
    match kind {
        Kind::User => resources::delete::<scim_user::Entity, _>(&*txn, shop_id, &row).await?,
        Kind::Group => resources::delete::<scim_group::Entity, _>(&*txn, shop_id, &row).await?,
    }
    let others: Vec<i64> = former.iter().map(|entry| entry.other.pk).collect();
    touch(&txn, kind.other(), shop_id, &others, now).await?;
    outbox::enqueue(&*txn, shop_id, kind.subject(), &row.id).await?;
    if kind == Kind::Group {
        for entry in &former {
            outbox::enqueue(&*txn, shop_id, SubjectKind::User, &entry.other.id).await?;
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
    let plan = Plan::new(kind, query)?;
    let start_index = query.start_index();
    let window = Window {
        offset: start_index - 1,
        count: query.count(),
    };

    let (total_results, resources) = plan.run(ctx, query, window).await?;

    tracing::debug!(scim.total_results = total_results, "SCIM list answered");
    Ok(ListPage {
        total_results,
        start_index,
        resources,
    })
}

/// Lists Users, then Groups, as one sequence: the root `/.search` (RFC 7644 §3.4.3). Each
/// type is queried once.
///
/// A filter or `sortBy` naming an attribute one type lacks matches nothing of that type; it
/// is an error only when it fits neither.
pub async fn list_all(ctx: &Ctx<'_>, query: &ListQuery) -> Result<ListPage> {
    let mut plans = Vec::new();
    let mut first_error = None;
    for kind in [Kind::User, Kind::Group] {
        match Plan::new(kind, query) {
            Ok(plan) => plans.push(plan),
            Err(error @ (Error::InvalidFilter(_) | Error::InvalidPath(_))) => {
                first_error.get_or_insert(error);
            }
            Err(other) => return Err(other),
        }
    }
    if plans.is_empty()
        && let Some(error) = first_error
    {
        return Err(error);
    }

    let start_index = query.start_index();
    let mut window = Window {
        offset: start_index - 1,
        count: query.count(),
    };
    let mut total_results = 0;
    let mut resources = Vec::new();
    for plan in &plans {
        let (total, page) = plan.run(ctx, query, window).await?;
        total_results += total;
        window = Window {
            offset: window.offset.saturating_sub(total),
            count: window.count - count_of(&page),
        };
        resources.extend(page);
    }
    Ok(ListPage {
        total_results,
        start_index,
        resources,
    })
}

// ---------------------------------------------------------------------------------------------
// Writes

/// Loads a resource for writing and checks `If-Match`.
async fn lock(
    ctx: &Ctx<'_>,
    txn: &WriteTxn,
    kind: Kind,
    id: &str,
    if_match: Option<&str>,
) -> Result<Row> {
    let shop_id = ctx.shop_id();
    let row = match kind {
        Kind::User => {
            resources::find_for_update::<scim_user::Entity, _>(&**txn, shop_id, id).await?
        }
        Kind::Group => {
            resources::find_for_update::<scim_group::Entity, _>(&**txn, shop_id, id).await?
        }
    }
    .ok_or(Error::NotFound)?;
    check_if_match(if_match, row.version)?;
    Ok(row)
}

/// Gives resources of `kind` a new version because what they show of the other side
/// changed.
async fn touch(
    txn: &WriteTxn,
    kind: Kind,
    shop_id: ShopId,
    pks: &[i64],
    now: DateTime<Utc>,
) -> Result<()> {
    match kind {
        Kind::User => resources::touch::<scim_user::Entity, _>(&**txn, shop_id, pks, now).await?,
        Kind::Group => resources::touch::<scim_group::Entity, _>(&**txn, shop_id, pks, now).await?,
    }
    Ok(())
}

/// Stores a user's new canonical JSON, unless it equals the stored one. A new `displayName`
/// also renews the versions of the user's groups, which show it.
async fn write_user(ctx: &Ctx<'_>, txn: &WriteTxn, row: Row, mut doc: Value) -> Result<Stored> {
    let shop_id = ctx.shop_id();
    let fields = user_fields(&mut doc)?;
    if doc == parse_stored(&row.resource)? {
        tracing::debug!("SCIM write changed nothing");
        return render_one(ctx, &**txn, Kind::User, &row, true).await;
    }

    let now = now();
    users::update(&**txn, shop_id, row.pk, &fields, row.version + 1, now).await?;
    if fields.display_name != row.display_name {
        let memberships = groups::related(&**txn, shop_id, Side::Users, &[row.pk]).await?;
        let group_pks: Vec<i64> = memberships.iter().map(|entry| entry.other.pk).collect();
        touch(txn, Kind::Group, shop_id, &group_pks, now).await?;
    }
    outbox::enqueue(&**txn, shop_id, SubjectKind::User, &row.id).await?;

    reload(ctx, txn, Kind::User, &row.id).await
}

/// Stores a group's new canonical JSON and applies member changes in order, unless neither
/// changes anything. Users who join or leave get a new version and a sync job; on a rename,
/// every member gets a new version.
async fn write_group(
    ctx: &Ctx<'_>,
    txn: &WriteTxn,
    row: Row,
    doc: Value,
    changes: &[MemberChange],
) -> Result<Stored> {
    let shop_id = ctx.shop_id();
    let fields = group_fields(&doc)?;
    let doc_changed = doc != parse_stored(&row.resource)?;

    let current: Vec<(String, i64)> = groups::related(&**txn, shop_id, Side::Groups, &[row.pk])
        .await?
        .into_iter()
        .map(|entry| (entry.other.id, entry.other.pk))
        .collect();
    let named = named_member_ids(changes);
    let known = resolve_members(&**txn, shop_id, &named).await?;
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
        return render_one(ctx, &**txn, Kind::Group, &row, true).await;
    }

    let now = now();
    let pks =
        |ids: &[&str]| -> Vec<i64> { ids.iter().filter_map(|id| pk_of.get(id).copied()).collect() };
    groups::update(&**txn, shop_id, row.pk, &fields, row.version + 1, now).await?;
    groups::add_members(&**txn, shop_id, row.pk, &pks(&added), now).await?;
    groups::remove_members(&**txn, shop_id, row.pk, &pks(&removed)).await?;
    let renamed = row.display_name.as_deref() != Some(fields.display_name.as_str());
    let touched: Vec<&str> = if renamed {
        wanted
            .iter()
            .map(String::as_str)
            .chain(removed.iter().copied())
            .collect()
    } else {
        added.iter().chain(removed.iter()).copied().collect()
    };
    touch(txn, Kind::User, shop_id, &pks(&touched), now).await?;
    outbox::enqueue(&**txn, shop_id, SubjectKind::Group, &row.id).await?;
    for user_id in added.iter().chain(removed.iter()) {
        outbox::enqueue(&**txn, shop_id, SubjectKind::User, user_id).await?;
    }

    tracing::info!(
        scim.members_added = added.len(),
        scim.members_removed = removed.len(),
        "SCIM group membership written"
    );
    reload(ctx, txn, Kind::Group, &row.id).await
}

/// Reads a resource back inside the write transaction, as the response shows it.
async fn reload(ctx: &Ctx<'_>, txn: &WriteTxn, kind: Kind, id: &str) -> Result<Stored> {
    let shop_id = ctx.shop_id();
    let row = match kind {
        Kind::User => resources::find::<scim_user::Entity, _>(&**txn, shop_id, id).await?,
        Kind::Group => resources::find::<scim_group::Entity, _>(&**txn, shop_id, id).await?,
    }
    .ok_or(Error::NotFound)?;
    tracing::info!(scim.version = row.version, "SCIM resource updated");
    render_one(ctx, &**txn, kind, &row, true).await
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
    let found: HashMap<String, i64> =
        resources::find_by_ids::<scim_user::Entity, C>(conn, shop_id, ids)
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
        let groups = resources::find_by_ids::<scim_group::Entity, C>(conn, shop_id, &missing);
        if !groups.await?.is_empty() {
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
    let emails = object
        .get("emails")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|email| email.get("value").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    Ok(users::UserFields {
        user_name,
        external_id,
        emails,
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

/// How one list request of one resource type is answered: its parsed filter and sort, and
/// the rows the database selects for them.
struct Plan {
    kind: Kind,
    filter: Option<Filter>,
    sort_by: Option<AttrPath>,
    narrowed: Narrowing,
}

/// A filter's SQL part, for the table of its resource type.
enum Narrowing {
    Users(Narrowed<users::Key>),
    Groups(Narrowed<groups::Key>),
}

impl Plan {
    /// Parses and checks the filter and `sortBy` against the resource type.
    fn new(kind: Kind, query: &ListQuery) -> Result<Self> {
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
                let path = AttrPath::parse(text).map_err(|_| {
                    Error::InvalidPath("sortBy is not an attribute path".to_owned())
                })?;
                filter::compare_for_sort(&json!({}), &json!({}), &path, rt)?;
                Some(path)
            }
            _ => None,
        };

        let narrowed = match kind {
            Kind::User => Narrowing::Users(filter.as_ref().map_or_else(everything, query::users)),
            Kind::Group => {
                Narrowing::Groups(filter.as_ref().map_or_else(everything, query::groups))
            }
        };
        Ok(Self {
            kind,
            filter,
            sort_by,
            narrowed,
        })
    }

    /// The total and the resources of `window`.
    async fn run(
        &self,
        ctx: &Ctx<'_>,
        query: &ListQuery,
        window: Window,
    ) -> Result<(u64, Vec<Value>)> {
        let conn = ctx.db.conn();
        let include_related = query.wants_related(self.kind);
        let exact = match &self.narrowed {
            Narrowing::Users(narrowed) => narrowed.exact,
            Narrowing::Groups(narrowed) => narrowed.exact,
        };

        if exact && self.sort_by.is_none() {
            let page = self.page(ctx, window).await?;
            let resources = render_many(ctx, conn, self.kind, &page.rows, include_related).await?;
            return Ok((page.total, resources));
        }

        // One more than the limit, so that too many can be told.
        let everything = Window {
            offset: 0,
            count: MAX_CANDIDATES + 1,
        };
        let rows = self.page(ctx, everything).await?.rows;
        check_candidates(rows.len())?;
        let needs_related = self.mentions(self.kind.related_attribute());
        let candidates = render_many(ctx, conn, self.kind, &rows, needs_related).await?;
        let matched = self.keep_matching(candidates)?;
        let sorted = self.sort(matched, query.descending)?;
        let total = count_of(&sorted);
        let mut page = window.slice(sorted);

        let attribute = self.kind.related_attribute();
        if include_related && !needs_related {
            let by_id: HashMap<&str, &Row> =
                rows.iter().map(|row| (row.id.as_str(), row)).collect();
            let page_rows: Vec<Row> = page
                .iter()
                .filter_map(|resource| resource.get("id").and_then(Value::as_str))
                .filter_map(|id| by_id.get(id).map(|row| (*row).clone()))
                .collect();
            page = render_many(ctx, conn, self.kind, &page_rows, true).await?;
        } else if !include_related {
            for resource in &mut page {
                if let Some(object) = resource.as_object_mut() {
                    object.remove(attribute);
                }
            }
        }
        Ok((total, page))
    }

    /// The rows of `window` among those SQL selects, with how many it selects in all.
    async fn page(&self, ctx: &Ctx<'_>, window: Window) -> Result<Page> {
        let (conn, shop_id) = (ctx.db.conn(), ctx.shop_id());
        let (offset, count) = (window.offset, window.count);
        Ok(match &self.narrowed {
            Narrowing::Users(narrowed) => {
                resources::page::<scim_user::Entity, _>(
                    conn,
                    shop_id,
                    &narrowed.selection,
                    offset,
                    count,
                )
                .await?
            }
            Narrowing::Groups(narrowed) => {
                resources::page::<scim_group::Entity, _>(
                    conn,
                    shop_id,
                    &narrowed.selection,
                    offset,
                    count,
                )
                .await?
            }
        })
    }

    /// Whether the filter or `sortBy` names the attribute.
    fn mentions(&self, attribute: &str) -> bool {
        self.filter
            .as_ref()
            .is_some_and(|filter| query::mentions(filter, attribute))
            || self
                .sort_by
                .as_ref()
                .is_some_and(|path| path.name.eq_ignore_ascii_case(attribute))
    }

    /// Keeps the resources the filter matches.
    fn keep_matching(&self, resources: Vec<Value>) -> Result<Vec<Value>> {
        let Some(filter) = &self.filter else {
            return Ok(resources);
        };
        let mut kept = Vec::new();
        for resource in resources {
            if filter.matches(&resource, self.kind.resource_type())? {
                kept.push(resource);
            }
        }
        Ok(kept)
    }

    /// Sorts by `sortBy` when given; ties and the default keep list order (the input order).
    fn sort(&self, mut resources: Vec<Value>, descending: bool) -> Result<Vec<Value>> {
        let Some(path) = &self.sort_by else {
            return Ok(resources);
        };
        let rt = self.kind.resource_type();
        let mut failure = None;
        resources.sort_by(|a, b| match filter::compare_for_sort(a, b, path, rt) {
            Ok(order) if descending => order.reverse(),
            Ok(order) => order,
            Err(error) => {
                failure.get_or_insert(error);
                Ordering::Equal
            }
        });
        match failure {
            Some(error) => Err(error.into()),
            None => Ok(resources),
        }
    }
}

/// The narrowing of a list without filter: every row, exactly.
fn everything<K>() -> Narrowed<K> {
    Narrowed {
        selection: Selection::All,
        exact: true,
    }
}

fn check_candidates(loaded: usize) -> Result<()> {
    if u64::try_from(loaded).unwrap_or(u64::MAX) > MAX_CANDIDATES {
        return Err(Error::TooMany(format!(
            "the query must examine more than {MAX_CANDIDATES} resources; \
             filter on id, userName, externalId, emails or displayName with eq"
        )));
    }
    Ok(())
}

fn count_of(items: &[Value]) -> u64 {
    u64::try_from(items.len()).unwrap_or(u64::MAX)
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

/// A stored resource with `id` and `meta` added.
fn render(ctx: &Ctx<'_>, kind: Kind, row: &Row) -> Result<Stored> {
    let mut resource = parse_stored(&row.resource)?;
    let version = etag(row.version);
    if let Some(object) = resource.as_object_mut() {
        object.insert("id".to_owned(), row.id.clone().into());
        object.insert(
            "meta".to_owned(),
            json!({
                "resourceType": kind.name(),
                "created": timestamp(row.created_at),
                "lastModified": timestamp(row.updated_at),
                "location": location(ctx, kind, &row.id),
                "version": version,
            }),
        );
    }
    Ok(Stored { resource, version })
}

/// Renders one resource, with its memberships when asked.
async fn render_one<C: ConnectionTrait>(
    ctx: &Ctx<'_>,
    conn: &C,
    kind: Kind,
    row: &Row,
    include_related: bool,
) -> Result<Stored> {
    let mut stored = render(ctx, kind, row)?;
    if include_related {
        let related = groups::related(conn, ctx.shop_id(), kind.side(), &[row.pk]).await?;
        set_related(ctx, kind, &mut stored.resource, related.iter());
    }
    Ok(stored)
}

/// Renders resources in order, loading all their memberships in one go when asked.
async fn render_many<C: ConnectionTrait>(
    ctx: &Ctx<'_>,
    conn: &C,
    kind: Kind,
    rows: &[Row],
    include_related: bool,
) -> Result<Vec<Value>> {
    let related = if include_related {
        let pks: Vec<i64> = rows.iter().map(|row| row.pk).collect();
        groups::related(conn, ctx.shop_id(), kind.side(), &pks).await?
    } else {
        Vec::new()
    };
    let mut by_owner: HashMap<i64, Vec<&Related>> = HashMap::new();
    for entry in &related {
        by_owner.entry(entry.owner_pk).or_default().push(entry);
    }

    rows.iter()
        .map(|row| {
            let mut stored = render(ctx, kind, row)?;
            if include_related {
                let listed = by_owner.get(&row.pk).map(Vec::as_slice).unwrap_or_default();
                set_related(ctx, kind, &mut stored.resource, listed.iter().copied());
            }
            Ok(stored.resource)
        })
        .collect()
}

/// Writes a group's `members` or a user's `groups` into a rendered resource (an empty list
/// when there are none).
fn set_related<'r>(
    ctx: &Ctx<'_>,
    kind: Kind,
    resource: &mut Value,
    related: impl Iterator<Item = &'r Related>,
) {
    let other = kind.other();
    let entry_type = match kind {
        Kind::User => "direct",
        Kind::Group => "User",
    };
    let listed: Vec<Value> = related
        .map(|entry| {
            let mut listed = Map::new();
            listed.insert("value".to_owned(), entry.other.id.clone().into());
            if let Some(display) = &entry.other.display_name {
                listed.insert("display".to_owned(), display.clone().into());
            }
            listed.insert("type".to_owned(), entry_type.into());
            listed.insert(
                "$ref".to_owned(),
                location(ctx, other, &entry.other.id).into(),
            );
            Value::Object(listed)
        })
        .collect();
    if let Some(object) = resource.as_object_mut() {
        object.insert(kind.related_attribute().to_owned(), Value::Array(listed));
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};

    use super::*;
    use crate::scim::schema::{GROUP_URN, USER_URN};
    use crate::store::entity::{scim_group_member, scim_user_email};
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
        let group =
            resources::find::<scim_group::Entity, _>(ctx.db.conn(), ctx.shop_id(), group_id)
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
        let users =
            resources::find_by_pks::<scim_user::Entity, _>(ctx.db.conn(), ctx.shop_id(), &pks)
                .await
                .unwrap();
        pks.iter()
            .map(|pk| users.iter().find(|u| u.pk == *pk).unwrap().id.clone())
            .collect()
    }

    /// A user's row as stored.
    async fn user_model(ctx: &Ctx<'_>, id: &str) -> scim_user::Model {
        scim_user::Entity::find()
            .filter(scim_user::Column::ShopId.eq(ctx.shop_id()))
            .filter(scim_user::Column::Id.eq(id))
            .one(ctx.db.conn())
            .await
            .unwrap()
            .unwrap()
    }

    /// The addresses indexed for a user, in order.
    async fn indexed_emails(ctx: &Ctx<'_>, user_pk: i64) -> Vec<String> {
        scim_user_email::Entity::find()
            .filter(scim_user_email::Column::UserPk.eq(user_pk))
            .order_by_asc(scim_user_email::Column::ValueCi)
            .all(ctx.db.conn())
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.value_ci)
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
        let row = user_model(&ctx, &id).await;
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
        let row = user_model(&ctx, &id).await;
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
        let row = user_model(&ctx, &id).await;
        assert_eq!(row.external_id.as_deref(), Some("okta-1"));
        assert_eq!(indexed_emails(&ctx, row.pk).await, ["ada@example.com"]);
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
                related: Vec::new(),
                ..filtered(r#"displayName eq "SUPPORT""#)
            },
        )
        .await
        .unwrap();
        let by_member = list(
            &ctx,
            Kind::Group,
            &ListQuery {
                related: Vec::new(),
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

    // ----- Memberships on both sides -----------------------------------------------------------

    #[tokio::test]
    async fn a_user_shows_its_groups_and_gets_a_new_version_whenever_they_change() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-user-groups").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        let alone = get(&ctx, Kind::User, &ada, true).await.unwrap();

        let staff = id_of(
            &create(
                &ctx,
                Kind::Group,
                &json!({ "displayName": "Staff", "members": [{ "value": ada }] }),
            )
            .await
            .unwrap(),
        );
        let joined = get(&ctx, Kind::User, &ada, true).await.unwrap();
        let rename = ops(json!([{ "op": "replace", "path": "displayName", "value": "Team" }]));
        patch(&ctx, Kind::Group, &staff, &rename, None)
            .await
            .unwrap();
        let renamed = get(&ctx, Kind::User, &ada, true).await.unwrap();
        let leave =
            ops(json!([{ "op": "remove", "path": format!("members[value eq \"{ada}\"]") }]));
        patch(&ctx, Kind::Group, &staff, &leave, None)
            .await
            .unwrap();
        let left = get(&ctx, Kind::User, &ada, false).await.unwrap();

        assert_eq!(alone.resource["groups"], json!([]));
        assert_eq!(alone.version, "W/\"1\"");
        assert_eq!(
            joined.resource["groups"],
            json!([{
                "value": staff,
                "display": "Staff",
                "type": "direct",
                "$ref": format!("{BASE}/Groups/{staff}"),
            }])
        );
        assert_eq!(joined.version, "W/\"2\"");
        assert_eq!(renamed.resource["groups"][0]["display"], "Team");
        assert_eq!(renamed.version, "W/\"3\"");
        assert!(left.resource.get("groups").is_none());
        assert_eq!(left.version, "W/\"4\"");
        assert_eq!(left.resource["meta"]["version"], "W/\"4\"");
    }

    #[tokio::test]
    async fn a_group_gets_a_new_version_when_a_member_is_renamed_or_deleted() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-group-members-shown").await;
        let ctx = ctx(&test, &scope);
        let ada = create_user(&ctx, "ada").await;
        let grace = create_user(&ctx, "grace").await;
        let body =
            json!({ "displayName": "Staff", "members": [{ "value": ada }, { "value": grace }] });
        let staff = id_of(&create(&ctx, Kind::Group, &body).await.unwrap());
        let rename = ops(json!([{ "op": "replace", "path": "displayName", "value": "Ada L" }]));
        let family = ops(json!([{ "op": "replace", "path": "name.familyName", "value": "Byron" }]));

        patch(&ctx, Kind::User, &ada, &rename, None).await.unwrap();
        let after_rename = get(&ctx, Kind::Group, &staff, true).await.unwrap();
        patch(&ctx, Kind::User, &ada, &family, None).await.unwrap();
        let after_other_change = get(&ctx, Kind::Group, &staff, true).await.unwrap();
        delete(&ctx, Kind::User, &grace, None).await.unwrap();
        let after_delete = get(&ctx, Kind::Group, &staff, true).await.unwrap();

        assert_eq!(after_rename.version, "W/\"2\"");
        assert_eq!(after_rename.resource["members"][0]["display"], "Ada L");
        assert_eq!(after_other_change.version, "W/\"2\"");
        assert_eq!(after_delete.version, "W/\"3\"");
        assert_eq!(
            after_delete.resource["members"].as_array().unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn users_can_be_listed_and_filtered_by_their_groups() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-filter-groups").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;
        let all = list(&ctx, Kind::User, &ListQuery::default()).await.unwrap();
        let bob = all.resources[2]["id"].as_str().unwrap().to_owned();
        let body = json!({ "displayName": "Buyers", "members": [{ "value": bob }] });
        let buyers = id_of(&create(&ctx, Kind::Group, &body).await.unwrap());

        let members = list(
            &ctx,
            Kind::User,
            &filtered(&format!("groups.value eq \"{buyers}\"")),
        )
        .await
        .unwrap();
        let without = list(
            &ctx,
            Kind::User,
            &ListQuery {
                related: Vec::new(),
                ..filtered(r#"groups[display eq "buyers"]"#)
            },
        )
        .await
        .unwrap();

        assert_eq!(user_names(&members), ["bob"]);
        assert_eq!(members.resources[0]["groups"][0]["value"], json!(buyers));
        assert_eq!(user_names(&without), ["bob"]);
        assert!(without.resources[0].get("groups").is_none());
    }

    // ----- Emails and deep pages -------------------------------------------------------------

    #[tokio::test]
    async fn a_user_is_found_by_any_of_its_addresses_until_one_is_removed() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-emails").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;
        let body = json!({
            "userName": "zoe",
            "emails": [
                { "value": "zoe@work.example", "type": "work", "primary": true },
                { "value": "Zoe@Home.example", "type": "home" },
            ],
        });
        let zoe = id_of(&create(&ctx, Kind::User, &body).await.unwrap());

        let found = |filter: &'static str| {
            let query = filtered(filter);
            async move { user_names(&list(&ctx, Kind::User, &query).await.unwrap()).join(",") }
        };

        assert_eq!(found(r#"emails.value eq "zoe@HOME.example""#).await, "zoe");
        assert_eq!(
            found(r#"emails[type eq "home"].value eq "zoe@home.example""#).await,
            "zoe"
        );
        assert_eq!(
            found(r#"emails[type eq "work"].value eq "zoe@home.example""#).await,
            ""
        );

        let drop_home = ops(json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]));
        patch(&ctx, Kind::User, &zoe, &drop_home, None)
            .await
            .unwrap();
        let gone = list(
            &ctx,
            Kind::User,
            &filtered(r#"emails.value eq "zoe@home.example""#),
        )
        .await
        .unwrap();

        assert_eq!(gone.total_results, 0);
        let row = user_model(&ctx, &zoe).await;
        assert_eq!(indexed_emails(&ctx, row.pk).await, ["zoe@work.example"]);
    }

    #[tokio::test]
    async fn pages_at_any_depth_follow_creation_order_as_users_come_and_go() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-deep-pages").await;
        let ctx = ctx(&test, &scope);
        let block = usize::try_from(migrations::LIST_BLOCK_SIZE).unwrap();
        let mut expected = Vec::new();
        for n in 0..block + 100 {
            let name = format!("user{n:04}");
            let id = create_user(&ctx, &name).await;
            if n % 7 == 3 || (block - 5..block + 5).contains(&n) {
                delete(&ctx, Kind::User, &id, None).await.unwrap();
            } else {
                expected.push(name);
            }
        }
        create_user(&ctx, "latest").await;
        expected.push("latest".to_owned());

        for start in [
            1,
            400,
            block - 60,
            block - 1,
            expected.len() - 3,
            expected.len() + 1,
        ] {
            let query = ListQuery {
                start_index: i64::try_from(start).unwrap(),
                count: Some(50),
                ..ListQuery::default()
            };
            let page = list(&ctx, Kind::User, &query).await.unwrap();

            let wanted: Vec<&str> = expected
                .iter()
                .skip(start - 1)
                .take(50)
                .map(String::as_str)
                .collect();
            assert_eq!(user_names(&page), wanted, "page at startIndex={start}");
            assert_eq!(page.total_results, u64::try_from(expected.len()).unwrap());
        }
    }

    #[tokio::test]
    async fn the_root_search_pages_through_users_then_groups() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-root-search").await;
        let ctx = ctx(&test, &scope);
        five_users(&ctx).await;
        for name in ["Sales", "Support"] {
            create(&ctx, Kind::Group, &json!({ "displayName": name }))
                .await
                .unwrap();
        }
        let query = ListQuery {
            start_index: 5,
            count: Some(2),
            ..ListQuery::default()
        };

        let page = list_all(&ctx, &query).await.unwrap();
        let by_name = list_all(&ctx, &filtered(r#"displayName eq "Support""#))
            .await
            .unwrap();

        assert_eq!(page.total_results, 7);
        assert_eq!(page.resources[0]["userName"], "dave");
        assert_eq!(page.resources[1]["displayName"], "Sales");
        assert_eq!(page.resources.len(), 2);
        assert_eq!(by_name.total_results, 1);
        assert_eq!(by_name.resources[0]["meta"]["resourceType"], "Group");
    }

    #[tokio::test]
    async fn concurrent_creates_and_conflicts_leave_exact_counts_and_pages() {
        let test = TestDb::fresh().await;
        let scope = test.scope("svc-concurrent").await;
        let ctx = ctx(&test, &scope);
        let writer = |prefix: &'static str| async move {
            let mut created = 0;
            for n in 0..6 {
                // Every writer also tries the same shared name; only one of them gets it.
                let name = if n == 3 {
                    "shared".to_owned()
                } else {
                    format!("{prefix}{n}")
                };
                match create(&ctx, Kind::User, &user_body(&name, "X")).await {
                    Ok(_) => created += 1,
                    Err(Error::Uniqueness(_)) => {}
                    Err(other) => panic!("creating {name}: {other:?}"),
                }
            }
            created
        };

        let (a, b, c, d) = tokio::join!(writer("a"), writer("b"), writer("c"), writer("d"));
        let all = list(&ctx, Kind::User, &ListQuery::default()).await.unwrap();
        let tail = ListQuery {
            start_index: 19,
            ..ListQuery::default()
        };
        let last = list(&ctx, Kind::User, &tail).await.unwrap();

        assert_eq!(a + b + c + d, 21);
        assert_eq!(all.total_results, 21);
        assert_eq!(all.resources.len(), 21);
        assert_eq!(last.resources.len(), 3);
        assert_eq!(last.resources[..], all.resources[18..]);
    }
}
