//! The stand-in's HTTP surface: Shopify's own paths under `/shops/{shop}` (OAuth and the
//! Admin GraphQL API) and the control API under `/_standin`, which no Shopify path can
//! collide with.

pub mod admin;
pub mod control;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

use crate::standin::StandInHandle;

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Builds the server on `listener`; it runs once polled.
pub(crate) fn server(listener: TcpListener, handle: StandInHandle) -> std::io::Result<Server> {
    let workers = handle.config().workers.max(1);
    let handle = web::Data::new(handle);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(handle.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES))
            .configure(configure)
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .workers(workers)
    .shutdown_timeout(1)
    .disable_signals();
    Ok(server.run())
}

fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::scope("/shops/{shop}/admin")
                .route("/oauth/authorize", web::get().to(admin::authorize))
                .route("/oauth/access_token", web::post().to(admin::access_token))
                .route(
                    "/api/{version}/graphql.json",
                    web::post().to(admin::graphql),
                ),
        )
        .service(web::scope("/_standin").configure(control::configure));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "errors": "Not Found" }))
}
