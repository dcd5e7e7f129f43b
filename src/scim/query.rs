//! Translation of a SCIM filter into the part the database can evaluate on indexed columns.
//!
//! The result is a [`Selection`] of rows plus whether that selection is *exact*, i.e. equal
//! to what [`Filter::matches`] would keep. When it is not, the service loads the selected
//! rows and confirms each with `matches`, so a translation may narrow too little but never
//! too much.
//!
//! Translated (always `eq` with a string or boolean operand, combined by `and`/`or`):
//! - Users: `id`, `userName` (via `user_name_ci`), `externalId` and `active` exactly;
//!   `emails.value`, `emails eq`, `emails[... value eq "x" ...]` (and Entra's
//!   `emails[type eq "work"].value eq "x"`) through the index of every address, inexactly
//!   (the type, and case rules beyond lowercasing, are confirmed in memory);
//!   `displayName` through SQL `LOWER`, inexactly, and only for ASCII operands.
//! - Groups: `id`, `displayName` (via `display_name_ci`) and `externalId`, exactly.
//!
//! Everything else (`ne`, `co`, `not`, `pr`, other attributes, extension attributes) is
//! left to the in-memory check.
//!
//! # Known limitations
//! - The SQL narrowing of a user `displayName` lowercases ASCII only; a stored name that
//!   equals the operand only under Unicode case folding (e.g. with a Kelvin sign) is missed.

use serde_json::Value;

use crate::scim::attr::ResourceTypeDef;
use crate::scim::filter::{self, CompareOp, Filter};
use crate::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use crate::store::{Selection, groups, users};

/// Most alternatives an `or` (or an `and` of `or`s) is expanded into; beyond, the term is
/// left to the in-memory check.
const MAX_ALTERNATIVES: usize = 64;

/// What the database can select for a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowed<K> {
    /// The rows to load.
    pub selection: Selection<K>,
    /// Whether the selection is exactly the filter's result.
    pub exact: bool,
}

/// The SQL part of a filter on Users.
pub fn users(filter: &Filter) -> Narrowed<users::Key> {
    narrowed(filter, &|term| user_leaf(term))
}

/// The SQL part of a filter on Groups.
pub fn groups(filter: &Filter) -> Narrowed<groups::Key> {
    narrowed(filter, &|term| group_leaf(term))
}

/// A translated term: the key and whether it is exact.
type Leaf<K> = Option<(K, bool)>;

/// Alternatives (each a conjunction) and exactness; `None` means "cannot narrow".
type Dnf<K> = Option<(Vec<Vec<K>>, bool)>;

fn narrowed<K: Clone>(filter: &Filter, leaf: &dyn Fn(&Filter) -> Leaf<K>) -> Narrowed<K> {
    match dnf(filter, leaf) {
        Some((alternatives, exact)) => Narrowed {
            selection: Selection::AnyOf(alternatives),
            exact,
        },
        None => Narrowed {
            selection: Selection::All,
            exact: false,
        },
    }
}

fn dnf<K: Clone>(filter: &Filter, leaf: &dyn Fn(&Filter) -> Leaf<K>) -> Dnf<K> {
    match filter {
        Filter::And(items) => {
            let mut alternatives: Vec<Vec<K>> = vec![Vec::new()];
            let mut exact = true;
            let mut narrowed_any = false;
            for item in items {
                let Some((item_alternatives, item_exact)) = dnf(item, leaf) else {
                    exact = false;
                    continue;
                };
                if alternatives.len() * item_alternatives.len() > MAX_ALTERNATIVES {
                    exact = false;
                    continue;
                }
                alternatives = alternatives
                    .iter()
                    .flat_map(|left| {
                        item_alternatives.iter().map(move |right| {
                            let mut both = left.clone();
                            both.extend(right.iter().cloned());
                            both
                        })
                    })
                    .collect();
                exact &= item_exact;
                narrowed_any = true;
            }
            narrowed_any.then_some((alternatives, exact))
        }
        Filter::Or(items) => {
            let mut alternatives = Vec::new();
            let mut exact = true;
            for item in items {
                let (item_alternatives, item_exact) = dnf(item, leaf)?;
                alternatives.extend(item_alternatives);
                exact &= item_exact;
            }
            (alternatives.len() <= MAX_ALTERNATIVES).then_some((alternatives, exact))
        }
        other => leaf(other).map(|(key, exact)| (vec![vec![key]], exact)),
    }
}

/// The canonical name and sub-attribute name of an `eq` term's attribute, and its operand.
fn eq_term<'f>(
    term: &'f Filter,
    rt: &ResourceTypeDef,
) -> Option<(&'static str, Option<&'static str>, &'f Value)> {
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value,
    } = term
    else {
        return None;
    };
    let resolved = filter::resolve_lenient(rt, path)?;
    if resolved.extension.is_some() {
        return None;
    }
    Some((resolved.attr.name, resolved.sub.map(|sub| sub.name), value))
}

fn user_leaf(term: &Filter) -> Leaf<users::Key> {
    if let Filter::ValuePath { path, filter } = term {
        let resolved = filter::resolve_lenient(&USER_RESOURCE, path)?;
        if resolved.extension.is_some() || resolved.attr.name != "emails" {
            return None;
        }
        return email_in_value_filter(filter).map(|email| (users::Key::Email(email), false));
    }

    let (name, sub, value) = eq_term(term, &USER_RESOURCE)?;
    match (name, sub, value) {
        ("id", None, Value::String(id)) => Some((users::Key::Id(id.clone()), true)),
        ("userName", None, Value::String(name)) => Some((users::Key::UserName(name.clone()), true)),
        ("externalId", None, Value::String(id)) => Some((users::Key::ExternalId(id.clone()), true)),
        // `active eq true` is only a narrowing: a user whose `active` was unassigned has
        // `true` in the column but no value for the filter to match.
        ("active", None, Value::Bool(active)) => Some((users::Key::Active(*active), !*active)),
        ("emails", None | Some("value"), Value::String(email)) => {
            Some((users::Key::Email(email.clone()), false))
        }
        ("displayName", None, Value::String(text)) if text.is_ascii() => Some((
            users::Key::DisplayNameAsciiLower(text.to_ascii_lowercase()),
            false,
        )),
        _ => None,
    }
}

/// The operand of a `value eq "…"` that a value filter on `emails` requires.
fn email_in_value_filter(filter: &Filter) -> Option<String> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(email),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(email.clone())
        }
        Filter::And(items) => items.iter().find_map(email_in_value_filter),
        _ => None,
    }
}

fn group_leaf(term: &Filter) -> Leaf<groups::Key> {
    let (name, sub, value) = eq_term(term, &GROUP_RESOURCE)?;
    match (name, sub, value) {
        ("id", None, Value::String(id)) => Some((groups::Key::Id(id.clone()), true)),
        ("displayName", None, Value::String(name)) => {
            Some((groups::Key::DisplayName(name.clone()), true))
        }
        ("externalId", None, Value::String(id)) => {
            Some((groups::Key::ExternalId(id.clone()), true))
        }
        _ => None,
    }
}

/// Whether a filter names the attribute `name` (a core attribute) anywhere.
pub fn mentions(filter: &Filter, name: &str) -> bool {
    match filter {
        Filter::And(items) | Filter::Or(items) => items.iter().any(|item| mentions(item, name)),
        Filter::Not(inner) => mentions(inner, name),
        Filter::Present(path) | Filter::Compare { path, .. } | Filter::ValuePath { path, .. } => {
            path.name.eq_ignore_ascii_case(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Narrowed<users::Key> {
        users(&filter::parse(text).unwrap())
    }

    #[test]
    fn user_name_eq_is_exact_and_case_insensitive_in_sql() {
        let narrowed = user(r#"UserName EQ "Ada@Example.com""#);

        assert_eq!(
            narrowed,
            Narrowed {
                selection: Selection::AnyOf(vec![vec![users::Key::UserName(
                    "Ada@Example.com".into()
                )]]),
                exact: true,
            }
        );
    }

    #[test]
    fn entra_work_email_filter_narrows_by_the_address_index_inexactly() {
        let narrowed = user(r#"emails[type eq "work"].value eq "a@x.org""#);

        assert_eq!(
            narrowed.selection,
            Selection::AnyOf(vec![vec![users::Key::Email("a@x.org".into())]])
        );
        assert!(!narrowed.exact);
    }

    #[test]
    fn an_and_with_an_untranslatable_term_narrows_but_is_not_exact() {
        let narrowed = user(r#"externalId eq "e1" and name.familyName eq "Lovelace""#);

        assert_eq!(
            narrowed.selection,
            Selection::AnyOf(vec![vec![users::Key::ExternalId("e1".into())]])
        );
        assert!(!narrowed.exact);
    }

    #[test]
    fn an_or_of_translatable_terms_is_a_list_of_alternatives() {
        let narrowed = user(r#"id eq "a" or (active eq false and userName eq "b")"#);

        assert_eq!(
            narrowed.selection,
            Selection::AnyOf(vec![
                vec![users::Key::Id("a".into())],
                vec![users::Key::Active(false), users::Key::UserName("b".into())],
            ])
        );
        assert!(narrowed.exact);
    }

    #[test]
    fn an_or_with_an_untranslatable_term_selects_everything() {
        let narrowed = user(r#"id eq "a" or title co "x""#);

        assert_eq!(narrowed.selection, Selection::All);
        assert!(!narrowed.exact);
    }

    #[test]
    fn group_display_name_is_exact() {
        let narrowed = groups(&filter::parse(r#"displayName eq "Sales""#).unwrap());

        assert!(narrowed.exact);
        assert!(mentions(
            &filter::parse(r#"members[value eq "x"]"#).unwrap(),
            "members"
        ));
        assert!(!mentions(
            &filter::parse(r#"displayName eq "members""#).unwrap(),
            "members"
        ));
    }
}
