//! The control API under `/_standin`, for tests, demos and benchmarks.
//!
//! Create shops and set plans; act as the merchant (edit customers, add orders, uninstall,
//! ask for redaction); inject faults; inspect customers, tags, metafields, webhook
//! deliveries and the call log with costs.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /_standin` | the stand-in's URLs and app |
//! | `GET, POST /_standin/shops` | list shops; create one (`{"shop", "plan"}`) |
//! | `GET /_standin/shops/{shop}` | one shop with its bucket |
//! | `PUT /_standin/shops/{shop}/plan` | change plan (`{"plan"}`) |
//! | `PUT /_standin/shops/{shop}/bucket` | set the points available now (`{"available"}`) |
//! | `POST /_standin/shops/{shop}/install` | token exchange as the app would (`{"expiring"}`) |
//! | `POST /_standin/shops/{shop}/session-token` | mint a session token (`{"user_id"}`) |
//! | `GET /_standin/shops/{shop}/session-token` | the same, for pages on other origins |
//! | `GET /_standin/app-bridge.js` | an App Bridge stub that fetches those tokens |
//! | `GET /_standin/shops/{shop}/launch` | redirect to the app as Shopify admin loads it |
//! | `POST /_standin/shops/{shop}/uninstall` | uninstall: revoke tokens, `app/uninstalled` |
//! | `POST /_standin/shops/{shop}/redact` | `shop/redact` |
//! | `GET, POST /_standin/shops/{shop}/customers` | list customers; create one (`CustomerInput`) |
//! | `GET, PATCH, DELETE /_standin/shops/{shop}/customers/{id}` | one customer |
//! | `POST /_standin/shops/{shop}/customers/{id}/orders` | add an order (`{"amount"}`) |
//! | `POST /_standin/shops/{shop}/customers/{id}/data-request` | `customers/data_request` |
//! | `POST /_standin/shops/{shop}/customers/{id}/redact` | `customers/redact` |
//! | `GET /_standin/shops/{shop}/metafield-definitions` | metafield definitions |
//! | `GET /_standin/shops/{shop}/calls` | Admin API call log with costs |
//! | `GET, PUT /_standin/faults` | faults in force |
//! | `GET /_standin/webhooks` | webhook deliveries and their attempts |
//! | `GET /_standin/clock` | the clock's time, and whether it is manual |
//! | `POST /_standin/clock/advance` | move a manual clock (`{"seconds"}`) |

use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bucket::Plan;
use crate::fault::Faults;
use crate::standin::{Error, StandInHandle};
use crate::store::CustomerInput;

pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("", web::get().to(summary))
        .route("/", web::get().to(summary))
        .route("/shops", web::get().to(list_shops))
        .route("/shops", web::post().to(create_shop))
        .route("/shops/{shop}", web::get().to(get_shop))
        .route("/shops/{shop}/plan", web::put().to(set_plan))
        .route("/shops/{shop}/bucket", web::put().to(set_bucket))
        .route("/shops/{shop}/install", web::post().to(install))
        .route("/shops/{shop}/session-token", web::post().to(session_token))
        .route("/shops/{shop}/session-token", web::get().to(session_token))
        .route("/app-bridge.js", web::get().to(app_bridge_stub))
        .route("/shops/{shop}/launch", web::get().to(launch))
        .route("/shops/{shop}/uninstall", web::post().to(uninstall))
        .route("/shops/{shop}/redact", web::post().to(redact_shop))
        .route("/shops/{shop}/customers", web::get().to(list_customers))
        .route("/shops/{shop}/customers", web::post().to(create_customer))
        .route("/shops/{shop}/customers/{id}", web::get().to(get_customer))
        .route(
            "/shops/{shop}/customers/{id}",
            web::patch().to(update_customer),
        )
        .route(
            "/shops/{shop}/customers/{id}",
            web::delete().to(delete_customer),
        )
        .route(
            "/shops/{shop}/customers/{id}/orders",
            web::post().to(add_order),
        )
        .route(
            "/shops/{shop}/customers/{id}/data-request",
            web::post().to(request_data),
        )
        .route(
            "/shops/{shop}/customers/{id}/redact",
            web::post().to(redact_customer),
        )
        .route(
            "/shops/{shop}/metafield-definitions",
            web::get().to(definitions),
        )
        .route("/shops/{shop}/calls", web::get().to(calls))
        .route("/faults", web::get().to(get_faults))
        .route("/faults", web::put().to(set_faults))
        .route("/webhooks", web::get().to(webhooks))
        .route("/clock", web::get().to(clock))
        .route("/clock/advance", web::post().to(advance_clock));
}

fn error_response(error: &Error) -> HttpResponse {
    let status = match error {
        Error::UnknownShop(_) | Error::UnknownCustomer(_) => StatusCode::NOT_FOUND,
        Error::InvalidShop(_) | Error::Grant(_) => StatusCode::BAD_REQUEST,
        Error::ShopExists(_) | Error::NoAppUrl | Error::NotManualClock => StatusCode::CONFLICT,
        Error::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Io(_) | Error::Client(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut body = json!({ "error": error.to_string() });
    if let Error::Rejected(errors) = error {
        body["userErrors"] = json!(errors);
    }
    HttpResponse::build(status).json(body)
}

fn answer<T: Serialize>(result: Result<T, Error>) -> HttpResponse {
    match result {
        Ok(value) => HttpResponse::Ok().json(value),
        Err(error) => error_response(&error),
    }
}

fn accepted(result: Result<(), Error>) -> HttpResponse {
    answer(result.map(|()| json!({ "ok": true })))
}

async fn summary(handle: web::Data<StandInHandle>) -> HttpResponse {
    let config = handle.config();
    let targets = handle.webhook_targets();
    HttpResponse::Ok().json(json!({
        "url": handle.url().as_str(),
        "admin_base_url": handle.admin_base_url_template(),
        "api_key": config.api_key,
        "app_url": handle.app_url().as_ref().map(url::Url::as_str),
        "webhooks": {
            "app": targets.app.as_ref().map(url::Url::as_str),
            "customers": targets.customers.as_ref().map(url::Url::as_str),
            "compliance": targets.compliance.as_ref().map(url::Url::as_str),
        },
        "shops": handle.shops().len(),
    }))
}

async fn list_shops(handle: web::Data<StandInHandle>) -> HttpResponse {
    HttpResponse::Ok().json(handle.shops())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewShop {
    shop: String,
    #[serde(default)]
    plan: Plan,
}

async fn create_shop(handle: web::Data<StandInHandle>, body: web::Json<NewShop>) -> HttpResponse {
    match handle.create_shop(&body.shop, body.plan) {
        Ok(shop) => HttpResponse::Created().json(shop),
        Err(error) => error_response(&error),
    }
}

async fn get_shop(handle: web::Data<StandInHandle>, shop: web::Path<String>) -> HttpResponse {
    answer(handle.shop(&shop))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPlan {
    plan: Plan,
}

async fn set_plan(
    handle: web::Data<StandInHandle>,
    shop: web::Path<String>,
    body: web::Json<NewPlan>,
) -> HttpResponse {
    answer(handle.set_plan(&shop, body.plan))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketLevel {
    available: f64,
}

async fn set_bucket(
    handle: web::Data<StandInHandle>,
    shop: web::Path<String>,
    body: web::Json<BucketLevel>,
) -> HttpResponse {
    answer(handle.set_bucket_available(&shop, body.available))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct InstallRequest {
    expiring: Option<bool>,
}

async fn install(
    handle: web::Data<StandInHandle>,
    shop: web::Path<String>,
    body: Option<web::Json<InstallRequest>>,
) -> HttpResponse {
    let expiring = body.and_then(|body| body.expiring).unwrap_or(true);
    answer(handle.grant_offline_token(&shop, expiring))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SessionTokenRequest {
    user_id: Option<u64>,
}

async fn session_token(
    handle: web::Data<StandInHandle>,
    shop: web::Path<String>,
    body: Option<web::Json<SessionTokenRequest>>,
) -> HttpResponse {
    let user = body.and_then(|body| body.user_id);
    let mut response = answer(
        handle
            .session_token(&shop, user)
            .map(|token| json!({ "session_token": token })),
    );
    // Pages of the app on another origin fetch tokens here (see `/_standin/app-bridge.js`).
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

/// An App Bridge stand-in for pages opened outside Shopify admin: `shopify.idToken()` fetches
/// a session token minted here, and a bounce page (`shopify-reload`) is reloaded with one.
async fn app_bridge_stub(handle: web::Data<StandInHandle>) -> HttpResponse {
    let script =
        include_str!("app_bridge_stub.js").replace("__STANDIN_URL__", handle.url().as_str());
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .body(script)
}

async fn launch(handle: web::Data<StandInHandle>, shop: web::Path<String>) -> HttpResponse {
    match handle.launch_url(&shop) {
        Ok(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url.to_string()))
            .finish(),
        Err(error) => error_response(&error),
    }
}

async fn uninstall(handle: web::Data<StandInHandle>, shop: web::Path<String>) -> HttpResponse {
    accepted(handle.uninstall(&shop))
}

async fn redact_shop(handle: web::Data<StandInHandle>, shop: web::Path<String>) -> HttpResponse {
    accepted(handle.redact_shop(&shop))
}

async fn list_customers(handle: web::Data<StandInHandle>, shop: web::Path<String>) -> HttpResponse {
    answer(handle.customers(&shop))
}

async fn create_customer(
    handle: web::Data<StandInHandle>,
    shop: web::Path<String>,
    body: web::Json<CustomerInput>,
) -> HttpResponse {
    match handle.create_customer(&shop, &body) {
        Ok(customer) => HttpResponse::Created().json(customer),
        Err(error) => error_response(&error),
    }
}

async fn get_customer(
    handle: web::Data<StandInHandle>,
    path: web::Path<(String, u64)>,
) -> HttpResponse {
    answer(handle.customer(&path.0, path.1))
}

async fn update_customer(
    handle: web::Data<StandInHandle>,
    path: web::Path<(String, u64)>,
    body: web::Json<CustomerInput>,
) -> HttpResponse {
    answer(handle.update_customer(&path.0, path.1, &body))
}

async fn delete_customer(
    handle: web::Data<StandInHandle>,
    path: web::Path<(String, u64)>,
) -> HttpResponse {
    accepted(handle.delete_customer(&path.0, path.1))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NewOrder {
    amount: Option<f64>,
}

async fn add_order(
    handle: web::Data<StandInHandle>,
    path: web::Path<(String, u64)>,
    body: Option<web::Json<NewOrder>>,
) -> HttpResponse {
    let amount = body.and_then(|body| body.amount).unwrap_or(10.0);
    match handle.add_order(&path.0, path.1, amount) {
        Ok(order) => HttpResponse::Created().json(order),
        Err(error) => error_response(&error),
    }
}

async fn request_data(
    handle: web::Data<StandInHandle>,
    path: web::Path<(String, u64)>,
) -> HttpResponse {
    accepted(handle.request_customer_data(&path.0, path.1))
}

async fn redact_customer(
    handle: web::Data<StandInHandle>,
    path: web::Path<(String, u64)>,
) -> HttpResponse {
    accepted(handle.redact_customer(&path.0, path.1))
}

async fn definitions(handle: web::Data<StandInHandle>, shop: web::Path<String>) -> HttpResponse {
    answer(handle.metafield_definitions(&shop))
}

async fn calls(handle: web::Data<StandInHandle>, shop: web::Path<String>) -> HttpResponse {
    answer(handle.calls(&shop))
}

async fn get_faults(handle: web::Data<StandInHandle>) -> HttpResponse {
    HttpResponse::Ok().json(handle.faults())
}

async fn set_faults(handle: web::Data<StandInHandle>, body: web::Json<Faults>) -> HttpResponse {
    handle.set_faults(body.into_inner());
    HttpResponse::Ok().json(handle.faults())
}

async fn webhooks(handle: web::Data<StandInHandle>) -> HttpResponse {
    HttpResponse::Ok().json(handle.deliveries())
}

async fn clock(handle: web::Data<StandInHandle>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "now": handle.clock().now(),
        "manual": handle.clock().manual().is_some(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: f64,
}

async fn advance_clock(handle: web::Data<StandInHandle>, body: web::Json<Advance>) -> HttpResponse {
    let Ok(step) = Duration::try_from_secs_f64(body.seconds) else {
        return HttpResponse::BadRequest().json(json!({ "error": "seconds must be positive" }));
    };
    answer(handle.advance_clock(step).map(|now| json!({ "now": now })))
}
