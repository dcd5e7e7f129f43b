//! The Shopify-facing HTTP surface: the embedded admin page and its JSON API (`/app`), the
//! install and embedding helpers (`/auth`), and the webhook receivers (`/webhooks`).
//!
//! Every embedded HTML response carries `frame-ancestors https://{shop}
//! https://admin.shopify.com`; every other response gets `frame-ancestors 'none'` from the
//! server's default headers (`shopify.md` §3.2).

pub mod admin;
pub mod auth;
pub mod webhooks;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use crate::shopify;
use crate::shopify::embedded::AppUrls;
use crate::telemetry::error_chain;
use crate::types::ShopDomain;
use crate::web::error::shopify_status;

/// The CSP of responses that must never be framed.
pub const NO_FRAMING: &str = "frame-ancestors 'none';";

/// What the Shopify pages need to know about the app.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public URLs of the app.
    pub urls: AppUrls,
    /// The client id, for the `shopify-api-key` meta tag.
    pub api_key: String,
    /// Scopes of the authorization-code install.
    pub scopes: String,
    /// App Bridge script URL.
    pub app_bridge_url: String,
    /// Polaris script URL.
    pub polaris_url: String,
}

impl Settings {
    fn shell(&self) -> Shell {
        Shell {
            api_key: self.api_key.clone(),
            app_bridge_url: self.app_bridge_url.clone(),
            polaris_url: self.polaris_url.clone(),
        }
    }

    /// Whether cookies must be `Secure` (the app is served over https).
    fn secure_cookies(&self) -> bool {
        self.urls.public_url.scheme() == "https"
    }
}

/// What every page's `<head>` carries.
#[derive(Debug, Clone)]
pub struct Shell {
    /// `shopify-api-key` meta tag.
    pub api_key: String,
    /// App Bridge script.
    pub app_bridge_url: String,
    /// Polaris script.
    pub polaris_url: String,
}

/// Mounts the Shopify-facing routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    admin::configure(cfg);
    auth::configure(cfg);
    webhooks::configure(cfg);
}

/// The CSP of a page embedded in `shop`'s admin.
pub fn embedded_csp(shop: &ShopDomain) -> String {
    format!("frame-ancestors https://{shop} https://admin.shopify.com;")
}

/// Renders `page` as an HTML response with `status` and the CSP `csp`.
pub fn html(status: StatusCode, page: &impl Template, csp: &str) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((CONTENT_SECURITY_POLICY, csp.to_owned()))
            .body(body),
        Err(error) => {
            tracing::error!(error.chain = %error_chain(&error), "rendering a page failed");
            HttpResponse::InternalServerError()
                .insert_header((CONTENT_SECURITY_POLICY, NO_FRAMING))
                .body("The server could not complete the request.")
        }
    }
}

/// A page that explains a failure.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    heading: &'static str,
    message: String,
}

/// A failure of a page request (document load or install step), answered as an HTML page.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct PageError {
    #[source]
    error: shopify::Error,
    shell: Shell,
}

impl PageError {
    /// Wraps `error`, rendering it with the app's `<head>`.
    pub fn new(error: shopify::Error, settings: &Settings) -> Self {
        Self {
            error,
            shell: settings.shell(),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        shopify_status(&self.error)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (heading, message) = if status.is_server_error() {
            tracing::error!(error.chain = %error_chain(&self.error), "page request failed");
            let message = if status == StatusCode::BAD_GATEWAY {
                "Shopify could not be reached or refused the request. Try again in a moment."
            } else {
                "The server could not complete the request."
            };
            ("Something went wrong", message.to_owned())
        } else {
            ("This link cannot be used", self.error.to_string())
        };
        html(
            status,
            &ErrorPage {
                shell: self.shell.clone(),
                heading,
                message,
            },
            NO_FRAMING,
        )
    }
}
