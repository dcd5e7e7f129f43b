//! `/Bulk` (RFC 7644 §3.7): many operations in one request, each applied through the
//! resource service in its own transaction, with `bulkId` references and `failOnErrors`.
//!
//! Known limitations: a `bulkId` must be created by an earlier operation of the same request
//! (forward and circular references are answered `invalidValue`, not reordered), and only
//! `/Users` and `/Groups` paths are accepted.

use serde_json::{Map, Value, json};

use crate::scim::error::{Error, Result};
use crate::scim::service::{self, Ctx, Kind};

/// URN of a Bulk request.
pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of a Bulk response.
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Why a Bulk request was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The request is not a Bulk request. 400 `invalidSyntax`.
    #[error("{0}")]
    InvalidSyntax(String),
    /// More operations than allowed. 413.
    #[error("a bulk request may carry at most {max} operations")]
    TooManyOperations {
        /// The limit.
        max: usize,
    },
    /// Storage failed. 500.
    #[error("storage failure")]
    Service(#[source] Error),
}

/// One operation as parsed from the request.
struct BulkOp {
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
}

/// Runs a Bulk request and returns the `BulkResponse` body.
pub async fn run(ctx: &Ctx<'_>, body: &Value, max_operations: usize) -> Result<Value, BulkError> {
    let (operations, fail_on_errors) = parse(body, max_operations)?;

    let mut created: Map<String, Value> = Map::new();
    let mut results = Vec::with_capacity(operations.len());
    let mut errors = 0usize;
    for operation in &operations {
        let outcome = apply(ctx, operation, &created).await;
        let result = match outcome {
            Ok((status, stored)) => {
                if let (Some(bulk_id), Some(stored)) = (&operation.bulk_id, &stored)
                    && let Some(id) = stored.resource.get("id")
                {
                    created.insert(bulk_id.clone(), id.clone());
                }
                success(operation, status, stored.as_ref())
            }
            Err(Error::Store(source)) => return Err(BulkError::Service(Error::Store(source))),
            Err(error) => {
                errors += 1;
                failure(operation, &error)
            }
        };
        results.push(result);
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }

    Ok(json!({ "schemas": [BULK_RESPONSE_URN], "Operations": results }))
}

fn parse(body: &Value, max_operations: usize) -> Result<(Vec<BulkOp>, Option<usize>), BulkError> {
    let invalid = |text: &str| BulkError::InvalidSyntax(text.to_owned());
    let object = body
        .as_object()
        .ok_or_else(|| invalid("the body must be a JSON object"))?;
    let declared = object
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|schemas| schemas.iter().any(|s| s == BULK_REQUEST_URN));
    if !declared {
        return Err(invalid("the request must declare the BulkRequest schema"));
    }
    let get = |name: &str| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    let fail_on_errors = match get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("failOnErrors must be a positive integer"))?,
        ),
    };
    let raw = get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("the request needs an Operations array"))?;
    if raw.len() > max_operations {
        return Err(BulkError::TooManyOperations {
            max: max_operations,
        });
    }

    let operations = raw
        .iter()
        .map(|op| {
            let op = op
                .as_object()
                .ok_or_else(|| invalid("each operation must be an object"))?;
            let field = |name: &str| {
                op.iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value)
            };
            let text = |name: &str| field(name).and_then(Value::as_str).map(str::to_owned);
            Ok(BulkOp {
                method: text("method")
                    .ok_or_else(|| invalid("each operation needs a method"))?
                    .to_ascii_uppercase(),
                bulk_id: text("bulkId"),
                path: text("path").ok_or_else(|| invalid("each operation needs a path"))?,
                data: field("data").cloned(),
                version: text("version"),
            })
        })
        .collect::<Result<Vec<_>, BulkError>>()?;
    Ok((operations, fail_on_errors))
}

/// Applies one operation; returns its HTTP status and, except for DELETE, the resource.
async fn apply(
    ctx: &Ctx<'_>,
    op: &BulkOp,
    created: &Map<String, Value>,
) -> Result<(u16, Option<service::Stored>)> {
    let path = resolve_text(&op.path, created)?;
    let (kind, id) = parse_path(&path)?;
    let data = op
        .data
        .as_ref()
        .map(|data| resolve_value(data, created))
        .transpose()?;
    let need_data = || {
        data.as_ref()
            .ok_or_else(|| Error::InvalidSyntax("the operation needs data".into()))
    };
    let if_match = op.version.as_deref();

    match (op.method.as_str(), id) {
        ("POST", None) => {
            if op.bulk_id.is_none() {
                return Err(Error::InvalidSyntax(
                    "a POST operation needs a bulkId".into(),
                ));
            }
            Ok((201, Some(service::create(ctx, kind, need_data()?).await?)))
        }
        ("PUT", Some(id)) => Ok((
            200,
            Some(service::replace(ctx, kind, &id, need_data()?, if_match).await?),
        )),
        ("PATCH", Some(id)) => Ok((
            200,
            Some(service::patch(ctx, kind, &id, need_data()?, if_match).await?),
        )),
        ("DELETE", Some(id)) => {
            service::delete(ctx, kind, &id, if_match).await?;
            Ok((204, None))
        }
        _ => Err(Error::InvalidSyntax(
            "the method does not fit the path (POST to a collection; PUT, PATCH or DELETE \
             to a resource)"
                .into(),
        )),
    }
}

/// `/Users`, `/Users/{id}`, `/Groups`, `/Groups/{id}`.
fn parse_path(path: &str) -> Result<(Kind, Option<String>)> {
    let trimmed = path.trim().trim_start_matches('/');
    let (collection, id) = match trimmed.split_once('/') {
        Some((collection, id)) if !id.is_empty() && !id.contains('/') => {
            (collection, Some(id.to_owned()))
        }
        Some(_) => {
            return Err(Error::InvalidPath(
                "the operation path is not a resource".into(),
            ));
        }
        None => (trimmed, None),
    };
    let kind = match collection {
        "Users" => Kind::User,
        "Groups" => Kind::Group,
        _ => {
            return Err(Error::InvalidPath(
                "only /Users and /Groups are accepted".into(),
            ));
        }
    };
    Ok((kind, id))
}

/// Replaces `bulkId:<id>` by the id created earlier in this request.
fn resolve_text(text: &str, created: &Map<String, Value>) -> Result<String> {
    let Some(start) = text.find("bulkId:") else {
        return Ok(text.to_owned());
    };
    let reference = &text[start + "bulkId:".len()..];
    let end = reference.find('/').unwrap_or(reference.len());
    let id = created
        .get(&reference[..end])
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidValue("a bulkId reference names no earlier POST".into()))?;
    Ok(format!("{}{id}{}", &text[..start], &reference[end..]))
}

fn resolve_value(value: &Value, created: &Map<String, Value>) -> Result<Value> {
    Ok(match value {
        Value::String(text) if text.contains("bulkId:") => {
            Value::String(resolve_text(text, created)?)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve_value(item, created))
                .collect::<Result<_>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, field)| Ok((key.clone(), resolve_value(field, created)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

fn success(op: &BulkOp, status: u16, stored: Option<&service::Stored>) -> Value {
    let mut result = json!({ "method": op.method, "status": status.to_string() });
    if let Some(bulk_id) = &op.bulk_id {
        result["bulkId"] = json!(bulk_id);
    }
    if let Some(stored) = stored {
        result["location"] = stored.resource["meta"]["location"].clone();
        result["version"] = json!(stored.version);
    }
    result
}

fn failure(op: &BulkOp, error: &Error) -> Value {
    let status = error.status().to_string();
    let mut response =
        json!({ "schemas": [ERROR_URN], "status": status, "detail": error.to_string() });
    if let Some(scim_type) = error.scim_type() {
        response["scimType"] = json!(scim_type);
    }
    let mut result = json!({ "method": op.method, "status": status, "response": response });
    if let Some(bulk_id) = &op.bulk_id {
        result["bulkId"] = json!(bulk_id);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_id_references_resolve_in_paths_and_data() {
        let mut created = Map::new();
        created.insert("qwerty".into(), json!("u-1"));

        let path = resolve_text("/Users/bulkId:qwerty", &created).unwrap();
        let data =
            resolve_value(&json!({"members": [{"value": "bulkId:qwerty"}]}), &created).unwrap();

        assert_eq!(path, "/Users/u-1");
        assert_eq!(data, json!({"members": [{"value": "u-1"}]}));
    }

    #[test]
    fn an_unknown_bulk_id_is_an_invalid_value() {
        let error = resolve_text("/Users/bulkId:nope", &Map::new()).unwrap_err();

        assert!(matches!(error, Error::InvalidValue(_)));
    }

    #[test]
    fn paths_name_a_collection_or_one_resource() {
        assert!(matches!(parse_path("/Users"), Ok((Kind::User, None))));
        assert!(matches!(parse_path("/Groups/g1"), Ok((Kind::Group, Some(ref id))) if id == "g1"));
        assert!(parse_path("/Widgets").is_err());
        assert!(parse_path("/Users/a/b").is_err());
    }

    #[test]
    fn requests_over_the_operation_limit_are_refused_whole() {
        let body = json!({
            "schemas": [BULK_REQUEST_URN],
            "Operations": [
                {"method": "DELETE", "path": "/Users/a"},
                {"method": "DELETE", "path": "/Users/b"},
            ],
        });

        let error = parse(&body, 1).err().unwrap();

        assert!(matches!(error, BulkError::TooManyOperations { max: 1 }));
    }
}
