//! The one mapping from errors to HTTP responses for the non-SCIM routes.
//!
//! Client errors answer a small JSON body that says what was wrong. Server errors answer a
//! fixed body; their cause chain goes to the log once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::shopify;
use crate::store;
use crate::telemetry::error_chain;

/// Header telling App Bridge to retry a request with a new session token (`shopify.md` §3.4).
pub const RETRY_INVALID_SESSION: &str = "x-shopify-retry-invalid-session-request";

/// Errors a web handler or middleware can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: no route matches the URL.
    #[error("no resource at this URL")]
    NotFound,
    /// 405: the route exists but not for this method.
    #[error("method not allowed on this URL")]
    MethodNotAllowed,
    /// 413: the body is larger than the configured cap.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// 400: the request could not be read.
    #[error("{0}")]
    BadRequest(String),
    /// 500: the database failed.
    #[error("database failure")]
    Store(#[from] store::Error),
    /// A Shopify-facing operation failed; [`shopify_status`] gives the status.
    #[error(transparent)]
    Shopify(#[from] shopify::Error),
}

/// The HTTP status of each Shopify-facing error.
pub fn shopify_status(error: &shopify::Error) -> StatusCode {
    use shopify::Error as E;
    match error {
        E::InvalidSignature | E::StaleRequest | E::InvalidSessionToken(_) => {
            StatusCode::UNAUTHORIZED
        }
        E::Malformed(_) | E::InvalidShop => StatusCode::BAD_REQUEST,
        E::StateMismatch => StatusCode::FORBIDDEN,
        E::NotInstalled => StatusCode::CONFLICT,
        E::TokenRejected { .. } | E::UnexpectedResponse(_) | E::Transport(_) => {
            StatusCode::BAD_GATEWAY
        }
        E::Decrypt | E::Encrypt | E::Config(_) | E::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The short code of each Shopify-facing error, for JSON error bodies.
pub fn shopify_code(error: &shopify::Error) -> &'static str {
    use shopify::Error as E;
    match error {
        E::InvalidSignature => "invalid_signature",
        E::StaleRequest => "stale_request",
        E::InvalidSessionToken(_) => "invalid_session_token",
        E::Malformed(_) => "bad_request",
        E::InvalidShop => "invalid_shop",
        E::StateMismatch => "state_mismatch",
        E::NotInstalled => "not_installed",
        E::TokenRejected { .. } | E::UnexpectedResponse(_) | E::Transport(_) => "shopify_error",
        E::Decrypt | E::Encrypt | E::Config(_) | E::Store(_) => "internal_error",
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: u16,
    error: &'a str,
    message: String,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BadRequest(_) => "bad_request",
            Self::Store(_) => "internal_error",
            Self::Shopify(error) => shopify_code(error),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Shopify(error) => shopify_status(error),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() {
            tracing::error!(error.chain = %error_chain(self), "request failed");
            "The server could not complete the request.".to_owned()
        } else {
            self.to_string()
        };

        let mut response = HttpResponse::build(status);
        if matches!(self, Self::Shopify(shopify::Error::InvalidSessionToken(_))) {
            response.insert_header((RETRY_INVALID_SESSION, "1"));
        }
        response.json(ErrorBody {
            status: status.as_u16(),
            error: self.code(),
            message,
        })
    }
}
