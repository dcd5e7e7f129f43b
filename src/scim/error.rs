//! The SCIM layer's error: what the resource service reports, with the HTTP status and the
//! RFC 7644 §3.12 `scimType` each variant answers with.
//!
//! Details name attributes and operations, never attribute values: SCIM bodies are PII.

use crate::scim::{filter, patch, resource};
use crate::store;

/// Why a SCIM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No resource of this type has that id in this shop. 404, no scimType.
    #[error("resource not found")]
    NotFound,
    /// A unique attribute's value is taken in this shop. 409, scimType `uniqueness`.
    #[error("uniqueness: {0}")]
    Uniqueness(String),
    /// A value is missing, of the wrong type, or refers to nothing. 400, scimType
    /// `invalidValue`.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The body is not well-formed. 400, scimType `invalidSyntax`.
    #[error("invalid syntax: {0}")]
    InvalidSyntax(String),
    /// The filter or `sortBy` is not valid for this resource type. 400, scimType
    /// `invalidFilter`.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// A PATCH path or attribute path is malformed or names nothing. 400, scimType
    /// `invalidPath`.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// A PATCH path matched nothing it could change. 400, scimType `noTarget`.
    #[error("no target: {0}")]
    NoTarget(String),
    /// The request writes a read-only or immutable attribute, or removes a required one.
    /// 400, scimType `mutability`.
    #[error("mutability: {0}")]
    Mutability(String),
    /// The query would have to examine more resources than the service allows. 400,
    /// scimType `tooMany`.
    #[error("too many: {0}")]
    TooMany(String),
    /// `If-Match` names a version other than the current one. 412, no scimType.
    #[error("the resource has changed: If-Match does not match its version")]
    PreconditionFailed,
    /// The database failed. 500, no scimType; the cause is for the log only.
    #[error("storage failure")]
    Store(#[source] store::Error),
}

/// Result alias of the SCIM layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Uniqueness(_) => 409,
            Self::InvalidValue(_)
            | Self::InvalidSyntax(_)
            | Self::InvalidFilter(_)
            | Self::InvalidPath(_)
            | Self::NoTarget(_)
            | Self::Mutability(_)
            | Self::TooMany(_) => 400,
            Self::PreconditionFailed => 412,
            Self::Store(_) => 500,
        }
    }

    /// The RFC 7644 §3.12 `scimType`, for the errors that carry one.
    pub fn scim_type(&self) -> Option<&'static str> {
        match self {
            Self::Uniqueness(_) => Some("uniqueness"),
            Self::InvalidValue(_) => Some("invalidValue"),
            Self::InvalidSyntax(_) => Some("invalidSyntax"),
            Self::InvalidFilter(_) => Some("invalidFilter"),
            Self::InvalidPath(_) => Some("invalidPath"),
            Self::NoTarget(_) => Some("noTarget"),
            Self::Mutability(_) => Some("mutability"),
            Self::TooMany(_) => Some("tooMany"),
            Self::NotFound | Self::PreconditionFailed | Self::Store(_) => None,
        }
    }

    /// Builds the variant for a `scimType` reported by a lower module, with its detail.
    fn from_scim_type(scim_type: &str, detail: String) -> Self {
        match scim_type {
            "invalidSyntax" => Self::InvalidSyntax(detail),
            "invalidFilter" => Self::InvalidFilter(detail),
            "invalidPath" => Self::InvalidPath(detail),
            "noTarget" => Self::NoTarget(detail),
            "mutability" => Self::Mutability(detail),
            "uniqueness" => Self::Uniqueness(detail),
            "tooMany" => Self::TooMany(detail),
            _ => Self::InvalidValue(detail),
        }
    }
}

/// A unique-index violation becomes `uniqueness` naming the attribute; anything else is a
/// storage failure.
impl From<store::Error> for Error {
    fn from(error: store::Error) -> Self {
        match error {
            store::Error::UniqueViolation(store::users::USER_NAME_INDEX) => {
                Self::Uniqueness("userName is already taken in this shop".to_owned())
            }
            store::Error::UniqueViolation(store::groups::DISPLAY_NAME_INDEX) => {
                Self::Uniqueness("displayName is already taken in this shop".to_owned())
            }
            other => Self::Store(other),
        }
    }
}

impl From<resource::Error> for Error {
    fn from(error: resource::Error) -> Self {
        Self::from_scim_type(error.scim_type(), error.to_string())
    }
}

impl From<filter::Error> for Error {
    fn from(error: filter::Error) -> Self {
        Self::from_scim_type(error.scim_type(), error.to_string())
    }
}

impl From<patch::Error> for Error {
    fn from(error: patch::Error) -> Self {
        Self::from_scim_type(error.scim_type(), error.to_string())
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Store(store::Error::Db(error))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::USER_RESOURCE;

    #[test]
    fn every_variant_maps_to_its_status_and_scim_type() {
        let cases = [
            (Error::NotFound, 404, None),
            (Error::Uniqueness(String::new()), 409, Some("uniqueness")),
            (
                Error::InvalidValue(String::new()),
                400,
                Some("invalidValue"),
            ),
            (
                Error::InvalidSyntax(String::new()),
                400,
                Some("invalidSyntax"),
            ),
            (
                Error::InvalidFilter(String::new()),
                400,
                Some("invalidFilter"),
            ),
            (Error::InvalidPath(String::new()), 400, Some("invalidPath")),
            (Error::NoTarget(String::new()), 400, Some("noTarget")),
            (Error::Mutability(String::new()), 400, Some("mutability")),
            (Error::TooMany(String::new()), 400, Some("tooMany")),
            (Error::PreconditionFailed, 412, None),
            (Error::Store(store::Error::Other(String::new())), 500, None),
        ];

        for (error, status, scim_type) in cases {
            assert_eq!(error.status(), status, "{error:?}");
            assert_eq!(error.scim_type(), scim_type, "{error:?}");
        }
    }

    #[test]
    fn lower_module_errors_keep_their_scim_type_without_echoing_values() {
        let invalid = resource::normalize(&json!({ "userName": 1234567 }), &USER_RESOURCE)
            .map_err(Error::from)
            .unwrap_err();
        let filter = filter::parse(r#"userName eq "secret" and"#)
            .map_err(Error::from)
            .unwrap_err();
        let patch = patch::parse_request(&json!({ "Operations": [{ "op": "remove" }] }))
            .map_err(Error::from)
            .unwrap_err();

        assert_eq!(invalid.scim_type(), Some("invalidValue"));
        assert!(!invalid.to_string().contains("1234567"));
        assert_eq!(filter.scim_type(), Some("invalidFilter"));
        assert!(!filter.to_string().contains("secret"));
        assert_eq!(patch.scim_type(), Some("noTarget"));
    }

    #[test]
    fn the_user_name_index_violation_is_a_uniqueness_conflict() {
        let error = Error::from(store::Error::UniqueViolation(store::users::USER_NAME_INDEX));

        assert_eq!(error.status(), 409);
        assert!(error.to_string().contains("userName"));
    }
}
