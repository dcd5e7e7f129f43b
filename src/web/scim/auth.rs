//! The tenant extractor: turns the shop in the URL and the bearer token into a
//! [`TenantScope`], or a 401 that looks the same whatever went wrong, then applies the
//! per-token rate limit.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use secrecy::SecretString;
use tracing_actix_web::RootSpan;

use crate::scim::token::PresentedToken;
use crate::store::Database;
use crate::store::tokens::{self, TenantScope};
use crate::types::ShopHandle;
use crate::web::scim::error::ScimHttpError;
use crate::web::scim::rate_limit::RateLimiter;

/// An authenticated SCIM request's tenant.
#[derive(Debug, Clone)]
pub struct Tenant(pub TenantScope);

impl FromRequest for Tenant {
    type Error = ScimHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let handle = req.match_info().get("shop").map(ShopHandle::parse);
        let token = bearer_token(req);
        let db = req.app_data::<web::Data<Database>>().cloned();
        let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
        let span = req.extensions().get::<RootSpan>().cloned();

        Box::pin(async move {
            let (Some(Ok(handle)), Some(token), Some(db)) = (handle, token, db) else {
                return Err(ScimHttpError::Unauthorized);
            };
            let presented =
                PresentedToken::parse(&token).map_err(|_| ScimHttpError::Unauthorized)?;
            let scope = tokens::authenticate(&db, &handle.domain(), &presented)
                .await?
                .ok_or(ScimHttpError::Unauthorized)?;
            if let (Some(limiter), Some(token_id)) = (limiter, scope.token_id()) {
                limiter
                    .check(token_id.as_str())
                    .map_err(|wait| ScimHttpError::TooManyRequests { wait })?;
            }

            if let Some(span) = span {
                span.record("shop.domain", tracing::field::display(scope.domain()));
            }
            Ok(Self(scope))
        })
    }
}

/// The token of an `Authorization: Bearer …` header (scheme matched case-insensitively).
fn bearer_token(req: &HttpRequest) -> Option<SecretString> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| SecretString::from(token.trim().to_owned()))
}
