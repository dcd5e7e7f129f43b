//! `shopify.app.toml` is complete for Shopify CLI and names only routes the app serves.

use reqwest::{Method, StatusCode};
use toml::Value;

use crate::helpers::spawn_app;

fn app_toml() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/shopify.app.toml");
    let text = std::fs::read_to_string(path).expect("reading shopify.app.toml");
    toml::from_str(&text).expect("shopify.app.toml is valid TOML")
}

fn str_list(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| item.as_str().expect("a string"))
        .collect()
}

/// Every (method, URL) the file makes Shopify call.
fn routes_named(config: &Value) -> Vec<(&'static str, url::Url)> {
    let parse = |text: &str| url::Url::parse(text).expect("an absolute URL");
    let mut routes = vec![("GET", parse(config["application_url"].as_str().unwrap()))];
    for redirect in str_list(&config["auth"]["redirect_urls"]) {
        routes.push(("GET", parse(redirect)));
    }
    for subscription in config["webhooks"]["subscriptions"].as_array().unwrap() {
        routes.push(("POST", parse(subscription["uri"].as_str().unwrap())));
    }
    routes
}

#[test]
fn the_app_configuration_has_every_key_shopify_cli_requires() {
    let config = app_toml();

    assert_eq!(config["client_id"].as_str().map(str::len), Some(32));
    assert_eq!(config["embedded"].as_bool(), Some(true));
    assert_eq!(
        config["access_scopes"]["scopes"].as_str(),
        Some("read_customers,write_customers")
    );
    assert!(!str_list(&config["auth"]["redirect_urls"]).is_empty());
    assert_eq!(config["webhooks"]["api_version"].as_str(), Some("2026-07"));
    let handle = config["handle"].as_str().unwrap();
    assert!(
        handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
    );
    assert!(config["name"].as_str().unwrap().len() <= 30);
}

#[test]
fn the_app_subscribes_to_lifecycle_customer_and_compliance_topics_exactly_once() {
    let config = app_toml();
    let subscriptions = config["webhooks"]["subscriptions"].as_array().unwrap();

    let mut topics: Vec<&str> = subscriptions
        .iter()
        .filter_map(|s| s.get("topics"))
        .flat_map(str_list)
        .collect();
    let mut compliance: Vec<&str> = subscriptions
        .iter()
        .filter_map(|s| s.get("compliance_topics"))
        .flat_map(str_list)
        .collect();
    topics.sort_unstable();
    compliance.sort_unstable();

    assert_eq!(
        topics,
        [
            "app/scopes_update",
            "app/uninstalled",
            "customers/create",
            "customers/delete",
            "customers/update",
        ]
    );
    assert_eq!(
        compliance,
        ["customers/data_request", "customers/redact", "shop/redact"]
    );
}

#[test]
fn every_uri_in_the_app_configuration_is_on_the_app_host_over_https() {
    let config = app_toml();
    let application_url = url::Url::parse(config["application_url"].as_str().unwrap()).unwrap();

    for (_, url) in routes_named(&config) {
        assert_eq!(url.scheme(), "https", "{url}");
        assert_eq!(url.host_str(), application_url.host_str(), "{url}");
        assert!(url.query().is_none(), "{url}");
    }
}

#[tokio::test]
async fn every_route_in_the_app_configuration_is_served_for_its_method() {
    let app = spawn_app().await;
    let config = app_toml();

    for (method, url) in routes_named(&config) {
        let response = app
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.address.clone() + url.path(),
            )
            .send()
            .await
            .unwrap();

        let status = response.status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {} answered {status}",
            url.path()
        );
    }
}
