//! The discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, read-only and the same for every tenant apart from their URLs.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::scim::schema::{self, Capabilities};
use crate::web::scim::auth::Tenant;
use crate::web::scim::error::ScimHttpError;
use crate::web::scim::{ScimBase, Settings, method_not_allowed, scim_json};

const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Mounts the discovery endpoints inside the tenant scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/ServiceProviderConfig")
            .route(web::get().to(service_provider_config))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/ResourceTypes")
            .route(web::get().to(list_resource_types))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/ResourceTypes/{name}")
            .route(web::get().to(get_resource_type))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/Schemas")
            .route(web::get().to(list_schemas))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/Schemas/{urn}")
            .route(web::get().to(get_schema))
            .default_service(web::to(method_not_allowed)),
    );
}

/// `GET /ServiceProviderConfig`.
async fn service_provider_config(
    req: HttpRequest,
    _tenant: Tenant,
    base: ScimBase,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, ScimHttpError> {
    refuse_filter(&req)?;
    let capabilities = Capabilities {
        bulk_supported: true,
        bulk_max_operations: settings.bulk_max_operations,
        bulk_max_payload_bytes: settings.bulk_max_payload_bytes,
        filter_max_results: settings.max_page_size,
        documentation_uri: None,
    };
    Ok(scim_json(&schema::service_provider_config_json(
        &base.0,
        &capabilities,
    )))
}

/// `GET /ResourceTypes`.
async fn list_resource_types(
    req: HttpRequest,
    _tenant: Tenant,
    base: ScimBase,
) -> Result<HttpResponse, ScimHttpError> {
    refuse_filter(&req)?;
    let resources = schema::resource_types()
        .iter()
        .map(|rt| schema::resource_type_json(rt, &base.0))
        .collect();
    Ok(scim_json(&list_response(resources)))
}

/// `GET /ResourceTypes/{name}`.
async fn get_resource_type(
    _tenant: Tenant,
    base: ScimBase,
    name: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimHttpError> {
    let (_, name) = name.into_inner();
    let rt = schema::resource_type_by_name(&name)
        .ok_or_else(|| ScimHttpError::NotFound("No such resource type.".to_owned()))?;
    Ok(scim_json(&schema::resource_type_json(rt, &base.0)))
}

/// `GET /Schemas`.
async fn list_schemas(
    req: HttpRequest,
    _tenant: Tenant,
    base: ScimBase,
) -> Result<HttpResponse, ScimHttpError> {
    refuse_filter(&req)?;
    let resources = schema::all_schemas()
        .iter()
        .map(|schema| schema::schema_json(schema, &base.0))
        .collect();
    Ok(scim_json(&list_response(resources)))
}

/// `GET /Schemas/{urn}`.
async fn get_schema(
    _tenant: Tenant,
    base: ScimBase,
    urn: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimHttpError> {
    let (_, urn) = urn.into_inner();
    let schema = schema::schema_by_id(&urn)
        .ok_or_else(|| ScimHttpError::NotFound("No such schema.".to_owned()))?;
    Ok(scim_json(&schema::schema_json(schema, &base.0)))
}

/// RFC 7644 §4: filtering the discovery endpoints is forbidden.
fn refuse_filter(req: &HttpRequest) -> Result<(), ScimHttpError> {
    let filtered =
        web::Query::<Vec<(String, String)>>::from_query(req.query_string()).is_ok_and(|query| {
            query
                .iter()
                .any(|(key, _)| key.eq_ignore_ascii_case("filter"))
        });
    if filtered {
        return Err(ScimHttpError::Forbidden(
            "Discovery endpoints cannot be filtered.".to_owned(),
        ));
    }
    Ok(())
}

fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}
