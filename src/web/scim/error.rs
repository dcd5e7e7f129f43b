//! The one mapping from failures under `/scim/v2` to RFC 7644 §3.12 error responses.
//!
//! Every SCIM answer that is not a success is `application/scim+json` with `status` as a
//! string. A 401 also carries `WWW-Authenticate: Bearer`; 5xx bodies are fixed and their
//! cause goes to the log once, here.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::scim::bulk::BulkError;
use crate::scim::error::Error as ScimError;
use crate::scim::resource;
use crate::store;
use crate::telemetry::error_chain;

/// Media type of every SCIM response body.
pub const SCIM_JSON: &str = "application/scim+json";

/// URN of the SCIM error message.
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Failures at the SCIM edge.
#[derive(Debug, thiserror::Error)]
pub enum ScimHttpError {
    /// 401: missing, malformed, unknown, revoked or expired token, or a token of another
    /// shop. Deliberately one variant: every case answers the same.
    #[error("The bearer token is missing or not valid for this SCIM endpoint.")]
    Unauthorized,
    /// 404: no such endpoint or resource.
    #[error("{0}")]
    NotFound(String),
    /// 405: the endpoint exists but not for this method.
    #[error("This endpoint does not support the {0} method.")]
    MethodNotAllowed(String),
    /// 403: e.g. a filter on a discovery endpoint (RFC 7644 §4).
    #[error("{0}")]
    Forbidden(String),
    /// 400 `invalidSyntax`: the body is not the JSON the endpoint expects.
    #[error("{0}")]
    InvalidSyntax(String),
    /// 400 `invalidValue`: a query parameter has an unusable value.
    #[error("{0}")]
    InvalidValue(String),
    /// 400 with the given `scimType`, reported by the SCIM domain.
    #[error("{detail}")]
    BadRequest {
        /// RFC 7644 Table 9 keyword.
        scim_type: &'static str,
        /// What was wrong, never the offending value.
        detail: String,
    },
    /// 409 `uniqueness`: a unique attribute is taken.
    #[error("{0}")]
    Conflict(String),
    /// 412: `If-Match` named another version.
    #[error("The resource has changed since the version named in If-Match.")]
    PreconditionFailed,
    /// 429: the token's request rate is over the limit; `Retry-After` says when to retry.
    #[error("Too many requests with this token; retry after the time in Retry-After.")]
    TooManyRequests {
        /// Time until the next request is allowed.
        wait: std::time::Duration,
    },
    /// 413: a Bulk request carries more operations than announced.
    #[error("A bulk request may carry at most {max} operations.")]
    TooManyOperations {
        /// The limit.
        max: usize,
    },
    /// 413: the body exceeds the cap.
    #[error("The request body exceeds {limit} bytes.")]
    PayloadTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// 500: storage failed.
    #[error("storage failure")]
    Store(#[from] store::Error),
}

impl ScimHttpError {
    fn scim_type(&self) -> Option<&'static str> {
        match self {
            Self::InvalidSyntax(_) => Some("invalidSyntax"),
            Self::InvalidValue(_) => Some("invalidValue"),
            Self::BadRequest { scim_type, .. } => Some(scim_type),
            Self::Conflict(_) => Some("uniqueness"),
            _ => None,
        }
    }
}

impl From<ScimError> for ScimHttpError {
    fn from(error: ScimError) -> Self {
        match error {
            ScimError::NotFound => Self::NotFound("No resource with this id.".to_owned()),
            ScimError::PreconditionFailed => Self::PreconditionFailed,
            ScimError::Uniqueness(_) => Self::Conflict(error.to_string()),
            ScimError::Store(inner) => Self::Store(inner),
            other => Self::BadRequest {
                scim_type: other.scim_type().unwrap_or("invalidValue"),
                detail: other.to_string(),
            },
        }
    }
}

impl From<BulkError> for ScimHttpError {
    fn from(error: BulkError) -> Self {
        match error {
            BulkError::InvalidSyntax(detail) => Self::InvalidSyntax(detail),
            BulkError::TooManyOperations { max } => Self::TooManyOperations { max },
            BulkError::Service(inner) => inner.into(),
        }
    }
}

impl From<resource::Error> for ScimHttpError {
    fn from(error: resource::Error) -> Self {
        Self::BadRequest {
            scim_type: error.scim_type(),
            detail: error.to_string(),
        }
    }
}

impl ResponseError for ScimHttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::InvalidSyntax(_) | Self::InvalidValue(_) | Self::BadRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } | Self::TooManyOperations { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = if status.is_server_error() {
            tracing::error!(error.chain = %error_chain(self), "SCIM request failed");
            "The server could not complete the request.".to_owned()
        } else {
            self.to_string()
        };

        let mut response = HttpResponse::build(status);
        response.insert_header((CONTENT_TYPE, SCIM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((WWW_AUTHENTICATE, "Bearer realm=\"SCIM\""));
        }
        if let Self::TooManyRequests { wait } = self {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.insert_header((RETRY_AFTER, seconds.max(1).to_string()));
        }
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": status.as_u16().to_string(),
            "detail": detail,
        });
        if let Some(scim_type) = self.scim_type() {
            body["scimType"] = json!(scim_type);
        }
        response.body(body.to_string())
    }
}
