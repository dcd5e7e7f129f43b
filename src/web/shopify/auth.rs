//! Install and embedding helpers under `/auth` (`shopify.md` §1.2, §1.3, §3.4).
//!
//! The authorization-code install for non-managed installs, its callback, the bounce page
//! that fetches a fresh session token, and the exit-iframe page for anything that must run
//! top-level.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use url::Url;

use crate::shopify::embedded;
use crate::shopify::install::Platform;
use crate::shopify::oauth::{STATE_COOKIE, STATE_LIFETIME_SECS};
use crate::shopify::{self as domain};
use crate::web::shopify::admin::BouncePage;
use crate::web::shopify::{PageError, Settings, Shell, html};

/// Mounts `/auth`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth", web::get().to(begin_install))
        .route("/auth/callback", web::get().to(complete_install))
        .route("/auth/session-token", web::get().to(bounce))
        .route("/auth/exit-iframe", web::get().to(exit_iframe));
}

/// The exit-iframe page.
#[derive(Template)]
#[template(path = "auth/exit_iframe.html")]
struct ExitIframePage {
    shell: Shell,
    target: String,
}

/// Whether the request was made inside an iframe, where the install cannot set its cookie.
fn framed(req: &HttpRequest) -> bool {
    let dest = req.headers().get("sec-fetch-dest");
    let embedded = url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(key, value)| key == "embedded" && value == "1");
    embedded || dest.is_some_and(|dest| dest == "iframe")
}

fn shop_param(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(key, _)| key == "shop")
        .map(|(_, value)| value.into_owned())
}

/// `GET /auth?shop=...`: starts the authorization-code install, top-level.
async fn begin_install(
    req: HttpRequest,
    platform: web::Data<Platform>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, PageError> {
    let page_error = |error| PageError::new(error, &settings);
    let shop = shop_param(&req).ok_or_else(|| page_error(domain::Error::InvalidShop))?;
    if framed(&req) {
        let mut target = settings.urls.join("auth");
        target.query_pairs_mut().append_pair("shop", &shop);
        return Ok(exit_page(&settings, &target));
    }

    let (authorize, state) = embedded::begin_install(
        &platform,
        &settings.urls,
        &settings.scopes,
        &shop,
        Utc::now(),
    )
    .map_err(page_error)?;

    let cookie = Cookie::build(STATE_COOKIE, state.cookie)
        .path("/auth/callback")
        .http_only(true)
        .secure(settings.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(STATE_LIFETIME_SECS))
        .finish();
    Ok(HttpResponse::Found()
        .insert_header((LOCATION, authorize.to_string()))
        .cookie(cookie)
        .finish())
}

/// `GET /auth/callback`: verifies the callback, exchanges the code and sends the merchant
/// into the app inside their admin.
async fn complete_install(
    req: HttpRequest,
    platform: web::Data<Platform>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, PageError> {
    let cookie = req.cookie(STATE_COOKIE);

    let target = embedded::complete_install(
        &platform,
        req.query_string(),
        cookie.as_ref().map(Cookie::value),
        Utc::now(),
    )
    .await
    .map_err(|error| PageError::new(error, &settings))?;

    let mut expired = Cookie::build(STATE_COOKIE, "")
        .path("/auth/callback")
        .finish();
    expired.make_removal();
    Ok(HttpResponse::Found()
        .insert_header((LOCATION, target.to_string()))
        .cookie(expired)
        .finish())
}

/// `GET /auth/session-token`: App Bridge only; it reloads `shopify-reload` with a fresh
/// `id_token`.
async fn bounce(settings: web::Data<Settings>) -> HttpResponse {
    let page = BouncePage {
        shell: settings.shell(),
    };
    // Shopify admin frames this page too, so it may be framed by any shop's admin.
    html(
        StatusCode::OK,
        &page,
        "frame-ancestors https://*.myshopify.com https://admin.shopify.com;",
    )
}

/// `GET /auth/exit-iframe?exitIframe=URL`: leaves the admin's iframe for `URL`, which must
/// be on the app's own origin.
async fn exit_iframe(
    req: HttpRequest,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, PageError> {
    let target = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(key, _)| key == "exitIframe")
        .and_then(|(_, value)| settings.urls.public_url.join(&value).ok())
        .filter(|url| url.origin() == settings.urls.public_url.origin())
        .ok_or_else(|| {
            PageError::new(
                domain::Error::Malformed("exitIframe must be a URL of this app"),
                &settings,
            )
        })?;

    Ok(exit_page(&settings, &target))
}

fn exit_page(settings: &Settings, target: &Url) -> HttpResponse {
    let page = ExitIframePage {
        shell: settings.shell(),
        target: target.to_string(),
    };
    html(
        StatusCode::OK,
        &page,
        "frame-ancestors https://*.myshopify.com https://admin.shopify.com;",
    )
}
