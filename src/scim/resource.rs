//! Resource representation rules: client bodies brought into canonical form, and stored
//! resources cut down to what a response may show (RFC 7643 §2, RFC 7644 §3.3, §3.4.2.5,
//! §3.5.1, §3.9).
//!
//! "Canonical form" is the one described in [`crate::scim::attr`]. [`normalize`] is lenient on
//! input, because Okta and Entra send bodies that a strict reading of the RFC rejects, and
//! strict on output:
//!
//! - attribute names, sub-attribute names and schema URNs match case-insensitively;
//! - `null`, `[]`, `{}` and `""` all mean "unassigned", for every attribute and sub-attribute,
//!   so an empty string never reaches storage;
//! - readOnly and writeOnly attributes in the body are dropped silently; we never store a
//!   `password`;
//! - unknown attributes and unknown `schemas` URNs are ignored; `schemas` is recomputed;
//! - a single value where an array is expected is a one-element array, a one-element array
//!   where a single value is expected is that value, and a bare string where a complex value
//!   with a `value` sub-attribute is expected is `{"value": string}` (Entra's `"manager": "id"`,
//!   member lists of plain ids).
//!
//! Error messages name attributes but never repeat their values: SCIM bodies are PII.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::scim::attr::{
    self, AttrDef, AttrError, AttrPath, AttrType, Mutability, ResourceTypeDef, Returned, SchemaDef,
};

/// Why a request body or an attribute list was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The body is not a JSON object. scimType `invalidSyntax`.
    #[error("invalid syntax: {0}")]
    InvalidSyntax(&'static str),
    /// A value is missing, of the wrong type, or breaks a schema rule. scimType `invalidValue`.
    #[error("invalid value for `{attr}`: {reason}")]
    InvalidValue {
        /// The attribute, e.g. `emails` or `members.value`.
        attr: String,
        /// What is wrong, without the value.
        reason: String,
    },
    /// An entry of `attributes` or `excludedAttributes` is not an attribute path.
    /// scimType `invalidPath`.
    #[error("invalid attribute path `{0}`")]
    InvalidPath(String),
    /// The request writes an attribute it may not write. scimType `mutability`.
    #[error("attribute `{attr}` cannot be modified")]
    Mutability {
        /// The attribute.
        attr: String,
    },
}

impl Error {
    /// The RFC 7644 §3.12 `scimType` for this error.
    pub fn scim_type(&self) -> &'static str {
        match self {
            Self::InvalidSyntax(_) => "invalidSyntax",
            Self::InvalidValue { .. } => "invalidValue",
            Self::InvalidPath(_) => "invalidPath",
            Self::Mutability { .. } => "mutability",
        }
    }
}

impl From<AttrError> for Error {
    fn from(error: AttrError) -> Self {
        match error {
            AttrError::InvalidPath(path) => Self::InvalidPath(path),
            AttrError::InvalidValue { attr, reason } => Self::InvalidValue { attr, reason },
        }
    }
}

fn invalid_value(attr: &str, reason: &str) -> Error {
    Error::InvalidValue {
        attr: attr.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Whether a value means "unassigned" (RFC 7643 §2.5; empty strings by our choice).
fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Whether a client may write the attribute on create and replace.
fn is_writable(def: &AttrDef) -> bool {
    matches!(
        def.mutability,
        Mutability::ReadWrite | Mutability::Immutable
    )
}

// ---------------------------------------------------------------------------------------------
// Normalisation of POST and PUT bodies.

/// Brings a POST or PUT body into canonical form for `rt`, or says why it is invalid.
///
/// Read-only attributes (`id`, `meta`, User `groups`, `manager.displayName`, ...) are dropped.
/// `password`, the only writeOnly attribute, is accepted and dropped: this service never
/// stores passwords. Every required attribute (`userName`, Group `displayName`,
/// `members.value`) must be present and non-empty, and at most one value of a multi-valued
/// attribute may be `primary`. See the module documentation for the leniency rules.
pub fn normalize(input: &Value, rt: &ResourceTypeDef) -> Result<Value, Error> {
    let Value::Object(fields) = input else {
        return Err(Error::InvalidSyntax("the resource must be a JSON object"));
    };

    let mut draft = Draft::default();
    for (key, value) in fields {
        draft.take(rt, key, value)?;
    }

    let mut core = Map::new();
    let mut extensions: Vec<Map<String, Value>> = vec![Map::new(); rt.extensions.len()];
    for slot in &draft.slots {
        if !is_writable(slot.def) {
            continue;
        }
        let Some(value) = normalize_attr(slot.def, &slot.value)? else {
            continue;
        };
        let target = match slot.extension {
            None => &mut core,
            Some(urn) => match rt.extensions.iter().position(|(s, _)| s.id == urn) {
                Some(index) => &mut extensions[index],
                None => continue,
            },
        };
        target.insert(slot.def.name.to_owned(), value);
    }

    check_required(rt.schema, &core)?;

    let mut schemas = vec![Value::from(rt.schema.id)];
    for ((schema, required), object) in rt.extensions.iter().zip(extensions) {
        if object.is_empty() {
            if *required {
                return Err(invalid_value(
                    schema.id,
                    "required schema extension is missing",
                ));
            }
            continue;
        }
        check_required(schema, &object)?;
        schemas.push(schema.id.into());
        core.insert(schema.id.to_owned(), Value::Object(object));
    }
    core.insert("schemas".to_owned(), Value::Array(schemas));
    Ok(Value::Object(core))
}

/// One attribute collected from the body, before its value is checked.
struct Slot {
    extension: Option<&'static str>,
    def: &'static AttrDef,
    value: Value,
}

/// Attributes collected from the body under their canonical names. Dotted and URN-prefixed
/// keys are merged into the attribute they name.
#[derive(Default)]
struct Draft {
    slots: Vec<Slot>,
}

impl Draft {
    /// Files one top-level key of the body; unknown keys are ignored.
    fn take(&mut self, rt: &ResourceTypeDef, key: &str, value: &Value) -> Result<(), Error> {
        if key.eq_ignore_ascii_case("schemas") {
            return Ok(());
        }
        if let Some(schema) = rt.schema_by_urn(key) {
            return self.take_schema_object(rt, schema, value);
        }

        if let Some(resolved) = AttrPath::parse(key).ok().and_then(|path| rt.resolve(&path)) {
            self.put(resolved, value);
        }
        Ok(())
    }

    /// Files the attributes of an object keyed by a schema URN (normally an extension).
    fn take_schema_object(
        &mut self,
        rt: &ResourceTypeDef,
        schema: &'static SchemaDef,
        value: &Value,
    ) -> Result<(), Error> {
        let fields = match value {
            Value::Object(fields) => fields,
            other if is_unassigned(other) => return Ok(()),
            _ => return Err(invalid_value(schema.id, "expected an object of attributes")),
        };
        let extension = (schema.id != rt.schema.id).then_some(schema.id);

        for (key, value) in fields {
            let Ok(path) = AttrPath::parse(key) else {
                continue;
            };
            let resolved = match &path.urn {
                Some(_) => rt.resolve(&path),
                None => resolve_in(schema, extension, &path),
            };
            if let Some(resolved) = resolved {
                self.put(resolved, value);
            }
        }
        Ok(())
    }

    /// Stores a value for an attribute, or for one sub-attribute of a single-valued complex
    /// attribute. Objects given twice for the same attribute are merged.
    fn put(&mut self, resolved: attr::Resolved, value: &Value) {
        let slot = self.slot(resolved.extension, resolved.attr);

        match resolved.sub {
            None => match (&mut *slot, value) {
                (Value::Object(existing), Value::Object(fields)) => {
                    existing.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                _ => *slot = value.clone(),
            },
            // A dotted key into a multi-valued attribute does not say which value it means.
            Some(_) if resolved.attr.multi_valued => {}
            Some(sub) => {
                // A bare string given earlier (`"manager": "id"`) is the `value` sub-attribute.
                let mut fields = match std::mem::take(slot) {
                    Value::Object(fields) => fields,
                    Value::String(text) => Map::from_iter([("value".to_owned(), text.into())]),
                    _ => Map::new(),
                };
                fields.insert(sub.name.to_owned(), value.clone());
                *slot = Value::Object(fields);
            }
        }
    }

    /// The value stored for an attribute, created as `null` on first use.
    fn slot(&mut self, extension: Option<&'static str>, def: &'static AttrDef) -> &mut Value {
        let index = match self
            .slots
            .iter()
            .position(|slot| slot.extension == extension && std::ptr::eq(slot.def, def))
        {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    extension,
                    def,
                    value: Value::Null,
                });
                self.slots.len() - 1
            }
        };
        &mut self.slots[index].value
    }
}

/// Resolves a path without URN against one schema.
fn resolve_in(
    schema: &'static SchemaDef,
    extension: Option<&'static str>,
    path: &AttrPath,
) -> Option<attr::Resolved> {
    let attr = schema.attr(&path.name)?;
    let sub = match &path.sub {
        None => None,
        Some(name) => Some(attr.sub(name)?),
    };
    Some(attr::Resolved {
        extension,
        attr,
        sub,
    })
}

/// Checks and canonicalises the value of one attribute; `None` means unassigned.
fn normalize_attr(def: &AttrDef, value: &Value) -> Result<Option<Value>, Error> {
    if is_unassigned(value) {
        return Ok(None);
    }

    if def.multi_valued {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            other => std::slice::from_ref(other),
        };
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            if let Some(value) = normalize_single(def, item)? {
                values.push(value);
            }
        }
        if values.is_empty() {
            return Ok(None);
        }
        let primaries = values
            .iter()
            .filter(|value| value.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(invalid_value(
                def.name,
                "more than one value is marked primary",
            ));
        }
        return Ok(Some(Value::Array(values)));
    }

    match value {
        Value::Array(items) => match items.as_slice() {
            [single] => normalize_single(def, single),
            _ => Err(invalid_value(
                def.name,
                "expected a single value, not an array",
            )),
        },
        other => normalize_single(def, other),
    }
}

/// Checks and canonicalises one value (one element of a multi-valued attribute).
fn normalize_single(def: &AttrDef, value: &Value) -> Result<Option<Value>, Error> {
    if is_unassigned(value) {
        return Ok(None);
    }
    if def.kind != AttrType::Complex {
        return Ok(Some(attr::coerce_value(def, value)?));
    }

    let fields: Map<String, Value> = match value {
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, field)| !is_unassigned(field))
            .map(|(key, field)| (key.clone(), field.clone()))
            .collect(),
        Value::String(_) if def.sub("value").is_some() => {
            Map::from_iter([("value".to_owned(), value.clone())])
        }
        _ => return Err(invalid_value(def.name, "expected an object")),
    };
    let coerced = attr::coerce_value(def, &Value::Object(fields)).map_err(|error| match error {
        AttrError::InvalidValue { attr, reason } if attr != def.name => Error::InvalidValue {
            attr: format!("{}.{attr}", def.name),
            reason,
        },
        other => other.into(),
    })?;

    let Value::Object(mut fields) = coerced else {
        return Ok(None);
    };
    fields.retain(|name, _| def.sub(name).is_some_and(is_writable));
    if fields.is_empty() {
        return Ok(None);
    }
    for sub in def.sub_attributes {
        if sub.required && is_writable(sub) && !fields.contains_key(sub.name) {
            return Err(Error::InvalidValue {
                attr: format!("{}.{}", def.name, sub.name),
                reason: "required sub-attribute is missing".to_owned(),
            });
        }
    }
    Ok(Some(Value::Object(fields)))
}

/// Fails when a writable required attribute of `schema` is absent from `object`.
fn check_required(schema: &SchemaDef, object: &Map<String, Value>) -> Result<(), Error> {
    match schema
        .attributes
        .iter()
        .find(|def| def.required && is_writable(def) && !object.contains_key(def.name))
    {
        Some(def) => Err(invalid_value(
            def.name,
            "required attribute is missing or empty",
        )),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// `attributes` / `excludedAttributes`.

/// Parses the value of an `attributes` or `excludedAttributes` parameter: comma-separated
/// attribute paths, with whitespace around them ignored and empty entries skipped.
///
/// Microsoft's tools send value filters here (`emails[type eq "work"]`); the filter is dropped,
/// so that entry selects `emails` (and `emails[type eq "work"].value` selects `emails.value`).
/// Commas inside brackets do not split entries.
pub fn parse_attribute_list(text: &str) -> Result<Vec<AttrPath>, Error> {
    let mut paths = Vec::new();

    for entry in split_top_level(text) {
        let entry = strip_value_filter(entry.trim());
        if entry.is_empty() {
            continue;
        }
        let path = AttrPath::parse(&entry)
            .map_err(|_| Error::InvalidPath(entry.chars().take(100).collect()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Splits on commas outside brackets and outside quoted strings within brackets.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0usize, false, false, 0);

    for (index, c) in text.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' if depth > 0 => quoted = true,
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                entries.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    entries.push(&text[start..]);
    entries
}

/// `emails[type eq "work"]` → `emails`; `emails[type eq "work"].value` → `emails.value`.
fn strip_value_filter(entry: &str) -> Cow<'_, str> {
    let Some(open) = entry.find('[') else {
        return Cow::Borrowed(entry);
    };
    let head = &entry[..open];
    let tail = entry[open..]
        .rfind(']')
        .map_or("", |close| &entry[open + close + 1..]);
    if tail.is_empty() {
        Cow::Borrowed(head)
    } else {
        Cow::Owned(format!("{head}{tail}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Projection.

/// One resolved entry of `attributes` or `excludedAttributes`.
struct Selector {
    extension: Option<&'static str>,
    /// `None` selects the whole extension object.
    attr: Option<&'static str>,
    sub: Option<&'static str>,
}

/// How much of one attribute a list of selectors names.
enum Pick {
    Nothing,
    Whole,
    Subs(Vec<&'static str>),
}

/// Which sub-attributes of a complex value to keep.
#[derive(Clone, Copy)]
enum SubRule<'a> {
    /// Those returned by default.
    Default,
    /// The named ones, and those returned always.
    Only(&'a [&'static str]),
    /// Those returned by default except the named ones; those returned always stay.
    Except(&'a [&'static str]),
}

fn selectors(rt: &ResourceTypeDef, paths: &[AttrPath]) -> Vec<Selector> {
    paths
        .iter()
        .filter_map(|path| {
            if let (Some(urn), None) = (&path.urn, &path.sub) {
                let whole = format!("{urn}:{}", path.name);
                if let Some((schema, _)) = rt
                    .extensions
                    .iter()
                    .find(|(s, _)| s.id.eq_ignore_ascii_case(&whole))
                {
                    return Some(Selector {
                        extension: Some(schema.id),
                        attr: None,
                        sub: None,
                    });
                }
            }
            let resolved = rt.resolve(path)?;
            Some(Selector {
                extension: resolved.extension,
                attr: Some(resolved.attr.name),
                sub: resolved.sub.map(|sub| sub.name),
            })
        })
        .collect()
}

fn pick(selectors: &[Selector], extension: Option<&str>, name: &str) -> Pick {
    let mut subs = Vec::new();

    for selector in selectors.iter().filter(|s| s.extension == extension) {
        match (selector.attr, selector.sub) {
            (None, _) => return Pick::Whole,
            (Some(attr), None) if attr == name => return Pick::Whole,
            (Some(attr), Some(sub)) if attr == name => subs.push(sub),
            _ => {}
        }
    }
    if subs.is_empty() {
        Pick::Nothing
    } else {
        Pick::Subs(subs)
    }
}

/// The resolved `attributes` and `excludedAttributes` of one request.
struct Projection {
    /// Whether `attributes` was given, so that only what it names is returned.
    only: bool,
    requested: Vec<Selector>,
    excluded: Vec<Selector>,
}

impl Projection {
    /// What remains of one attribute's value in the response, if anything.
    fn attribute(&self, extension: Option<&str>, def: &AttrDef, value: &Value) -> Option<Value> {
        match def.returned {
            Returned::Never => None,
            Returned::Always => Some(value.clone()),
            _ if self.only => match pick(&self.requested, extension, def.name) {
                Pick::Nothing => None,
                Pick::Whole => keep_subs(def, value, SubRule::Default),
                Pick::Subs(names) => keep_subs(def, value, SubRule::Only(&names)),
            },
            Returned::Request => None,
            Returned::Default => match pick(&self.excluded, extension, def.name) {
                Pick::Whole => None,
                Pick::Nothing => keep_subs(def, value, SubRule::Default),
                Pick::Subs(names) => keep_subs(def, value, SubRule::Except(&names)),
            },
        }
    }
}

/// Cuts a canonical resource down to what a response may show (RFC 7644 §3.4.2.5, §3.9).
///
/// `id` and `schemas` always stay, `returned: never` attributes (`password`) never appear,
/// and `returned: request` ones only when named. A non-empty `attributes` keeps only the
/// attributes and sub-attributes it names (plus those returned always); otherwise
/// `excludedAttributes` removes from the default set. Paths are matched case-insensitively and
/// paths that name no attribute are ignored. An extension object left empty is removed;
/// `schemas` is kept unchanged.
pub fn project(
    resource: &Value,
    rt: &ResourceTypeDef,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Value::Object(fields) = resource else {
        return resource.clone();
    };
    let projection = Projection {
        only: !attributes.is_empty(),
        requested: selectors(rt, attributes),
        excluded: selectors(rt, excluded),
    };

    let mut out = Map::new();
    for (key, value) in fields {
        if key == "schemas" {
            out.insert(key.clone(), value.clone());
            continue;
        }
        if let Some((schema, _)) = rt
            .extensions
            .iter()
            .find(|(s, _)| s.id.eq_ignore_ascii_case(key))
        {
            let Value::Object(inner) = value else {
                continue;
            };
            let kept: Map<String, Value> = inner
                .iter()
                .filter_map(|(name, value)| {
                    let def = schema.attr(name)?;
                    Some((
                        name.clone(),
                        projection.attribute(Some(schema.id), def, value)?,
                    ))
                })
                .collect();
            if !kept.is_empty() {
                out.insert(key.clone(), Value::Object(kept));
            }
            continue;
        }

        let def = rt
            .common
            .iter()
            .find(|def| def.name.eq_ignore_ascii_case(key))
            .or_else(|| rt.schema.attr(key));
        if let Some(value) = def.and_then(|def| projection.attribute(None, def, value)) {
            out.insert(key.clone(), value);
        }
    }
    Value::Object(out)
}

/// Applies a sub-attribute rule to a complex value (or each element of a multi-valued one);
/// `None` when nothing is left. Non-complex values are returned unchanged.
fn keep_subs(def: &AttrDef, value: &Value, rule: SubRule<'_>) -> Option<Value> {
    if def.kind != AttrType::Complex {
        return Some(value.clone());
    }

    let keep_object = |value: &Value| -> Option<Value> {
        let Value::Object(fields) = value else {
            return None;
        };
        let kept: Map<String, Value> = fields
            .iter()
            .filter(|(name, _)| def.sub(name).is_some_and(|sub| sub_is_kept(sub, rule)))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(keep_object).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => keep_object(other),
    }
}

fn sub_is_kept(sub: &AttrDef, rule: SubRule<'_>) -> bool {
    match (sub.returned, rule) {
        (Returned::Never, _) => false,
        (Returned::Always, _) => true,
        (_, SubRule::Only(names)) => names.contains(&sub.name),
        (Returned::Request, _) => false,
        (_, SubRule::Default) => true,
        (_, SubRule::Except(names)) => !names.contains(&sub.name),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for indexing.

/// The `value` of a canonical resource's primary email, else of its first email with a value.
pub fn primary_email(resource: &Value) -> Option<&str> {
    let emails = resource.get("emails")?.as_array()?;

    emails
        .iter()
        .find(|email| email.get("primary") == Some(&Value::Bool(true)))
        .and_then(email_value)
        .or_else(|| emails.iter().find_map(email_value))
}

fn email_value(email: &Value) -> Option<&str> {
    email.get("value").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{
        ENTERPRISE_USER_URN, GROUP_RESOURCE, GROUP_URN, USER_RESOURCE, USER_URN,
    };

    const MICROSOFT_GROUP_URN: &str =
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

    fn paths(text: &str) -> Vec<AttrPath> {
        parse_attribute_list(text).unwrap()
    }

    fn stored_user() -> Value {
        json!({
            "schemas": [USER_URN, ENTERPRISE_USER_URN],
            "id": "2819c223",
            "externalId": "00u1",
            "userName": "ada@example.com",
            "name": { "givenName": "Ada", "familyName": "Lovelace" },
            "active": true,
            "emails": [
                { "value": "ada@example.com", "type": "work", "primary": true },
                { "value": "ada@home.example", "type": "home" }
            ],
            "password": "leaked-by-a-bug",
            "meta": { "resourceType": "User", "version": "W/\"1\"" },
            ENTERPRISE_USER_URN: { "department": "Engineering", "manager": { "value": "m1" } }
        })
    }

    fn stored_group() -> Value {
        json!({
            "schemas": [GROUP_URN],
            "id": "g1",
            "displayName": "Admins",
            "members": [{ "value": "u1", "type": "User" }],
            "meta": { "resourceType": "Group" }
        })
    }

    #[test]
    fn okta_create_body_keeps_the_profile_and_drops_password_and_groups() {
        let body = json!({
            "schemas": [USER_URN],
            "userName": "test.user@okta.local",
            "name": { "givenName": "Test", "familyName": "User" },
            "emails": [{ "primary": true, "value": "test.user@okta.local", "type": "work" }],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(
            user,
            json!({
                "schemas": [USER_URN],
                "userName": "test.user@okta.local",
                "name": { "givenName": "Test", "familyName": "User" },
                "emails": [{ "primary": true, "value": "test.user@okta.local", "type": "work" }],
                "displayName": "Test User",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "active": true
            })
        );
    }

    #[test]
    fn entra_create_body_with_nulls_string_boolean_bare_manager_and_typo_urn_is_canonical() {
        let body = json!({
            "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "externalId": "jdoe",
            "userName": "jdoe@contoso.com",
            "active": "True",
            "addresses": null,
            "phoneNumbers": null,
            "roles": [],
            "emails": [{ "primary": true, "type": "work", "value": "jdoe@contoso.com" }],
            "meta": { "resourceType": "User" },
            "name": { "formatted": "John Doe", "familyName": "Doe", "givenName": "John" },
            ENTERPRISE_USER_URN: { "department": "Sales", "manager": "abc" }
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(user["active"], true);
        assert!(user.get("addresses").is_none());
        assert!(user.get("phoneNumbers").is_none());
        assert!(user.get("roles").is_none());
        assert!(user.get("meta").is_none());
        assert_eq!(user["schemas"], json!([USER_URN, ENTERPRISE_USER_URN]));
        assert_eq!(
            user[ENTERPRISE_USER_URN],
            json!({ "department": "Sales", "manager": { "value": "abc" } })
        );
    }

    #[test]
    fn capitalised_keys_and_urns_are_matched_to_canonical_names() {
        let body = json!({
            "UserName": "emp1@contoso.com",
            "Active": "false",
            "DisplayName": "Emp One",
            "Emails": [{ "Primary": "True", "Type": "work", "Value": "emp1@contoso.com" }],
            "Name": { "GivenName": "Emp", "FamilyName": "One" },
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {
                "Department": "Ops",
                "Manager": { "Value": "m9", "DisplayName": "Boss" }
            }
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(
            user,
            json!({
                "schemas": [USER_URN, ENTERPRISE_USER_URN],
                "userName": "emp1@contoso.com",
                "active": false,
                "displayName": "Emp One",
                "emails": [{ "primary": true, "type": "work", "value": "emp1@contoso.com" }],
                "name": { "givenName": "Emp", "familyName": "One" },
                ENTERPRISE_USER_URN: { "department": "Ops", "manager": { "value": "m9" } }
            })
        );
    }

    #[test]
    fn urn_prefixed_and_dotted_top_level_keys_land_in_their_attributes() {
        let body = json!({
            "userName": "a",
            "name.givenName": "Ada",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "m2",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Countess"
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(user["name"], json!({ "givenName": "Ada" }));
        assert_eq!(user["title"], "Countess");
        assert_eq!(
            user[ENTERPRISE_USER_URN],
            json!({ "department": "R&D", "manager": { "value": "m2" } })
        );
    }

    #[test]
    fn manager_given_as_one_element_array_becomes_an_object() {
        let body = json!({
            "userName": "a",
            ENTERPRISE_USER_URN: {
                "manager": [{ "value": "m3", "$ref": "../Users/m3", "displayName": "Boss" }]
            }
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(
            user[ENTERPRISE_USER_URN]["manager"],
            json!({ "value": "m3", "$ref": "../Users/m3" })
        );
    }

    #[test]
    fn empty_extension_is_dropped_from_the_body_and_from_schemas() {
        let body = json!({
            "schemas": [USER_URN, ENTERPRISE_USER_URN],
            "userName": "a",
            ENTERPRISE_USER_URN: { "manager": null, "department": "" }
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(user, json!({ "schemas": [USER_URN], "userName": "a" }));
    }

    #[test]
    fn read_only_attributes_are_dropped_and_external_id_kept() {
        let body = json!({
            "id": "chosen-by-client",
            "externalId": "ext-1",
            "userName": "a",
            "meta": { "created": "2026-01-01T00:00:00Z" },
            "groups": [{ "value": "g1" }]
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(
            user,
            json!({ "schemas": [USER_URN], "externalId": "ext-1", "userName": "a" })
        );
    }

    #[test]
    fn empty_strings_are_unassigned() {
        let body = json!({
            "userName": "a",
            "nickName": "",
            "name": { "givenName": "", "familyName": "B" },
            "emails": [{ "value": "", "primary": "" }, { "value": "b@example.com" }]
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert!(user.get("nickName").is_none());
        assert_eq!(user["name"], json!({ "familyName": "B" }));
        assert_eq!(user["emails"], json!([{ "value": "b@example.com" }]));
    }

    #[test]
    fn single_value_where_an_array_is_expected_is_a_one_element_array() {
        let body = json!({
            "userName": "a",
            "emails": { "value": "a@example.com", "type": "work" },
            "phoneNumbers": "+1 555 0100"
        });

        let user = normalize(&body, &USER_RESOURCE).unwrap();

        assert_eq!(
            user["emails"],
            json!([{ "value": "a@example.com", "type": "work" }])
        );
        assert_eq!(user["phoneNumbers"], json!([{ "value": "+1 555 0100" }]));
    }

    #[test]
    fn two_primary_values_are_rejected() {
        let body = json!({
            "userName": "a",
            "emails": [
                { "value": "a@example.com", "primary": true },
                { "value": "b@example.com", "primary": "True" }
            ]
        });

        let error = normalize(&body, &USER_RESOURCE).unwrap_err();

        assert_eq!(
            error,
            Error::InvalidValue {
                attr: "emails".into(),
                reason: "more than one value is marked primary".into()
            }
        );
        assert_eq!(error.scim_type(), "invalidValue");
    }

    #[test]
    fn missing_or_empty_user_name_is_an_invalid_value() {
        for body in [
            json!({ "displayName": "x" }),
            json!({ "userName": "" }),
            json!({ "userName": null }),
            json!({ "userName": [] }),
        ] {
            let error = normalize(&body, &USER_RESOURCE).unwrap_err();

            assert!(
                matches!(&error, Error::InvalidValue { attr, .. } if attr == "userName"),
                "{error:?}"
            );
        }
    }

    #[test]
    fn wrong_types_are_rejected_without_echoing_the_value() {
        let cases = [
            (json!({ "userName": 4_815_162_342_u64 }), "userName"),
            (json!({ "userName": "a", "active": "secret-yes" }), "active"),
            (json!({ "userName": "a", "emails": ["x", 7] }), "emails"),
            (
                json!({ "userName": "a", "emails": [{ "primary": "secret-maybe" }] }),
                "emails.primary",
            ),
            (json!({ "userName": "a", "name": "secret-name" }), "name"),
            (
                json!({ "userName": "a", "active": [true, false] }),
                "active",
            ),
            (
                json!({ "userName": "a", ENTERPRISE_USER_URN: "secret-ext" }),
                ENTERPRISE_USER_URN,
            ),
        ];

        for (body, attr_name) in cases {
            let error = normalize(&body, &USER_RESOURCE).unwrap_err();

            assert!(
                matches!(&error, Error::InvalidValue { attr, .. } if attr == attr_name),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(
                !message.contains("secret") && !message.contains("4815162342"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_invalid_syntax() {
        for body in [json!([]), json!("user"), json!(null), json!(3)] {
            let error = normalize(&body, &USER_RESOURCE).unwrap_err();

            assert_eq!(error.scim_type(), "invalidSyntax");
        }
    }

    #[test]
    fn group_members_are_canonical_without_null_refs_or_unknown_keys() {
        let body = json!({
            "schemas": [GROUP_URN, MICROSOFT_GROUP_URN],
            "externalId": "8aa1a0c0",
            "displayName": "Group1DisplayName",
            "members": [
                { "$ref": null, "value": "u1" },
                { "Value": "u2", "displayName": "Two", "name": "addMember", "Type": "User" },
                { "value": "u3", "display": "Three", "$ref": "https://x/Users/u3" },
                "u4"
            ],
            "meta": { "resourceType": "Group" }
        });

        let group = normalize(&body, &GROUP_RESOURCE).unwrap();

        assert_eq!(
            group,
            json!({
                "schemas": [GROUP_URN],
                "externalId": "8aa1a0c0",
                "displayName": "Group1DisplayName",
                "members": [
                    { "value": "u1" },
                    { "value": "u2", "type": "User" },
                    { "value": "u3", "$ref": "https://x/Users/u3" },
                    { "value": "u4" }
                ]
            }),
            "a member's display is read-only: it is rendered from the user"
        );
    }

    #[test]
    fn okta_group_push_with_empty_members_has_no_members() {
        let body = json!({ "schemas": [GROUP_URN], "displayName": "Sales", "members": [] });

        let group = normalize(&body, &GROUP_RESOURCE).unwrap();

        assert_eq!(
            group,
            json!({ "schemas": [GROUP_URN], "displayName": "Sales" })
        );
    }

    #[test]
    fn a_member_without_value_is_rejected() {
        let body = json!({ "displayName": "G", "members": [{ "type": "User" }] });

        let error = normalize(&body, &GROUP_RESOURCE).unwrap_err();

        assert!(
            matches!(&error, Error::InvalidValue { attr, .. } if attr == "members.value"),
            "{error:?}"
        );
    }

    #[test]
    fn a_group_without_display_name_is_rejected() {
        let body = json!({ "members": [{ "value": "u1" }] });

        let error = normalize(&body, &GROUP_RESOURCE).unwrap_err();

        assert!(
            matches!(&error, Error::InvalidValue { attr, .. } if attr == "displayName"),
            "{error:?}"
        );
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        let body = json!({
            "UserName": "a",
            "emails": { "value": "a@example.com" },
            ENTERPRISE_USER_URN: { "manager": "m1" }
        });

        let once = normalize(&body, &USER_RESOURCE).unwrap();
        let twice = normalize(&once, &USER_RESOURCE).unwrap();

        assert_eq!(once, twice);
    }

    #[test]
    fn attribute_lists_tolerate_whitespace_and_microsoft_value_filters() {
        let parsed = paths(
            r#" userName , emails[type eq "work"],  name.givenName,,emails[type eq "a,b"].value "#,
        );

        assert_eq!(
            parsed,
            [
                AttrPath::core("userName"),
                AttrPath::core("emails"),
                AttrPath::core_sub("name", "givenName"),
                AttrPath::core_sub("emails", "value"),
            ]
        );
        assert!(paths("").is_empty());
        assert_eq!(
            paths("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")[0]
                .urn
                .as_deref(),
            Some(ENTERPRISE_USER_URN)
        );
    }

    #[test]
    fn malformed_attribute_lists_are_invalid_paths() {
        for text in ["user name", "a.b.c", "1st", r#"x[value eq "secret"].a.b"#] {
            let error = parse_attribute_list(text).unwrap_err();

            assert_eq!(error.scim_type(), "invalidPath");
            assert!(!error.to_string().contains("secret"));
        }
    }

    #[test]
    fn excluding_members_keeps_everything_else() {
        let group = project(&stored_group(), &GROUP_RESOURCE, &[], &paths("members"));

        assert_eq!(
            group,
            json!({
                "schemas": [GROUP_URN],
                "id": "g1",
                "displayName": "Admins",
                "meta": { "resourceType": "Group" }
            })
        );
    }

    #[test]
    fn default_projection_hides_password_only() {
        let mut expected = stored_user();
        expected.as_object_mut().unwrap().remove("password");

        let user = project(&stored_user(), &USER_RESOURCE, &[], &[]);

        assert_eq!(user, expected);
    }

    #[test]
    fn requesting_user_name_returns_it_with_id_and_schemas() {
        let user = project(&stored_user(), &USER_RESOURCE, &paths("userName"), &[]);

        assert_eq!(
            user,
            json!({
                "schemas": [USER_URN, ENTERPRISE_USER_URN],
                "id": "2819c223",
                "userName": "ada@example.com"
            })
        );
    }

    #[test]
    fn requesting_a_sub_attribute_keeps_only_that_sub_attribute() {
        let user = project(
            &stored_user(),
            &USER_RESOURCE,
            &paths("Name.GivenName,emails.value"),
            &[],
        );

        assert_eq!(user["name"], json!({ "givenName": "Ada" }));
        assert_eq!(
            user["emails"],
            json!([{ "value": "ada@example.com" }, { "value": "ada@home.example" }])
        );
        assert!(user.get("userName").is_none());
    }

    #[test]
    fn requesting_an_extension_attribute_keeps_it_inside_its_urn_object() {
        let attributes =
            paths("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department");

        let user = project(&stored_user(), &USER_RESOURCE, &attributes, &[]);

        assert_eq!(
            user,
            json!({
                "schemas": [USER_URN, ENTERPRISE_USER_URN],
                "id": "2819c223",
                ENTERPRISE_USER_URN: { "department": "Engineering" }
            })
        );
    }

    #[test]
    fn excluding_every_extension_attribute_removes_the_extension_object() {
        let excluded = paths(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,\
             urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        );

        let user = project(&stored_user(), &USER_RESOURCE, &[], &excluded);

        assert!(user.get(ENTERPRISE_USER_URN).is_none());
        assert_eq!(user["schemas"], json!([USER_URN, ENTERPRISE_USER_URN]));
    }

    #[test]
    fn a_whole_extension_can_be_requested_or_excluded_by_its_urn() {
        let urn = paths(ENTERPRISE_USER_URN);

        let only = project(&stored_user(), &USER_RESOURCE, &urn, &[]);
        let without = project(&stored_user(), &USER_RESOURCE, &[], &urn);

        assert_eq!(
            only[ENTERPRISE_USER_URN],
            stored_user()[ENTERPRISE_USER_URN]
        );
        assert!(only.get("userName").is_none());
        assert!(without.get(ENTERPRISE_USER_URN).is_none());
        assert_eq!(without["userName"], "ada@example.com");
    }

    #[test]
    fn id_survives_exclusion_and_password_cannot_be_requested() {
        let excluded = project(
            &stored_user(),
            &USER_RESOURCE,
            &[],
            &paths("id,schemas,emails.type"),
        );
        let requested = project(&stored_user(), &USER_RESOURCE, &paths("password"), &[]);

        assert_eq!(excluded["id"], "2819c223");
        assert_eq!(
            excluded["emails"][0],
            json!({ "value": "ada@example.com", "primary": true })
        );
        assert!(excluded.get("password").is_none());
        assert_eq!(
            requested,
            json!({ "schemas": [USER_URN, ENTERPRISE_USER_URN], "id": "2819c223" })
        );
    }

    #[test]
    fn unknown_paths_are_ignored_and_matching_ignores_case() {
        let excluded = project(
            &stored_user(),
            &USER_RESOURCE,
            &[],
            &paths("nosuch,EMAILS,Meta"),
        );
        let requested = project(
            &stored_user(),
            &USER_RESOURCE,
            &paths("nosuch,USERNAME"),
            &[],
        );

        assert!(excluded.get("emails").is_none());
        assert!(excluded.get("meta").is_none());
        assert_eq!(excluded["userName"], "ada@example.com");
        assert_eq!(requested["userName"], "ada@example.com");
        assert!(requested.get("active").is_none());
    }

    #[test]
    fn primary_email_prefers_the_primary_value_then_the_first() {
        let primary =
            json!({ "emails": [{ "value": "a@x" }, { "value": "b@x", "primary": true }] });
        let first = json!({ "emails": [{ "type": "work" }, { "value": "c@x" }] });
        let none = json!({ "userName": "a" });

        assert_eq!(primary_email(&primary), Some("b@x"));
        assert_eq!(primary_email(&first), Some("c@x"));
        assert_eq!(primary_email(&none), None);
    }

    /// Keys that hit real attributes, odd spellings and URN forms, mixed with noise.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "schemas",
                "userName",
                "UserName",
                "name",
                "name.givenName",
                "emails",
                "Emails",
                "primary",
                "Primary",
                "value",
                "Value",
                "type",
                "display",
                "$ref",
                "active",
                "password",
                "groups",
                "members",
                "displayName",
                "manager",
                "id",
                "meta",
                "x509Certificates",
                "addresses",
                "externalId",
                ENTERPRISE_USER_URN,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                "urn:ietf:params:scim:schemas:core:2.0:User:emails",
            ])
            .prop_map(str::to_owned),
            "[a-zA-Z.:$\\[\\] ]{0,12}",
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(vec!["", "True", "false", "x", "2026-12-03T10:00:00Z"])
                .prop_map(Value::from),
            ".{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn normalize_never_panics_and_its_output_is_stable(input in json_value()) {
            for rt in [&USER_RESOURCE, &GROUP_RESOURCE] {
                if let Ok(canonical) = normalize(&input, rt) {
                    prop_assert_eq!(normalize(&canonical, rt), Ok(canonical.clone()));
                    let _ = project(&canonical, rt, &paths("emails.value,members"), &[]);
                }
            }
        }

        #[test]
        fn normalize_output_is_stable_for_bodies_with_required_attributes(
            fields in prop::collection::vec((key(), json_value()), 0..8)
        ) {
            let mut body: Map<String, Value> = fields.into_iter().collect();
            body.insert("userName".into(), "u".into());
            body.insert("displayName".into(), "g".into());
            let body = Value::Object(body);

            for rt in [&USER_RESOURCE, &GROUP_RESOURCE] {
                if let Ok(canonical) = normalize(&body, rt) {
                    prop_assert_eq!(normalize(&canonical, rt), Ok(canonical.clone()));
                }
            }
        }
    }
}
