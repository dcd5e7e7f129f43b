//! The HTTP edge: routes, extractors, middleware and the mapping of errors to responses.
//!
//! This is the only module that knows actix-web. Handlers extract typed input, call one
//! domain function, map its result and return.

pub mod error;
pub mod health;
pub mod request_log;
pub mod scim;
pub mod server;
pub mod shopify;

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::web::error::ApiError;

/// Time budget of the readiness probe, shared with its handler.
#[derive(Debug, Clone, Copy)]
pub struct ReadinessBudget(pub Duration);

/// Mounts every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    scim::configure(cfg);
    shopify::configure(cfg);
}

/// Extractor and body settings that hold every handler to the body cap.
pub fn body_configs(limit: usize) -> (web::PayloadConfig, web::JsonConfig) {
    let payload = web::PayloadConfig::new(limit);
    let json = web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _req| {
            let api_error = match error {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::PayloadTooLarge { limit }
                }
                other => ApiError::BadRequest(format!("invalid JSON body: {other}")),
            };
            api_error.into()
        });
    (payload, json)
}

/// Default service of the whole app: a JSON 404.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Default service of each resource: a JSON 405.
pub async fn method_not_allowed(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
