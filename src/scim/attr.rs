//! Attribute metadata and attribute paths: the vocabulary shared by the schema definitions,
//! the filter and PATCH engines, and attribute projection (RFC 7643 §2, §7).
//!
//! Resources are handled as `serde_json::Value` objects in *canonical form*: core attributes
//! at the top level under their schema spelling (`userName`, `name.givenName`), extension
//! attributes nested in an object keyed by the extension's URN, every multi-valued attribute
//! an array, and unassigned attributes absent (never `null` or `[]`).

use std::fmt;

use serde_json::Value;

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A JSON string.
    String,
    /// `true` or `false`.
    Boolean,
    /// A JSON number with a fraction.
    Decimal,
    /// A JSON number without a fraction.
    Integer,
    /// An `xsd:dateTime` string, e.g. `2026-12-03T10:00:00Z`.
    DateTime,
    /// Base64 text.
    Binary,
    /// A URI string.
    Reference,
    /// An object of sub-attributes.
    Complex,
}

impl AttrType {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// Whether and how a client may write an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the server only; ignored on create/replace input, an error in PATCH.
    ReadOnly,
    /// Freely written.
    ReadWrite,
    /// Written once; later writes must repeat the stored value.
    Immutable,
    /// Written but never returned (e.g. `password`).
    WriteOnly,
}

impl Mutability {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute appears in responses (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, even when excluded.
    Always,
    /// Never.
    Never,
    /// Unless excluded, or another set was requested with `attributes`.
    Default,
    /// Only when named in `attributes`.
    Request,
}

impl Returned {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// How unique values of an attribute must be (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No constraint.
    None,
    /// Unique within the tenant.
    Server,
    /// Unique everywhere.
    Global,
}

impl Uniqueness {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// The definition of one attribute or sub-attribute.
#[derive(Debug, Clone, Copy)]
pub struct AttrDef {
    /// Canonical spelling, e.g. `userName`.
    pub name: &'static str,
    /// Data type.
    pub kind: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// Whether create and replace must supply it.
    pub required: bool,
    /// Whether string comparisons respect case.
    pub case_exact: bool,
    /// Write rules.
    pub mutability: Mutability,
    /// Response rules.
    pub returned: Returned,
    /// Uniqueness rules.
    pub uniqueness: Uniqueness,
    /// Suggested values (e.g. `work`, `home` for `type`).
    pub canonical_values: &'static [&'static str],
    /// For references: what they may point at (`User`, `Group`, `external`, `uri`).
    pub reference_types: &'static [&'static str],
    /// For complex attributes: their sub-attributes.
    pub sub_attributes: &'static [AttrDef],
    /// Human-readable description published in `/Schemas`.
    pub description: &'static str,
}

impl AttrDef {
    /// Finds a sub-attribute by name, ignoring case.
    pub fn sub(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub_attributes
            .iter()
            .find(|attr| attr.name.eq_ignore_ascii_case(name))
    }
}

/// A schema: a URN and its attributes.
#[derive(Debug)]
pub struct SchemaDef {
    /// The schema URN, e.g. `urn:ietf:params:scim:schemas:core:2.0:User`.
    pub id: &'static str,
    /// Short name, e.g. `User`.
    pub name: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: &'static [AttrDef],
}

impl SchemaDef {
    /// Finds a top-level attribute by name, ignoring case.
    pub fn attr(&self, name: &str) -> Option<&'static AttrDef> {
        self.attributes
            .iter()
            .find(|attr| attr.name.eq_ignore_ascii_case(name))
    }
}

/// A resource type: its core schema and its extensions.
#[derive(Debug)]
pub struct ResourceTypeDef {
    /// Name and id, e.g. `User`.
    pub name: &'static str,
    /// Collection path relative to the base URL, e.g. `/Users`.
    pub endpoint: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// The core schema.
    pub schema: &'static SchemaDef,
    /// Extension schemas and whether each is required.
    pub extensions: &'static [(&'static SchemaDef, bool)],
    /// Attributes every resource has (`id`, `externalId`, `meta`; RFC 7643 §3.1).
    pub common: &'static [AttrDef],
}

/// Where an attribute lives once a path has been resolved against a resource type.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The extension URN the attribute is nested under, or `None` for core attributes.
    pub extension: Option<&'static str>,
    /// The top-level attribute.
    pub attr: &'static AttrDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static AttrDef>,
}

impl ResourceTypeDef {
    /// Finds the schema with this URN (core or extension), ignoring case.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static SchemaDef> {
        std::iter::once(self.schema)
            .chain(self.extensions.iter().map(|(schema, _)| *schema))
            .find(|schema| schema.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves a path to its attribute definition. Names and URNs match case-insensitively;
    /// a path without a URN looks in the common attributes, then the core schema.
    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved> {
        let (extension, attr) = match &path.urn {
            None => {
                let attr = self
                    .common
                    .iter()
                    .find(|attr| attr.name.eq_ignore_ascii_case(&path.name))
                    .or_else(|| self.schema.attr(&path.name))?;
                (None, attr)
            }
            Some(urn) => {
                let schema = self.schema_by_urn(urn)?;
                let attr = schema.attr(&path.name)?;
                let extension = (schema.id != self.schema.id).then_some(schema.id);
                (extension, attr)
            }
        };
        let sub = match &path.sub {
            None => None,
            Some(name) => Some(attr.sub(name)?),
        };
        Some(Resolved {
            extension,
            attr,
            sub,
        })
    }
}

/// An attribute path as written in filters, PATCH paths, `sortBy` and `attributes`:
/// `[urn ":"] name ["." sub]` (RFC 7644 §3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// Schema URN prefix, if any, as written.
    pub urn: Option<String>,
    /// Attribute name, as written.
    pub name: String,
    /// Sub-attribute name, as written.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path to a core attribute.
    pub fn core(name: &str) -> Self {
        Self {
            urn: None,
            name: name.to_owned(),
            sub: None,
        }
    }

    /// A path to a sub-attribute of a core attribute.
    pub fn core_sub(name: &str, sub: &str) -> Self {
        Self {
            urn: None,
            name: name.to_owned(),
            sub: Some(sub.to_owned()),
        }
    }
}

/// Why an attribute path or value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttrError {
    /// The path is not `[urn:]name[.sub]` with valid names.
    #[error("invalid attribute path `{0}`")]
    InvalidPath(String),
    /// The value does not fit the attribute's type.
    #[error("invalid value for `{attr}`: {reason}")]
    InvalidValue {
        /// Attribute name.
        attr: String,
        /// What is wrong, without echoing the value.
        reason: String,
    },
}

/// `ATTRNAME = ALPHA *(nameChar)`, with the leading `$` that errata 8924 allows for `$ref`.
fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = match chars.next() {
        Some('$') => chars
            .clone()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic()),
        Some(c) => c.is_ascii_alphabetic(),
        None => false,
    };
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl AttrPath {
    /// Parses `[urn:]name[.sub]`. A URN prefix is recognised by its `urn:` start; the name
    /// is what follows its last `:`. Sub-attributes nest one level only.
    pub fn parse(text: &str) -> Result<Self, AttrError> {
        let invalid = || AttrError::InvalidPath(text.chars().take(200).collect());
        let text = text.trim();
        let (urn, rest) = if text.len() > 4 && text[..4].eq_ignore_ascii_case("urn:") {
            let split = text.rfind(':').ok_or_else(invalid)?;
            (Some(text[..split].to_owned()), &text[split + 1..])
        } else {
            (None, text)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(name) || sub.is_some_and(|sub| !is_attr_name(sub)) {
            return Err(invalid());
        }
        Ok(Self {
            urn,
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }
}

/// Brings one client-supplied value into canonical form for `def`.
///
/// Object keys are spelled as in the schema (unknown sub-attributes dropped), booleans sent
/// as `"True"`/`"false"` strings are coerced, and every type is checked. `null` stays
/// `null` (meaning "unassign").
/// For a multi-valued attribute, `value` is one element, not the array.
pub fn coerce_value(def: &AttrDef, value: &Value) -> Result<Value, AttrError> {
    let invalid = |reason: &str| AttrError::InvalidValue {
        attr: def.name.to_owned(),
        reason: reason.to_owned(),
    };
    match (def.kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (AttrType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (AttrType::Boolean, Value::String(text)) => match text.trim().to_ascii_lowercase().as_str()
        {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid("expected a boolean")),
        },
        (AttrType::Boolean, _) => Err(invalid("expected a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(value.clone()),
        (AttrType::Integer, _) => Err(invalid("expected an integer")),
        (AttrType::Decimal, Value::Number(_)) => Ok(value.clone()),
        (AttrType::Decimal, _) => Err(invalid("expected a number")),
        (AttrType::DateTime, Value::String(text)) => {
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| invalid("expected an RFC 3339 date-time"))?;
            Ok(value.clone())
        }
        (AttrType::DateTime, _) => Err(invalid("expected an RFC 3339 date-time string")),
        (AttrType::String | AttrType::Binary | AttrType::Reference, Value::String(_)) => {
            Ok(value.clone())
        }
        (AttrType::String | AttrType::Binary | AttrType::Reference, _) => {
            Err(invalid("expected a string"))
        }
        (AttrType::Complex, Value::Object(fields)) => {
            let mut canonical = serde_json::Map::new();
            for (key, field) in fields {
                let Some(sub) = def.sub(key) else { continue };
                let coerced = coerce_value(sub, field)?;
                if !coerced.is_null() {
                    canonical.insert(sub.name.to_owned(), coerced);
                }
            }
            Ok(Value::Object(canonical))
        }
        (AttrType::Complex, _) => Err(invalid("expected an object")),
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_with_and_without_urn_and_sub_attribute() {
        let plain = AttrPath::parse("userName").unwrap();
        let sub = AttrPath::parse("name.givenName").unwrap();
        let urn = AttrPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .unwrap();

        assert_eq!(plain, AttrPath::core("userName"));
        assert_eq!(sub, AttrPath::core_sub("name", "givenName"));
        assert_eq!(
            urn.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(
            (urn.name.as_str(), urn.sub.as_deref()),
            ("manager", Some("value"))
        );
        assert_eq!(
            urn.to_string(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
        );
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for text in [
            "",
            "1abc",
            "a.b.c",
            "name.",
            ".name",
            "na me",
            "urn:",
            "emails[type]",
        ] {
            assert!(AttrPath::parse(text).is_err(), "{text:?}");
        }
        assert!(AttrPath::parse("members.$ref").is_ok());
    }

    const ACTIVE: AttrDef = AttrDef {
        name: "active",
        kind: AttrType::Boolean,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description: "",
    };

    #[test]
    fn booleans_sent_as_strings_are_coerced_in_any_case() {
        assert_eq!(
            coerce_value(&ACTIVE, &Value::from("False")).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            coerce_value(&ACTIVE, &Value::from("TRUE")).unwrap(),
            Value::Bool(true)
        );
        assert!(coerce_value(&ACTIVE, &Value::from("yes")).is_err());
        assert!(coerce_value(&ACTIVE, &Value::from(1)).is_err());
    }
}
