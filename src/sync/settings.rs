//! A shop's sync settings: the attribute mapping, the tags, the deprovisioning policy and
//! whether existing customers may be adopted.
//!
//! They live under `"sync"` in the shop's settings JSON. Every field has a default, so `{}`
//! is valid; unknown keys and invalid values are rejected when the settings are saved
//! ([`SyncSettings::parse`]), never discovered by a worker.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sync::mapping::SourcePath;

/// Longest tag Shopify accepts.
pub const MAX_TAG_CHARS: usize = 255;

/// What SCIM DELETE does to the customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// Tag the customer inactive and remove the group tags (reversible).
    #[default]
    Tag,
    /// Delete the customer when it has no orders; otherwise tag it.
    DeleteWithoutOrders,
    /// Ask Shopify to erase the customer's data (irreversible).
    Erase,
}

/// Which SCIM attribute feeds each customer field; `None` keeps the default rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingSettings {
    /// Customer email (default: the primary email, else the first, else `userName` when it
    /// is an email address).
    pub email: Option<String>,
    /// First name (default `name.givenName`).
    pub first_name: Option<String>,
    /// Last name (default `name.familyName`).
    pub last_name: Option<String>,
    /// Phone (default: the primary phone number, else the first).
    pub phone: Option<String>,
    /// Locale (default `locale`, else `preferredLanguage`).
    pub locale: Option<String>,
    /// Note (default: none).
    pub note: Option<String>,
}

/// Tags the app adds and owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TagSettings {
    /// Added to every provisioned customer.
    pub on_create: Vec<String>,
    /// Added while the user is inactive or deleted.
    pub inactive: String,
    /// Prefix of a group's default tag (a slug of its `displayName` follows).
    pub group_prefix: String,
    /// Tags of particular groups, by SCIM group id, replacing the default.
    pub groups: BTreeMap<String, String>,
}

impl Default for TagSettings {
    fn default() -> Self {
        Self {
            on_create: Vec::new(),
            inactive: "scim-inactive".to_owned(),
            group_prefix: "scim-".to_owned(),
            groups: BTreeMap::new(),
        }
    }
}

/// The sync settings of one shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSettings {
    /// Customer field sources.
    pub mapping: MappingSettings,
    /// Owned tags.
    pub tags: TagSettings,
    /// What SCIM DELETE does.
    pub on_delete: DeletePolicy,
    /// Whether a customer that already has the user's email is linked to the user (true)
    /// or the push fails visibly (false, the default).
    pub adopt_existing: bool,
}

impl SyncSettings {
    /// Reads and validates the `"sync"` part of a shop's settings JSON.
    pub fn from_shop_settings(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
        match value.get("sync") {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(sync) => Self::parse(sync),
        }
    }

    /// Validates settings as given (the value of `"sync"`).
    pub fn parse(value: &Value) -> Result<Self, String> {
        let settings: Self =
            serde_json::from_value(value.clone()).map_err(|error| error.to_string())?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), String> {
        let mapping = [
            ("mapping.email", &self.mapping.email),
            ("mapping.first_name", &self.mapping.first_name),
            ("mapping.last_name", &self.mapping.last_name),
            ("mapping.phone", &self.mapping.phone),
            ("mapping.locale", &self.mapping.locale),
            ("mapping.note", &self.mapping.note),
        ];
        for (key, path) in mapping {
            if let Some(path) = path {
                SourcePath::parse(path).map_err(|error| format!("{key}: {error}"))?;
            }
        }
        for tag in &self.tags.on_create {
            check_tag("tags.on_create", tag)?;
        }
        check_tag("tags.inactive", &self.tags.inactive)?;
        if self.tags.group_prefix.contains(',') {
            return Err("tags.group_prefix: a tag cannot contain a comma".to_owned());
        }
        for tag in self.tags.groups.values() {
            check_tag("tags.groups", tag)?;
        }
        Ok(())
    }

    /// Writes these settings into a shop's settings JSON, keeping its other parts.
    pub fn store_into(&self, text: &str) -> Result<String, String> {
        let mut value: Value =
            serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
        let Some(object) = value.as_object_mut() else {
            return Err("the shop's settings are not a JSON object".to_owned());
        };
        let sync = serde_json::to_value(self).map_err(|error| error.to_string())?;
        object.insert("sync".to_owned(), sync);
        Ok(value.to_string())
    }
}

fn check_tag(key: &str, tag: &str) -> Result<(), String> {
    let trimmed = tag.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_TAG_CHARS || trimmed.contains(',') {
        return Err(format!(
            "{key}: a tag must be 1 to {MAX_TAG_CHARS} characters without commas"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_settings_mean_the_defaults() {
        let settings = SyncSettings::from_shop_settings("{}").unwrap();

        assert_eq!(settings, SyncSettings::default());
        assert_eq!(settings.tags.inactive, "scim-inactive");
        assert_eq!(settings.on_delete, DeletePolicy::Tag);
        assert!(!settings.adopt_existing);
    }

    #[test]
    fn a_full_override_is_read() {
        let settings = SyncSettings::parse(&json!({
            "mapping": { "email": "emails[type eq \"work\"].value", "note": "title" },
            "tags": { "on_create": ["scim"], "inactive": "left", "groups": { "g1": "vip" } },
            "on_delete": "delete_without_orders",
            "adopt_existing": true,
        }))
        .unwrap();

        assert_eq!(settings.on_delete, DeletePolicy::DeleteWithoutOrders);
        assert_eq!(settings.tags.groups["g1"], "vip");
        assert!(settings.adopt_existing);
    }

    #[test]
    fn invalid_settings_are_refused_with_the_key_that_is_wrong() {
        let cases = [
            (json!({ "colour": "blue" }), "colour"),
            (json!({ "on_delete": "shred" }), "shred"),
            (
                json!({ "mapping": { "email": "emails[" } }),
                "mapping.email",
            ),
            (
                json!({ "mapping": { "phone": "password" } }),
                "mapping.phone",
            ),
            (json!({ "tags": { "inactive": "" } }), "tags.inactive"),
            (
                json!({ "tags": { "on_create": ["a,b"] } }),
                "tags.on_create",
            ),
        ];

        for (value, mentioned) in cases {
            let error = SyncSettings::parse(&value).unwrap_err();

            assert!(error.contains(mentioned), "{value}: {error}");
        }
    }

    #[test]
    fn storing_keeps_the_shop_s_other_settings() {
        let stored = SyncSettings::default()
            .store_into(r#"{"other": 1}"#)
            .unwrap();

        let value: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(value["other"], 1);
        assert_eq!(value["sync"]["tags"]["inactive"], "scim-inactive");
    }
}
