//! Per-request plumbing that every route shares: the request id, the root span with one
//! access-log line, and the request body cap.
//!
//! The span records the matched route pattern, never the raw path's query string (Shopify
//! puts `hmac`, `id_token` and `host` there), and no header but the request id.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::RootSpanBuilder;

use crate::web::error::ApiError;
use crate::web::scim::error::ScimHttpError;

/// Header carrying the request id, in both directions.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming request id we echo.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Identifies one request in logs and in the `x-request-id` response header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts a caller's id of 1 to 128 characters from `[A-Za-z0-9._:-]`.
    pub fn parse(input: &str) -> Option<Self> {
        let valid = !input.is_empty()
            && input.len() <= MAX_REQUEST_ID_LEN
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        valid.then(|| Self(input.to_owned()))
    }

    /// A new random (time-ordered) id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When the request entered the service, for the access log's duration.
#[derive(Clone, Copy)]
struct Started(Instant);

/// Echoes a valid incoming `x-request-id` or assigns a new one, on every response.
pub async fn assign_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());

    let mut response = next.call(req).await?;

    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}

/// The configured body cap, shared with the middleware.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Answers 413 before routing when `Content-Length` announces more than the cap.
///
/// Bodies without a length are held to the same cap by the payload extractors' configs.
pub async fn reject_oversized_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limit = req
        .app_data::<web::Data<BodyLimit>>()
        .map_or(usize::MAX, |limit| limit.0);
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());

    if announced.is_some_and(|length| length > limit) {
        let response = if req.path().starts_with("/scim/") {
            ScimHttpError::PayloadTooLarge { limit }.error_response()
        } else {
            ApiError::PayloadTooLarge { limit }.error_response()
        };
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Builds the per-request root span and writes the access-log line when the request ends.
pub struct AccessLog;

impl RootSpanBuilder for AccessLog {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        let route = request.match_pattern();

        tracing::info_span!(
            "request",
            http.method = %request.method(),
            http.route = route.as_deref().unwrap_or("unmatched"),
            request_id = %request_id,
            shop.domain = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, started) = match outcome {
            Ok(response) => (
                response.status(),
                response.request().extensions().get::<Started>().copied(),
            ),
            Err(error) => (error.as_response_error().status_code(), None),
        };
        let duration_ms = started.map_or(0, |Started(at)| {
            u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)
        });

        span.in_scope(|| {
            tracing::info!(
                http.status_code = status.as_u16(),
                duration_ms,
                "request finished"
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_callers_are_echoed_only_when_well_formed() {
        assert!(RequestId::parse("abc-123_x.y:z").is_some());
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("line\nbreak").is_none());
        assert!(RequestId::parse(&"a".repeat(129)).is_none());
    }

    #[test]
    fn generated_request_ids_are_unique_and_valid() {
        let first = RequestId::generate();
        let second = RequestId::generate();

        assert_ne!(first, second);
        assert!(RequestId::parse(first.as_str()).is_some());
    }
}
