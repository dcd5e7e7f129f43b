//! Pushing one subject's current state to Shopify, level-triggered and idempotent.
//!
//! A user's customer is written with `customerSet` identified by the app-owned `id`
//! metafield `$app:scim_id` holding the SCIM id (its definition is created once per shop),
//! so repeating a push, or one that crashed half way, never makes a second customer. What
//! was written is fingerprinted and an unchanged user costs no call. Tags move only with
//! `tagsAdd`/`tagsRemove`, and only tags the app added are ever removed.
//!
//! Deprovisioning: `active=false` adds the inactive tag and removes the group tags;
//! reactivation reverses it. A deleted user follows the shop's [`DeletePolicy`]. A
//! customer that already has the user's email is adopted when the shop allows it.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::scim::service::{self, Kind, ShopAccess};
use crate::shopify::install::Platform;
use crate::store::entity::{customer_link, shop};
use crate::store::outbox::{self, SubjectKind};
use crate::store::sync::{self as store_sync, LinkUpdate};
use crate::sync::bucket::CostBucket;
use crate::sync::mapping::{self, DesiredCustomer};
use crate::sync::settings::{DeletePolicy, SyncSettings};
use crate::sync::{Error, Result};

/// Namespace of the app-owned metafield (`$app` expands to the app's own).
pub const METAFIELD_NAMESPACE: &str = "$app";

/// Key of the `id` metafield holding the SCIM id.
pub const METAFIELD_KEY: &str = "scim_id";

/// Throttled answers tolerated for one call before the job is retried later.
const MAX_THROTTLED_PER_CALL: u32 = 20;

const DEFINE: &str = "mutation DefineScimId($definition: MetafieldDefinitionInput!) {
  metafieldDefinitionCreate(definition: $definition) {
    createdDefinition { id }
    userErrors { field message code }
  }
}";

const SET_BY_SCIM_ID: &str = "mutation PushCustomer($scimId: String!, $input: CustomerSetInput!) {
  customerSet(identifier: {customId: {namespace: \"$app\", key: \"scim_id\", value: $scimId}},
              input: $input) {
    customer { id }
    userErrors { field message code }
  }
}";

const SET_BY_ID: &str = "mutation AdoptCustomer($identifier: CustomerSetIdentifiers, \
$input: CustomerSetInput!) {
  customerSet(identifier: $identifier, input: $input) {
    customer { id }
    userErrors { field message code }
  }
}";

const FIND_BY_EMAIL: &str = "query FindCustomer($identifier: CustomerIdentifierInput!) {
  customerByIdentifier(identifier: $identifier) { id }
}";

const TAGS_ADD: &str = "mutation AddTags($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}";

const TAGS_REMOVE: &str = "mutation RemoveTags($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) { node { id } userErrors { field message } }
}";

const DELETE: &str = "mutation DeleteCustomer($id: ID!) {
  customerDelete(input: {id: $id}) { deletedCustomerId userErrors { field message } }
}";

const ERASE: &str = "mutation EraseCustomer($id: ID!) {
  customerRequestDataErasure(customerId: $id) { customerId userErrors { field message code } }
}";

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Nothing needed to change.
    Unchanged,
    /// The customer was created or updated, or its tags changed.
    Updated,
    /// An existing customer with the user's email was linked to the user.
    Adopted,
    /// The customer was tagged inactive (deactivation, or deletion under the tag policy).
    Deprovisioned,
    /// The customer was deleted.
    Deleted,
    /// Shopify was asked to erase the customer.
    Erased,
    /// A group's members were queued.
    Fanned,
}

/// One leased shop's pushing context: its settings, its cost bucket and access to its SCIM
/// resources.
pub struct ShopPusher<'a> {
    platform: &'a Platform,
    shop: &'a shop::Model,
    settings: SyncSettings,
    bucket: CostBucket,
    metafield_defined: bool,
    access: ShopAccess,
}

impl<'a> ShopPusher<'a> {
    /// A pusher for `shop` with its settings, starting from a stored bucket.
    pub fn new(
        platform: &'a Platform,
        shop: &'a shop::Model,
        settings: SyncSettings,
        bucket: CostBucket,
        metafield_defined: bool,
    ) -> Self {
        Self {
            platform,
            shop,
            settings,
            bucket,
            metafield_defined,
            access: ShopAccess::for_verified_shop(shop),
        }
    }

    /// The bucket as now known, to store with the lease.
    pub fn bucket(&self) -> &CostBucket {
        &self.bucket
    }

    /// Sends one operation when it fits in the bucket; waits out `THROTTLED` answers.
    async fn call(
        &mut self,
        operation: &'static str,
        query: &str,
        variables: Value,
    ) -> Result<Value> {
        let domain = &self.shop.domain;
        let mut throttled = 0;
        loop {
            let wait = self.bucket.wait_for(operation, Utc::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }

            let answer = self.platform.graphql(domain, query, &variables).await?;
            self.bucket
                .observe(operation, &answer.extensions, Utc::now());
            if answer.is_throttled() {
                throttled += 1;
                let wait = self.bucket.throttle_wait(operation, &answer.extensions);
                if throttled >= MAX_THROTTLED_PER_CALL {
                    return Err(Error::Throttled(wait));
                }
                tracing::warn!(shop.domain = %domain, wait_secs = wait, "Shopify throttled a call");
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                continue;
            }
            if !answer.errors.is_empty() {
                let messages: Vec<&str> = answer
                    .errors
                    .iter()
                    .filter_map(|error| error["message"].as_str())
                    .collect();
                return Err(Error::Shopify(crate::shopify::Error::UnexpectedResponse(
                    format!("GraphQL errors: {}", messages.join("; ")),
                )));
            }
            return Ok(answer.data);
        }
    }

    /// Creates the `$app:scim_id` metafield definition once per shop.
    async fn ensure_definition(&mut self) -> Result<()> {
        if self.metafield_defined {
            return Ok(());
        }
        let data = self
            .call(
                "define",
                DEFINE,
                json!({ "definition": {
                    "name": "SCIM id", "namespace": METAFIELD_NAMESPACE, "key": METAFIELD_KEY,
                    "type": "id", "ownerType": "CUSTOMER",
                }}),
            )
            .await?;
        let errors = user_errors(&data["metafieldDefinitionCreate"]);
        let taken = errors.iter().any(|error| error.code == "TAKEN");
        if !errors.is_empty() && !taken {
            return Err(Error::Rejected(format!(
                "the SCIM id metafield could not be defined: {}",
                describe(&errors)
            )));
        }
        store_sync::mark_metafield_defined(self.platform.db(), self.shop.id).await?;
        self.metafield_defined = true;
        Ok(())
    }

    /// Pushes the current state of one subject.
    pub async fn push(&mut self, kind: &str, subject_id: &str) -> Result<Pushed> {
        if kind == SubjectKind::Group.as_str() {
            return self.fan_out_group(subject_id).await;
        }
        let user = self.load(Kind::User, subject_id).await?;
        let link = store_sync::link(self.platform.db().conn(), self.shop.id, subject_id).await?;
        match user {
            Some(user) => self.push_user(subject_id, &user, link).await,
            None => self.deprovision_deleted(subject_id, link).await,
        }
    }

    async fn load(&self, kind: Kind, id: &str) -> Result<Option<Value>> {
        match service::get(&self.access.ctx(self.platform.db()), kind, id, true).await {
            Ok(stored) => Ok(Some(stored.resource)),
            Err(crate::scim::error::Error::NotFound) => Ok(None),
            Err(error) => Err(Error::Scim(error)),
        }
    }

    /// A group's tag is on its members' customers, so a group change is a push of each
    /// member (membership changes already queued the users who joined or left).
    async fn fan_out_group(&mut self, group_id: &str) -> Result<Pushed> {
        let Some(group) = self.load(Kind::Group, group_id).await? else {
            return Ok(Pushed::Unchanged);
        };
        let members: Vec<&str> = group["members"]
            .as_array()
            .map(|members| members.iter().filter_map(|m| m["value"].as_str()).collect())
            .unwrap_or_default();
        let txn = self.platform.db().begin_write().await?;
        for member in members {
            outbox::enqueue(&*txn, self.shop.id, SubjectKind::User, member).await?;
        }
        txn.commit().await?;
        Ok(Pushed::Fanned)
    }

    async fn push_user(
        &mut self,
        user_id: &str,
        user: &Value,
        link: Option<customer_link::Model>,
    ) -> Result<Pushed> {
        self.ensure_definition().await?;
        let desired = mapping::desired_customer(user, &self.settings);
        let fingerprint = desired.fingerprint();
        let owned = owned_tags(link.as_ref());
        let wanted = mapping::desired_tags(Some(user), &self.settings);
        let active = mapping::is_active(user);
        let previous_state = link.as_ref().map_or("active", |link| link.state.as_str());
        let was_active = previous_state == "active";

        let known_gid = link
            .as_ref()
            .filter(|link| link.fingerprint.as_deref() == Some(fingerprint.as_str()))
            .and_then(|link| link.customer_gid.clone());
        let (gid, mut outcome) = match known_gid {
            Some(gid) => (gid, Pushed::Unchanged),
            None => {
                let written = self.write_customer(user_id, &desired).await?;
                // Remember the customer at once, so a retry after a failed tag call does
                // not write the fields again.
                store_sync::save_link(
                    self.platform.db(),
                    self.shop.id,
                    user_id,
                    &LinkUpdate {
                        customer_gid: Some(&written.0),
                        fingerprint: Some(&fingerprint),
                        tags_owned: &owned.iter().cloned().collect::<Vec<_>>(),
                        state: previous_state,
                    },
                )
                .await?;
                written
            }
        };
        if !desired.warnings.is_empty() && outcome != Pushed::Unchanged {
            let message = desired.warnings.join("; ");
            self.record("warning", Some(user_id), Some(&gid), &message)
                .await?;
        }

        let tags_changed = self.apply_tags(&gid, &owned, &wanted).await?;
        let state = if active { "active" } else { "inactive" };
        // The link already names the customer and what was written; it is stale only when
        // the tags or the state moved.
        if tags_changed || state != previous_state {
            store_sync::save_link(
                self.platform.db(),
                self.shop.id,
                user_id,
                &LinkUpdate {
                    customer_gid: Some(&gid),
                    fingerprint: Some(&fingerprint),
                    tags_owned: &wanted.iter().cloned().collect::<Vec<_>>(),
                    state,
                },
            )
            .await?;
        }

        if outcome == Pushed::Unchanged && tags_changed {
            outcome = Pushed::Updated;
        }
        if !active && was_active {
            outcome = Pushed::Deprovisioned;
            self.record(
                "deprovisioned",
                Some(user_id),
                Some(&gid),
                "deactivated: tagged inactive",
            )
            .await?;
        } else if active && !was_active {
            self.record("pushed", Some(user_id), Some(&gid), "reactivated")
                .await?;
        } else if outcome == Pushed::Updated {
            self.record("pushed", Some(user_id), Some(&gid), "customer updated")
                .await?;
        }
        Ok(outcome)
    }

    /// Writes the customer fields; answers its GID and whether it was adopted.
    async fn write_customer(
        &mut self,
        user_id: &str,
        desired: &DesiredCustomer,
    ) -> Result<(String, Pushed)> {
        let data = self
            .call(
                "set",
                SET_BY_SCIM_ID,
                json!({ "scimId": user_id, "input": desired.input }),
            )
            .await?;
        let payload = &data["customerSet"];
        if let Some(gid) = payload["customer"]["id"].as_str() {
            return Ok((gid.to_owned(), Pushed::Updated));
        }

        let errors = user_errors(payload);
        let email_taken = errors.iter().any(|error| {
            error.field.ends_with("email")
                && (error.code == "TAKEN" || error.message.to_ascii_lowercase().contains("taken"))
        });
        if !email_taken {
            return Err(Error::Rejected(format!(
                "Shopify refused the customer: {}",
                describe(&errors)
            )));
        }
        if !self.settings.adopt_existing {
            return Err(Error::Rejected(
                "a customer with this email already exists in Shopify, and this shop does not \
                 adopt existing customers"
                    .to_owned(),
            ));
        }
        let gid = self.adopt(user_id, desired).await?;
        self.record(
            "adopted",
            Some(user_id),
            Some(&gid),
            "linked the existing customer with this email",
        )
        .await?;
        Ok((gid, Pushed::Adopted))
    }

    /// Links the customer holding the user's email by setting our metafield on it.
    async fn adopt(&mut self, user_id: &str, desired: &DesiredCustomer) -> Result<String> {
        let Some(email) = desired.email() else {
            return Err(Error::Rejected(
                "the user has no email to adopt a customer by".to_owned(),
            ));
        };
        let found = self
            .call(
                "find",
                FIND_BY_EMAIL,
                json!({ "identifier": { "emailAddress": email } }),
            )
            .await?;
        let Some(existing) = found["customerByIdentifier"]["id"].as_str() else {
            return Err(Error::Shopify(crate::shopify::Error::UnexpectedResponse(
                "the email is taken but no customer holds it yet".to_owned(),
            )));
        };
        let mut input = desired.input.clone();
        input["metafields"] = json!([{
            "namespace": METAFIELD_NAMESPACE, "key": METAFIELD_KEY, "type": "id", "value": user_id,
        }]);
        let data = self
            .call(
                "set",
                SET_BY_ID,
                json!({ "identifier": { "id": existing }, "input": input }),
            )
            .await?;
        let payload = &data["customerSet"];
        payload["customer"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Rejected(format!(
                    "Shopify refused to link the existing customer: {}",
                    describe(&user_errors(payload))
                ))
            })
    }

    /// Adds the wanted tags the app does not own yet and removes owned ones no longer
    /// wanted; answers whether anything changed.
    async fn apply_tags(
        &mut self,
        gid: &str,
        owned: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Result<bool> {
        let add: Vec<&String> = wanted.difference(owned).collect();
        let remove: Vec<&String> = owned.difference(wanted).collect();
        for (operation, query, tags) in [
            ("tags_add", TAGS_ADD, &add),
            ("tags_remove", TAGS_REMOVE, &remove),
        ] {
            if tags.is_empty() {
                continue;
            }
            let data = self
                .call(operation, query, json!({ "id": gid, "tags": tags }))
                .await?;
            let field = if operation == "tags_add" {
                "tagsAdd"
            } else {
                "tagsRemove"
            };
            let errors = user_errors(&data[field]);
            if !errors.is_empty() {
                return Err(Error::Rejected(format!(
                    "Shopify refused the tags: {}",
                    describe(&errors)
                )));
            }
        }
        Ok(!add.is_empty() || !remove.is_empty())
    }

    /// A deleted user's customer, by the shop's delete policy.
    async fn deprovision_deleted(
        &mut self,
        user_id: &str,
        link: Option<customer_link::Model>,
    ) -> Result<Pushed> {
        let Some(link) = link.filter(|link| link.state != "deleted" && link.state != "erased")
        else {
            return Ok(Pushed::Unchanged);
        };
        let Some(gid) = link.customer_gid.clone() else {
            return Ok(Pushed::Unchanged);
        };

        match self.settings.on_delete {
            DeletePolicy::Tag => {
                self.tag_deleted(
                    user_id,
                    &link,
                    &gid,
                    "deleted in the identity provider: tagged inactive",
                )
                .await
            }
            DeletePolicy::DeleteWithoutOrders => {
                let data = self.call("delete", DELETE, json!({ "id": gid })).await?;
                let payload = &data["customerDelete"];
                let errors = user_errors(payload);
                let gone = payload["deletedCustomerId"].is_string()
                    || describe(&errors).contains("can't be found");
                if gone {
                    store_sync::delete_link(self.platform.db(), self.shop.id, user_id).await?;
                    self.record("deleted", Some(user_id), Some(&gid), "customer deleted")
                        .await?;
                    return Ok(Pushed::Deleted);
                }
                self.tag_deleted(
                    user_id,
                    &link,
                    &gid,
                    "the customer has orders, so it was tagged inactive instead of deleted",
                )
                .await
            }
            DeletePolicy::Erase => {
                let data = self.call("erase", ERASE, json!({ "id": gid })).await?;
                let errors = user_errors(&data["customerRequestDataErasure"]);
                if !errors.is_empty() {
                    return Err(Error::Rejected(format!(
                        "Shopify refused the erasure: {}",
                        describe(&errors)
                    )));
                }
                store_sync::save_link(
                    self.platform.db(),
                    self.shop.id,
                    user_id,
                    &LinkUpdate {
                        customer_gid: Some(&gid),
                        fingerprint: link.fingerprint.as_deref(),
                        tags_owned: &owned_tags(Some(&link)).into_iter().collect::<Vec<_>>(),
                        state: "erased",
                    },
                )
                .await?;
                self.record(
                    "erased",
                    Some(user_id),
                    Some(&gid),
                    "data erasure requested",
                )
                .await?;
                Ok(Pushed::Erased)
            }
        }
    }

    async fn tag_deleted(
        &mut self,
        user_id: &str,
        link: &customer_link::Model,
        gid: &str,
        message: &str,
    ) -> Result<Pushed> {
        let owned = owned_tags(Some(link));
        let wanted = mapping::desired_tags(None, &self.settings);
        self.apply_tags(gid, &owned, &wanted).await?;
        store_sync::save_link(
            self.platform.db(),
            self.shop.id,
            user_id,
            &LinkUpdate {
                customer_gid: Some(gid),
                fingerprint: link.fingerprint.as_deref(),
                tags_owned: &wanted.into_iter().collect::<Vec<_>>(),
                state: "deleted",
            },
        )
        .await?;
        self.record("deprovisioned", Some(user_id), Some(gid), message)
            .await?;
        Ok(Pushed::Deprovisioned)
    }

    async fn record(
        &self,
        kind: &str,
        user_id: Option<&str>,
        gid: Option<&str>,
        message: &str,
    ) -> Result<()> {
        store_sync::record_activity(
            self.platform.db(),
            self.shop.id,
            kind,
            user_id,
            gid,
            Some(message),
        )
        .await?;
        Ok(())
    }
}

/// The tags a link says the app owns.
fn owned_tags(link: Option<&customer_link::Model>) -> BTreeSet<String> {
    link.and_then(|link| serde_json::from_str::<Vec<String>>(&link.tags_owned).ok())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// One of Shopify's `userErrors`.
#[derive(Debug, Clone)]
struct UserError {
    field: String,
    message: String,
    code: String,
}

/// The user errors of a payload, with `field` joined by dots.
fn user_errors(payload: &Value) -> Vec<UserError> {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    payload["userErrors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| UserError {
                    field: error["field"]
                        .as_array()
                        .map(|parts| {
                            let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
                            parts.join(".")
                        })
                        .unwrap_or_default(),
                    message: text(&error["message"]),
                    code: text(&error["code"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// User errors as text: `field: message`, joined.
fn describe(errors: &[UserError]) -> String {
    let described: Vec<String> = errors
        .iter()
        .map(|error| {
            if error.field.is_empty() {
                error.message.clone()
            } else {
                format!("{}: {}", error.field, error.message)
            }
        })
        .collect();
    described.join("; ")
}
