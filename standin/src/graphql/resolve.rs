//! Root fields of the Admin GraphQL API: what each query returns and what each mutation
//! changes, as JSON trees that the engine then projects onto the selection.
//!
//! Objects carry `__typename` so fragments can match them; customers also carry their
//! metafields under `__metafields` for the `metafield`/`metafields` fields.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::config::StandInConfig;
use crate::store::{
    self, Change, Customer, CustomerInput, Inner, Metafield, MetafieldDefinition, Shop, UserError,
    customer_gid, expand_namespace, normalize_tags, parse_customer_gid,
};
use crate::webhook::{Event, Topic};

use super::GqlError;

/// What a root field may touch.
pub(super) struct Context<'a> {
    pub inner: &'a mut Inner,
    pub config: &'a StandInConfig,
    pub shop: &'a str,
    pub now: DateTime<Utc>,
    pub events: Vec<Event>,
}

impl Context<'_> {
    fn shop(&mut self) -> Result<&mut Shop, GqlError> {
        self.inner
            .shops
            .get_mut(self.shop)
            .ok_or_else(|| GqlError::new("Shop not found"))
    }

    fn app_namespace(&self) -> String {
        format!("app--{}", self.config.app_id)
    }

    fn customer_changed(&mut self, customer: &Customer, change: Change) {
        let topic = match change {
            Change::Created => Topic::CustomersCreate,
            Change::Updated => Topic::CustomersUpdate,
        };
        self.events.push(Event {
            topic,
            shop: self.shop.to_owned(),
            payload: customer.webhook_payload(),
        });
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn text(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::String)
}

/// A customer as the engine projects it.
pub fn customer_json(customer: &Customer) -> Value {
    let display_name = match (&customer.first_name, &customer.last_name) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        (Some(name), None) | (None, Some(name)) => name.clone(),
        (None, None) => customer
            .email
            .clone()
            .or_else(|| customer.phone.clone())
            .unwrap_or_default(),
    };
    let spent: f64 = customer.orders.iter().map(|order| order.amount).sum();
    json!({
        "__typename": "Customer",
        "id": customer.gid(),
        "legacyResourceId": customer.id.to_string(),
        "firstName": text(&customer.first_name),
        "lastName": text(&customer.last_name),
        "displayName": display_name,
        "email": text(&customer.email),
        "phone": text(&customer.phone),
        "note": text(&customer.note),
        "locale": customer.locale.clone().unwrap_or_else(|| "en".to_owned()),
        "tags": customer.tags,
        "state": "DISABLED",
        "createdAt": time(customer.created_at),
        "updatedAt": time(customer.updated_at),
        "numberOfOrders": customer.orders.len().to_string(),
        "taxExempt": customer.tax_exempt,
        "verifiedEmail": customer.email.is_some(),
        "canDelete": customer.orders.is_empty(),
        "defaultEmailAddress": customer.email.as_ref().map(|email| json!({
            "__typename": "CustomerEmailAddress",
            "emailAddress": email,
            "marketingState": "NOT_SUBSCRIBED",
        })),
        "defaultPhoneNumber": customer.phone.as_ref().map(|phone| json!({
            "__typename": "CustomerPhoneNumber",
            "phoneNumber": phone,
            "marketingState": "NOT_SUBSCRIBED",
        })),
        "amountSpent": {
            "__typename": "MoneyV2",
            "amount": format!("{spent:.1}"),
            "currencyCode": "USD",
        },
        "__metafields": customer
            .metafields
            .iter()
            .map(|field| metafield_json(field, customer))
            .collect::<Vec<_>>(),
    })
}

fn metafield_json(field: &Metafield, customer: &Customer) -> Value {
    json!({
        "__typename": "Metafield",
        "id": format!("gid://shopify/Metafield/{}", field.id),
        "namespace": field.namespace,
        "key": field.key,
        "type": field.kind,
        "value": field.value,
        "createdAt": time(customer.created_at),
        "updatedAt": time(customer.updated_at),
    })
}

/// `Customer.metafield(namespace:, key:)` and `Customer.metafields(first:, namespace:)`.
pub fn customer_metafields(
    customer: &Map<String, Value>,
    field: &str,
    arguments: &Map<String, Value>,
    app_namespace: &str,
) -> Result<Value, String> {
    let all = customer
        .get("__metafields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let namespace = arguments
        .get("namespace")
        .and_then(Value::as_str)
        .map(|namespace| expand_namespace(Some(namespace), app_namespace));
    let in_namespace = |item: &Value| {
        namespace
            .as_deref()
            .is_none_or(|namespace| item["namespace"] == namespace)
    };

    if field == "metafield" {
        let key = arguments
            .get("key")
            .and_then(Value::as_str)
            .ok_or("Field 'metafield' is missing required arguments: key")?;
        let namespace = namespace.unwrap_or_else(|| app_namespace.to_owned());
        return Ok(all
            .into_iter()
            .find(|item| item["namespace"] == namespace.as_str() && item["key"] == key)
            .unwrap_or(Value::Null));
    }

    let first = arguments.get("first").and_then(Value::as_u64).unwrap_or(0) as usize;
    let items: Vec<Value> = all.into_iter().filter(in_namespace).collect();
    Ok(connection("Metafield", items, first, |item| {
        item["id"].as_str().unwrap_or_default().to_owned()
    }))
}

fn connection(
    node_type: &str,
    items: Vec<Value>,
    first: usize,
    cursor: impl Fn(&Value) -> String,
) -> Value {
    let has_next = items.len() > first;
    let page: Vec<Value> = items.into_iter().take(first).collect();
    let cursors: Vec<String> = page
        .iter()
        .map(|item| STANDARD.encode(cursor(item)))
        .collect();
    json!({
        "__typename": format!("{node_type}Connection"),
        "edges": page.iter().zip(&cursors).map(|(node, cursor)| json!({
            "__typename": format!("{node_type}Edge"),
            "cursor": cursor,
            "node": node,
        })).collect::<Vec<_>>(),
        "nodes": page,
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": has_next,
            "hasPreviousPage": false,
            "startCursor": cursors.first(),
            "endCursor": cursors.last(),
        },
    })
}

fn shop_json(shop: &Shop) -> Value {
    json!({
        "__typename": "Shop",
        "id": format!("gid://shopify/Shop/{}", shop.id),
        "name": shop.handle(),
        "email": format!("owner@{}", shop.domain),
        "myshopifyDomain": shop.domain,
        "currencyCode": "USD",
        "plan": {
            "__typename": "ShopPlan",
            "displayName": shop.plan.display_name(),
            "publicDisplayName": shop.plan.display_name(),
            "partnerDevelopment": false,
            "shopifyPlus": shop.plan.is_plus(),
        },
    })
}

fn user_errors(errors: &[UserError], with_code: bool) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|error| {
                let mut entry = json!({ "field": error.field, "message": error.message });
                if with_code {
                    entry["code"] = Value::String(error.code.to_owned());
                }
                entry
            })
            .collect(),
    )
}

fn argument<T: DeserializeOwned>(
    arguments: &Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<T, GqlError> {
    let value = arguments.get(name).cloned().unwrap_or(Value::Null);
    if value.is_null() {
        return Err(GqlError::new(format!(
            "Field '{field}' is missing required arguments: {name}"
        ))
        .code("missingRequiredArguments"));
    }
    serde_json::from_value(value).map_err(|error| {
        GqlError::new(format!(
            "Argument '{name}' on Field '{field}' has an invalid value: {error}"
        ))
        .code("argumentLiteralsIncompatible")
    })
}

fn optional<T: DeserializeOwned>(
    arguments: &Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<Option<T>, GqlError> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => argument(arguments, name, field).map(Some),
    }
}

/// `CustomerIdentifierInput` of `customerByIdentifier` and `CustomerSetIdentifiers` of
/// `customerSet`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Identifier {
    id: Option<String>,
    email: Option<String>,
    email_address: Option<String>,
    phone: Option<String>,
    phone_number: Option<String>,
    custom_id: Option<CustomId>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomId {
    namespace: Option<String>,
    key: String,
    value: String,
}

enum Lookup {
    Found(u64),
    Missing,
    Invalid(UserError),
}

fn lookup(shop: &Shop, identifier: &Identifier, app_namespace: &str) -> Lookup {
    let found = if let Some(id) = &identifier.id {
        parse_customer_gid(id).filter(|id| shop.customers.contains_key(id))
    } else if let Some(email) = identifier
        .email
        .as_ref()
        .or(identifier.email_address.as_ref())
    {
        shop.customer_by_email(email).map(|customer| customer.id)
    } else if let Some(phone) = identifier
        .phone
        .as_ref()
        .or(identifier.phone_number.as_ref())
    {
        shop.customer_by_phone(phone).map(|customer| customer.id)
    } else if let Some(custom) = &identifier.custom_id {
        let namespace = expand_namespace(custom.namespace.as_deref(), app_namespace);
        let defined = shop
            .definition("CUSTOMER", &namespace, &custom.key)
            .is_some_and(|definition| definition.kind == "id");
        if !defined {
            return Lookup::Invalid(UserError {
                field: Some(vec!["identifier".to_owned(), "customId".to_owned()]),
                message: "A metafield definition of type 'id' must exist for this namespace \
                          and key"
                    .to_owned(),
                code: "INVALID",
            });
        }
        shop.customer_by_metafield(&namespace, &custom.key, &custom.value)
            .map(|customer| customer.id)
    } else {
        return Lookup::Invalid(UserError {
            field: Some(vec!["identifier".to_owned()]),
            message: "An identifier is required".to_owned(),
            code: "INVALID",
        });
    };
    found.map_or(Lookup::Missing, Lookup::Found)
}

/// Resolves a root field of a query.
pub(super) fn query_field(
    context: &mut Context<'_>,
    name: &str,
    arguments: &Map<String, Value>,
) -> Result<Value, GqlError> {
    let app_namespace = context.app_namespace();
    let shop = context.shop()?;
    match name {
        "shop" => Ok(shop_json(shop)),
        "customer" => {
            let id: String = argument(arguments, "id", name)?;
            Ok(parse_customer_gid(&id)
                .and_then(|id| shop.customers.get(&id))
                .map_or(Value::Null, customer_json))
        }
        "customerByIdentifier" => {
            let identifier: Identifier = argument(arguments, "identifier", name)?;
            Ok(match lookup(shop, &identifier, &app_namespace) {
                Lookup::Found(id) => shop.customers.get(&id).map_or(Value::Null, customer_json),
                Lookup::Missing | Lookup::Invalid(_) => Value::Null,
            })
        }
        "customers" => {
            let query: Option<String> = optional(arguments, "query", name)?;
            let after: Option<String> = optional(arguments, "after", name)?;
            let first = arguments
                .get("first")
                .or_else(|| arguments.get("last"))
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let after_id = after
                .and_then(|cursor| STANDARD.decode(cursor).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.parse::<u64>().ok());
            let items = shop
                .search(query.as_deref())
                .into_iter()
                .filter(|customer| after_id.is_none_or(|after| customer.id > after))
                .map(customer_json)
                .collect();
            Ok(connection("Customer", items, first, |item| {
                item["legacyResourceId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }))
        }
        _ => Err(GqlError::new(format!(
            "Field '{name}' doesn't exist on type 'QueryRoot'"
        ))),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteInput {
    id: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefinitionInput {
    name: String,
    namespace: Option<String>,
    key: String,
    #[serde(rename = "type")]
    kind: String,
    owner_type: String,
}

/// Resolves (and applies) a root field of a mutation.
pub(super) fn mutation_field(
    context: &mut Context<'_>,
    name: &str,
    arguments: &Map<String, Value>,
) -> Result<Value, GqlError> {
    let app_namespace = context.app_namespace();
    let now = context.now;
    match name {
        "customerCreate" | "customerUpdate" => {
            let input: CustomerInput = argument(arguments, "input", name)?;
            let existing = if name == "customerUpdate" {
                let Some(id) = input.id.as_deref() else {
                    let error = UserError {
                        field: Some(vec!["id".to_owned()]),
                        message: "Customer does not exist".to_owned(),
                        code: "NOT_FOUND",
                    };
                    return Ok(payload(name, None, &[error]));
                };
                Some(parse_customer_gid(id).unwrap_or(0))
            } else {
                None
            };
            let shop = context.shop()?;
            match store::apply_customer_input(shop, existing, &input, &app_namespace, now) {
                Ok((customer, change)) => {
                    context.customer_changed(&customer, change);
                    Ok(payload(name, Some(&customer), &[]))
                }
                Err(errors) => Ok(payload(name, None, &errors)),
            }
        }
        "customerSet" => {
            let input: CustomerInput = argument(arguments, "input", name)?;
            let identifier: Option<Identifier> = optional(arguments, "identifier", name)?;
            let shop = context.shop()?;
            let existing = match identifier
                .as_ref()
                .map(|id| lookup(shop, id, &app_namespace))
            {
                None | Some(Lookup::Missing) => None,
                Some(Lookup::Found(id)) => Some(id),
                Some(Lookup::Invalid(error)) => return Ok(payload(name, None, &[error])),
            };
            if existing.is_none() && identifier.as_ref().is_some_and(|id| id.id.is_some()) {
                let error = UserError {
                    field: Some(vec!["identifier".to_owned(), "id".to_owned()]),
                    message: "Resource matching the identifier was not found.".to_owned(),
                    code: "NOT_FOUND",
                };
                return Ok(payload(name, None, &[error]));
            }
            let input = with_identifier_values(
                input,
                identifier.as_ref(),
                existing.is_none(),
                &app_namespace,
            );
            match store::apply_customer_input(shop, existing, &input, &app_namespace, now) {
                Ok((customer, change)) => {
                    context.customer_changed(&customer, change);
                    Ok(payload(name, Some(&customer), &[]))
                }
                Err(errors) => Ok(payload(name, None, &errors)),
            }
        }
        "customerDelete" => {
            let input: DeleteInput = argument(arguments, "input", name)?;
            let shop = context.shop()?;
            let id = parse_customer_gid(&input.id).filter(|id| shop.customers.contains_key(id));
            let error = |message: &str| UserError {
                field: Some(vec!["id".to_owned()]),
                message: message.to_owned(),
                code: "INVALID",
            };
            let Some(id) = id else {
                let errors = [error("Customer can't be found")];
                return Ok(mutation_payload(
                    "CustomerDeletePayload",
                    json!({ "deletedCustomerId": null, "shop": shop_json(shop) }),
                    &errors,
                    false,
                ));
            };
            if shop
                .customers
                .get(&id)
                .is_some_and(|customer| !customer.orders.is_empty())
            {
                let errors = [error(
                    "Customer can’t be deleted because they have associated orders",
                )];
                return Ok(mutation_payload(
                    "CustomerDeletePayload",
                    json!({ "deletedCustomerId": null, "shop": shop_json(shop) }),
                    &errors,
                    false,
                ));
            }
            shop.customers.remove(&id);
            let shop_value = shop_json(shop);
            context.events.push(Event {
                topic: Topic::CustomersDelete,
                shop: context.shop.to_owned(),
                payload: json!({
                    "id": id,
                    "tax_exemptions": [],
                    "admin_graphql_api_id": customer_gid(id),
                }),
            });
            Ok(json!({
                "__typename": "CustomerDeletePayload",
                "deletedCustomerId": customer_gid(id),
                "shop": shop_value,
                "userErrors": [],
            }))
        }
        "tagsAdd" | "tagsRemove" => {
            let id: String = argument(arguments, "id", name)?;
            let tags: store::TagList = argument(arguments, "tags", name)?;
            let payload_type = if name == "tagsAdd" {
                "TagsAddPayload"
            } else {
                "TagsRemovePayload"
            };
            let shop = context.shop()?;
            let Some(customer) = parse_customer_gid(&id).and_then(|id| shop.customers.get_mut(&id))
            else {
                let errors = [UserError {
                    field: Some(vec!["id".to_owned()]),
                    message: "Customer does not exist".to_owned(),
                    code: "NOT_FOUND",
                }];
                return Ok(mutation_payload(
                    payload_type,
                    json!({ "node": null }),
                    &errors,
                    false,
                ));
            };
            let given = match normalize_tags(tags.into_tags()) {
                Ok(given) => given,
                Err(error) => {
                    return Ok(mutation_payload(
                        payload_type,
                        json!({ "node": null }),
                        &[error],
                        false,
                    ));
                }
            };
            let before = customer.tags.clone();
            let combined = if name == "tagsAdd" {
                customer
                    .tags
                    .iter()
                    .cloned()
                    .chain(given)
                    .collect::<Vec<_>>()
            } else {
                customer
                    .tags
                    .iter()
                    .filter(|tag| !given.iter().any(|gone| gone.eq_ignore_ascii_case(tag)))
                    .cloned()
                    .collect()
            };
            customer.tags = normalize_tags(combined).unwrap_or(before.clone());
            let changed = customer.tags != before;
            if changed {
                customer.updated_at = now;
            }
            let snapshot = customer.clone();
            if changed {
                context.customer_changed(&snapshot, Change::Updated);
            }
            Ok(mutation_payload(
                payload_type,
                json!({ "node": customer_json(&snapshot) }),
                &[],
                false,
            ))
        }
        "metafieldDefinitionCreate" => {
            let definition: DefinitionInput = argument(arguments, "definition", name)?;
            let namespace = expand_namespace(definition.namespace.as_deref(), &app_namespace);
            let shop = context.shop()?;
            if shop
                .definition(&definition.owner_type, &namespace, &definition.key)
                .is_some()
            {
                let errors = [UserError {
                    field: Some(vec!["definition".to_owned(), "key".to_owned()]),
                    message: format!(
                        "Key is in use for {} metafields on the '{namespace}' namespace.",
                        definition.owner_type.to_lowercase()
                    ),
                    code: "TAKEN",
                }];
                return Ok(mutation_payload(
                    "MetafieldDefinitionCreatePayload",
                    json!({ "createdDefinition": null }),
                    &errors,
                    true,
                ));
            }
            let created = MetafieldDefinition {
                id: store::next_id(),
                name: definition.name,
                namespace,
                key: definition.key,
                kind: definition.kind,
                owner_type: definition.owner_type,
            };
            shop.metafield_definitions.push(created.clone());
            let category = if created.kind == "id" {
                "REFERENCE"
            } else {
                "TEXT"
            };
            Ok(json!({
                "__typename": "MetafieldDefinitionCreatePayload",
                "createdDefinition": {
                    "__typename": "MetafieldDefinition",
                    "id": format!("gid://shopify/MetafieldDefinition/{}", created.id),
                    "name": created.name,
                    "namespace": created.namespace,
                    "key": created.key,
                    "type": {
                        "__typename": "MetafieldDefinitionType",
                        "name": created.kind,
                        "category": category,
                    },
                    "ownerType": created.owner_type,
                },
                "userErrors": [],
            }))
        }
        "customerRequestDataErasure" => {
            let id: String = argument(arguments, "customerId", name)?;
            let shop = context.shop()?;
            match parse_customer_gid(&id).and_then(|id| shop.customers.get_mut(&id)) {
                Some(customer) => {
                    customer.data_erasure_requested_at = Some(now);
                    Ok(mutation_payload(
                        "CustomerRequestDataErasurePayload",
                        json!({ "customerId": customer.gid() }),
                        &[],
                        true,
                    ))
                }
                None => {
                    let errors = [UserError {
                        field: Some(vec!["customerId".to_owned()]),
                        message: "Customer does not exist".to_owned(),
                        code: "DOES_NOT_EXIST",
                    }];
                    Ok(mutation_payload(
                        "CustomerRequestDataErasurePayload",
                        json!({ "customerId": null }),
                        &errors,
                        true,
                    ))
                }
            }
        }
        _ => Err(GqlError::new(format!(
            "Field '{name}' doesn't exist on type 'Mutation'"
        ))),
    }
}

/// A new customer made by `customerSet` takes the identifier's email, phone or custom id
/// when the input does not set them.
fn with_identifier_values(
    mut input: CustomerInput,
    identifier: Option<&Identifier>,
    creating: bool,
    app_namespace: &str,
) -> CustomerInput {
    let Some(identifier) = identifier.filter(|_| creating) else {
        return input;
    };
    if input.email.is_none()
        && let Some(email) = identifier
            .email
            .as_ref()
            .or(identifier.email_address.as_ref())
    {
        input.email = Some(Some(email.clone()));
    }
    if input.phone.is_none()
        && let Some(phone) = identifier
            .phone
            .as_ref()
            .or(identifier.phone_number.as_ref())
    {
        input.phone = Some(Some(phone.clone()));
    }
    if let Some(custom) = &identifier.custom_id {
        input
            .metafields
            .get_or_insert_with(Vec::new)
            .push(store::MetafieldInput {
                namespace: Some(expand_namespace(custom.namespace.as_deref(), app_namespace)),
                key: custom.key.clone(),
                kind: Some("id".to_owned()),
                value: custom.value.clone(),
                id: None,
            });
    }
    input
}

/// A mutation payload of type `type_name`: `fields` plus `userErrors`.
fn mutation_payload(
    type_name: &str,
    fields: Value,
    errors: &[UserError],
    with_code: bool,
) -> Value {
    let mut payload = fields;
    payload["__typename"] = Value::String(type_name.to_owned());
    payload["userErrors"] = user_errors(errors, with_code);
    payload
}

fn payload(field: &str, customer: Option<&Customer>, errors: &[UserError]) -> Value {
    let (type_name, with_code) = match field {
        "customerCreate" => ("CustomerCreatePayload", false),
        "customerUpdate" => ("CustomerUpdatePayload", false),
        _ => ("CustomerSetPayload", true),
    };
    json!({
        "__typename": type_name,
        "customer": customer.map(customer_json),
        "userErrors": user_errors(errors, with_code),
    })
}
