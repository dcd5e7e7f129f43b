//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::store::{Database, Readiness};
use crate::telemetry::error_chain;
use crate::web::{ReadinessBudget, method_not_allowed};

/// Mounts `GET /healthz` and `GET /readyz`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(readyz))
            .default_service(web::to(method_not_allowed)),
    );
}

/// 200 while the process serves requests; touches nothing else.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// 200 when the database answers and its schema is current, else 503 with the reason.
async fn readyz(db: web::Data<Database>, budget: web::Data<ReadinessBudget>) -> HttpResponse {
    match db.readiness(budget.0).await {
        Ok(Readiness::Ready) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(Readiness::PendingMigrations(pending)) => {
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "not_ready",
                "reason": "migrations_pending",
                "pending": pending,
            }))
        }
        Err(error) => {
            tracing::warn!(error.chain = %error_chain(&error), "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "not_ready",
                "reason": "database_unavailable",
            }))
        }
    }
}
