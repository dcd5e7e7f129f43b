//! What every route shares: request ids, JSON errors for unknown URLs and methods, and the
//! body cap.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestOptions, spawn_app, spawn_app_with};

#[tokio::test]
async fn every_response_carries_a_generated_request_id() {
    let app = spawn_app().await;

    let first = app.get("/healthz").await;
    let second = app.get("/no-such-page").await;

    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (first_id, second_id) = (id(&first), id(&second));
    assert!(uuid::Uuid::parse_str(&first_id).is_ok(), "{first_id}");
    assert!(uuid::Uuid::parse_str(&second_id).is_ok(), "{second_id}");
    assert_ne!(first_id, second_id);
}

#[tokio::test]
async fn a_valid_incoming_request_id_is_echoed() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "okta-7f3a.42")
        .send()
        .await
        .unwrap();

    assert_eq!(response.headers()["x-request-id"], "okta-7f3a.42");
}

#[tokio::test]
async fn a_malformed_incoming_request_id_is_replaced() {
    let app = spawn_app().await;
    let oversized = "x".repeat(200);

    for sent in ["has spaces", "quote\"d", oversized.as_str()] {
        let response = app
            .client
            .get(format!("{}/healthz", app.address))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();

        let returned = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(returned, sent);
        assert!(uuid::Uuid::parse_str(returned).is_ok(), "{returned}");
    }
}

#[tokio::test]
async fn an_unknown_url_answers_a_json_404() {
    let app = spawn_app().await;

    let response = app.get("/definitely/not/here?hmac=abc").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": 404, "error": "not_found", "message": "no resource at this URL" })
    );
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_answers_a_json_405() {
    let app = spawn_app().await;

    let response = app
        .client
        .delete(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
}

#[tokio::test]
async fn a_body_over_the_cap_answers_413_before_routing() {
    let app = spawn_app_with(capped_at_1_kib()).await;

    let response = app.post_bytes("/healthz", vec![b'a'; 4096]).await;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({
            "status": 413,
            "error": "payload_too_large",
            "message": "request body larger than 1024 bytes",
        })
    );
}

#[tokio::test]
async fn a_body_within_the_cap_reaches_the_router() {
    let app = spawn_app_with(capped_at_1_kib()).await;

    let response = app.post_bytes("/healthz", vec![b'a'; 512]).await;

    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

fn capped_at_1_kib() -> TestOptions {
    TestOptions {
        max_body_bytes: 1024,
        ..TestOptions::default()
    }
}
