//! The embedded admin page (`GET /app`, Shopify's `application_url`) and its JSON API under
//! `/app/api`, authenticated by App Bridge session tokens.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::scim::token::TokenId;
use crate::shopify::embedded::{self, AdminView, AppLoad};
use crate::shopify::install::Platform;
use crate::shopify::session_token::SessionToken;
use crate::shopify::{self as domain};
use crate::store::entity::shop;
use crate::store::exports;
use crate::store::shops::install_state;
use crate::store::tokens::{self, TokenInfo};
use crate::web::error::ApiError;
use crate::web::shopify::{NO_FRAMING, PageError, Settings, Shell, embedded_csp, html};

/// Mounts `/app` and `/app/api`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app", web::get().to(open_app))
        .route("/app/admin.js", web::get().to(admin_script))
        .route("/app/api/shop", web::get().to(get_shop))
        .route("/app/api/tokens", web::post().to(create_token))
        .route("/app/api/tokens/{id}", web::delete().to(revoke_token))
        .route("/app/api/exports/{id}", web::get().to(download_export));
}

/// The admin page.
#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage {
    shell: Shell,
    shop: String,
    state_label: &'static str,
    state_class: &'static str,
    needs_reauth: bool,
    installed_at: Option<String>,
    scopes: Option<String>,
    scim_base_url: String,
    tokens: Vec<TokenRow>,
    exports: Vec<ExportRow>,
    activity: Vec<ActivityRow>,
    failed_jobs: u64,
}

struct ActivityRow {
    at: String,
    kind: String,
    customer: String,
    message: String,
}

struct TokenRow {
    id: String,
    label: String,
    created: String,
    expires: String,
    last_used: String,
    status: &'static str,
    live: bool,
}

struct ExportRow {
    id: i64,
    customer_id: String,
    created: String,
}

/// The bounce page: App Bridge alone, which reloads `shopify-reload` with a session token.
#[derive(Template)]
#[template(path = "auth/bounce.html")]
pub(crate) struct BouncePage {
    pub(crate) shell: Shell,
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn token_status(token: &TokenInfo, now: DateTime<Utc>) -> &'static str {
    if token.revoked_at.is_some() {
        "revoked"
    } else if token.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

impl HomePage {
    fn new(shell: Shell, view: AdminView) -> Self {
        let now = Utc::now();
        let (state_label, state_class) = match view.install_state.as_str() {
            install_state::INSTALLED => ("Installed", "ok"),
            install_state::NEEDS_REAUTH => ("Needs re-authorisation", "warn"),
            install_state::UNINSTALLED => ("Uninstalled", "warn"),
            _ => ("Not installed", "warn"),
        };
        let tokens = view
            .tokens
            .iter()
            .map(|token| TokenRow {
                id: token.id.clone(),
                label: token.label.clone(),
                created: when(token.created_at),
                expires: token.expires_at.map_or_else(|| "never".to_owned(), when),
                last_used: token.last_used_at.map_or_else(|| "never".to_owned(), when),
                status: token_status(token, now),
                live: token_status(token, now) == "active",
            })
            .collect();
        let exports = view
            .exports
            .iter()
            .map(|export| ExportRow {
                id: export.id,
                customer_id: export.customer_id.clone(),
                created: when(export.created_at),
            })
            .collect();
        let activity = view
            .activity
            .iter()
            .map(|entry| ActivityRow {
                at: when(entry.created_at),
                kind: entry.kind.clone(),
                customer: entry
                    .customer_gid
                    .as_deref()
                    .and_then(|gid| gid.rsplit('/').next())
                    .unwrap_or("-")
                    .to_owned(),
                message: entry.message.clone().unwrap_or_default(),
            })
            .collect();
        Self {
            shell,
            activity,
            failed_jobs: view.failed_jobs,
            shop: view.shop.to_string(),
            state_label,
            state_class,
            needs_reauth: view.install_state == install_state::NEEDS_REAUTH,
            installed_at: view.installed_at.map(when),
            scopes: view.scopes,
            scim_base_url: view.scim_base_url.to_string(),
            tokens,
            exports,
        }
    }
}

/// `GET /app`: Shopify admin's document load of the app.
async fn open_app(
    req: HttpRequest,
    platform: web::Data<Platform>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, PageError> {
    let load = embedded::open_app(&platform, &settings.urls, req.query_string(), Utc::now())
        .await
        .map_err(|error| PageError::new(error, &settings))?;

    Ok(match load {
        AppLoad::Render(view) => {
            let csp = embedded_csp(&view.shop);
            html(
                StatusCode::OK,
                &HomePage::new(settings.shell(), *view),
                &csp,
            )
        }
        AppLoad::Bounce { reload } => {
            let mut bounce = settings.urls.join("auth/session-token");
            bounce
                .query_pairs_mut()
                .extend_pairs(reload.query_pairs())
                .append_pair("shopify-reload", reload.as_str());
            HttpResponse::Found()
                .insert_header((LOCATION, bounce.to_string()))
                .finish()
        }
        AppLoad::Redirect(url) => HttpResponse::Found()
            .insert_header((LOCATION, url.to_string()))
            .insert_header(("content-security-policy", NO_FRAMING))
            .finish(),
    })
}

/// `GET /app/admin.js`: the page's actions.
async fn admin_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header(("cache-control", "no-cache"))
        .body(include_str!("../../../templates/admin/admin.js"))
}

/// An admin API request's verified session and its shop.
pub struct AdminSession {
    session: SessionToken,
    shop: shop::Model,
}

impl FromRequest for AdminSession {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let bearer = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        let platform = req.app_data::<web::Data<Platform>>().cloned();

        Box::pin(async move {
            let (Some(bearer), Some(platform)) = (bearer, platform) else {
                return Err(domain::Error::InvalidSessionToken("missing").into());
            };
            let (session, shop) = embedded::authenticate(&platform, &bearer, Utc::now()).await?;
            Ok(Self { session, shop })
        })
    }
}

#[derive(Serialize)]
struct TokenResponse {
    id: String,
    label: String,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    status: &'static str,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl From<&TokenInfo> for TokenResponse {
    fn from(token: &TokenInfo) -> Self {
        Self {
            id: token.id.clone(),
            label: token.label.clone(),
            created_at: rfc3339(token.created_at),
            expires_at: token.expires_at.map(rfc3339),
            last_used_at: token.last_used_at.map(rfc3339),
            status: token_status(token, Utc::now()),
        }
    }
}

/// `GET /app/api/shop`: what the admin page shows, as JSON.
async fn get_shop(
    admin: AdminSession,
    platform: web::Data<Platform>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, ApiError> {
    let view = embedded::view(&platform, &settings.urls, &admin.shop.domain).await?;

    Ok(HttpResponse::Ok().json(json!({
        "shop": view.shop.as_str(),
        "install_state": view.install_state,
        "scim_base_url": view.scim_base_url.as_str(),
        "tokens": view.tokens.iter().map(TokenResponse::from).collect::<Vec<_>>(),
        "failed_jobs": view.failed_jobs,
        "activity": view.activity.iter().map(|entry| json!({
            "at": rfc3339(entry.created_at),
            "kind": entry.kind,
            "scim_user_id": entry.scim_user_id,
            "customer_gid": entry.customer_gid,
            "message": entry.message,
        })).collect::<Vec<_>>(),
        "exports": view.exports.iter().map(|export| json!({
            "id": export.id,
            "customer_id": export.customer_id,
            "created_at": rfc3339(export.created_at),
        })).collect::<Vec<_>>(),
    })))
}

/// Body of `POST /app/api/tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTokenRequest {
    label: Option<String>,
    expires_in_days: Option<u32>,
}

/// `POST /app/api/tokens`: a new SCIM token; the plaintext is in this answer only.
async fn create_token(
    admin: AdminSession,
    platform: web::Data<Platform>,
    body: web::Json<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let (info, secret) = embedded::create_token(
        &platform,
        &admin.session,
        &admin.shop,
        body.label.as_deref(),
        body.expires_in_days,
    )
    .await?;

    let mut answer = serde_json::to_value(TokenResponse::from(&info)).unwrap_or_default();
    answer["token"] = json!(secret.expose_secret());
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(answer))
}

/// `DELETE /app/api/tokens/{id}`: revokes a token of the session's shop.
async fn revoke_token(
    admin: AdminSession,
    platform: web::Data<Platform>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = TokenId::parse(&id).map_err(|_| ApiError::NotFound)?;

    let revoked = tokens::revoke(platform.db(), admin.shop.id, &id).await?;

    if revoked {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /app/api/exports/{id}`: one customer data export of the session's shop.
async fn download_export(
    admin: AdminSession,
    platform: web::Data<Platform>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let export = exports::find(platform.db().conn(), admin.shop.id, *id)
        .await?
        .ok_or(ApiError::NotFound)?;

    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"customer-data-{}.json\"", export.id),
        ))
        .insert_header(("cache-control", "no-store"))
        .body(export.body))
}
