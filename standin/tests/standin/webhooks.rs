//! Webhooks: every customer change (the app's own included), uninstall and the compliance
//! topics reach the app with Shopify's headers and an HMAC over the exact body bytes, are
//! retried on non-2xx, and can be duplicated or reordered on request.

use serde_json::json;
use shopify_standin::Faults;
use shopify_standin::sign;
use shopify_standin::store::CustomerInput;

use crate::helpers::{CLIENT_SECRET, Received, SHOP, TestStandIn, numeric_id};

fn topics(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|request| request.header("X-Shopify-Topic").to_owned())
        .collect()
}

fn assert_signed(request: &Received) {
    assert_eq!(
        request.header("X-Shopify-Hmac-Sha256"),
        sign::webhook_hmac(CLIENT_SECRET, &request.body),
        "{request:?}"
    );
}

fn named(first_name: &str) -> CustomerInput {
    serde_json::from_value(json!({ "firstName": first_name })).unwrap()
}

#[tokio::test]
async fn every_customer_change_the_app_makes_comes_back_signed_with_every_header() {
    let test = TestStandIn::start().await;
    let token = test.token();

    let id = test
        .create_customer(
            &token,
            json!({ "email": "ada@example.com", "firstName": "Ada" }),
        )
        .await;
    test.graphql(
        &token,
        "mutation($id: ID!) { tagsAdd(id: $id, tags: [\"vip\"]) { userErrors { message } } }",
        json!({ "id": id }),
    )
    .await;
    test.graphql(
        &token,
        "mutation($id: ID!) { customerDelete(input: {id: $id}) { deletedCustomerId } }",
        json!({ "id": id }),
    )
    .await;
    let received = test.app.wait_for(3).await;

    assert_eq!(
        topics(&received),
        ["customers/create", "customers/update", "customers/delete"]
    );
    for request in &received {
        assert_eq!(request.path, "/webhooks/customers");
        assert_signed(request);
        assert_eq!(request.header("Content-Type"), "application/json");
        assert_eq!(request.header("X-Shopify-Shop-Domain"), SHOP);
        assert_eq!(request.header("X-Shopify-API-Version"), "2026-07");
        assert_eq!(
            request.header("X-Shopify-Triggered-At"),
            "2026-01-01T00:00:00.000000Z"
        );
        assert_eq!(request.header("X-Shopify-Webhook-Id").len(), 36);
        assert_eq!(request.header("X-Shopify-Event-Id").len(), 36);
    }
    let created = received[0].json();
    assert_eq!(created["admin_graphql_api_id"], id);
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["updated_at"], "2026-01-01T00:00:00+00:00");
    assert_eq!(
        received[2].json(),
        json!({ "id": numeric_id(&id), "tax_exemptions": [], "admin_graphql_api_id": id })
    );
}

#[tokio::test]
async fn the_hmac_is_over_the_exact_bytes_so_reserialised_json_does_not_verify() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.create_customer(&token, json!({ "firstName": "Ada" }))
        .await;

    let received = test.app.wait_for(1).await;
    let reserialised = serde_json::to_vec_pretty(&received[0].json()).unwrap();

    assert_signed(&received[0]);
    assert_ne!(
        received[0].header("X-Shopify-Hmac-Sha256"),
        sign::webhook_hmac(CLIENT_SECRET, &reserialised)
    );
}

#[tokio::test]
async fn merchant_edits_and_orders_arrive_as_customer_updates() {
    let test = TestStandIn::start().await;
    test.token();

    let customer = test.standin.create_customer(SHOP, &named("Ada")).unwrap();
    test.standin
        .update_customer(SHOP, customer.id, &named("Augusta"))
        .unwrap();
    test.standin.add_order(SHOP, customer.id, 12.5).unwrap();
    let received = test.app.wait_for(3).await;

    assert_eq!(
        topics(&received),
        ["customers/create", "customers/update", "customers/update"]
    );
    assert_eq!(received[1].json()["first_name"], "Augusta");
    received.iter().for_each(assert_signed);
}

#[tokio::test]
async fn customer_changes_are_not_sent_to_an_app_that_is_not_installed() {
    let test = TestStandIn::start().await;

    test.standin.create_customer(SHOP, &named("Ada")).unwrap();
    test.standin.redact_shop(SHOP).unwrap();
    let received = test.app.wait_for(1).await;

    assert_eq!(topics(&received), ["shop/redact"]);
}

#[tokio::test]
async fn a_delivery_answered_with_5xx_is_retried_with_the_same_webhook_id_until_it_succeeds() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.app.answer_with(&[500, 503]);

    test.create_customer(&token, json!({ "firstName": "Ada" }))
        .await;
    let received = test.app.wait_for(3).await;

    let ids: Vec<&str> = received
        .iter()
        .map(|request| request.header("X-Shopify-Webhook-Id"))
        .collect();
    assert_eq!(ids, vec![ids[0]; 3]);
    assert_eq!(received[0].body, received[2].body);
    // The app has the third request before the stand-in has recorded its answer.
    crate::helpers::until("the delivery to be recorded", || {
        test.standin.deliveries()[0].delivered
    })
    .await;
    let delivery = &test.standin.deliveries()[0];
    let statuses: Vec<Option<u16>> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    assert!(delivery.delivered);
}

#[tokio::test]
async fn retries_stop_after_the_configured_schedule() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.app.answer_with(&[500; 10]);

    test.create_customer(&token, json!({ "firstName": "Ada" }))
        .await;
    test.app.wait_for(4).await;
    crate::helpers::until("the stand-in to give up", || {
        test.standin.deliveries()[0].gave_up
    })
    .await;

    assert_eq!(test.standin.deliveries()[0].attempts.len(), 4);
    assert!(!test.standin.deliveries()[0].delivered);
}

#[tokio::test]
async fn the_duplicate_fault_delivers_the_same_webhook_twice() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.standin.set_faults(Faults {
        webhook_duplicate_share: 1.0,
        ..Faults::default()
    });

    test.create_customer(&token, json!({ "firstName": "Ada" }))
        .await;
    let received = test.app.wait_for(2).await;

    assert_eq!(
        received[0].header("X-Shopify-Webhook-Id"),
        received[1].header("X-Shopify-Webhook-Id")
    );
    assert_eq!(received[0].body, received[1].body);
}

#[tokio::test]
async fn the_reorder_fault_delivers_a_webhook_after_the_one_that_followed_it() {
    let test = TestStandIn::start().await;
    let token = test.token();
    test.standin.set_faults(Faults {
        webhook_reorder_share: 1.0,
        ..Faults::default()
    });

    let id = test
        .create_customer(&token, json!({ "firstName": "Ada" }))
        .await;
    test.graphql(
        &token,
        "mutation($input: CustomerInput!) {
           customerUpdate(input: $input) { userErrors { message } } }",
        json!({ "input": { "id": id, "firstName": "Augusta" } }),
    )
    .await;
    let received = test.app.wait_for(2).await;

    assert_eq!(topics(&received), ["customers/update", "customers/create"]);
}

#[tokio::test]
async fn uninstall_sends_app_uninstalled_with_the_shop() {
    let test = TestStandIn::start().await;
    test.token();

    test.standin.uninstall(SHOP).unwrap();
    let received = test.app.wait_for(1).await;

    assert_eq!(topics(&received), ["app/uninstalled"]);
    assert_eq!(received[0].path, "/webhooks/app");
    assert_eq!(received[0].json()["myshopify_domain"], SHOP);
    assert_signed(&received[0]);
}

#[tokio::test]
async fn compliance_requests_send_data_request_customer_redact_and_shop_redact() {
    let test = TestStandIn::start().await;
    test.token();
    let customer = test
        .standin
        .create_customer(
            SHOP,
            &serde_json::from_value(
                json!({ "email": "john@example.com", "phone": "+15556251199" }),
            )
            .unwrap(),
        )
        .unwrap();
    let order = test.standin.add_order(SHOP, customer.id, 10.0).unwrap();
    test.app.wait_for(2).await;

    test.standin
        .request_customer_data(SHOP, customer.id)
        .unwrap();
    test.standin.redact_customer(SHOP, customer.id).unwrap();
    test.standin.uninstall(SHOP).unwrap();
    test.standin.redact_shop(SHOP).unwrap();
    let received = test.app.wait_for(6).await;

    let compliance: Vec<&Received> = received
        .iter()
        .filter(|request| request.path == "/webhooks/compliance")
        .collect();
    assert_eq!(
        topics(&compliance.iter().map(|r| (*r).clone()).collect::<Vec<_>>()),
        ["customers/data_request", "customers/redact", "shop/redact"]
    );
    let data_request = compliance[0].json();
    assert_eq!(data_request["shop_domain"], SHOP);
    assert_eq!(
        data_request["customer"],
        json!({ "id": customer.id, "email": "john@example.com", "phone": "+15556251199" })
    );
    assert_eq!(data_request["orders_requested"], json!([order.id]));
    assert!(data_request["data_request"]["id"].is_u64());
    assert_eq!(compliance[1].json()["orders_to_redact"], json!([order.id]));
    assert_eq!(
        compliance[2].json(),
        json!({ "shop_id": test.standin.shop(SHOP).unwrap().id, "shop_domain": SHOP })
    );
    compliance.iter().for_each(|request| assert_signed(request));
}

#[tokio::test]
async fn webhooks_follow_an_app_url_set_after_the_stand_in_started() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let moved = crate::helpers::Receiver::start().await;

    test.standin.set_app_url(moved.url.clone());
    test.create_customer(&token, json!({ "firstName": "Ada" }))
        .await;
    let received = moved.wait_for(1).await;

    assert_eq!(received[0].path, "/webhooks/customers");
    assert!(test.app.received().is_empty());
    assert_eq!(test.standin.app_url(), Some(moved.url));
}
