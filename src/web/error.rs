//! The one mapping from errors to HTTP responses for the non-SCIM routes.
//!
//! Client errors answer a small JSON body that says what was wrong. Server errors answer a
//! fixed body; their cause chain goes to the log once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::store;
use crate::telemetry::error_chain;

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

        HttpResponse::build(status).json(ErrorBody {
            status: status.as_u16(),
            error: self.code(),
            message,
        })
    }
}
