//! Webhook receivers (`shopify.md` §4): `POST /webhooks/app`, `/webhooks/customers` and
//! `/webhooks/compliance`, as `shopify.app.toml` subscribes them.
//!
//! Each delivery is verified over its raw bytes and stored before the answer, which comes at
//! once: 200 for a stored or duplicate delivery, 400 for missing headers, 401 for a bad
//! HMAC, 405 for other methods. Processing happens in the background
//! ([`crate::shopify::webhook::process_pending`]); a stored delivery wakes the processor.

use actix_web::{HttpRequest, HttpResponse, web};
use tokio::sync::Notify;

use crate::shopify::install::Platform;
use crate::shopify::webhook::{self, DeliveryHeaders, Receipt};
use crate::web::error::ApiError;
use crate::web::method_not_allowed;

/// Wakes the webhook processor when a delivery was stored.
#[derive(Debug, Default)]
pub struct InboxBell(pub Notify);

/// Mounts `/webhooks/*`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in [
        "/webhooks/app",
        "/webhooks/customers",
        "/webhooks/compliance",
    ] {
        cfg.service(
            web::resource(path)
                .route(web::post().to(receive_webhook))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `POST /webhooks/...`: verifies, stores, answers.
async fn receive_webhook(
    req: HttpRequest,
    body: web::Bytes,
    platform: web::Data<Platform>,
    bell: web::Data<InboxBell>,
) -> Result<HttpResponse, ApiError> {
    let headers = DeliveryHeaders {
        hmac: header(&req, "x-shopify-hmac-sha256"),
        topic: header(&req, "x-shopify-topic"),
        shop_domain: header(&req, "x-shopify-shop-domain"),
        api_version: header(&req, "x-shopify-api-version"),
        webhook_id: header(&req, "x-shopify-webhook-id"),
        event_id: header(&req, "x-shopify-event-id"),
        triggered_at: header(&req, "x-shopify-triggered-at"),
    };

    let receipt = webhook::receive(platform.db(), platform.credentials(), &headers, &body).await?;

    if receipt == Receipt::Stored {
        bell.0.notify_one();
    }
    Ok(HttpResponse::Ok().finish())
}
