//! The SCIM 2.0 endpoint of each shop, mounted at `/scim/v2/{shop handle}`.
//!
//! Every route authenticates with the tenant extractor first; every failure answers an
//! RFC 7644 error body.

pub mod auth;
pub mod discovery;
pub mod error;
pub mod rate_limit;
pub mod resources;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::Value;
use url::Url;

use crate::web::scim::auth::Tenant;
use crate::web::scim::error::{SCIM_JSON, ScimHttpError};

/// Largest page a list answers (`count` above it is clamped).
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Most operations one Bulk request may carry.
pub const BULK_MAX_OPERATIONS: u32 = 1000;

/// SCIM limits shared by the handlers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public base URL of the app; SCIM URLs hang off it.
    pub public_url: Option<Url>,
    /// Largest page a list answers.
    pub max_page_size: u32,
    /// Bulk limits announced in `/ServiceProviderConfig`.
    pub bulk_max_operations: u32,
    /// Largest Bulk body, in bytes.
    pub bulk_max_payload_bytes: u64,
}

/// Mounts the SCIM scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{shop}")
            .configure(discovery::configure)
            .configure(resources::configure)
            .default_service(web::to(unknown_endpoint)),
    );
}

/// The tenant's SCIM base URL, e.g. `https://app.example.com/scim/v2/demo-shop`.
#[derive(Debug, Clone)]
pub struct ScimBase(pub String);

impl FromRequest for ScimBase {
    type Error = ScimHttpError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let handle = req.match_info().get("shop").unwrap_or_default();
        let origin = req
            .app_data::<web::Data<Settings>>()
            .and_then(|settings| settings.public_url.clone())
            .map_or_else(
                || {
                    let info = req.connection_info();
                    format!("{}://{}", info.scheme(), info.host())
                },
                |url| url.as_str().trim_end_matches('/').to_owned(),
            );
        ready(Ok(Self(format!("{origin}/scim/v2/{handle}"))))
    }
}

/// A 200 response with a SCIM JSON body.
pub fn scim_json(body: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, SCIM_JSON))
        .body(body.to_string())
}

/// Default of every SCIM resource: 405 in SCIM form (after authentication).
pub async fn method_not_allowed(
    req: HttpRequest,
    _tenant: Tenant,
) -> Result<HttpResponse, ScimHttpError> {
    Err(ScimHttpError::MethodNotAllowed(req.method().to_string()))
}

/// Anything under the scope that no route matches: 404 in SCIM form (after authentication).
async fn unknown_endpoint(_tenant: Tenant) -> Result<HttpResponse, ScimHttpError> {
    Err(ScimHttpError::NotFound(
        "No SCIM endpoint at this URL.".to_owned(),
    ))
}
