//! The stand-in's in-memory Shopify: shops, the app's installation on each, customers,
//! metafield definitions and orders, with the validation rules Shopify applies to them.
//!
//! Everything here is plain data behind one mutex (see [`crate::standin`]); nothing in this
//! module knows HTTP, GraphQL or time beyond the timestamps it is handed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::bucket::{LeakyBucket, Plan};
use crate::oauth::{AccessToken, AuthCode, RefreshToken};

/// Longest tag Shopify accepts.
pub const MAX_TAG_LENGTH: usize = 255;

/// Most call-log entries kept per shop; older ones are dropped first.
pub const CALL_LOG_LIMIT: usize = 10_000;

/// A field-level error, shaped like Shopify's `userErrors` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserError {
    /// Path to the input field at fault, or `None` for the input as a whole.
    pub field: Option<Vec<String>>,
    /// Human-readable message.
    pub message: String,
    /// Machine-readable code (only some payload types expose it).
    pub code: &'static str,
}

impl UserError {
    fn new(field: &[&str], message: &str, code: &'static str) -> Self {
        Self {
            field: Some(field.iter().map(|part| (*part).to_owned()).collect()),
            message: message.to_owned(),
            code,
        }
    }
}

/// A metafield value on a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metafield {
    /// Numeric id.
    pub id: u64,
    /// Namespace, with `$app` already expanded.
    pub namespace: String,
    /// Key within the namespace.
    pub key: String,
    /// Metafield type, e.g. `id` or `single_line_text_field`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value as a string.
    pub value: String,
}

/// A metafield definition of the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetafieldDefinition {
    /// Numeric id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Namespace, with `$app` already expanded.
    pub namespace: String,
    /// Key within the namespace.
    pub key: String,
    /// Metafield type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Owner type, e.g. `CUSTOMER`.
    pub owner_type: String,
}

/// An order placed by a customer; only its existence and amount matter here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// Numeric id.
    pub id: u64,
    /// Total, in the shop's currency.
    pub amount: f64,
}

/// A customer of a shop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    /// Numeric id; the GID is `gid://shopify/Customer/{id}`.
    pub id: u64,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address, unique in the shop (case-insensitively).
    pub email: Option<String>,
    /// Phone number in E.164, unique in the shop.
    pub phone: Option<String>,
    /// Merchant's note.
    pub note: Option<String>,
    /// Locale, e.g. `en`.
    pub locale: Option<String>,
    /// Tags, sorted, unique case-insensitively.
    pub tags: Vec<String>,
    /// Whether taxes are waived.
    pub tax_exempt: bool,
    /// Metafields by (namespace, key).
    pub metafields: Vec<Metafield>,
    /// Orders placed.
    pub orders: Vec<Order>,
    /// When `customerRequestDataErasure` was called for this customer.
    pub data_erasure_requested_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// The customer's GID.
    pub fn gid(&self) -> String {
        customer_gid(self.id)
    }

    /// The metafield at (namespace, key), namespace already expanded.
    pub fn metafield(&self, namespace: &str, key: &str) -> Option<&Metafield> {
        self.metafields
            .iter()
            .find(|field| field.namespace == namespace && field.key == key)
    }

    /// The webhook payload of `customers/create` and `customers/update` (REST shape,
    /// API version 2026-07).
    pub fn webhook_payload(&self) -> Value {
        let address = |field: &Option<String>| field.clone().map_or(Value::Null, Value::String);
        json!({
            "id": self.id,
            "created_at": webhook_time(self.created_at),
            "updated_at": webhook_time(self.updated_at),
            "first_name": address(&self.first_name),
            "last_name": address(&self.last_name),
            "state": "disabled",
            "note": address(&self.note),
            "verified_email": self.email.is_some(),
            "multipass_identifier": null,
            "tax_exempt": self.tax_exempt,
            "email": address(&self.email),
            "phone": address(&self.phone),
            "currency": "USD",
            "addresses": [],
            "tax_exemptions": [],
            "admin_graphql_api_id": self.gid(),
            "default_address": null,
        })
    }
}

/// `gid://shopify/Customer/{id}`.
pub fn customer_gid(id: u64) -> String {
    format!("gid://shopify/Customer/{id}")
}

/// Parses a customer GID (or a bare numeric id) into the numeric id.
pub fn parse_customer_gid(text: &str) -> Option<u64> {
    text.strip_prefix("gid://shopify/Customer/")
        .unwrap_or(text)
        .parse()
        .ok()
}

/// Timestamps as the REST-shaped webhook payloads write them.
pub fn webhook_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A staff user of a shop, as a session token's `sub` names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffUser {
    /// Numeric id.
    pub id: u64,
    /// Whether this is the shop owner.
    pub account_owner: bool,
}

/// One Admin API call, as the control API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    /// Position in the shop's log, from 1.
    pub seq: u64,
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// API version in the path.
    pub api_version: String,
    /// Operation type and name, e.g. `mutation ScimUpsert`.
    pub operation: String,
    /// Root fields called, e.g. `customerSet`.
    pub root_fields: Vec<String>,
    /// HTTP status answered.
    pub status: u16,
    /// Cost charged up front, when the query was costed.
    pub requested_cost: Option<u64>,
    /// Cost kept after the refund, when the query ran.
    pub actual_cost: Option<u64>,
    /// Whether it was answered `THROTTLED`.
    pub throttled: bool,
    /// The injected fault that shaped the answer, if any.
    pub fault: Option<String>,
    /// Points available after the call.
    pub currently_available: Option<u64>,
}

/// A shop with the app's installation on it.
#[derive(Debug)]
pub struct Shop {
    /// `name.myshopify.com`.
    pub domain: String,
    /// Numeric id.
    pub id: u64,
    /// Plan; sets the throttle's restore rate.
    pub plan: Plan,
    /// The shop owner, who mints session tokens unless a staff id is given.
    pub owner: StaffUser,
    /// Whether the app is installed.
    pub installed: bool,
    /// The non-expiring offline token, once one was issued.
    pub legacy_offline_token: Option<String>,
    /// Customers by id.
    pub customers: BTreeMap<u64, Customer>,
    /// Metafield definitions.
    pub metafield_definitions: Vec<MetafieldDefinition>,
    /// The app's cost bucket on this shop.
    pub bucket: LeakyBucket,
    /// Admin API calls, oldest first.
    pub calls: Vec<CallRecord>,
    /// Calls ever logged.
    pub calls_logged: u64,
}

impl Shop {
    /// The handle: the domain's first label.
    pub fn handle(&self) -> &str {
        self.domain.split('.').next().unwrap_or(&self.domain)
    }

    /// The `app/uninstalled` payload: the shop object.
    pub fn webhook_payload(&self, now: DateTime<Utc>) -> Value {
        json!({
            "id": self.id,
            "name": self.handle(),
            "email": format!("owner@{}", self.domain),
            "domain": self.domain,
            "myshopify_domain": self.domain,
            "plan_name": self.plan.as_str(),
            "plan_display_name": self.plan.display_name(),
            "shop_owner": "Shop Owner",
            "currency": "USD",
            "iana_timezone": "UTC",
            "updated_at": webhook_time(now),
        })
    }

    /// Appends to the call log, dropping the oldest entry past [`CALL_LOG_LIMIT`].
    pub fn log_call(&mut self, mut record: CallRecord) {
        self.calls_logged += 1;
        record.seq = self.calls_logged;
        if self.calls.len() >= CALL_LOG_LIMIT {
            self.calls.remove(0);
        }
        self.calls.push(record);
    }

    /// The customer whose email matches, case-insensitively.
    pub fn customer_by_email(&self, email: &str) -> Option<&Customer> {
        self.customers.values().find(|customer| {
            customer
                .email
                .as_deref()
                .is_some_and(|own| own.eq_ignore_ascii_case(email.trim()))
        })
    }

    /// The customer whose phone matches after normalisation.
    pub fn customer_by_phone(&self, phone: &str) -> Option<&Customer> {
        let phone = normalize_phone(phone)?;
        self.customers
            .values()
            .find(|customer| customer.phone.as_deref() == Some(phone.as_str()))
    }

    /// The customer holding `value` in metafield (namespace, key).
    pub fn customer_by_metafield(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Option<&Customer> {
        self.customers.values().find(|customer| {
            customer
                .metafield(namespace, key)
                .is_some_and(|field| field.value == value)
        })
    }

    /// The definition at (namespace, key) for `owner_type`.
    pub fn definition(
        &self,
        owner_type: &str,
        namespace: &str,
        key: &str,
    ) -> Option<&MetafieldDefinition> {
        self.metafield_definitions.iter().find(|definition| {
            definition.owner_type == owner_type
                && definition.namespace == namespace
                && definition.key == key
        })
    }

    /// Customers matching a Shopify search query, by id ascending.
    ///
    /// Supported terms, all of which must match: `email:`, `phone:`, `tag:`,
    /// `first_name:`, `last_name:`, `id:`, and bare words matched against name and email.
    /// Values may be quoted; unknown fields are ignored, as Shopify ignores them.
    pub fn search(&self, query: Option<&str>) -> Vec<&Customer> {
        let terms = query.map(search_terms).unwrap_or_default();
        self.customers
            .values()
            .filter(|customer| terms.iter().all(|term| term.matches(customer)))
            .collect()
    }
}

/// One term of a search query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SearchTerm {
    field: Option<String>,
    value: String,
}

impl SearchTerm {
    fn matches(&self, customer: &Customer) -> bool {
        let value = self.value.to_lowercase();
        let equals = |field: &Option<String>| {
            field
                .as_deref()
                .is_some_and(|own| own.to_lowercase() == value)
        };
        match self.field.as_deref() {
            Some("email") => equals(&customer.email),
            Some("phone") => {
                normalize_phone(&self.value).is_some_and(|p| customer.phone.as_ref() == Some(&p))
            }
            Some("tag") => customer.tags.iter().any(|tag| tag.to_lowercase() == value),
            Some("first_name") => equals(&customer.first_name),
            Some("last_name") => equals(&customer.last_name),
            Some("id") => parse_customer_gid(&self.value) == Some(customer.id),
            Some(_) => true,
            None => [&customer.first_name, &customer.last_name, &customer.email]
                .into_iter()
                .flatten()
                .any(|text| text.to_lowercase().contains(&value)),
        }
    }
}

fn search_terms(query: &str) -> Vec<SearchTerm> {
    let mut terms = Vec::new();
    let mut chars = query.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return terms;
        }
        let mut word = String::new();
        let mut quoted = false;
        for c in chars.by_ref() {
            match c {
                '"' => quoted = !quoted,
                c if c.is_whitespace() && !quoted => break,
                c => word.push(c),
            }
        }
        if word == "AND" {
            continue;
        }
        let term = match word.split_once(':') {
            Some((field, value)) => SearchTerm {
                field: Some(field.to_lowercase()),
                value: value.to_owned(),
            },
            None => SearchTerm {
                field: None,
                value: word,
            },
        };
        terms.push(term);
    }
}

/// A list of tags given as an array or as one comma-separated string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TagList {
    /// `["a", "b"]`
    List(Vec<String>),
    /// `"a, b"`
    Text(String),
}

impl TagList {
    /// The tags, split and trimmed.
    pub fn into_tags(self) -> Vec<String> {
        match self {
            Self::List(tags) => tags,
            Self::Text(text) => text.split(',').map(str::to_owned).collect(),
        }
    }
}

/// A metafield in a customer input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetafieldInput {
    /// Namespace; the app-reserved one when omitted.
    pub namespace: Option<String>,
    /// Key.
    pub key: String,
    /// Type; taken from the definition when omitted.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Value as a string.
    pub value: String,
    /// Id of an existing metafield (ignored; (namespace, key) decides).
    pub id: Option<String>,
}

fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `CustomerInput` and `CustomerSetInput`: omitted fields stay as they are, `null`
/// clears a field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerInput {
    /// The customer to update (`customerUpdate` only).
    pub id: Option<String>,
    /// Email address.
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    /// Phone number.
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    /// Given name.
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: Option<Option<String>>,
    /// Family name.
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: Option<Option<String>>,
    /// Note.
    #[serde(default, deserialize_with = "nullable")]
    pub note: Option<Option<String>>,
    /// Locale.
    #[serde(default, deserialize_with = "nullable")]
    pub locale: Option<Option<String>>,
    /// Tags; replace the whole list.
    pub tags: Option<TagList>,
    /// Tax exemption.
    pub tax_exempt: Option<bool>,
    /// Metafields to set.
    pub metafields: Option<Vec<MetafieldInput>>,
    /// Accepted and not modelled.
    pub addresses: Option<Value>,
    /// Accepted and not modelled.
    pub email_marketing_consent: Option<Value>,
    /// Accepted and not modelled.
    pub sms_marketing_consent: Option<Value>,
    /// Accepted and not modelled.
    pub tax_exemptions: Option<Value>,
    /// Accepted and not modelled.
    pub multipass_identifier: Option<Value>,
}

/// Whether an email address has Shopify's basic shape: `local@domain.tld`, no spaces.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !email.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && domain
            .split_once('.')
            .is_some_and(|(name, tld)| !name.is_empty() && !tld.is_empty() && !tld.ends_with('.'))
}

/// A phone number in E.164 (`+` and 7 to 15 digits), with spaces, dashes, dots and
/// parentheses removed; `None` when it is not one.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let compact: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+')?;
    let valid = (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    valid.then_some(compact)
}

/// Cleans a tag list: trimmed, non-empty, unique case-insensitively, sorted.
pub fn normalize_tags(tags: impl IntoIterator<Item = String>) -> Result<Vec<String>, UserError> {
    let mut kept: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_LENGTH {
            return Err(UserError::new(
                &["tags"],
                "Tags is too long (maximum is 255 characters)",
                "TOO_LONG",
            ));
        }
        if !kept.iter().any(|own| own.eq_ignore_ascii_case(&tag)) {
            kept.push(tag);
        }
    }
    kept.sort_by_key(|tag| tag.to_lowercase());
    Ok(kept)
}

/// The whole in-memory world.
#[derive(Debug, Default)]
pub struct Inner {
    /// Shops by domain.
    pub shops: BTreeMap<String, Shop>,
    /// Access tokens by value.
    pub access_tokens: HashMap<String, AccessToken>,
    /// Refresh tokens by value.
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// Authorization codes by value.
    pub codes: HashMap<String, AuthCode>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(7_064_055_069_000);

/// A new numeric id, unique across every kind of object in the process.
pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed) + 1
}

/// What a customer mutation did, for the webhook that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A customer was created.
    Created,
    /// A customer was updated.
    Updated,
}

impl Inner {
    /// Adds a shop; `false` when it exists already.
    pub fn create_shop(&mut self, domain: &str, plan: Plan, now: DateTime<Utc>) -> bool {
        if self.shops.contains_key(domain) {
            return false;
        }
        let id = next_id();
        let owner = StaffUser {
            id: next_id(),
            account_owner: true,
        };
        self.shops.insert(
            domain.to_owned(),
            Shop {
                domain: domain.to_owned(),
                id,
                plan,
                owner,
                installed: false,
                legacy_offline_token: None,
                customers: BTreeMap::new(),
                metafield_definitions: Vec::new(),
                bucket: LeakyBucket::full(plan, now),
                calls: Vec::new(),
                calls_logged: 0,
            },
        );
        true
    }

    /// Revokes every access and refresh token issued for `shop`.
    pub fn revoke_tokens(&mut self, shop: &str) {
        for token in self.access_tokens.values_mut() {
            if token.shop == shop {
                token.revoked = true;
            }
        }
        for token in self.refresh_tokens.values_mut() {
            if token.shop == shop {
                token.revoked = true;
            }
        }
        if let Some(shop) = self.shops.get_mut(shop) {
            shop.legacy_offline_token = None;
        }
    }
}

/// Applies `input` to a new customer (`existing` = `None`) or to an existing one, checking
/// what Shopify checks; nothing changes when a user error is returned.
pub fn apply_customer_input(
    shop: &mut Shop,
    existing: Option<u64>,
    input: &CustomerInput,
    app_namespace: &str,
    now: DateTime<Utc>,
) -> Result<(Customer, Change), Vec<UserError>> {
    let mut customer = match existing {
        Some(id) => match shop.customers.get(&id) {
            Some(customer) => customer.clone(),
            None => {
                return Err(vec![UserError::new(
                    &["id"],
                    "Customer does not exist",
                    "NOT_FOUND",
                )]);
            }
        },
        None => Customer {
            id: 0,
            first_name: None,
            last_name: None,
            email: None,
            phone: None,
            note: None,
            locale: None,
            tags: Vec::new(),
            tax_exempt: false,
            metafields: Vec::new(),
            orders: Vec::new(),
            data_erasure_requested_at: None,
            created_at: now,
            updated_at: now,
        },
    };
    let mut errors = Vec::new();

    let text = |value: &Option<Option<String>>| {
        value.as_ref().map(|inner| {
            inner
                .as_ref()
                .map(|text| text.trim().to_owned())
                .filter(|text| !text.is_empty())
        })
    };
    if let Some(email) = text(&input.email) {
        match &email {
            Some(address) if !is_valid_email(address) => {
                errors.push(UserError::new(&["email"], "Email is invalid", "INVALID"));
            }
            Some(address)
                if shop
                    .customer_by_email(address)
                    .is_some_and(|other| Some(other.id) != existing) =>
            {
                errors.push(UserError::new(
                    &["email"],
                    "Email has already been taken",
                    "TAKEN",
                ));
            }
            _ => customer.email = email,
        }
    }
    if let Some(phone) = text(&input.phone) {
        match phone.as_deref().map(normalize_phone) {
            Some(None) => errors.push(UserError::new(&["phone"], "Phone is invalid", "INVALID")),
            Some(Some(normalized))
                if shop
                    .customer_by_phone(&normalized)
                    .is_some_and(|other| Some(other.id) != existing) =>
            {
                errors.push(UserError::new(
                    &["phone"],
                    "Phone has already been taken",
                    "TAKEN",
                ));
            }
            Some(Some(normalized)) => customer.phone = Some(normalized),
            None => customer.phone = None,
        }
    }
    if let Some(first_name) = text(&input.first_name) {
        customer.first_name = first_name;
    }
    if let Some(last_name) = text(&input.last_name) {
        customer.last_name = last_name;
    }
    if let Some(note) = text(&input.note) {
        customer.note = note;
    }
    if let Some(locale) = text(&input.locale) {
        customer.locale = locale;
    }
    if let Some(tax_exempt) = input.tax_exempt {
        customer.tax_exempt = tax_exempt;
    }
    if let Some(tags) = &input.tags {
        match normalize_tags(tags.clone().into_tags()) {
            Ok(tags) => customer.tags = tags,
            Err(error) => errors.push(error),
        }
    }
    for (index, field) in input.metafields.iter().flatten().enumerate() {
        if let Err(error) = set_metafield(shop, &mut customer, existing, field, app_namespace) {
            let position = index.to_string();
            errors.push(UserError::new(
                &["metafields", &position, "value"],
                &error.message,
                error.code,
            ));
        }
    }

    if existing.is_none()
        && errors.is_empty()
        && customer.email.is_none()
        && customer.phone.is_none()
        && customer.first_name.is_none()
        && customer.last_name.is_none()
    {
        errors.push(UserError {
            field: None,
            message: "Customer must have a name, phone number or email address".to_owned(),
            code: "BLANK",
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let change = if existing.is_some() {
        Change::Updated
    } else {
        customer.id = next_id();
        Change::Created
    };
    customer.updated_at = now;
    shop.customers.insert(customer.id, customer.clone());
    Ok((customer, change))
}

/// Expands the `$app` namespace (and an omitted one) to the app-reserved namespace.
pub fn expand_namespace(namespace: Option<&str>, app_namespace: &str) -> String {
    match namespace {
        None | Some("$app") => app_namespace.to_owned(),
        Some(namespace) => match namespace.strip_prefix("$app:") {
            Some(rest) => format!("{app_namespace}--{rest}"),
            None => namespace.to_owned(),
        },
    }
}

fn set_metafield(
    shop: &Shop,
    customer: &mut Customer,
    existing: Option<u64>,
    input: &MetafieldInput,
    app_namespace: &str,
) -> Result<(), UserError> {
    let namespace = expand_namespace(input.namespace.as_deref(), app_namespace);
    let definition = shop.definition("CUSTOMER", &namespace, &input.key);
    let kind = match (&input.kind, definition) {
        (Some(kind), Some(definition)) if *kind != definition.kind => {
            return Err(UserError::new(
                &[],
                "Type must be the same as the metafield definition's type",
                "INVALID_TYPE",
            ));
        }
        (Some(kind), _) => kind.clone(),
        (None, Some(definition)) => definition.kind.clone(),
        (None, None) => {
            return Err(UserError::new(&[], "Type can't be blank", "BLANK"));
        }
    };
    if kind == "id"
        && shop
            .customer_by_metafield(&namespace, &input.key, &input.value)
            .is_some_and(|other| Some(other.id) != existing)
    {
        return Err(UserError::new(&[], "Value is already taken", "TAKEN"));
    }

    match customer
        .metafields
        .iter_mut()
        .find(|field| field.namespace == namespace && field.key == input.key)
    {
        Some(field) => {
            field.value.clone_from(&input.value);
            field.kind = kind;
        }
        None => customer.metafields.push(Metafield {
            id: next_id(),
            namespace,
            key: input.key.clone(),
            kind,
            value: input.value.clone(),
        }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Shop {
        let mut inner = Inner::default();
        inner.create_shop("demo.myshopify.com", Plan::Standard, Utc::now());
        inner.shops.remove("demo.myshopify.com").unwrap()
    }

    fn create(shop: &mut Shop, input: CustomerInput) -> Result<Customer, Vec<UserError>> {
        apply_customer_input(shop, None, &input, "app--1", Utc::now()).map(|(customer, _)| customer)
    }

    fn with_email(email: &str) -> CustomerInput {
        CustomerInput {
            email: Some(Some(email.to_owned())),
            ..CustomerInput::default()
        }
    }

    #[test]
    fn emails_need_a_local_part_a_domain_and_a_dot() {
        assert!(is_valid_email("ada@example.com"));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.d",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn phones_are_normalized_to_e164_or_refused() {
        assert_eq!(
            normalize_phone("+1 (555) 625-1199").as_deref(),
            Some("+15556251199")
        );
        assert_eq!(normalize_phone("555-625-1199"), None);
        assert_eq!(normalize_phone("+12"), None);
    }

    #[test]
    fn tags_are_trimmed_deduplicated_case_insensitively_and_sorted() {
        let tags = normalize_tags(["b", " A ", "a", "", "C"].map(String::from)).unwrap();

        assert_eq!(tags, vec!["A", "b", "C"]);
    }

    #[test]
    fn a_second_customer_with_the_same_email_in_any_case_is_refused() {
        let mut shop = shop();
        create(&mut shop, with_email("ada@example.com")).unwrap();

        let errors = create(&mut shop, with_email("ADA@example.com")).unwrap_err();

        assert_eq!(errors[0].message, "Email has already been taken");
        assert_eq!(shop.customers.len(), 1);
    }

    #[test]
    fn a_customer_needs_a_name_phone_or_email() {
        let mut shop = shop();

        let errors = create(&mut shop, CustomerInput::default()).unwrap_err();

        assert_eq!(errors[0].field, None);
    }

    #[test]
    fn search_terms_combine_fields_quotes_and_bare_words() {
        let mut shop = shop();
        let mut input = with_email("ada@example.com");
        input.first_name = Some(Some("Ada Lovelace".to_owned()));
        input.tags = Some(TagList::Text("vip, staff".to_owned()));
        create(&mut shop, input).unwrap();
        create(&mut shop, with_email("bob@example.com")).unwrap();

        let found = |query: &str| shop.search(Some(query)).len();

        assert_eq!(found("email:ADA@example.com"), 1);
        assert_eq!(found("tag:vip AND email:bob@example.com"), 0);
        assert_eq!(found("first_name:\"Ada Lovelace\""), 1);
        assert_eq!(found("example"), 2);
        assert_eq!(found("unknown_field:x"), 2);
    }
}
