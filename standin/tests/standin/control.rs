//! The control API under `/_standin`: shops and plans, merchant actions, faults, and the
//! inspection of customers, webhooks and the call log with costs.

use serde_json::{Value, json};
use shopify_standin::sign;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, SHOP, TestStandIn};

async fn get(test: &TestStandIn, path: &str) -> (u16, Value) {
    let response = test.http.get(test.control(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send(
    test: &TestStandIn,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let response = test
        .http
        .request(method, test.control(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_control_api_creates_shops_sets_plans_and_lists_them() {
    let test = TestStandIn::start().await;

    let (created, shop) = send(
        &test,
        reqwest::Method::POST,
        "shops",
        json!({ "shop": "big-store", "plan": "plus" }),
    )
    .await;
    let (duplicate, _) = send(
        &test,
        reqwest::Method::POST,
        "shops",
        json!({ "shop": "big-store" }),
    )
    .await;
    let (invalid, _) = send(
        &test,
        reqwest::Method::POST,
        "shops",
        json!({ "shop": "evil.com" }),
    )
    .await;
    let (changed, moved) = send(
        &test,
        reqwest::Method::PUT,
        "shops/big-store/plan",
        json!({ "plan": "enterprise" }),
    )
    .await;
    let (_, listed) = get(&test, "shops").await;
    let (missing, _) = get(&test, "shops/nowhere").await;

    assert_eq!(created, 201);
    assert_eq!(shop["domain"], "big-store.myshopify.com");
    assert_eq!(shop["throttle_status"]["restoreRate"], 1000.0);
    assert_eq!(duplicate, 409);
    assert_eq!(invalid, 400);
    assert_eq!(changed, 200);
    assert_eq!(moved["plan"], "enterprise");
    assert_eq!(moved["throttle_status"]["restoreRate"], 2000.0);
    let domains: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        domains,
        ["acme-test.myshopify.com", "big-store.myshopify.com"]
    );
    assert_eq!(missing, 404);
}

#[tokio::test]
async fn the_merchant_edits_customers_and_adds_orders_through_the_control_api() {
    let test = TestStandIn::start().await;

    let (created, customer) = send(
        &test,
        reqwest::Method::POST,
        "shops/acme-test/customers",
        json!({ "email": "ada@example.com", "tags": "a, b" }),
    )
    .await;
    let id = customer["id"].as_u64().unwrap();
    let (edited, edit) = send(
        &test,
        reqwest::Method::PATCH,
        &format!("shops/acme-test/customers/{id}"),
        json!({ "lastName": "Lovelace" }),
    )
    .await;
    let (refused, errors) = send(
        &test,
        reqwest::Method::POST,
        "shops/acme-test/customers",
        json!({ "email": "ada@example.com" }),
    )
    .await;
    let (ordered, _) = send(
        &test,
        reqwest::Method::POST,
        &format!("shops/acme-test/customers/{id}/orders"),
        json!({ "amount": 42.0 }),
    )
    .await;
    let (blocked, _) = send(
        &test,
        reqwest::Method::DELETE,
        &format!("shops/acme-test/customers/{id}"),
        Value::Null,
    )
    .await;
    let (_, listed) = get(&test, "shops/acme-test/customers").await;

    assert_eq!(created, 201);
    assert_eq!(customer["tags"], json!(["a", "b"]));
    assert_eq!(edited, 200);
    assert_eq!(edit["last_name"], "Lovelace");
    assert_eq!(refused, 422);
    assert_eq!(
        errors["userErrors"][0]["message"],
        "Email has already been taken"
    );
    assert_eq!(ordered, 201);
    assert_eq!(blocked, 422);
    assert_eq!(listed[0]["orders"][0]["amount"], 42.0);
}

#[tokio::test]
async fn the_call_log_lists_each_admin_call_with_its_costs() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.create_customer(&token, json!({ "firstName": "Ada" }))
        .await;
    test.graphql(
        &token,
        "query Find { customers(first: 5) { nodes { id } } }",
        json!({}),
    )
    .await;
    test.graphql("shpat_unknown", "{ shop { name } }", json!({}))
        .await;

    let (status, calls) = get(&test, "shops/acme-test/calls").await;

    assert_eq!(status, 200);
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0]["operation"], "mutation");
    assert_eq!(calls[0]["root_fields"], json!(["customerCreate"]));
    assert_eq!(calls[0]["requested_cost"], 10);
    assert_eq!(calls[0]["actual_cost"], 10);
    assert_eq!(calls[1]["operation"], "query Find");
    assert_eq!(calls[1]["requested_cost"], 7);
    assert_eq!(calls[1]["actual_cost"], 3);
    assert_eq!(calls[1]["currently_available"], 2000 - 10 - 3);
    assert_eq!(calls[2]["status"], 401);
    assert_eq!(calls[2]["fault"], "unknown token");
}

#[tokio::test]
async fn a_share_of_admin_calls_fails_with_5xx_when_that_fault_is_set() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let (set, _) = send(
        &test,
        reqwest::Method::PUT,
        "faults",
        json!({ "error_share": 0.5, "error_status": 502 }),
    )
    .await;

    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(test.graphql(&token, "{ shop { name } }", json!({})).await.0);
    }
    let failed = statuses.iter().filter(|status| **status == 502).count();

    assert_eq!(set, 200);
    assert!((15..=45).contains(&failed), "{failed} of 60 failed");
    assert!(statuses.iter().all(|status| matches!(status, 200 | 502)));
    let (_, calls) = get(&test, "shops/acme-test/calls").await;
    let logged = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| call["fault"] == "server error 502")
        .count();
    assert_eq!(logged, failed);
}

#[tokio::test]
async fn timeout_throttle_and_latency_faults_shape_the_answers() {
    let test = TestStandIn::start().await;
    let token = test.token();

    send(
        &test,
        reqwest::Method::PUT,
        "faults",
        json!({ "timeout_share": 1.0 }),
    )
    .await;
    let (timed_out, _) = test.graphql(&token, "{ shop { name } }", json!({})).await;
    send(
        &test,
        reqwest::Method::PUT,
        "faults",
        json!({ "throttle_share": 1.0, "latency_ms": 5 }),
    )
    .await;
    let (throttled_status, throttled) = test.graphql(&token, "{ shop { name } }", json!({})).await;
    send(&test, reqwest::Method::PUT, "faults", json!({})).await;
    let (healthy, _) = test.graphql(&token, "{ shop { name } }", json!({})).await;

    assert_eq!(timed_out, 504);
    assert_eq!(throttled_status, 200);
    assert_eq!(throttled["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(
        throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
        2000
    );
    assert_eq!(healthy, 200);
}

#[tokio::test]
async fn the_control_api_mints_session_tokens_and_signed_launch_urls() {
    let test = TestStandIn::start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let (_, minted) = send(
        &test,
        reqwest::Method::POST,
        "shops/acme-test/session-token",
        json!({ "user_id": 42 }),
    )
    .await;
    let launch = no_redirects
        .get(test.control("shops/acme-test/launch"))
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(launch.headers()["location"].to_str().unwrap()).unwrap();
    let params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };

    let token = minted["session_token"].as_str().unwrap();
    let claims =
        sign::decode_session_token(CLIENT_SECRET, CLIENT_ID, token, crate::helpers::TS).unwrap();
    assert_eq!(claims.sub, "42");
    assert_eq!(launch.status(), 302);
    assert_eq!(location.path(), "/app");
    assert_eq!(param("shop"), SHOP);
    assert_eq!(param("embedded"), "1");
    assert_eq!(param("hmac"), sign::query_hmac(CLIENT_SECRET, &params));
    assert!(
        sign::decode_session_token(
            CLIENT_SECRET,
            CLIENT_ID,
            &param("id_token"),
            crate::helpers::TS
        )
        .is_ok()
    );
}

#[tokio::test]
async fn the_control_api_installs_uninstalls_and_reports_webhook_deliveries() {
    let test = TestStandIn::start().await;

    let (installed, grant) = send(
        &test,
        reqwest::Method::POST,
        "shops/acme-test/install",
        json!({}),
    )
    .await;
    let (uninstalled, _) = send(
        &test,
        reqwest::Method::POST,
        "shops/acme-test/uninstall",
        Value::Null,
    )
    .await;
    test.app.wait_for(1).await;
    // The app has the request before the stand-in has recorded its answer.
    crate::helpers::until("the delivery to be recorded", || {
        test.standin
            .deliveries()
            .first()
            .is_some_and(|d| d.delivered)
    })
    .await;
    let (_, deliveries) = get(&test, "webhooks").await;
    let (_, shop) = get(&test, "shops/acme-test").await;

    assert_eq!(installed, 200);
    assert!(
        grant["access_token"]
            .as_str()
            .unwrap()
            .starts_with("shpat_")
    );
    assert_eq!(uninstalled, 200);
    assert_eq!(shop["installed"], false);
    assert_eq!(deliveries[0]["topic"], "app/uninstalled");
    assert_eq!(deliveries[0]["delivered"], true);
    assert_eq!(deliveries[0]["attempts"][0]["status"], 200);
}

#[tokio::test]
async fn the_control_api_moves_a_manual_clock() {
    let test = TestStandIn::start().await;

    let (status, moved) = send(
        &test,
        reqwest::Method::POST,
        "clock/advance",
        json!({ "seconds": 90 }),
    )
    .await;
    let (_, clock) = get(&test, "clock").await;

    assert_eq!(status, 200);
    assert_eq!(moved["now"], "2026-01-01T00:01:30Z");
    assert_eq!(clock["manual"], true);
}

#[tokio::test]
async fn the_control_api_empties_a_bucket_that_then_refills_at_the_restore_rate() {
    let test = TestStandIn::start().await;
    let path = format!("shops/{SHOP}/bucket");

    let (emptied, empty) = send(
        &test,
        reqwest::Method::PUT,
        &path,
        json!({ "available": 0 }),
    )
    .await;
    test.clock.advance(std::time::Duration::from_secs(2));
    let (_, refilled) = get(&test, &format!("shops/{SHOP}")).await;
    let (_, capped) = send(
        &test,
        reqwest::Method::PUT,
        &path,
        json!({ "available": 1e9 }),
    )
    .await;
    let (unknown, _) = send(
        &test,
        reqwest::Method::PUT,
        "shops/nowhere/bucket",
        json!({ "available": 0 }),
    )
    .await;

    assert_eq!(emptied, 200);
    assert_eq!(empty["throttle_status"]["currentlyAvailable"], 0);
    assert_eq!(refilled["throttle_status"]["currentlyAvailable"], 200);
    assert_eq!(capped["throttle_status"]["currentlyAvailable"], 2000);
    assert_eq!(unknown, 404);
}

#[tokio::test]
async fn the_summary_names_the_admin_base_url_template() {
    let test = TestStandIn::start().await;

    let (status, summary) = get(&test, "").await;
    let (unknown, _) = get(&test, "nothing-here").await;

    assert_eq!(status, 200);
    assert_eq!(
        summary["admin_base_url"],
        format!("{}shops/{{shop}}", test.standin.url())
    );
    assert_eq!(summary["api_key"], CLIENT_ID);
    assert!(summary.to_string().find(CLIENT_SECRET).is_none());
    assert_eq!(unknown, 404);
}

#[tokio::test]
async fn pages_on_other_origins_get_session_tokens_and_an_app_bridge_stub_that_fetches_them() {
    let test = TestStandIn::start().await;

    let response = test
        .http
        .get(test.control("shops/acme-test/session-token"))
        .header("origin", "http://127.0.0.1:8080")
        .send()
        .await
        .unwrap();
    let cors = response.headers()["access-control-allow-origin"].clone();
    let body: Value = response.json().await.unwrap();
    let stub = test
        .http
        .get(test.control("app-bridge.js"))
        .send()
        .await
        .unwrap();
    let content_type = stub.headers()["content-type"].clone();
    let script = stub.text().await.unwrap();

    assert_eq!(cors, "*");
    let token = body["session_token"].as_str().unwrap();
    let claims = sign::decode_session_token(
        CLIENT_SECRET,
        CLIENT_ID,
        token,
        test.clock.now().timestamp(),
    );
    assert!(claims.is_ok(), "{claims:?}");
    assert!(
        content_type
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.contains(&format!("const standin = \"{}\";", test.standin.url())));
    assert!(script.contains("window.shopify"));
}

#[tokio::test]
async fn webhook_targets_can_be_moved_without_moving_the_app_url() {
    let test = TestStandIn::start().await;
    let app_url = test.standin.app_url();
    let elsewhere = url::Url::parse("http://127.0.0.1:9/").unwrap();

    test.standin
        .set_webhook_targets(shopify_standin::WebhookTargets::under(&elsewhere));

    assert_eq!(test.standin.app_url(), app_url);
    assert_eq!(
        test.standin.webhook_targets().app.unwrap().as_str(),
        "http://127.0.0.1:9/webhooks/app"
    );
}
