//! The admin page's JSON API, authenticated by App Bridge session tokens minted by the
//! Shopify stand-in: the shop's state, SCIM token creation (plaintext once) and revocation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ShopifyTestApp, TestTenant, spawn_app_with_shopify, standin_config};

const SHOP: &str = "acme.myshopify.com";
const OTHER: &str = "other.myshopify.com";

async fn installed() -> ShopifyTestApp {
    let config = standin_config(SHOP).with_shop(OTHER, shopify_standin::Plan::Plus);
    let test = spawn_app_with_shopify(SHOP, config).await;
    for shop in [SHOP, OTHER] {
        let launch = test.standin.launch_url(shop).unwrap();
        let response = test.app.client.get(launch).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    test
}

async fn call(
    test: &ShopifyTestApp,
    shop: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let token = test.standin.session_token(shop, None).unwrap();
    let mut request = test
        .app
        .client
        .request(method, format!("{}{path}", test.app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_shop_api_shows_the_install_state_and_scim_base_url() {
    let test = installed().await;

    let (status, body) = call(&test, SHOP, Method::GET, "/app/api/shop", None).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["shop"], SHOP);
    assert_eq!(body["install_state"], "installed");
    assert_eq!(body["scim_base_url"], "http://127.0.0.1/scim/v2/acme");
    assert_eq!(body["tokens"], json!([]));
}

#[tokio::test]
async fn a_token_created_by_the_admin_is_shown_once_and_works_until_revoked() {
    let test = installed().await;

    let (status, created) = call(
        &test,
        SHOP,
        Method::POST,
        "/app/api/tokens",
        Some(json!({"label": "Okta", "expires_in_days": 30})),
    )
    .await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["label"], "Okta");
    assert!(created["expires_at"].is_string());
    let secret = created["token"].as_str().unwrap().to_owned();
    let tenant = TestTenant {
        handle: "acme".to_owned(),
        token: secret.clone(),
    };
    let (scim, _) = test
        .app
        .send_scim(Method::GET, &tenant, "/Users", None)
        .await;
    assert_eq!(scim, StatusCode::OK);
    let (_, listed) = call(&test, SHOP, Method::GET, "/app/api/shop", None).await;
    assert_eq!(listed["tokens"][0]["id"], created["id"]);
    assert!(
        !listed.to_string().contains(&secret),
        "a listing never shows the secret"
    );

    let id = created["id"].as_str().unwrap();
    let (revoked, _) = call(
        &test,
        SHOP,
        Method::DELETE,
        &format!("/app/api/tokens/{id}"),
        None,
    )
    .await;

    assert_eq!(revoked, StatusCode::NO_CONTENT);
    let (scim, _) = test
        .app
        .send_scim(Method::GET, &tenant, "/Users", None)
        .await;
    assert_eq!(scim, StatusCode::UNAUTHORIZED);
    let (_, listed) = call(&test, SHOP, Method::GET, "/app/api/shop", None).await;
    assert_eq!(listed["tokens"][0]["status"], "revoked");
}

#[tokio::test]
async fn another_shop_s_admin_cannot_revoke_or_see_this_shop_s_tokens() {
    let test = installed().await;
    let (_, created) = call(
        &test,
        SHOP,
        Method::POST,
        "/app/api/tokens",
        Some(json!({})),
    )
    .await;
    let id = created["id"].as_str().unwrap();

    let (revoke, _) = call(
        &test,
        OTHER,
        Method::DELETE,
        &format!("/app/api/tokens/{id}"),
        None,
    )
    .await;
    let (_, listed) = call(&test, OTHER, Method::GET, "/app/api/shop", None).await;

    assert_eq!(revoke, StatusCode::NOT_FOUND);
    assert_eq!(listed["tokens"], json!([]));
    let (_, mine) = call(&test, SHOP, Method::GET, "/app/api/shop", None).await;
    assert_eq!(mine["tokens"][0]["status"], "active");
}

#[tokio::test]
async fn an_invalid_session_token_gets_401_with_the_retry_header() {
    let test = installed().await;
    let forged = test
        .standin
        .session_token(SHOP, None)
        .unwrap()
        .replace('.', ".x");

    for token in [None, Some("not-a-jwt".to_owned()), Some(forged)] {
        let mut request = test
            .app
            .client
            .get(format!("{}/app/api/shop", test.app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["x-shopify-retry-invalid-session-request"],
            "1"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_session_token");
    }
}

#[tokio::test]
async fn bad_token_requests_get_clear_400s() {
    let test = installed().await;

    let long_label = "x".repeat(81);
    let cases = [
        json!({"label": long_label}),
        json!({"expires_in_days": 4000}),
        json!({"expires_in_days": -1}),
        json!({"colour": "blue"}),
    ];
    for body in cases {
        let (status, answer) = call(
            &test,
            SHOP,
            Method::POST,
            "/app/api/tokens",
            Some(body.clone()),
        )
        .await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["message"].is_string(), "{body}");
    }
    let (_, listed) = call(&test, SHOP, Method::GET, "/app/api/shop", None).await;
    assert_eq!(listed["tokens"], json!([]));
}
