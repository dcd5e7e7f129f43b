//! Assembles the actix-web server: state, middleware, routes, and its graceful stop.

use std::future::Future;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::config::{ScimSettings, ServerSettings};
use crate::shopify::install::Platform;
use crate::store::Database;
use crate::web::request_log::{AccessLog, BodyLimit, assign_request_id, reject_oversized_bodies};
use crate::web::scim::rate_limit::RateLimiter;
use crate::web::shopify::webhooks::InboxBell;
use crate::web::shopify::{self as shopify_web, NO_FRAMING};
use crate::web::{ReadinessBudget, body_configs, configure, not_found, scim};

/// What the Shopify-facing routes share: the platform, the page settings, and the bell that
/// wakes the webhook processor.
#[derive(Clone)]
pub struct ShopifyState {
    /// Installation, tokens and the Admin API.
    pub platform: Platform,
    /// What pages need to know about the app.
    pub pages: shopify_web::Settings,
    /// Rung when a webhook delivery was stored.
    pub bell: std::sync::Arc<InboxBell>,
}

/// The HTTP server, listening but not yet driven.
pub struct HttpService {
    server: Server,
}

impl HttpService {
    /// Starts listening on `listener` with every route, middleware and shared state.
    pub fn start(
        listener: TcpListener,
        settings: &ServerSettings,
        scim_settings: &ScimSettings,
        db: Database,
        shopify: ShopifyState,
    ) -> std::io::Result<Self> {
        let limit = settings.max_body_bytes;
        let db = web::Data::new(db);
        let budget = web::Data::new(ReadinessBudget(settings.readiness_timeout()));
        let body_limit = web::Data::new(BodyLimit(limit));
        let rate_limiter = web::Data::new(RateLimiter::new(
            scim_settings.rate_limit_per_second,
            scim_settings.rate_limit_burst,
        ));
        let scim_settings = web::Data::new(scim::Settings {
            public_url: settings.public_url.clone(),
            max_page_size: scim::MAX_PAGE_SIZE,
            bulk_max_operations: scim::BULK_MAX_OPERATIONS,
            bulk_max_payload_bytes: u64::try_from(limit).unwrap_or(u64::MAX),
        });

        let platform = web::Data::new(shopify.platform);
        let pages = web::Data::new(shopify.pages);
        let bell = web::Data::from(shopify.bell);

        let mut server = HttpServer::new(move || {
            let (payload_config, json_config) = body_configs(limit);
            App::new()
                .app_data(db.clone())
                .app_data(budget.clone())
                .app_data(body_limit.clone())
                .app_data(scim_settings.clone())
                .app_data(rate_limiter.clone())
                .app_data(platform.clone())
                .app_data(pages.clone())
                .app_data(bell.clone())
                .app_data(payload_config)
                .app_data(json_config)
                .configure(configure)
                .default_service(web::to(not_found))
                .wrap(from_fn(reject_oversized_bodies))
                .wrap(DefaultHeaders::new().add(("content-security-policy", NO_FRAMING)))
                .wrap(TracingLogger::<AccessLog>::new())
                .wrap(from_fn(assign_request_id))
        })
        .listen(listener)?
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .disable_signals();
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }

        Ok(Self {
            server: server.run(),
        })
    }

    /// Serves until `stop` resolves, then stops accepting connections and waits for
    /// in-flight requests within the shutdown timeout.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = std::pin::pin!(self.server);

        tokio::select! {
            result = &mut server => result,
            () = stop => {
                tracing::info!("shutdown requested; finishing in-flight requests");
                // The server future processes the stop command, so it must be polled too.
                let ((), result) = tokio::join!(handle.stop(true), &mut server);
                result
            }
        }
    }
}
