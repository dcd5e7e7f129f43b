//! `/Users` and `/Groups`: create, read, replace, patch, delete, list and `/.search`
//! (RFC 7644 §3.3–3.6), plus the root `/.search` across both and `/Bulk`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, ETAG, HeaderMap, IF_MATCH, IF_NONE_MATCH, LOCATION};
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::scim::attr::AttrPath;
use crate::scim::service::{self, Ctx, Kind, ListPage, ListQuery, Stored};
use crate::scim::{bulk, resource};
use crate::store::Database;
use crate::web::scim::auth::Tenant;
use crate::web::scim::error::{SCIM_JSON, ScimHttpError};
use crate::web::scim::{ScimBase, Settings, method_not_allowed};

const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Page size when the client names none.
const DEFAULT_PAGE_SIZE: i64 = 100;

/// Mounts the resource endpoints inside the tenant scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/Bulk")
            .route(web::post().to(bulk))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/.search")
            .route(web::post().to(search_all))
            .default_service(web::to(method_not_allowed)),
    );
    for (collection, kind) in [("/Users", Kind::User), ("/Groups", Kind::Group)] {
        cfg.service(
            web::resource(format!("{collection}/.search"))
                .app_data(web::Data::new(kind))
                .route(web::post().to(search))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(collection)
                .app_data(web::Data::new(kind))
                .route(web::post().to(create))
                .route(web::get().to(list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{collection}/{{id}}"))
                .app_data(web::Data::new(kind))
                .route(web::get().to(get))
                .route(web::put().to(replace))
                .route(web::patch().to(patch))
                .route(web::delete().to(delete))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

/// The inputs every resource handler shares: the authenticated tenant, its SCIM base URL,
/// the pool, and the resource type the route serves (routes without one, the root
/// `/.search` and `/Bulk`, do not read `kind`).
struct Target {
    tenant: Tenant,
    base: ScimBase,
    db: web::Data<Database>,
    kind: Kind,
}

impl Target {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            db: &self.db,
            scope: &self.tenant.0,
            base_url: &self.base.0,
        }
    }
}

impl FromRequest for Target {
    type Error = ScimHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let tenant = Tenant::from_request(req, payload);
        let base = ScimBase::from_request(req, payload);
        let db = req.app_data::<web::Data<Database>>().cloned();
        let kind = req
            .app_data::<web::Data<Kind>>()
            .map_or(Kind::User, |kind| *kind.get_ref());

        Box::pin(async move {
            let tenant = tenant.await?;
            let base = base.await?;
            // The tenant extractor already needed the pool; it cannot be missing here.
            let db = db.ok_or(ScimHttpError::Unauthorized)?;
            Ok(Self {
                tenant,
                base,
                db,
                kind,
            })
        })
    }
}

/// `attributes` and `excludedAttributes`, from the query string or a search body.
#[derive(Debug, Default)]
struct Selection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Selection {
    fn from_params(params: &Params) -> Result<Self, ScimHttpError> {
        let parse = |name: &str| -> Result<Vec<AttrPath>, ScimHttpError> {
            match params.get(name) {
                Some(text) => Ok(resource::parse_attribute_list(text)?),
                None => Ok(Vec::new()),
            }
        };
        Ok(Self {
            attributes: parse("attributes")?,
            excluded: parse("excludedAttributes")?,
        })
    }

    /// Whether the memberships attribute of `kind` (a group's `members`, a user's `groups`)
    /// would survive the projection, so is worth loading.
    fn wants_related(&self, kind: Kind) -> bool {
        let attribute = kind.related_attribute();
        if !self.attributes.is_empty() {
            return self
                .attributes
                .iter()
                .any(|path| path.name.eq_ignore_ascii_case(attribute));
        }
        !self
            .excluded
            .iter()
            .any(|path| path.name.eq_ignore_ascii_case(attribute) && path.sub.is_none())
    }

    /// The resource types whose memberships are worth loading.
    fn related(&self) -> Vec<Kind> {
        [Kind::User, Kind::Group]
            .into_iter()
            .filter(|kind| self.wants_related(*kind))
            .collect()
    }

    fn project(&self, kind: Kind, resource: &Value) -> Value {
        resource::project(
            resource,
            kind.resource_type(),
            &self.attributes,
            &self.excluded,
        )
    }
}

/// Query or search parameters, looked up case-insensitively.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn from_query(req: &HttpRequest) -> Result<Self, ScimHttpError> {
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|query| Self(query.into_inner()))
            .map_err(|_| ScimHttpError::InvalidSyntax("The query string is malformed.".into()))
    }

    /// Reads a `SearchRequest` body (RFC 7644 §3.4.3) into the same shape.
    fn from_search_body(body: &Value) -> Result<Self, ScimHttpError> {
        let Some(fields) = body.as_object() else {
            return Err(ScimHttpError::InvalidSyntax(
                "A search request must be a JSON object.".into(),
            ));
        };
        let mut params = Vec::new();
        for (key, value) in fields {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                _ => {
                    return Err(ScimHttpError::InvalidSyntax(format!(
                        "`{key}` has the wrong type in the search request."
                    )));
                }
            };
            params.push((key.clone(), text));
        }
        Ok(Self(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, ScimHttpError> {
        self.get(name)
            .map(|text| {
                text.trim().parse::<i64>().map_err(|_| {
                    ScimHttpError::InvalidValue(format!("`{name}` must be an integer."))
                })
            })
            .transpose()
    }

    fn list_query(&self, selection: &Selection) -> Result<ListQuery, ScimHttpError> {
        let descending = match self.get("sortOrder") {
            None => false,
            Some(order) if order.eq_ignore_ascii_case("ascending") => false,
            Some(order) if order.eq_ignore_ascii_case("descending") => true,
            Some(_) => {
                return Err(ScimHttpError::InvalidValue(
                    "`sortOrder` must be `ascending` or `descending`.".into(),
                ));
            }
        };
        Ok(ListQuery {
            filter: self.get("filter").map(str::to_owned),
            sort_by: self.get("sortBy").map(str::to_owned),
            descending,
            start_index: self.integer("startIndex")?.unwrap_or(1),
            count: Some(self.integer("count")?.unwrap_or(DEFAULT_PAGE_SIZE)),
            related: selection.related(),
        })
    }
}

/// Parses a request body as JSON, answering `invalidSyntax` in SCIM form otherwise.
fn json_body(body: &web::Bytes) -> Result<Value, ScimHttpError> {
    serde_json::from_slice(body)
        .map_err(|_| ScimHttpError::InvalidSyntax("The request body is not valid JSON.".into()))
}

/// The `If-Match` header, if any, as text.
fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(IF_MATCH)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Whether an `If-None-Match` header matches `version` (weak comparison, RFC 9110 §13.1.2).
fn none_match_hits(headers: &HeaderMap, version: &str) -> bool {
    let Some(header) = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(version))
}

fn resource_response(status: StatusCode, stored: &Stored, body: &Value) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((CONTENT_TYPE, SCIM_JSON))
        .insert_header((ETAG, stored.version.clone()));
    if status == StatusCode::CREATED
        && let Some(location) = stored.resource["meta"]["location"].as_str()
    {
        response.insert_header((LOCATION, location.to_owned()));
    }
    response.body(body.to_string())
}

fn list_response(kinds: &[Kind], page: &ListPage, selection: &Selection) -> HttpResponse {
    let resources: Vec<Value> = page
        .resources
        .iter()
        .map(|resource| {
            let kind = kind_of(resource).unwrap_or(kinds[0]);
            selection.project(kind, resource)
        })
        .collect();
    let body = json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": page.total_results,
        "startIndex": page.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, SCIM_JSON))
        .body(body.to_string())
}

fn kind_of(resource: &Value) -> Option<Kind> {
    match resource["meta"]["resourceType"].as_str()? {
        "User" => Some(Kind::User),
        "Group" => Some(Kind::Group),
        _ => None,
    }
}

/// `POST /Users`, `POST /Groups`.
async fn create(
    req: HttpRequest,
    target: Target,
    body: web::Bytes,
) -> Result<HttpResponse, ScimHttpError> {
    let selection = Selection::from_params(&Params::from_query(&req)?)?;
    let body = json_body(&body)?;
    let ctx = target.ctx();

    let stored = service::create(&ctx, target.kind, &body).await?;

    let projected = selection.project(target.kind, &stored.resource);
    Ok(resource_response(StatusCode::CREATED, &stored, &projected))
}

/// `GET /Users/{id}`, `GET /Groups/{id}`.
async fn get(
    req: HttpRequest,
    target: Target,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimHttpError> {
    let (_, id) = path.into_inner();
    let selection = Selection::from_params(&Params::from_query(&req)?)?;
    let ctx = target.ctx();

    let stored = service::get(&ctx, target.kind, &id, selection.wants_related(target.kind)).await?;

    if none_match_hits(req.headers(), &stored.version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((ETAG, stored.version.clone()))
            .finish());
    }
    let projected = selection.project(target.kind, &stored.resource);
    Ok(resource_response(StatusCode::OK, &stored, &projected))
}

/// `PUT /Users/{id}`, `PUT /Groups/{id}`.
async fn replace(
    req: HttpRequest,
    target: Target,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimHttpError> {
    let (_, id) = path.into_inner();
    let selection = Selection::from_params(&Params::from_query(&req)?)?;
    let body = json_body(&body)?;
    let ctx = target.ctx();

    let expected = if_match(req.headers());
    let stored = service::replace(&ctx, target.kind, &id, &body, expected.as_deref()).await?;

    let projected = selection.project(target.kind, &stored.resource);
    Ok(resource_response(StatusCode::OK, &stored, &projected))
}

/// `PATCH /Users/{id}`, `PATCH /Groups/{id}`.
///
/// Users answer 200 with the resource. Groups answer 204, as Entra expects and so that a
/// large member list is never sent back, unless `attributes` asks for a body.
async fn patch(
    req: HttpRequest,
    target: Target,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimHttpError> {
    let (_, id) = path.into_inner();
    let selection = Selection::from_params(&Params::from_query(&req)?)?;
    let body = json_body(&body)?;
    let ctx = target.ctx();

    let expected = if_match(req.headers());
    let stored = service::patch(&ctx, target.kind, &id, &body, expected.as_deref()).await?;

    if target.kind == Kind::Group && selection.attributes.is_empty() {
        return Ok(HttpResponse::NoContent()
            .insert_header((ETAG, stored.version.clone()))
            .finish());
    }
    let projected = selection.project(target.kind, &stored.resource);
    Ok(resource_response(StatusCode::OK, &stored, &projected))
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`.
async fn delete(
    req: HttpRequest,
    target: Target,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimHttpError> {
    let (_, id) = path.into_inner();
    let ctx = target.ctx();

    let expected = if_match(req.headers());
    service::delete(&ctx, target.kind, &id, expected.as_deref()).await?;

    Ok(HttpResponse::NoContent().finish())
}

/// `GET /Users`, `GET /Groups`.
async fn list(req: HttpRequest, target: Target) -> Result<HttpResponse, ScimHttpError> {
    let params = Params::from_query(&req)?;
    let selection = Selection::from_params(&params)?;
    let query = params.list_query(&selection)?;
    let ctx = target.ctx();

    let page = service::list(&ctx, target.kind, &query).await?;

    Ok(list_response(&[target.kind], &page, &selection))
}

/// `POST /Users/.search`, `POST /Groups/.search`.
async fn search(target: Target, body: web::Bytes) -> Result<HttpResponse, ScimHttpError> {
    let params = search_params(&body)?;
    let selection = Selection::from_params(&params)?;
    let query = params.list_query(&selection)?;
    let ctx = target.ctx();

    let page = service::list(&ctx, target.kind, &query).await?;

    Ok(list_response(&[target.kind], &page, &selection))
}

/// `POST /.search`: Users, then Groups, paged as one sequence.
async fn search_all(target: Target, body: web::Bytes) -> Result<HttpResponse, ScimHttpError> {
    let params = search_params(&body)?;
    let selection = Selection::from_params(&params)?;
    let query = params.list_query(&selection)?;
    let ctx = target.ctx();

    let page = service::list_all(&ctx, &query).await?;

    Ok(list_response(&[Kind::User, Kind::Group], &page, &selection))
}

/// `POST /Bulk` (RFC 7644 §3.7).
async fn bulk(
    target: Target,
    settings: web::Data<Settings>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimHttpError> {
    let body = json_body(&body)?;
    let ctx = target.ctx();
    let max = usize::try_from(settings.bulk_max_operations).unwrap_or(usize::MAX);

    let response = bulk::run(&ctx, &body, max).await?;

    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, SCIM_JSON))
        .body(response.to_string()))
}

fn search_params(body: &web::Bytes) -> Result<Params, ScimHttpError> {
    let body = json_body(body)?;
    let declared = body["schemas"]
        .as_array()
        .is_none_or(|schemas| schemas.iter().any(|s| s == SEARCH_REQUEST_URN));
    if !declared {
        return Err(ScimHttpError::InvalidSyntax(format!(
            "A search request must declare the schema {SEARCH_REQUEST_URN}."
        )));
    }
    Params::from_search_body(&body)
}
