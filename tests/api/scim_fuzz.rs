//! Random input against the running SCIM endpoint: filters, bodies and paths built from
//! SCIM-shaped fragments. Whatever arrives, the answer is never a 5xx, and every error is an
//! RFC 7644 error body.

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, spawn_app};

/// Cases per input shape; deterministic, so a failure reproduces.
const CASES: usize = 120;

fn filter_text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("userName".to_owned()),
        Just("emails[type eq \"work\"]".to_owned()),
        Just("emails[type eq \"work\"].value".to_owned()),
        Just("name.familyName".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_owned()),
        Just("meta.lastModified".to_owned()),
        Just("active".to_owned()),
        Just(" eq ".to_owned()),
        Just(" co ".to_owned()),
        Just(" gt ".to_owned()),
        Just(" pr".to_owned()),
        Just(" and ".to_owned()),
        Just(" or ".to_owned()),
        Just("not (".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("\"x\"".to_owned()),
        Just("\"2026-01-01T00:00:00Z\"".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("12.5".to_owned()),
        "[a-zA-Z0-9\"\\\\ .:\\[\\]()$-]{0,8}",
    ];
    prop::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("userName".to_owned()),
        Just("UserName".to_owned()),
        Just("displayName".to_owned()),
        Just("active".to_owned()),
        Just("emails".to_owned()),
        Just("members".to_owned()),
        Just("name".to_owned()),
        Just("value".to_owned()),
        Just("primary".to_owned()),
        Just("op".to_owned()),
        Just("path".to_owned()),
        Just("Operations".to_owned()),
        Just("schemas".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()),
        "[a-zA-Z.$:]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(json!("urn:ietf:params:scim:schemas:core:2.0:User")),
        Just(json!("urn:ietf:params:scim:api:messages:2.0:PatchOp")),
        Just(json!("replace")),
        Just(json!("Remove")),
        Just(json!("members[value eq \"x\"]")),
        Just(json!("emails[type eq \"work\"].value")),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn samples<S: Strategy>(strategy: S) -> Vec<S::Value> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

async fn assert_handled(response: reqwest::Response, what: &str) -> StatusCode {
    let status = response.status();
    assert!(!status.is_server_error(), "{what} answered {status}");
    if status.is_client_error() {
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{what}"
        );
    }
    status
}

async fn user_and_group(app: &TestApp, tenant: &TestTenant) -> (String, String) {
    let user: Value = app
        .scim(Method::POST, tenant, "/Users")
        .json(&json!({ "userName": "fuzz@x.test" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group: Value = app
        .scim(Method::POST, tenant, "/Groups")
        .json(&json!({ "displayName": "Fuzzers" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        user["id"].as_str().unwrap().to_owned(),
        group["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn random_filters_sorts_and_pages_never_cause_a_server_error() {
    let app = spawn_app().await;
    let tenant = app.tenant("fuzz-filters").await;
    user_and_group(&app, &tenant).await;
    let mut statuses = Vec::new();

    for filter in samples(filter_text()) {
        for collection in ["/Users", "/Groups"] {
            let response = app
                .scim(Method::GET, &tenant, collection)
                .query(&[("filter", filter.as_str()), ("sortBy", filter.as_str())])
                .query(&[("startIndex", "-3"), ("count", "99999")])
                .send()
                .await
                .unwrap();
            let what = format!("GET {collection} filter={filter:?}");
            statuses.push(assert_handled(response, &what).await);
        }
    }

    let accepted = statuses.iter().filter(|s| s.is_success()).count();
    let rejected = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert!(
        accepted > 0 && rejected > 0,
        "{accepted} accepted, {rejected} rejected"
    );
}

#[tokio::test]
async fn random_bodies_for_every_write_never_cause_a_server_error() {
    let app = spawn_app().await;
    let tenant = app.tenant("fuzz-bodies").await;
    let (user, group) = user_and_group(&app, &tenant).await;
    let targets = [
        (Method::POST, "/Users".to_owned()),
        (Method::POST, "/Groups".to_owned()),
        (Method::PUT, format!("/Users/{user}")),
        (Method::PATCH, format!("/Users/{user}")),
        (Method::PATCH, format!("/Groups/{group}")),
        (Method::POST, "/Bulk".to_owned()),
        (Method::POST, "/.search".to_owned()),
    ];

    for (index, body) in samples(json_value()).into_iter().enumerate() {
        let (method, path) = &targets[index % targets.len()];
        let response = app
            .scim(method.clone(), &tenant, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let _ = assert_handled(response, &format!("{method} {path} with {body}")).await;
    }
}

#[tokio::test]
async fn random_patch_operations_never_cause_a_server_error() {
    let app = spawn_app().await;
    let tenant = app.tenant("fuzz-patch").await;
    let (user, group) = user_and_group(&app, &tenant).await;
    let operation = (
        prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("move")],
        prop::option::of(filter_text()),
        prop::option::of(json_value()),
    );

    for (index, (op, path, value)) in samples(operation).into_iter().enumerate() {
        let mut operation = json!({ "op": op });
        if let Some(path) = path {
            operation["path"] = json!(path);
        }
        if let Some(value) = value {
            operation["value"] = value;
        }
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation],
        });
        let path = if index % 2 == 0 {
            format!("/Users/{user}")
        } else {
            format!("/Groups/{group}")
        };

        let response = app
            .scim(Method::PATCH, &tenant, &path)
            .json(&body)
            .send()
            .await
            .unwrap();

        let _ = assert_handled(response, &format!("PATCH {path} with {body}")).await;
    }
}
