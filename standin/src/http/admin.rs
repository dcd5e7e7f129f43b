//! Shopify's own endpoints for one shop: the OAuth authorize redirect, the token endpoint
//! and the Admin GraphQL API, with injected faults applied before each answer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::fault::AdminFault;
use crate::graphql::{self, Request};
use crate::lock;
use crate::oauth::{self, TokenRequest};
use crate::standin::{StandInHandle, parse_shop};
use crate::store::CallRecord;

/// Shopify's answer to a missing, unknown, expired or revoked access token.
const INVALID_TOKEN: &str =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";

fn known_shop(handle: &StandInHandle, shop: &str) -> Option<String> {
    let domain = parse_shop(shop)?;
    lock(&handle.world.inner)
        .shops
        .contains_key(&domain)
        .then_some(domain)
}

fn shop_not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "errors": "Not Found" }))
}

/// `GET /shops/{shop}/admin/oauth/authorize`: the merchant approves at once and is sent
/// back to `redirect_uri` with a signed query string.
pub async fn authorize(
    handle: web::Data<StandInHandle>,
    path: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let Some(shop) = known_shop(&handle, &path) else {
        return shop_not_found();
    };
    let world = &handle.world;
    let now = world.now();
    let result = oauth::authorize(&mut lock(&world.inner), &world.config, &shop, &query, now);
    match result {
        Ok(redirect) => HttpResponse::Found()
            .insert_header((header::LOCATION, redirect.to_string()))
            .finish(),
        Err(error) => HttpResponse::BadRequest().json(error.body()),
    }
}

/// `POST /shops/{shop}/admin/oauth/access_token`: the code, token-exchange and refresh
/// grants, JSON or form-encoded.
pub async fn access_token(
    handle: web::Data<StandInHandle>,
    path: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(shop) = known_shop(&handle, &path) else {
        return shop_not_found();
    };
    let world = &handle.world;
    tokio::time::sleep(world.faults.latency()).await;
    if let Some(AdminFault::ServerError(status)) = world.faults.admin_call(false) {
        return server_error(status);
    }

    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let parsed: Option<TokenRequest> = if is_json {
        serde_json::from_slice(&body).ok()
    } else {
        let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(&body)
            .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
            .collect();
        serde_json::from_value(Value::Object(pairs)).ok()
    };
    let Some(token_request) = parsed else {
        let error = oauth::Error::InvalidRequest("the body is not a token request");
        return HttpResponse::BadRequest().json(error.body());
    };

    let now = world.now();
    let result = oauth::grant(
        &mut lock(&world.inner),
        &world.config,
        &shop,
        &token_request,
        now,
    );
    match result {
        Ok(answer) => HttpResponse::Ok().json(answer),
        Err(error) => {
            tracing::debug!(shop.domain = %shop, oauth.error = %error, "token grant refused");
            let status = actix_web::http::StatusCode::from_u16(error.status())
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
            HttpResponse::build(status).json(error.body())
        }
    }
}

fn server_error(status: u16) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .ok()
        .filter(|status| status.is_server_error())
        .unwrap_or(actix_web::http::StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).json(json!({
        "errors": status.canonical_reason().unwrap_or("Internal Server Error"),
    }))
}

/// `POST /shops/{shop}/admin/api/{version}/graphql.json`: authenticate, throttle, run.
pub async fn graphql(
    handle: web::Data<StandInHandle>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (shop, version) = path.into_inner();
    let Some(shop) = known_shop(&handle, &shop) else {
        return shop_not_found();
    };
    let world = &handle.world;
    let arrived = world.now();
    let mut record = CallRecord {
        seq: 0,
        at: arrived,
        api_version: version.clone(),
        operation: "unknown".to_owned(),
        root_fields: Vec::new(),
        status: 200,
        requested_cost: None,
        actual_cost: None,
        throttled: false,
        fault: None,
        currently_available: None,
    };
    let log = |record: CallRecord| {
        if let Some(shop) = lock(&world.inner).shops.get_mut(&shop) {
            shop.log_call(record);
        }
    };

    tokio::time::sleep(world.faults.latency()).await;
    let fault = world.faults.admin_call(true);
    match fault {
        Some(AdminFault::ServerError(status)) => {
            let response = server_error(status);
            record.status = response.status().as_u16();
            record.fault = fault.map(AdminFault::describe);
            log(record);
            return response;
        }
        Some(AdminFault::Timeout) => {
            tokio::time::sleep(world.config.fault_timeout).await;
            record.status = 504;
            record.fault = fault.map(AdminFault::describe);
            log(record);
            return HttpResponse::GatewayTimeout().json(json!({ "errors": "Gateway Timeout" }));
        }
        Some(AdminFault::Throttled) | None => {}
    }

    let token = request
        .headers()
        .get("X-Shopify-Access-Token")
        .and_then(|value| value.to_str().ok());
    let now = world.now();
    let authenticated = oauth::authenticate(&mut lock(&world.inner), &shop, token, now);
    if let Err(denied) = authenticated {
        record.status = 401;
        record.fault = Some(denied.as_str().to_owned());
        log(record);
        return HttpResponse::Unauthorized().json(json!({ "errors": INVALID_TOKEN }));
    }

    let Ok(graphql_request) = serde_json::from_slice::<Request>(&body) else {
        record.status = 400;
        log(record);
        return HttpResponse::BadRequest()
            .json(json!({ "errors": { "query": "Required parameter missing or invalid" } }));
    };
    let force_throttle = fault == Some(AdminFault::Throttled);
    let outcome = {
        let mut inner = lock(&world.inner);
        graphql::execute(
            &mut inner,
            &world.config,
            &shop,
            &graphql_request,
            now,
            force_throttle,
        )
    };

    record.operation = outcome.operation;
    record.root_fields = outcome.root_fields;
    record.requested_cost = outcome.requested_cost;
    record.actual_cost = outcome.actual_cost;
    record.throttled = outcome.throttled;
    record.fault = fault.map(AdminFault::describe);
    record.currently_available = Some(outcome.throttle_status.currently_available);
    log(record);
    world.emit(outcome.events);

    HttpResponse::Ok()
        .insert_header(("X-Shopify-API-Version", version))
        .json(outcome.body)
}
