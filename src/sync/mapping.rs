//! From a SCIM user to the customer Shopify should hold: the `customerSet` input, the tags
//! the app owns on it, and a fingerprint of what would be written.
//!
//! Defaults: email is the primary email, else the first, else `userName` when it is an
//! email address; first and last name are `name.givenName` and `name.familyName`; phone is
//! the primary phone number, else the first, normalised to E.164 (or left out with a
//! warning); locale is `locale`, else `preferredLanguage`; addresses come from `addresses`.
//! A shop may name another source per field ([`SourcePath`]).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::sync::settings::SyncSettings;

/// The URN of the enterprise extension, which a source path may start with.
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Attributes a source path may read: those that can hold customer data.
const READABLE: &[&str] = &[
    "username",
    "displayname",
    "nickname",
    "title",
    "usertype",
    "locale",
    "preferredlanguage",
    "timezone",
    "externalid",
    "name",
    "emails",
    "phonenumbers",
    "addresses",
    "employeenumber",
    "costcenter",
    "organization",
    "division",
    "department",
];

/// Which element of a multi-valued attribute a path picks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pick {
    /// The primary element, else the first.
    Primary,
    /// The first element whose `type` equals this (case-insensitively).
    Type(String),
}

/// Where a customer field comes from: `attr`, `attr.sub`, `attr[type eq "work"].sub`,
/// `attr[primary eq true].sub`, optionally after the enterprise extension's URN and `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePath {
    extension: bool,
    attribute: String,
    pick: Option<Pick>,
    sub: Option<String>,
}

impl SourcePath {
    /// Parses and checks a path; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (extension, rest) = match text.get(..ENTERPRISE.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(ENTERPRISE) => {
                let rest = text[ENTERPRISE.len()..]
                    .strip_prefix(':')
                    .ok_or("expected `:` after the extension URN")?;
                (true, rest)
            }
            _ => (false, text),
        };
        let (head, pick, tail) = match rest.split_once('[') {
            Some((head, filtered)) => {
                let (inside, tail) = filtered.split_once(']').ok_or("a `[` without its `]`")?;
                (head, Some(parse_pick(inside)?), tail)
            }
            None => match rest.split_once('.') {
                Some((head, _)) => (head, None, &rest[head.len()..]),
                None => (rest, None, ""),
            },
        };
        let sub = match tail {
            "" => None,
            tail => Some(
                tail.strip_prefix('.')
                    .filter(|sub| is_name(sub))
                    .ok_or("expected `.subAttribute` after the attribute")?
                    .to_owned(),
            ),
        };
        if !is_name(head) || !READABLE.contains(&head.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "`{head}` is not an attribute that can feed a customer"
            ));
        }
        Ok(Self {
            extension,
            attribute: head.to_owned(),
            pick,
            sub,
        })
    }

    /// The text value the path selects in `user`, if any.
    pub fn read(&self, user: &Value) -> Option<String> {
        let container = if self.extension {
            field(user, ENTERPRISE)?
        } else {
            user
        };
        let mut value = field(container, &self.attribute)?;
        if let Value::Array(items) = value {
            value = pick(items, self.pick.as_ref().unwrap_or(&Pick::Primary))?;
        }
        if let Some(sub) = &self.sub {
            value = field(value, sub)?;
        }
        match value {
            Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

fn parse_pick(inside: &str) -> Result<Pick, String> {
    let words: Vec<&str> = inside.split_whitespace().collect();
    match words.as_slice() {
        [attr, op, value] if attr.eq_ignore_ascii_case("type") && op.eq_ignore_ascii_case("eq") => {
            let value = value
                .strip_prefix('"')
                .and_then(|value| value.strip_suffix('"'))
                .ok_or("the type must be a quoted string")?;
            Ok(Pick::Type(value.to_owned()))
        }
        [attr, op, value]
            if attr.eq_ignore_ascii_case("primary")
                && op.eq_ignore_ascii_case("eq")
                && value.eq_ignore_ascii_case("true") =>
        {
            Ok(Pick::Primary)
        }
        [attr] if attr.eq_ignore_ascii_case("primary") => Ok(Pick::Primary),
        _ => Err("only `[type eq \"...\"]` and `[primary eq true]` may select a value".to_owned()),
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// A member of an object by case-insensitive name.
fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn pick<'a>(items: &'a [Value], rule: &Pick) -> Option<&'a Value> {
    match rule {
        Pick::Primary => items
            .iter()
            .find(|item| field(item, "primary").is_some_and(is_true))
            .or_else(|| items.first()),
        Pick::Type(kind) => items.iter().find(|item| {
            field(item, "type")
                .and_then(Value::as_str)
                .is_some_and(|value| value.eq_ignore_ascii_case(kind))
        }),
    }
}

fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::String(text) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The customer a user should be, as `CustomerSetInput`, with warnings about values that
/// had to be left out (never the values themselves).
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredCustomer {
    /// The `customerSet` input.
    pub input: Value,
    /// What could not be mapped.
    pub warnings: Vec<String>,
}

impl DesiredCustomer {
    /// SHA-256 of the input's canonical JSON (keys sorted), to skip pushes that would
    /// change nothing.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.input.to_string().as_bytes()))
    }

    /// The email the customer will have, if any.
    pub fn email(&self) -> Option<&str> {
        self.input["email"].as_str()
    }
}

fn source(path: Option<&String>, defaults: &[&str]) -> Vec<SourcePath> {
    match path {
        Some(path) => SourcePath::parse(path).into_iter().collect(),
        None => defaults
            .iter()
            .filter_map(|path| SourcePath::parse(path).ok())
            .collect(),
    }
}

fn first_of(sources: &[SourcePath], user: &Value) -> Option<String> {
    sources.iter().find_map(|source| source.read(user))
}

/// Computes the customer `user` (canonical SCIM JSON) should be under `settings`.
pub fn desired_customer(user: &Value, settings: &SyncSettings) -> DesiredCustomer {
    let mapping = &settings.mapping;
    let mut input = Map::new();
    let mut warnings = Vec::new();

    let email = first_of(
        &source(mapping.email.as_ref(), &["emails[primary].value"]),
        user,
    )
    .or_else(|| {
        mapping.email.is_none().then(|| {
            SourcePath::parse("userName")
                .ok()
                .and_then(|path| path.read(user))
                .filter(|name| looks_like_email(name))
        })?
    });
    match email {
        Some(email) if looks_like_email(&email) => {
            input.insert("email".to_owned(), json!(email.to_lowercase()));
        }
        Some(_) => warnings.push("the email address is not valid; it was left out".to_owned()),
        None => {}
    }
    let text_fields = [
        (
            "firstName",
            source(mapping.first_name.as_ref(), &["name.givenName"]),
        ),
        (
            "lastName",
            source(mapping.last_name.as_ref(), &["name.familyName"]),
        ),
        (
            "locale",
            source(mapping.locale.as_ref(), &["locale", "preferredLanguage"]),
        ),
        ("note", source(mapping.note.as_ref(), &[])),
    ];
    for (key, sources) in text_fields {
        if let Some(value) = first_of(&sources, user) {
            input.insert(key.to_owned(), json!(value));
        }
    }
    let phone_sources = source(mapping.phone.as_ref(), &["phoneNumbers[primary].value"]);
    if let Some(phone) = first_of(&phone_sources, user) {
        match normalize_phone(&phone) {
            Some(e164) => {
                input.insert("phone".to_owned(), json!(e164));
            }
            None => {
                warnings.push("the phone number is not in E.164 form; it was left out".to_owned())
            }
        }
    }
    let addresses = addresses(user);
    if !addresses.is_empty() {
        input.insert("addresses".to_owned(), Value::Array(addresses));
    }

    DesiredCustomer {
        input: Value::Object(input),
        warnings,
    }
}

fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !text.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && domain
            .split_once('.')
            .is_some_and(|(name, tld)| !name.is_empty() && !tld.is_empty())
}

/// A phone number in E.164 (`+` and 7 to 15 digits): separators removed, a leading `00`
/// read as `+`; `None` when it is not one.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let compact: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
        .collect();
    let digits = compact
        .strip_prefix('+')
        .or_else(|| compact.strip_prefix("00"))?;
    let valid = (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then(|| format!("+{digits}"))
}

/// SCIM `addresses` as Shopify mailing addresses, primary first.
fn addresses(user: &Value) -> Vec<Value> {
    let Some(Value::Array(items)) = field(user, "addresses") else {
        return Vec::new();
    };
    let mut sorted: Vec<&Value> = items.iter().collect();
    sorted.sort_by_key(|item| !field(item, "primary").is_some_and(is_true));
    sorted
        .into_iter()
        .filter_map(|item| {
            let text = |name: &str| field(item, name).and_then(Value::as_str).map(str::trim);
            let mut address = Map::new();
            for (from, to) in [
                ("streetAddress", "address1"),
                ("locality", "city"),
                ("region", "province"),
                ("postalCode", "zip"),
            ] {
                if let Some(value) = text(from).filter(|value| !value.is_empty()) {
                    address.insert(to.to_owned(), json!(value));
                }
            }
            if let Some(country) = text("country").filter(|c| c.len() == 2) {
                address.insert("countryCode".to_owned(), json!(country.to_uppercase()));
            }
            (!address.is_empty()).then_some(Value::Object(address))
        })
        .collect()
}

/// The tag of a group: the shop's choice, else the prefix and a slug of its `displayName`.
pub fn group_tag(settings: &SyncSettings, group_id: &str, display_name: &str) -> Option<String> {
    if let Some(tag) = settings.tags.groups.get(group_id) {
        return Some(tag.trim().to_owned());
    }
    let slug = slug(display_name);
    (!slug.is_empty()).then(|| format!("{}{slug}", settings.tags.group_prefix))
}

/// Lowercase letters and digits, other runs of characters as one `-`.
pub fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_alphanumeric() {
            slug.extend(c.to_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(200).collect()
}

/// Whether the user is active, as the SCIM store counts it: unless `active` is false.
pub fn is_active(user: &Value) -> bool {
    field(user, "active")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// The tags the app should have on the customer: the creation tags, then either the group
/// tags (active user) or the inactive tag (inactive or deleted user).
pub fn desired_tags(user: Option<&Value>, settings: &SyncSettings) -> BTreeSet<String> {
    let mut tags: BTreeSet<String> = settings
        .tags
        .on_create
        .iter()
        .map(|tag| tag.trim().to_owned())
        .collect();
    if !user.is_some_and(is_active) {
        tags.insert(settings.tags.inactive.trim().to_owned());
        return tags;
    }
    let groups = user
        .and_then(|user| field(user, "groups"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for group in groups {
        let id = field(group, "value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let display = field(group, "display")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(tag) = group_tag(settings, id, display) {
            tags.insert(tag);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Value {
        json!({
            "userName": "ada",
            "name": { "givenName": "Ada", "familyName": "Lovelace" },
            "emails": [
                { "value": "ada@home.example", "type": "home" },
                { "value": "Ada@Work.example", "type": "work", "primary": true },
            ],
            "phoneNumbers": [{ "value": "+44 20 7946 0000", "type": "work" }],
            "locale": "en-GB",
            "title": "Countess",
            "addresses": [{ "streetAddress": "1 Main St", "locality": "London",
                            "postalCode": "N1", "country": "gb", "primary": true }],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "employeeNumber": "42" },
            "groups": [{ "value": "g1", "display": "Gold Members!" }],
            "active": true,
        })
    }

    #[test]
    fn the_default_mapping_fills_every_customer_field() {
        let desired = desired_customer(&user(), &SyncSettings::default());

        assert_eq!(
            desired.input,
            json!({
                "email": "ada@work.example", "firstName": "Ada", "lastName": "Lovelace",
                "phone": "+442079460000", "locale": "en-GB",
                "addresses": [{ "address1": "1 Main St", "city": "London", "zip": "N1",
                                "countryCode": "GB" }],
            })
        );
        assert!(desired.warnings.is_empty());
    }

    #[test]
    fn a_user_name_that_is_an_email_stands_in_for_a_missing_email() {
        let desired = desired_customer(
            &json!({ "userName": "bob@example.com" }),
            &SyncSettings::default(),
        );

        assert_eq!(desired.email(), Some("bob@example.com"));
    }

    #[test]
    fn a_phone_that_is_not_e164_is_left_out_with_a_warning_that_does_not_repeat_it() {
        let user = json!({ "userName": "x", "phoneNumbers": [{ "value": "555-1234" }] });

        let desired = desired_customer(&user, &SyncSettings::default());

        assert!(desired.input.get("phone").is_none());
        assert_eq!(desired.warnings.len(), 1);
        assert!(!desired.warnings[0].contains("555"));
    }

    #[test]
    fn the_shop_may_map_fields_from_other_attributes() {
        let settings = SyncSettings::parse(&json!({ "mapping": {
            "email": "emails[type eq \"home\"].value",
            "note": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "first_name": "title",
        }}))
        .unwrap();

        let desired = desired_customer(&user(), &settings);

        assert_eq!(desired.email(), Some("ada@home.example"));
        assert_eq!(desired.input["note"], "42");
        assert_eq!(desired.input["firstName"], "Countess");
    }

    #[test]
    fn source_paths_outside_the_grammar_are_refused() {
        for path in [
            "password",
            "emails[value co \"x\"].value",
            "emails[",
            "name..x",
            "",
            "groups",
        ] {
            assert!(SourcePath::parse(path).is_err(), "{path}");
        }
    }

    #[test]
    fn e164_normalisation_accepts_plus_and_double_zero_and_nothing_else() {
        assert_eq!(
            normalize_phone("+1 (555) 010-0000").as_deref(),
            Some("+15550100000")
        );
        assert_eq!(
            normalize_phone("0049 30 1234567").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(normalize_phone("030 1234567"), None);
        assert_eq!(normalize_phone("+12"), None);
    }

    #[test]
    fn an_active_user_gets_creation_and_group_tags_and_an_inactive_one_the_inactive_tag() {
        let settings = SyncSettings::parse(&json!({ "tags": { "on_create": ["scim"] } })).unwrap();
        let mut inactive = user();
        inactive["active"] = json!(false);

        let active_tags = desired_tags(Some(&user()), &settings);
        let inactive_tags = desired_tags(Some(&inactive), &settings);
        let deleted_tags = desired_tags(None, &settings);

        assert_eq!(
            active_tags,
            BTreeSet::from(["scim".to_owned(), "scim-gold-members".to_owned()])
        );
        assert_eq!(
            inactive_tags,
            BTreeSet::from(["scim".to_owned(), "scim-inactive".to_owned()])
        );
        assert_eq!(deleted_tags, inactive_tags);
    }

    #[test]
    fn a_group_may_be_given_its_own_tag() {
        let settings =
            SyncSettings::parse(&json!({ "tags": { "groups": { "g1": "vip" } } })).unwrap();

        assert_eq!(group_tag(&settings, "g1", "Gold").as_deref(), Some("vip"));
        assert_eq!(
            group_tag(&settings, "g2", "  Gold & Silver ").as_deref(),
            Some("scim-gold-silver")
        );
        assert_eq!(group_tag(&settings, "g3", "!!!"), None);
    }

    #[test]
    fn the_fingerprint_changes_with_the_input_only() {
        let a = desired_customer(&user(), &SyncSettings::default());
        let b = desired_customer(&user(), &SyncSettings::default());
        let mut other = user();
        other["name"]["givenName"] = json!("Augusta");

        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(
            a.fingerprint(),
            desired_customer(&other, &SyncSettings::default()).fingerprint()
        );
    }
}
