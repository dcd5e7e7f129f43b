//! SCIM PATCH (RFC 7644 §3.5.2): parsing a `PatchOp` request and applying its operations,
//! atomically, to a canonical resource (see [`crate::scim::attr`]).
//!
//! Besides the RFC, the engine accepts what Okta and Entra ID actually send (reference
//! quirks Q1–Q7, Q11): `op` in any case, booleans as strings, dotted and URN-prefixed keys
//! in path-less values, extension objects keyed by URN, read-only `id`/`meta`/`schemas`
//! inside path-less values (ignored), `manager` as a bare string, removal by `value`
//! instead of by filter, and `replace`/`add` on `emails[type eq "work"].value` creating the
//! missing entry.
//!
//! Group membership is set-based and not stored in the resource JSON: on the `Group`
//! resource type, operations on `members` are returned as [`MemberChange`]s, in order,
//! for the caller to apply.
//!
//! Decisions where the RFC is silent or loose:
//! - `replace` with `value: null` unassigns the target (RFC 7643 §2.5: null and unassigned
//!   are equivalent); `add` with `null` is `invalidSyntax`, and `null` fields inside an
//!   `add` value are skipped (Entra sends `"addresses": null`).
//! - Unknown attributes inside a path-less value are ignored (identity providers send attributes a
//!   service provider may not support, e.g. `password`); an explicit path to an unknown
//!   attribute is `invalidPath`.
//! - A read-only attribute named explicitly (path or path-less key) is `mutability`, except
//!   `id`, `meta` and `schemas` keys in a path-less value, which are ignored; read-only
//!   sub-attributes inside a complex value (e.g. `manager.displayName`) are dropped.
//! - Filtered `add`/`replace` without a sub-attribute merge the given sub-attributes into
//!   every matching value. When no value matches and the filter is `eq`-only and `and`-joined,
//!   a value built from the filter is created (Entra, Q4); otherwise the answer is `noTarget`.
//! - Writing a new `value` into a single-valued complex attribute (e.g. `manager`) replaces
//!   the whole object, since its other sub-attributes describe the old referent.
//! - When a removal leaves a value of a multi-valued attribute that has a `value`
//!   sub-attribute without its `value`, that whole entry goes.
//! - `primary: true` written on one value sets `primary: false` on the others; two new
//!   primaries in one operation are `invalidValue`.
//!
//! # Known limitations
//! - `immutable` is enforced only on simple attributes and on sub-attributes of
//!   single-valued complex attributes.
//! - Removing a `required` attribute is refused only at the top level, not for a required
//!   sub-attribute.
//! - `members` paths on groups accept only `members`, and on `remove` a filter made of
//!   `value eq "…"` joined by `or`; anything else is `invalidPath`. Member ids are not
//!   checked for existence here.
//! - The `schemas` member of the request is not checked; the number of operations is not
//!   limited here (the web layer bounds the body size).

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::scim::attr::{
    self, AttrDef, AttrError, AttrPath, AttrType, Mutability, Resolved, ResourceTypeDef,
};
use crate::scim::filter::{self, CompareOp, Filter};

/// The URN of a PATCH request body.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Why a PATCH request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The body is not a well-formed `PatchOp` (scimType `invalidSyntax`).
    #[error("invalid PATCH request: {0}")]
    InvalidSyntax(String),
    /// The `path` is malformed or names no attribute (scimType `invalidPath`).
    #[error("invalid PATCH path: {0}")]
    InvalidPath(String),
    /// The path matched nothing to replace, or `remove` has no path (scimType `noTarget`).
    #[error("no target: {0}")]
    NoTarget(String),
    /// The operation writes a read-only or immutable attribute, or removes a required one
    /// (scimType `mutability`).
    #[error("mutability: {0}")]
    Mutability(String),
    /// A value has the wrong type or shape (scimType `invalidValue`).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The filter inside a path is invalid (scimType `invalidFilter`).
    #[error(transparent)]
    Filter(#[from] filter::Error),
}

impl Error {
    /// The RFC 7644 §3.12 `scimType` for this error.
    pub fn scim_type(&self) -> &'static str {
        match self {
            Self::InvalidSyntax(_) => "invalidSyntax",
            Self::InvalidPath(_) => "invalidPath",
            Self::NoTarget(_) => "noTarget",
            Self::Mutability(_) => "mutability",
            Self::InvalidValue(_) => "invalidValue",
            Self::Filter(inner) => inner.scim_type(),
        }
    }

    /// Prefixes the message with the 1-based number of the failing operation.
    fn in_operation(self, number: usize) -> Self {
        let prefix = |detail: String| format!("operation {number}: {detail}");
        match self {
            Self::InvalidSyntax(detail) => Self::InvalidSyntax(prefix(detail)),
            Self::InvalidPath(detail) => Self::InvalidPath(prefix(detail)),
            Self::NoTarget(detail) => Self::NoTarget(prefix(detail)),
            Self::Mutability(detail) => Self::Mutability(prefix(detail)),
            Self::InvalidValue(detail) => Self::InvalidValue(prefix(detail)),
            Self::Filter(inner) => Self::Filter(inner),
        }
    }
}

impl From<AttrError> for Error {
    fn from(error: AttrError) -> Self {
        match error {
            AttrError::InvalidPath(_) => Self::InvalidPath(error.to_string()),
            AttrError::InvalidValue { .. } => Self::InvalidValue(error.to_string()),
        }
    }
}

/// A PATCH `path`: `attrPath`, or `valuePath` optionally followed by `.subAttr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPath {
    /// The attribute; it carries a sub-attribute only when there is no filter.
    pub attr: AttrPath,
    /// The value filter written in `[ … ]`, if any; its paths name sub-attributes.
    pub filter: Option<Filter>,
    /// The sub-attribute written after `]`, if any.
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses `name.givenName`, `emails[type eq "work"].value`, `members[value eq "x"]` or
    /// a URN-prefixed path.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.contains('[') {
            let (attr, filter, sub) = filter::parse_value_path(text)?;
            return Ok(Self {
                attr,
                filter: Some(filter),
                sub,
            });
        }
        Ok(Self {
            attr: AttrPath::parse(text)?,
            filter: None,
            sub: None,
        })
    }
}

impl FromStr for PatchPath {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The kind of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add` (RFC 7644 §3.5.2.1).
    Add,
    /// `remove` (RFC 7644 §3.5.2.2).
    Remove,
    /// `replace` (RFC 7644 §3.5.2.3).
    Replace,
}

/// One parsed PATCH operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` targets the whole resource.
    pub path: Option<PatchPath>,
    /// The value as sent; present for `add` and `replace` (`null` only on `replace`).
    pub value: Option<Value>,
}

/// A change to a group's member set, to be applied by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Add these member ids (no error when already members).
    Add(Vec<String>),
    /// Remove these member ids (no error when not members).
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Make the member set exactly these ids.
    ReplaceAll(Vec<String>),
}

/// The outcome of a successful [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Whether the resource JSON changed (member changes not included).
    pub changed: bool,
    /// Member-set changes, in request order (groups only).
    pub members: Vec<MemberChange>,
}

fn get_ci<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    })
}

/// Parses a `PatchOp` body into its operations, checking their shape but not the schema.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, Error> {
    let Some(object) = body.as_object() else {
        return Err(Error::InvalidSyntax(
            "the body must be a JSON object".into(),
        ));
    };
    let operations = match get_ci(object, "Operations") {
        None | Some(Value::Null) => {
            return Err(Error::InvalidSyntax("`Operations` is missing".into()));
        }
        Some(Value::Array(operations)) if !operations.is_empty() => operations,
        Some(Value::Array(_)) => {
            return Err(Error::InvalidSyntax("`Operations` is empty".into()));
        }
        Some(_) => return Err(Error::InvalidSyntax("`Operations` must be an array".into())),
    };

    operations
        .iter()
        .enumerate()
        .map(|(index, operation)| {
            parse_operation(operation).map_err(|error| error.in_operation(index + 1))
        })
        .collect()
}

fn parse_operation(operation: &Value) -> Result<Operation, Error> {
    let Some(object) = operation.as_object() else {
        return Err(Error::InvalidSyntax(
            "an operation must be an object".into(),
        ));
    };
    let op = match get_ci(object, "op").and_then(Value::as_str) {
        Some(op) if op.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(op) if op.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(op) if op.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(_) => {
            return Err(Error::InvalidSyntax(
                "`op` must be add, replace or remove".into(),
            ));
        }
        None => return Err(Error::InvalidSyntax("`op` is missing".into())),
    };
    let path = match get_ci(object, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => Some(PatchPath::parse(text)?),
        Some(_) => return Err(Error::InvalidPath("`path` must be a string".into())),
    };
    let value = get_ci(object, "value").cloned();

    match (op, &path, &value) {
        (OpKind::Remove, None, _) => Err(Error::NoTarget("`remove` needs a `path`".into())),
        (OpKind::Remove, Some(_), _) => Ok(Operation {
            op,
            path,
            value: value.filter(|value| !value.is_null()),
        }),
        (OpKind::Add, _, None | Some(Value::Null)) => Err(Error::InvalidSyntax(
            "`add` needs a non-null `value`".into(),
        )),
        (OpKind::Replace, _, None) | (OpKind::Replace, None, Some(Value::Null)) => {
            Err(Error::InvalidSyntax("`replace` needs a `value`".into()))
        }
        _ => Ok(Operation { op, path, value }),
    }
}

/// Applies `ops` in order to a canonical resource of type `rt`, all or nothing: on error
/// the resource is left untouched.
pub fn apply(
    resource: &mut Value,
    ops: &[Operation],
    rt: &ResourceTypeDef,
) -> Result<Applied, Error> {
    if !resource.is_object() {
        return Err(Error::InvalidValue(
            "the resource is not a JSON object".into(),
        ));
    }
    let mut engine = Engine {
        rt,
        doc: resource.clone(),
        members: Vec::new(),
    };

    for (index, op) in ops.iter().enumerate() {
        engine
            .operation(op)
            .map_err(|error| error.in_operation(index + 1))?;
    }

    tidy(&mut engine.doc, rt);
    let changed = engine.doc != *resource;
    if changed {
        *resource = engine.doc;
    }
    Ok(Applied {
        changed,
        members: engine.members,
    })
}

/// The working copy and what has been collected so far.
struct Engine<'a> {
    rt: &'a ResourceTypeDef,
    doc: Value,
    members: Vec<MemberChange>,
}

impl Engine<'_> {
    fn operation(&mut self, op: &Operation) -> Result<(), Error> {
        match (&op.path, op.op) {
            (None, OpKind::Remove) => Err(Error::NoTarget("`remove` needs a `path`".into())),
            (None, kind) => match &op.value {
                Some(value) => self.path_less(kind, value),
                None => Err(Error::InvalidSyntax("the operation needs a `value`".into())),
            },
            (Some(path), kind) => match self.whole_extension(path) {
                Some(urn) => self.extension_op(kind, urn, op.value.as_ref()),
                None => self.targeted(kind, path, op.value.as_ref()),
            },
        }
    }

    /// The extension a path names as a whole (`urn:...:enterprise:2.0:User`), if it does.
    fn whole_extension(&self, path: &PatchPath) -> Option<&'static str> {
        if path.filter.is_some() || path.sub.is_some() {
            return None;
        }
        let urn = format!("{}:{}", path.attr.urn.as_deref()?, path.attr.name);
        let schema = self.rt.schema_by_urn(&urn)?;
        (schema.id != self.rt.schema.id).then_some(schema.id)
    }

    /// An operation whose path is an extension URN: its value is the extension's attributes.
    fn extension_op(
        &mut self,
        kind: OpKind,
        urn: &'static str,
        value: Option<&Value>,
    ) -> Result<(), Error> {
        match (kind, value) {
            (OpKind::Remove, None) | (OpKind::Replace, Some(Value::Null)) => {
                if let Some(root) = self.doc.as_object_mut() {
                    root.remove(urn);
                }
                Ok(())
            }
            (OpKind::Remove, Some(_)) => Err(Error::InvalidSyntax(
                "removing an extension takes no `value`".into(),
            )),
            (_, Some(value @ Value::Object(_))) => {
                let mut wrapped = Map::new();
                wrapped.insert(urn.to_owned(), value.clone());
                self.path_less(kind, &Value::Object(wrapped))
            }
            (_, _) => Err(Error::InvalidValue(format!(
                "`{urn}` needs an object value"
            ))),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Path-less add/replace

    fn path_less(&mut self, kind: OpKind, value: &Value) -> Result<(), Error> {
        let Value::Object(fields) = value else {
            return Err(Error::InvalidValue(
                "a path-less operation needs an object value".into(),
            ));
        };

        for (key, field) in fields {
            let Some(schema) = self.rt.schema_by_urn(key) else {
                if let Ok(path) = AttrPath::parse(key) {
                    self.keyed(kind, &path, field)?;
                }
                continue;
            };

            match field {
                Value::Object(inner) => {
                    for (inner_key, inner_field) in inner {
                        let Ok(mut path) = AttrPath::parse(inner_key) else {
                            continue;
                        };
                        path.urn.get_or_insert_with(|| schema.id.to_owned());
                        self.keyed(kind, &path, inner_field)?;
                    }
                }
                Value::Null if kind == OpKind::Replace && schema.id != self.rt.schema.id => {
                    if let Some(root) = self.doc.as_object_mut() {
                        root.remove(schema.id);
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(Error::InvalidValue(format!(
                        "`{}` must be an object",
                        schema.id
                    )));
                }
            }
        }
        Ok(())
    }

    /// One key of a path-less value, already read as a path.
    fn keyed(&mut self, kind: OpKind, path: &AttrPath, value: &Value) -> Result<(), Error> {
        let server_owned = ["id", "meta", "schemas"]
            .iter()
            .any(|name| path.name.eq_ignore_ascii_case(name));
        if path.urn.is_none() && server_owned {
            return Ok(());
        }
        let Some(resolved) = filter::resolve_lenient(self.rt, path) else {
            return Ok(());
        };

        if self.is_members(&resolved) {
            if resolved.sub.is_some() {
                return Err(Error::InvalidPath(
                    "`members` sub-attributes cannot be written".into(),
                ));
            }
            return self.members_write(kind, value);
        }

        check_writable(path, &resolved)?;
        match (kind, value) {
            (OpKind::Add, Value::Null) => Ok(()),
            (_, Value::Null) => self.unassign(&resolved, path),
            _ => self.write(kind, &resolved, value),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Operations with a path

    fn targeted(
        &mut self,
        kind: OpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), Error> {
        let resolved = filter::resolve_lenient(self.rt, &path.attr)
            .ok_or_else(|| Error::InvalidPath(format!("unknown attribute `{}`", path.attr)))?;
        if self.is_members(&resolved) {
            return self.members_targeted(kind, path, &resolved, value);
        }

        if path.filter.is_some() && resolved.attr.kind != AttrType::Complex {
            return Err(Error::InvalidPath(format!(
                "`{}` is not complex and cannot take a filter",
                path.attr
            )));
        }
        let sub = match &path.sub {
            Some(name) => Some(resolved.attr.sub(name).ok_or_else(|| {
                Error::InvalidPath(format!("`{}` has no sub-attribute `{name}`", path.attr))
            })?),
            None => None,
        };
        check_writable(&path.attr, &resolved)?;
        if sub.is_some_and(|sub| sub.mutability == Mutability::ReadOnly) {
            return Err(Error::Mutability(format!(
                "a sub-attribute of `{}` is read-only",
                path.attr
            )));
        }

        match (kind, &path.filter, value) {
            (OpKind::Remove, None, None) => self.unassign(&resolved, &path.attr),
            (OpKind::Remove, None, Some(value)) => self.remove_values(&resolved, value),
            (OpKind::Remove, Some(filter), value) => {
                self.remove_filtered(&resolved, filter, sub, value)
            }
            (_, _, None) | (OpKind::Add, _, Some(Value::Null)) => Err(Error::InvalidSyntax(
                "`add` and `replace` need a non-null `value`".into(),
            )),
            (_, None, Some(Value::Null)) => self.unassign(&resolved, &path.attr),
            (_, None, Some(value)) => self.write(kind, &resolved, value),
            (_, Some(filter), Some(Value::Null)) if sub.is_none() => {
                self.remove_filtered(&resolved, filter, None, None)
            }
            (_, Some(filter), Some(value)) => {
                self.write_filtered(kind, &resolved, filter, sub, value)
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Storage access: take the attribute out, compute, put it back

    fn take(&mut self, resolved: &Resolved) -> Value {
        let Some(root) = self.doc.as_object_mut() else {
            return Value::Null;
        };
        let container = match resolved.extension {
            None => Some(root),
            Some(urn) => root.get_mut(urn).and_then(Value::as_object_mut),
        };
        container
            .and_then(|container| container.remove(resolved.attr.name))
            .unwrap_or(Value::Null)
    }

    fn put(&mut self, resolved: &Resolved, value: Value) {
        if is_blank(&value) {
            return;
        }
        let Some(root) = self.doc.as_object_mut() else {
            return;
        };
        let container = match resolved.extension {
            None => root,
            Some(urn) => {
                let slot = root
                    .entry(urn.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                match slot.as_object_mut() {
                    Some(container) => container,
                    None => return,
                }
            }
        };
        container.insert(resolved.attr.name.to_owned(), value);
    }

    // -----------------------------------------------------------------------------------------
    // Writes

    /// `add`/`replace` of a whole attribute or of a sub-attribute on every value.
    fn write(&mut self, kind: OpKind, resolved: &Resolved, value: &Value) -> Result<(), Error> {
        let attr = resolved.attr;
        let current = self.take(resolved);
        let updated = match resolved.sub {
            Some(sub) => write_sub_everywhere(attr, sub, current, value)?,
            None if attr.multi_valued => write_multi(kind, attr, current, value)?,
            None if attr.kind == AttrType::Complex => merge_complex(kind, attr, current, value)?,
            None => {
                let new = coerce_single(attr, value)?;
                check_immutable(attr, &current, &new)?;
                new
            }
        };
        self.put(resolved, updated);
        Ok(())
    }

    /// `add`/`replace` on `attr[filter]` or `attr[filter].sub`.
    fn write_filtered(
        &mut self,
        kind: OpKind,
        resolved: &Resolved,
        filter: &Filter,
        sub: Option<&'static AttrDef>,
        value: &Value,
    ) -> Result<(), Error> {
        let attr = resolved.attr;
        filter.validate_value(attr)?;
        let mut list = into_list(self.take(resolved));

        let mut matched = Vec::new();
        for (index, element) in list.iter().enumerate() {
            if filter.matches_value(element, attr)? {
                matched.push(index);
            }
        }
        if matched.is_empty() && value.is_null() {
            self.put(resolved, from_list(attr, list));
            return Ok(());
        }
        if matched.is_empty() {
            let seed = seed_from_filter(filter, attr)?;
            match seed {
                Some(seed) if attr.multi_valued || list.is_empty() => {
                    list.push(Value::Object(seed));
                    matched.push(list.len() - 1);
                }
                _ => {
                    return Err(Error::NoTarget(format!(
                        "no value of `{}` matches the filter",
                        attr.name
                    )));
                }
            }
        }

        for &index in &matched {
            let Some(element) = list.get_mut(index) else {
                continue;
            };
            match sub {
                Some(sub) => {
                    let new = coerce_for(sub, value)?;
                    set_field(element, sub.name, new);
                }
                None => {
                    let merged = merge_complex(kind, attr, element.take(), value)?;
                    *element = merged;
                }
            }
        }
        enforce_primary(attr, &mut list, &matched)?;

        self.put(resolved, from_list(attr, list));
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Removals

    /// Unassigns an attribute (or a sub-attribute on every value).
    fn unassign(&mut self, resolved: &Resolved, path: &AttrPath) -> Result<(), Error> {
        let attr = resolved.attr;
        if resolved.sub.is_none() && attr.required {
            return Err(Error::Mutability(format!(
                "`{path}` is required and cannot be removed"
            )));
        }
        let current = self.take(resolved);

        let updated = match resolved.sub {
            None => {
                check_immutable(attr, &current, &Value::Null)?;
                Value::Null
            }
            Some(sub) => {
                let mut list = into_list(current);
                for element in &mut list {
                    set_field(element, sub.name, Value::Null);
                }
                drop_valueless(attr, &mut list);
                from_list(attr, list)
            }
        };

        self.put(resolved, updated);
        Ok(())
    }

    /// `remove` with a `value` and no filter: removes only the listed values (Entra's
    /// `members` form, Q5) or, on a single value, only when it matches (Q11).
    fn remove_values(&mut self, resolved: &Resolved, value: &Value) -> Result<(), Error> {
        let attr = resolved.attr;
        let current = self.take(resolved);

        let updated = match resolved.sub {
            Some(sub) => {
                let mut list = into_list(current);
                for element in &mut list {
                    if value_matches(sub, element.get(sub.name), value)? {
                        set_field(element, sub.name, Value::Null);
                    }
                }
                drop_valueless(attr, &mut list);
                from_list(attr, list)
            }
            None if attr.multi_valued => {
                let listed = coerce_many(attr, value)?;
                let mut list = into_list(current);
                list.retain(|stored| !listed.iter().any(|given| same_entry(attr, stored, given)));
                from_list(attr, list)
            }
            None => {
                if value_matches(attr, Some(&current), value)? {
                    if attr.required {
                        return Err(Error::Mutability(format!(
                            "`{}` is required and cannot be removed",
                            attr.name
                        )));
                    }
                    Value::Null
                } else {
                    current
                }
            }
        };

        self.put(resolved, updated);
        Ok(())
    }

    /// `remove` on `attr[filter]` or `attr[filter].sub`; a filter matching nothing is a
    /// no-op. With a `value`, only matching values are removed (Q11).
    fn remove_filtered(
        &mut self,
        resolved: &Resolved,
        filter: &Filter,
        sub: Option<&'static AttrDef>,
        value: Option<&Value>,
    ) -> Result<(), Error> {
        let attr = resolved.attr;
        filter.validate_value(attr)?;
        let list = into_list(self.take(resolved));

        let mut kept = Vec::with_capacity(list.len());
        for mut element in list {
            if !filter.matches_value(&element, attr)? {
                kept.push(element);
                continue;
            }
            match (sub, value) {
                (None, None) => {}
                (None, Some(value)) => {
                    let given = coerce_element(attr, value)?;
                    if !same_entry(attr, &element, &given) {
                        kept.push(element);
                    }
                }
                (Some(sub), value) => {
                    let hit = match value {
                        None => true,
                        Some(value) => value_matches(sub, element.get(sub.name), value)?,
                    };
                    if hit {
                        set_field(&mut element, sub.name, Value::Null);
                    }
                    kept.push(element);
                }
            }
        }
        drop_valueless(attr, &mut kept);

        self.put(resolved, from_list(attr, kept));
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Group members

    fn is_members(&self, resolved: &Resolved) -> bool {
        self.rt.name.eq_ignore_ascii_case("Group")
            && resolved.extension.is_none()
            && resolved.attr.name.eq_ignore_ascii_case("members")
    }

    /// `add`/`replace` of the whole member set, with or without the `members` path.
    fn members_write(&mut self, kind: OpKind, value: &Value) -> Result<(), Error> {
        let ids = member_ids(value)?;
        let change = match kind {
            OpKind::Add if ids.is_empty() => return Ok(()),
            OpKind::Add => MemberChange::Add(ids),
            OpKind::Replace if ids.is_empty() => MemberChange::RemoveAll,
            OpKind::Replace => MemberChange::ReplaceAll(ids),
            OpKind::Remove if ids.is_empty() => return Ok(()),
            OpKind::Remove => MemberChange::Remove(ids),
        };
        self.members.push(change);
        Ok(())
    }

    fn members_targeted(
        &mut self,
        kind: OpKind,
        path: &PatchPath,
        resolved: &Resolved,
        value: Option<&Value>,
    ) -> Result<(), Error> {
        if resolved.sub.is_some() || path.sub.is_some() {
            return Err(Error::InvalidPath(
                "`members` sub-attributes cannot be targeted".into(),
            ));
        }

        match (kind, &path.filter, value) {
            (OpKind::Remove, Some(filter), _) => {
                let mut ids = Vec::new();
                if !member_filter_ids(filter, &mut ids) {
                    return Err(Error::InvalidPath(
                        "`members` filters support only `value eq` joined by `or`".into(),
                    ));
                }
                dedup(&mut ids);
                self.members.push(MemberChange::Remove(ids));
                Ok(())
            }
            (_, Some(_), _) => Err(Error::InvalidPath(
                "only `remove` may filter `members`".into(),
            )),
            (OpKind::Remove, None, None) => {
                self.members.push(MemberChange::RemoveAll);
                Ok(())
            }
            (OpKind::Add, None, None | Some(Value::Null)) => Err(Error::InvalidSyntax(
                "`add` needs a non-null `value`".into(),
            )),
            (_, None, value) => self.members_write(kind, value.unwrap_or(&Value::Null)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Value helpers

fn check_writable(path: &AttrPath, resolved: &Resolved) -> Result<(), Error> {
    let read_only = resolved.attr.mutability == Mutability::ReadOnly
        || resolved
            .sub
            .is_some_and(|sub| sub.mutability == Mutability::ReadOnly);
    if read_only {
        return Err(Error::Mutability(format!("`{path}` is read-only")));
    }
    Ok(())
}

fn check_immutable(def: &AttrDef, current: &Value, new: &Value) -> Result<(), Error> {
    if def.mutability == Mutability::Immutable && !current.is_null() && current != new {
        return Err(Error::Mutability(format!(
            "`{}` is immutable once set",
            def.name
        )));
    }
    Ok(())
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

fn is_primary(value: &Value) -> bool {
    value.get("primary").and_then(Value::as_bool) == Some(true)
}

/// The values of an attribute as a list (one element for a single value).
fn into_list(value: Value) -> Vec<Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        other => vec![other],
    }
}

/// The inverse of [`into_list`] for `attr`: an array, or its first element.
fn from_list(attr: &AttrDef, mut list: Vec<Value>) -> Value {
    list.retain(|value| !is_blank(value));
    if attr.multi_valued {
        Value::Array(list)
    } else {
        list.into_iter().next().unwrap_or(Value::Null)
    }
}

/// Sets (or, for `null`, removes) a field of an object value.
fn set_field(element: &mut Value, name: &str, value: Value) {
    if element.is_null() {
        *element = Value::Object(Map::new());
    }
    if let Some(fields) = element.as_object_mut() {
        if value.is_null() {
            fields.remove(name);
        } else {
            fields.insert(name.to_owned(), value);
        }
    }
}

/// Brings one element into canonical form: a bare string for a complex attribute with a
/// `value` sub-attribute becomes `{"value": s}` (Q7), and read-only sub-attributes go.
fn coerce_element(attr: &AttrDef, value: &Value) -> Result<Value, Error> {
    let wrapped;
    let value = match value {
        Value::String(text) if attr.kind == AttrType::Complex && attr.sub("value").is_some() => {
            let mut fields = Map::new();
            fields.insert("value".to_owned(), Value::String(text.clone()));
            wrapped = Value::Object(fields);
            &wrapped
        }
        other => other,
    };
    let mut coerced = attr::coerce_value(attr, value)?;
    if let Value::Object(fields) = &mut coerced {
        fields.retain(|name, _| {
            attr.sub(name)
                .is_some_and(|sub| sub.mutability != Mutability::ReadOnly)
        });
    }
    Ok(coerced)
}

/// One value for a single-valued attribute; a one-element array is unwrapped (Q7).
fn coerce_single(attr: &AttrDef, value: &Value) -> Result<Value, Error> {
    match value {
        Value::Array(items) if !attr.multi_valued => match items.as_slice() {
            [] => Ok(Value::Null),
            [one] => coerce_element(attr, one),
            _ => Err(Error::InvalidValue(format!(
                "`{}` takes a single value",
                attr.name
            ))),
        },
        other => coerce_element(attr, other),
    }
}

/// The elements for a multi-valued attribute; a lone value counts as one element.
fn coerce_many(attr: &AttrDef, value: &Value) -> Result<Vec<Value>, Error> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut coerced = Vec::with_capacity(items.len());
    for item in items {
        let element = coerce_element(attr, item)?;
        if !is_blank(&element) {
            coerced.push(element);
        }
    }
    Ok(coerced)
}

/// A value for `def`, an array when it is multi-valued.
fn coerce_for(def: &AttrDef, value: &Value) -> Result<Value, Error> {
    if def.multi_valued {
        Ok(Value::Array(coerce_many(def, value)?))
    } else {
        coerce_single(def, value)
    }
}

/// Whether the stored value equals the given one, honouring `caseExact` for strings.
fn value_matches(def: &AttrDef, stored: Option<&Value>, given: &Value) -> Result<bool, Error> {
    let given = coerce_single(def, given)?;
    Ok(stored.is_some_and(|stored| same_entry(def, stored, &given)))
}

/// Whether two values of `def` denote the same entry: by their `value` sub-attribute when
/// both have one, else by equality (strings honour `caseExact`).
fn same_entry(def: &AttrDef, stored: &Value, given: &Value) -> bool {
    let key_def = def.sub("value").filter(|_| def.kind == AttrType::Complex);
    let (stored, given, key_def) = match key_def {
        Some(key_def) => match (stored.get("value"), given.get("value")) {
            (Some(stored), Some(given)) => (stored, given, key_def),
            _ => return stored == given,
        },
        None => (stored, given, def),
    };
    match (stored, given) {
        (Value::String(left), Value::String(right)) if !key_def.case_exact => {
            left.to_lowercase() == right.to_lowercase()
        }
        _ => stored == given,
    }
}

/// `add` appends new elements; `replace` replaces the whole set.
fn write_multi(
    kind: OpKind,
    attr: &AttrDef,
    current: Value,
    value: &Value,
) -> Result<Value, Error> {
    let items = coerce_many(attr, value)?;
    let mut list = into_list(current);
    let mut touched = Vec::new();

    if kind == OpKind::Replace {
        touched.extend(0..items.len());
        list = items;
    } else {
        for item in items {
            if !list.contains(&item) {
                list.push(item);
                touched.push(list.len() - 1);
            }
        }
    }

    enforce_primary(attr, &mut list, &touched)?;
    Ok(Value::Array(list))
}

/// Merges sub-attributes into a complex value; `null` fields unassign on `replace`.
fn merge_complex(
    kind: OpKind,
    attr: &AttrDef,
    current: Value,
    value: &Value,
) -> Result<Value, Error> {
    let given = match value {
        Value::Array(items) if !attr.multi_valued && items.len() == 1 => &items[..],
        Value::Array(_) => {
            return Err(Error::InvalidValue(format!(
                "`{}` takes a single value",
                attr.name
            )));
        }
        other => std::slice::from_ref(other),
    };
    let wrapped;
    let given = match given.first() {
        Some(Value::String(text)) if attr.sub("value").is_some() => {
            let mut fields = Map::new();
            fields.insert("value".to_owned(), Value::String(text.clone()));
            wrapped = fields;
            &wrapped
        }
        Some(Value::Object(fields)) => fields,
        _ => {
            return Err(Error::InvalidValue(format!(
                "`{}` expects an object",
                attr.name
            )));
        }
    };
    let mut object = match current {
        Value::Object(object) => object,
        _ => Map::new(),
    };

    // A single-valued reference (`manager`) that points elsewhere starts afresh, before any
    // field of the new value is written: the old `$ref` or display name describe the old one.
    if !attr.multi_valued
        && let Some(value_def) = attr.sub("value")
        && let Some((_, given_value)) = given
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("value"))
        && !given_value.is_null()
    {
        let new = coerce_for(value_def, given_value)?;
        if object.get("value").is_some_and(|old| *old != new) {
            object.clear();
        }
    }

    for (key, field) in given {
        let Some(sub) = attr.sub(key) else { continue };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        if field.is_null() {
            if kind == OpKind::Replace {
                object.remove(sub.name);
            }
            continue;
        }
        let new = coerce_for(sub, field)?;
        if !attr.multi_valued {
            check_immutable(sub, object.get(sub.name).unwrap_or(&Value::Null), &new)?;
        }
        object.insert(sub.name.to_owned(), new);
    }
    Ok(Value::Object(object))
}

/// `attr.sub` set on a single complex value, or on every value of a multi-valued one
/// (creating one value when there is none).
fn write_sub_everywhere(
    attr: &AttrDef,
    sub: &AttrDef,
    current: Value,
    value: &Value,
) -> Result<Value, Error> {
    let new = coerce_for(sub, value)?;
    let mut list = into_list(current);
    if list.is_empty() {
        list.push(Value::Object(Map::new()));
    }

    if !attr.multi_valued {
        let Some(object) = list.first_mut() else {
            return Ok(Value::Null);
        };
        let old = object.get(sub.name).cloned().unwrap_or(Value::Null);
        check_immutable(sub, &old, &new)?;
        if sub.name == "value" && !old.is_null() && old != new {
            *object = Value::Object(Map::new());
        }
    }
    for element in &mut list {
        set_field(element, sub.name, new.clone());
    }
    let touched: Vec<usize> = (0..list.len()).collect();
    enforce_primary(attr, &mut list, &touched)?;

    Ok(from_list(attr, list))
}

/// After `touched` elements were written: at most one of them may be primary, and if one
/// is, every other element loses `primary` (RFC 7644 §3.5.2).
fn enforce_primary(attr: &AttrDef, list: &mut [Value], touched: &[usize]) -> Result<(), Error> {
    if !attr.multi_valued {
        return Ok(());
    }
    let primaries: Vec<usize> = touched
        .iter()
        .copied()
        .filter(|&index| list.get(index).is_some_and(is_primary))
        .collect();
    let chosen = match primaries.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        _ => {
            return Err(Error::InvalidValue(format!(
                "more than one value of `{}` is primary",
                attr.name
            )));
        }
    };

    for (index, element) in list.iter_mut().enumerate() {
        if index != chosen && is_primary(element) {
            set_field(element, "primary", Value::Bool(false));
        }
    }
    Ok(())
}

/// Entries of a multi-valued attribute with a `value` sub-attribute are meaningless
/// without it; drops those a removal emptied.
fn drop_valueless(attr: &AttrDef, list: &mut Vec<Value>) {
    if attr.multi_valued && attr.kind == AttrType::Complex && attr.sub("value").is_some() {
        list.retain(|element| element.get("value").is_some_and(|value| !value.is_null()));
    }
}

/// The value described by an `eq`-only, `and`-joined filter (Q4), or `None` when the filter
/// has another shape.
fn seed_from_filter(filter: &Filter, attr: &AttrDef) -> Result<Option<Map<String, Value>>, Error> {
    fn collect<'f>(filter: &'f Filter, out: &mut Vec<(&'f AttrPath, &'f Value)>) -> bool {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if !value.is_null() => {
                out.push((path, value));
                true
            }
            Filter::And(items) => items.iter().all(|item| collect(item, out)),
            _ => false,
        }
    }

    let mut pairs = Vec::new();
    if !collect(filter, &mut pairs) {
        return Ok(None);
    }
    let mut seed = Map::new();
    for (path, value) in pairs {
        let Some(sub) = attr.sub(&path.name) else {
            return Ok(None);
        };
        if sub.mutability != Mutability::ReadOnly {
            seed.insert(sub.name.to_owned(), coerce_single(sub, value)?);
        }
    }
    Ok(Some(seed))
}

/// Member ids from a `members` value: objects with a `value`, or bare id strings.
fn member_ids(value: &Value) -> Result<Vec<String>, Error> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = match item {
            Value::String(id) => Some(id.as_str()),
            Value::Object(fields) => get_ci(fields, "value").and_then(Value::as_str),
            _ => None,
        };
        match id {
            Some(id) if !id.trim().is_empty() => ids.push(id.to_owned()),
            _ => {
                return Err(Error::InvalidValue(
                    "every member needs a non-empty string `value`".into(),
                ));
            }
        }
    }
    dedup(&mut ids);
    Ok(ids)
}

/// Collects ids from `value eq "id"` terms joined by `or`; false for any other shape.
fn member_filter_ids(filter: &Filter, ids: &mut Vec<String>) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(id),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value")
            && !id.trim().is_empty() =>
        {
            ids.push(id.clone());
            true
        }
        Filter::Or(items) => items.iter().all(|item| member_filter_ids(item, ids)),
        _ => false,
    }
}

/// Removes repeated ids, keeping first occurrences in order.
fn dedup(ids: &mut Vec<String>) {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.retain(|id| seen.insert(id.clone()));
}

/// Restores canonical form: no `null`, empty arrays or empty objects anywhere, and, when the
/// resource carries `schemas`, extension URNs listed exactly for the extensions present.
fn tidy(doc: &mut Value, rt: &ResourceTypeDef) {
    tidy_value(doc);

    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let present: Vec<(&str, bool)> = rt
        .extensions
        .iter()
        .map(|(schema, required)| (schema.id, *required || root.contains_key(schema.id)))
        .collect();
    let Some(Value::Array(schemas)) = root.get_mut("schemas") else {
        return;
    };
    for (urn, present) in present {
        let listed = schemas
            .iter()
            .any(|entry| entry.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        if present && !listed {
            schemas.push(Value::String(urn.to_owned()));
        } else if !present && listed {
            schemas.retain(|entry| !entry.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        }
    }
}

fn tidy_value(value: &mut Value) {
    match value {
        Value::Array(items) => {
            items.iter_mut().for_each(tidy_value);
            items.retain(|item| !is_blank(item));
        }
        Value::Object(fields) => {
            fields.values_mut().for_each(tidy_value);
            fields.retain(|_, field| !is_blank(field));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::scim::fixtures::{ENTERPRISE_URN, GROUP, USER};

    const UID: &str = "2819c223-7f76-453a-919d-413861904646";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": UID,
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z"}
        })
    }

    fn group() -> Value {
        json!({"id": "g1", "displayName": "Admins", "meta": {"resourceType": "Group"}})
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_URN], "Operations": ops})
    }

    fn patch(resource: &mut Value, rt: &ResourceTypeDef, ops: Value) -> Result<Applied, Error> {
        let ops = parse_request(&body(ops))?;
        apply(resource, &ops, rt)
    }

    fn patched_user(ops: Value) -> Value {
        let mut resource = user();
        patch(&mut resource, &USER, ops).unwrap();
        resource
    }

    fn user_error(ops: Value) -> Error {
        let mut resource = user();
        let error = patch(&mut resource, &USER, ops).unwrap_err();
        assert_eq!(
            resource,
            user(),
            "a failed PATCH must leave the resource unchanged"
        );
        error
    }

    fn group_changes(ops: Value) -> Vec<MemberChange> {
        let mut resource = group();
        let applied = patch(&mut resource, &GROUP, ops).unwrap();
        assert!(resource.get("members").is_none());
        applied.members
    }

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    // ----- request parsing ------------------------------------------------------------------

    #[test]
    fn paths_parse_as_attribute_or_value_paths() {
        let plain = PatchPath::parse("name.givenName").unwrap();
        assert_eq!(plain.attr, AttrPath::core_sub("name", "givenName"));
        assert!(plain.filter.is_none());

        let filtered = PatchPath::parse(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(filtered.attr, AttrPath::core("emails"));
        assert!(filtered.filter.is_some());
        assert_eq!(filtered.sub.as_deref(), Some("value"));
        assert_eq!(filtered.to_string(), r#"emails[type eq "work"].value"#);

        let urn = PatchPath::parse(&format!("{ENTERPRISE_URN}:manager")).unwrap();
        assert_eq!(urn.attr.urn.as_deref(), Some(ENTERPRISE_URN));

        assert_eq!(
            PatchPath::parse("a b").unwrap_err().scim_type(),
            "invalidPath"
        );
        assert_eq!(
            PatchPath::parse(r#"emails[type eq work]"#)
                .unwrap_err()
                .scim_type(),
            "invalidFilter"
        );
    }

    #[test]
    fn operations_key_and_op_values_are_case_insensitive() {
        let ops = parse_request(&json!({
            "operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }))
        .unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].op, OpKind::Replace);
    }

    #[test]
    fn malformed_requests_are_invalid_syntax() {
        for request in [
            json!([]),
            json!({"schemas": [PATCH_OP_URN]}),
            json!({"Operations": []}),
            json!({"Operations": {}}),
            json!({"Operations": [1]}),
            json!({"Operations": [{"path": "active", "value": true}]}),
            json!({"Operations": [{"op": "move", "path": "active"}]}),
            json!({"Operations": [{"op": "add", "path": "active"}]}),
            json!({"Operations": [{"op": "add", "path": "active", "value": null}]}),
            json!({"Operations": [{"op": "replace", "path": "active"}]}),
            json!({"Operations": [{"op": "replace", "value": null}]}),
        ] {
            let error = parse_request(&request).unwrap_err();
            assert_eq!(error.scim_type(), "invalidSyntax", "{request}");
        }
    }

    #[test]
    fn remove_without_a_path_is_no_target() {
        let error = parse_request(&body(json!([{"op": "remove", "value": {"active": true}}])));
        assert_eq!(error.unwrap_err().scim_type(), "noTarget");
    }

    #[test]
    fn unknown_operation_keys_are_ignored() {
        let ops = parse_request(&body(json!([
            {"op": "Add", "name": "addMember", "path": "members", "value": [{"value": "u1"}]}
        ])))
        .unwrap();
        assert_eq!(ops.len(), 1);
    }

    // ----- Okta ----------------------------------------------------------------------------

    #[test]
    fn okta_deactivate_replaces_active_without_path() {
        let mut resource = user();

        let applied = patch(
            &mut resource,
            &USER,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();

        assert!(applied.changed);
        assert_eq!(resource["active"], json!(false));
    }

    #[test]
    fn okta_group_rename_ignores_the_read_only_id_in_value() {
        let mut resource = group();

        let applied = patch(
            &mut resource,
            &GROUP,
            json!([{"op": "replace", "value": {"id": "g1", "displayName": "New"}}]),
        )
        .unwrap();

        assert!(applied.changed);
        assert_eq!(resource["displayName"], json!("New"));
        assert_eq!(resource["id"], json!("g1"));
    }

    #[test]
    fn meta_and_schemas_inside_a_path_less_value_are_ignored() {
        let resource = patched_user(json!([{"op": "replace", "value": {
            "meta": {"created": "2020-01-01T00:00:00Z"},
            "schemas": ["urn:x"],
            "displayName": "Babs"
        }}]));
        assert_eq!(resource["meta"], user()["meta"]);
        assert_eq!(resource["schemas"], user()["schemas"]);
        assert_eq!(resource["displayName"], json!("Babs"));
    }

    // ----- Entra ---------------------------------------------------------------------------

    #[test]
    fn entra_multi_operation_user_update_applies_in_order() {
        let resource = patched_user(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Doe"}
        ]));
        assert_eq!(resource["emails"][0]["value"], json!("new@example.com"));
        assert_eq!(resource["emails"][0]["type"], json!("work"));
        assert_eq!(
            resource["name"],
            json!({"givenName": "Barbara", "familyName": "Doe"})
        );
    }

    #[test]
    fn entra_string_booleans_are_coerced() {
        let resource = patched_user(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        assert_eq!(resource["active"], json!(false));
        let error = user_error(json!([{"op": "Replace", "path": "active", "value": "nope"}]));
        assert_eq!(error.scim_type(), "invalidValue");
    }

    #[test]
    fn dotted_keys_in_a_path_less_value_address_sub_attributes() {
        let resource = patched_user(json!([{"op": "replace", "value": {
            "name.givenName": "Babs",
            "Name.FamilyName": "J"
        }}]));
        assert_eq!(
            resource["name"],
            json!({"givenName": "Babs", "familyName": "J"})
        );
    }

    #[test]
    fn urn_prefixed_keys_and_extension_objects_land_in_the_extension() {
        let resource = patched_user(json!([{"op": "add", "value": {
            format!("{ENTERPRISE_URN}:employeeNumber"): "701984",
            ENTERPRISE_URN: {"department": "Tour Operations"}
        }}]));
        assert_eq!(
            resource[ENTERPRISE_URN],
            json!({"employeeNumber": "701984", "department": "Tour Operations"})
        );
        let schemas = resource["schemas"].as_array().unwrap();
        assert!(schemas.contains(&json!(ENTERPRISE_URN)));
    }

    #[test]
    fn manager_given_as_a_bare_string_becomes_an_object() {
        let resource = patched_user(json!([
            {"op": "add", "path": format!("{ENTERPRISE_URN}:manager"), "value": "m1"}
        ]));
        assert_eq!(resource[ENTERPRISE_URN]["manager"], json!({"value": "m1"}));
    }

    #[test]
    fn manager_given_as_a_one_element_array_becomes_an_object() {
        let resource = patched_user(json!([{"op": "replace", "path": "manager",
            "value": [{"value": "m2", "displayName": "Boss"}]}]));
        assert_eq!(resource[ENTERPRISE_URN]["manager"], json!({"value": "m2"}));
    }

    #[test]
    fn replacing_the_manager_value_drops_stale_sub_attributes() {
        let mut resource = user();
        resource[ENTERPRISE_URN] = json!({"manager": {"value": "m1", "$ref": "../Users/m1"}});

        patch(
            &mut resource,
            &USER,
            json!([{"op": "replace", "path": format!("{ENTERPRISE_URN}:manager.value"),
                "value": "m2"}]),
        )
        .unwrap();

        assert_eq!(resource[ENTERPRISE_URN]["manager"], json!({"value": "m2"}));
    }

    #[test]
    fn replace_on_a_missing_work_email_creates_it() {
        let mut resource = user();
        resource["emails"] = json!([{"value": "babs@jensen.org", "type": "home"}]);

        patch(
            &mut resource,
            &USER,
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value",
                "value": "w@x.com"}]),
        )
        .unwrap();

        assert_eq!(
            resource["emails"],
            json!([
                {"value": "babs@jensen.org", "type": "home"},
                {"value": "w@x.com", "type": "work"}
            ])
        );
    }

    #[test]
    fn add_on_a_missing_work_email_creates_it_even_without_emails() {
        let mut resource = user();
        resource.as_object_mut().unwrap().remove("emails");

        patch(
            &mut resource,
            &USER,
            json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "w@x.com"}]),
        )
        .unwrap();

        assert_eq!(
            resource["emails"],
            json!([{"value": "w@x.com", "type": "work"}])
        );
    }

    #[test]
    fn replace_through_a_non_eq_filter_matching_nothing_is_no_target() {
        let error = user_error(json!([
            {"op": "replace", "path": "emails[type co \"oth\"].value", "value": "x@y"}
        ]));
        assert_eq!(error.scim_type(), "noTarget");
        let error = user_error(json!([
            {"op": "replace", "path": "emails[type eq \"a\" or type eq \"b\"].value", "value": "x"}
        ]));
        assert_eq!(error.scim_type(), "noTarget");
    }

    #[test]
    fn remove_with_a_value_on_a_filtered_sub_path_removes_only_a_match() {
        let unchanged = patched_user(json!([{"op": "remove",
            "path": "emails[type eq \"work\"].value", "value": "someone@else.com"}]));
        assert_eq!(unchanged["emails"], user()["emails"]);

        let removed = patched_user(json!([{"op": "remove",
            "path": "emails[type eq \"work\"].value", "value": "BJENSEN@example.com"}]));
        assert_eq!(
            removed["emails"],
            json!([{"value": "babs@jensen.org", "type": "home"}])
        );
    }

    // ----- RFC semantics -------------------------------------------------------------------

    #[test]
    fn replace_through_a_filter_without_sub_attribute_merges_into_matches() {
        let resource = patched_user(json!([{"op": "replace", "path": "emails[type eq \"home\"]",
            "value": {"value": "new@jensen.org", "display": "Home"}}]));
        assert_eq!(
            resource["emails"][1],
            json!({"value": "new@jensen.org", "type": "home", "display": "Home"})
        );
    }

    #[test]
    fn sub_attribute_paths_on_single_valued_complex_attributes_create_the_parent() {
        let mut resource = user();
        resource.as_object_mut().unwrap().remove("name");

        patch(
            &mut resource,
            &USER,
            json!([{"op": "add", "path": "name.givenName", "value": "Babs"}]),
        )
        .unwrap();

        assert_eq!(resource["name"], json!({"givenName": "Babs"}));
    }

    #[test]
    fn add_appends_to_multi_valued_attributes() {
        let resource = patched_user(json!([{"op": "add", "path": "emails",
            "value": [{"value": "third@x.com", "type": "other"}]}]));
        assert_eq!(resource["emails"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn adding_an_existing_value_changes_nothing() {
        let mut resource = user();

        let applied = patch(
            &mut resource,
            &USER,
            json!([{"op": "add", "path": "emails",
                "value": [{"value": "babs@jensen.org", "type": "home"}]}]),
        )
        .unwrap();

        assert!(!applied.changed);
        assert_eq!(resource, user());
    }

    #[test]
    fn replace_without_filter_replaces_all_values() {
        let resource = patched_user(json!([{"op": "replace", "path": "emails",
            "value": [{"value": "only@x.com"}]}]));
        assert_eq!(resource["emails"], json!([{"value": "only@x.com"}]));
    }

    #[test]
    fn replace_on_a_complex_attribute_merges_sub_attributes() {
        let resource = patched_user(json!([{"op": "replace", "path": "name",
            "value": {"familyName": "Doe", "formatted": null}}]));
        assert_eq!(
            resource["name"],
            json!({"givenName": "Barbara", "familyName": "Doe"})
        );
    }

    #[test]
    fn replace_with_null_unassigns() {
        let resource = patched_user(json!([{"op": "replace", "path": "name", "value": null}]));
        assert!(resource.get("name").is_none());
        let resource = patched_user(json!([{"op": "replace", "value": {"emails": null}}]));
        assert!(resource.get("emails").is_none());
    }

    #[test]
    fn replace_with_null_through_an_unmatched_filter_creates_nothing() {
        let mut resource = user();

        let applied = patch(
            &mut resource,
            &USER,
            json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": null}]),
        )
        .unwrap();

        assert!(!applied.changed);
    }

    #[test]
    fn null_fields_in_a_path_less_add_are_skipped() {
        let resource = patched_user(json!([{"op": "add",
            "value": {"addresses": null, "displayName": "Babs"}}]));
        assert_eq!(resource["displayName"], json!("Babs"));
        assert!(resource.get("addresses").is_none());
    }

    #[test]
    fn remove_single_valued_and_sub_attributes() {
        let resource = patched_user(json!([
            {"op": "remove", "path": "active"},
            {"op": "remove", "path": "name.givenName"}
        ]));
        assert!(resource.get("active").is_none());
        assert_eq!(resource["name"], json!({"familyName": "Jensen"}));
    }

    #[test]
    fn remove_with_a_filter_removes_matching_values_and_empties_the_attribute() {
        let resource = patched_user(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]));
        assert_eq!(resource["emails"].as_array().unwrap().len(), 1);
        let resource = patched_user(json!([{"op": "remove", "path": "emails[value pr]"}]));
        assert!(resource.get("emails").is_none());
    }

    #[test]
    fn remove_with_a_filter_matching_nothing_is_a_no_op() {
        let mut resource = user();

        let applied = patch(
            &mut resource,
            &USER,
            json!([{"op": "remove", "path": "emails[type eq \"pager\"]"}]),
        )
        .unwrap();

        assert!(!applied.changed);
    }

    #[test]
    fn remove_by_value_on_a_multi_valued_attribute_removes_only_those() {
        let resource = patched_user(json!([{"op": "Remove", "path": "emails",
            "value": [{"value": "babs@jensen.org"}]}]));
        assert_eq!(resource["emails"].as_array().unwrap().len(), 1);
        assert_eq!(resource["emails"][0]["type"], json!("work"));
    }

    #[test]
    fn removing_a_required_attribute_is_a_mutability_error() {
        let error = user_error(json!([{"op": "remove", "path": "userName"}]));
        assert_eq!(error.scim_type(), "mutability");
        let error = user_error(json!([{"op": "replace", "value": {"userName": null}}]));
        assert_eq!(error.scim_type(), "mutability");
    }

    #[test]
    fn an_explicit_path_to_a_read_only_attribute_is_a_mutability_error() {
        for path in ["id", "meta.created", "groups", "manager.displayName"] {
            let error = user_error(json!([{"op": "replace", "path": path, "value": "x"}]));
            assert_eq!(error.scim_type(), "mutability", "{path}");
        }
    }

    #[test]
    fn an_unknown_explicit_path_is_invalid_path_but_unknown_keys_are_ignored() {
        let error = user_error(json!([{"op": "replace", "path": "nickName", "value": "x"}]));
        assert_eq!(error.scim_type(), "invalidPath");
        let error = user_error(json!([{"op": "replace", "path": "name.middle", "value": "x"}]));
        assert_eq!(error.scim_type(), "invalidPath");
        let error =
            user_error(json!([{"op": "replace", "path": "active[value eq 1]", "value": 1}]));
        assert_eq!(error.scim_type(), "invalidPath");

        let resource = patched_user(json!([{"op": "replace",
            "value": {"password": "hunter2", "nickName": "B"}}]));
        assert_eq!(resource, user());
    }

    #[test]
    fn an_invalid_filter_inside_a_path_is_invalid_filter() {
        let error = user_error(json!([{"op": "remove", "path": "emails[kind eq \"x\"]"}]));
        assert_eq!(error.scim_type(), "invalidFilter");
    }

    #[test]
    fn setting_primary_on_one_value_clears_it_on_the_others() {
        let resource = patched_user(json!([{"op": "replace",
            "path": "emails[type eq \"home\"].primary", "value": true}]));
        assert_eq!(resource["emails"][0]["primary"], json!(false));
        assert_eq!(resource["emails"][1]["primary"], json!(true));

        let resource = patched_user(json!([{"op": "add", "path": "emails",
            "value": {"value": "new@x.com", "primary": "True"}}]));
        assert_eq!(resource["emails"][0]["primary"], json!(false));
        assert_eq!(resource["emails"][2]["primary"], json!(true));
    }

    #[test]
    fn two_new_primary_values_are_an_invalid_value() {
        let error = user_error(json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}
        ]}]));
        assert_eq!(error.scim_type(), "invalidValue");
    }

    #[test]
    fn a_failing_operation_leaves_the_resource_unchanged() {
        let error = user_error(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "id", "value": "other"}
        ]));
        assert_eq!(error.scim_type(), "mutability");
        assert!(error.to_string().contains("operation 2"));
    }

    #[test]
    fn errors_do_not_echo_values() {
        let error = user_error(json!([
            {"op": "replace", "path": "loginCount", "value": "secret-value"}
        ]));
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[test]
    fn removing_the_last_extension_attribute_removes_the_extension() {
        let mut resource = user();
        resource[ENTERPRISE_URN] = json!({"department": "Ops"});
        resource["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_URN]);

        patch(
            &mut resource,
            &USER,
            json!([{"op": "remove", "path": format!("{ENTERPRISE_URN}:department")}]),
        )
        .unwrap();

        assert!(resource.get(ENTERPRISE_URN).is_none());
        assert_eq!(
            resource["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
    }

    // ----- Group members -------------------------------------------------------------------

    #[test]
    fn adding_members_yields_a_member_change_not_json() {
        let changes = group_changes(json!([{"op": "Add", "path": "members",
            "value": [{"$ref": null, "value": "u1"}, {"value": "u2", "display": "B"},
                {"value": "u1"}]}]));
        assert_eq!(changes, vec![MemberChange::Add(strings(&["u1", "u2"]))]);
    }

    #[test]
    fn removing_a_member_by_filter_yields_remove() {
        let changes = group_changes(json!([
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "remove", "path": "members[value eq \"u2\" or value eq \"u3\"]"}
        ]));
        assert_eq!(
            changes,
            vec![
                MemberChange::Remove(strings(&["u1"])),
                MemberChange::Remove(strings(&["u2", "u3"]))
            ]
        );
    }

    #[test]
    fn removing_members_by_value_removes_only_the_listed_ids() {
        let changes = group_changes(json!([{"op": "Remove", "path": "members",
            "value": [{"value": "u1"}]}]));
        assert_eq!(changes, vec![MemberChange::Remove(strings(&["u1"]))]);
    }

    #[test]
    fn removing_members_without_value_removes_all() {
        let changes = group_changes(json!([{"op": "remove", "path": "members"}]));
        assert_eq!(changes, vec![MemberChange::RemoveAll]);
    }

    #[test]
    fn replacing_members_replaces_the_set() {
        let changes = group_changes(json!([
            {"op": "replace", "path": "members", "value": [{"value": "u9"}]},
            {"op": "replace", "path": "members", "value": []}
        ]));
        assert_eq!(
            changes,
            vec![
                MemberChange::ReplaceAll(strings(&["u9"])),
                MemberChange::RemoveAll
            ]
        );
    }

    #[test]
    fn a_path_less_value_with_members_and_display_name_splits_the_work() {
        let mut resource = group();

        let applied = patch(
            &mut resource,
            &GROUP,
            json!([{"op": "add", "value": {"displayName": "Ops", "members": [{"value": "u1"}]}}]),
        )
        .unwrap();

        assert!(applied.changed);
        assert_eq!(resource["displayName"], json!("Ops"));
        assert!(resource.get("members").is_none());
        assert_eq!(applied.members, vec![MemberChange::Add(strings(&["u1"]))]);
    }

    #[test]
    fn unsupported_member_paths_are_invalid_path() {
        for op in [
            json!({"op": "remove", "path": "members[display eq \"x\"]"}),
            json!({"op": "remove", "path": "members[value eq \"a\" and value eq \"b\"]"}),
            json!({"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "b"}}),
            json!({"op": "remove", "path": "members[value eq \"a\"].display"}),
            json!({"op": "replace", "path": "members.value", "value": "a"}),
        ] {
            let mut resource = group();
            let error = patch(&mut resource, &GROUP, json!([op])).unwrap_err();
            assert_eq!(error.scim_type(), "invalidPath", "{op}");
        }
    }

    #[test]
    fn member_ids_must_be_non_empty_strings() {
        for value in [
            json!([{"value": ""}]),
            json!([{"display": "x"}]),
            json!([{"value": 7}]),
        ] {
            let mut resource = group();
            let ops = json!([{"op": "add", "path": "members", "value": value}]);
            let error = patch(&mut resource, &GROUP, ops).unwrap_err();
            assert_eq!(error.scim_type(), "invalidValue");
        }
    }

    #[test]
    fn members_on_a_user_are_not_special() {
        let resource =
            patched_user(json!([{"op": "replace", "value": {"members": [{"value": "x"}]}}]));
        assert_eq!(resource, user());
    }

    // ----- properties ----------------------------------------------------------------------

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            prop_oneof![
                Just("work".to_owned()),
                Just("True".to_owned()),
                Just("u1".to_owned()),
                Just("2020-01-01T00:00:00Z".to_owned()),
                "\\PC{0,8}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            let key = prop_oneof![
                Just("value".to_owned()),
                Just("type".to_owned()),
                Just("primary".to_owned()),
                Just("displayName".to_owned()),
                Just("name.givenName".to_owned()),
                Just("emails".to_owned()),
                Just("members".to_owned()),
                Just("id".to_owned()),
                Just(ENTERPRISE_URN.to_owned()),
                Just("manager".to_owned()),
                "[a-zA-Z.:]{1,8}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn arb_operation() -> impl Strategy<Value = Value> {
        let op = prop_oneof![
            Just(json!("add")),
            Just(json!("Replace")),
            Just(json!("remove")),
            Just(json!("copy")),
            Just(json!(3)),
        ];
        let path = prop_oneof![
            Just(None),
            Just(Some(json!("emails"))),
            Just(Some(json!("emails[type eq \"work\"].value"))),
            Just(Some(json!("emails[type eq \"work\"]"))),
            Just(Some(json!("emails.primary"))),
            Just(Some(json!("name"))),
            Just(Some(json!("name.givenName"))),
            Just(Some(json!("active"))),
            Just(Some(json!("members"))),
            Just(Some(json!("members[value eq \"u1\"]"))),
            Just(Some(json!(format!("{ENTERPRISE_URN}:manager")))),
            Just(Some(json!("userName"))),
            "[a-zA-Z.\\[\\] \"]{0,20}".prop_map(|text| Some(Value::String(text))),
        ];
        (op, path, proptest::option::of(arb_json())).prop_map(|(op, path, value)| {
            let mut operation = Map::new();
            operation.insert("op".into(), op);
            if let Some(path) = path {
                operation.insert("path".into(), path);
            }
            if let Some(value) = value {
                operation.insert("value".into(), value);
            }
            Value::Object(operation)
        })
    }

    proptest! {
        #[test]
        fn arbitrary_operations_never_panic_and_fail_atomically(
            ops in prop::collection::vec(arb_operation(), 0..5),
            bodies in arb_json(),
        ) {
            for request in [body(Value::Array(ops.clone())), bodies.clone()] {
                let Ok(parsed) = parse_request(&request) else { continue };
                for (rt, original) in [(&USER, user()), (&GROUP, group())] {
                    let mut resource = original.clone();
                    match apply(&mut resource, &parsed, rt) {
                        Ok(applied) => prop_assert_eq!(applied.changed, resource != original),
                        Err(_) => prop_assert_eq!(&resource, &original),
                    }
                }
            }
        }
    }

    #[test]
    fn a_path_naming_the_whole_extension_adds_replaces_and_removes_it() {
        let added = patched_user(json!([
            {"op": "add", "path": ENTERPRISE_URN, "value": {"department": "Sales"}},
        ]));
        let mut replaced = added.clone();
        patch(
            &mut replaced,
            &USER,
            json!([{"op": "replace", "path": ENTERPRISE_URN, "value": {"employeeNumber": "7"}}]),
        )
        .unwrap();
        let mut removed = replaced.clone();
        patch(
            &mut removed,
            &USER,
            json!([{"op": "remove", "path": ENTERPRISE_URN}]),
        )
        .unwrap();

        assert_eq!(added[ENTERPRISE_URN], json!({"department": "Sales"}));
        assert_eq!(
            replaced[ENTERPRISE_URN],
            json!({"department": "Sales", "employeeNumber": "7"})
        );
        assert!(removed.get(ENTERPRISE_URN).is_none());
    }

    #[test]
    fn a_new_manager_keeps_the_ref_sent_with_it() {
        let first = patched_user(json!([
            {"op": "add", "path": format!("{ENTERPRISE_URN}:manager"),
             "value": {"value": "m1", "$ref": "https://x/Users/m1"}},
        ]));
        let mut second = first.clone();
        patch(
            &mut second,
            &USER,
            json!([{"op": "replace", "path": format!("{ENTERPRISE_URN}:manager"),
                    "value": {"$ref": "https://x/Users/m2", "value": "m2"}}]),
        )
        .unwrap();

        assert_eq!(
            first[ENTERPRISE_URN]["manager"],
            json!({"value": "m1", "$ref": "https://x/Users/m1"})
        );
        assert_eq!(
            second[ENTERPRISE_URN]["manager"],
            json!({"value": "m2", "$ref": "https://x/Users/m2"})
        );
    }
}
