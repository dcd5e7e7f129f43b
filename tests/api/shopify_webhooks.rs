//! Webhook receivers: HMAC over the raw body, required headers, deduplication by webhook id,
//! background processing, and the compliance topics against the Shopify stand-in.

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shopify_scim::store::{exports, shops, webhooks};
use shopify_scim::types::ShopDomain;

use crate::helpers::{
    CLIENT_SECRET, ShopifyTestApp, TestApp, eventually, spawn_app, spawn_app_with_shopify,
    standin_config,
};

const SHOP: &str = "acme.myshopify.com";

/// `shopify.md` §10.2: a `customers/update` body as Shopify serialises it.
const CUSTOMERS_UPDATE: &str = concat!(
    r#"{"id":706405506930370084,"admin_graphql_api_id":"gid://shopify/Customer/706405506930370084","#,
    r#""email":"bob@biller.com","first_name":"Bob","last_name":"Biller","phone":null,"#,
    r#""state":"disabled","updated_at":"2026-01-01T00:00:00-05:00"}"#
);

fn sign(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

struct Delivery<'a> {
    path: &'a str,
    topic: &'a str,
    webhook_id: &'a str,
    body: Vec<u8>,
    hmac: Option<String>,
    skip_header: Option<&'a str>,
}

impl<'a> Delivery<'a> {
    fn new(path: &'a str, topic: &'a str, webhook_id: &'a str, body: &str) -> Self {
        Self {
            path,
            topic,
            webhook_id,
            body: body.as_bytes().to_vec(),
            hmac: Some(sign(body.as_bytes())),
            skip_header: None,
        }
    }

    async fn send(&self, app: &TestApp) -> reqwest::Response {
        let headers = [
            ("x-shopify-topic", self.topic.to_owned()),
            ("x-shopify-shop-domain", SHOP.to_owned()),
            ("x-shopify-api-version", "2026-07".to_owned()),
            ("x-shopify-webhook-id", self.webhook_id.to_owned()),
            ("x-shopify-event-id", "e-1".to_owned()),
            (
                "x-shopify-triggered-at",
                "2026-01-01T05:00:00.000000Z".to_owned(),
            ),
        ];
        let mut request = app
            .client
            .post(format!("{}{}", app.address, self.path))
            .header("content-type", "application/json")
            .body(self.body.clone());
        for (name, value) in headers {
            if Some(name) != self.skip_header {
                request = request.header(name, value);
            }
        }
        if let Some(hmac) = &self.hmac {
            request = request.header("x-shopify-hmac-sha256", hmac);
        }
        request.send().await.unwrap()
    }
}

async fn stored(app: &TestApp) -> Vec<shopify_scim::store::entity::webhook_delivery::Model> {
    webhooks::for_shop(&app.db, &ShopDomain::parse(SHOP).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_delivery_is_stored_once_and_acknowledged_with_200() {
    let app = spawn_app().await;

    let delivery = Delivery::new(
        "/webhooks/customers",
        "customers/update",
        "w-1",
        CUSTOMERS_UPDATE,
    );

    let first = delivery.send(&app).await;
    let again = delivery.send(&app).await;

    assert_eq!(
        (first.status(), again.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let rows = stored(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].topic, "customers/update");
    assert_eq!(rows[0].body, CUSTOMERS_UPDATE);
    assert_eq!(rows[0].subject_id.as_deref(), Some("706405506930370084"));
    assert!(
        rows[0].processed_at.is_none(),
        "customer topics wait for the sync engine"
    );
}

#[tokio::test]
async fn re_serialised_json_fails_the_hmac_and_is_not_stored() {
    let app = spawn_app().await;
    let value: Value = serde_json::from_str(CUSTOMERS_UPDATE).unwrap();
    let mut delivery = Delivery::new(
        "/webhooks/customers",
        "customers/update",
        "w-2",
        CUSTOMERS_UPDATE,
    );
    delivery.body = serde_json::to_vec_pretty(&value).unwrap();

    let response = delivery.send(&app).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn a_wrong_or_missing_hmac_gets_401_and_a_missing_header_400() {
    let app = spawn_app().await;
    let mut wrong = Delivery::new("/webhooks/app", "app/uninstalled", "w-3", "{}");
    wrong.hmac = Some(sign(b"{ }"));
    let mut missing_hmac = Delivery::new("/webhooks/app", "app/uninstalled", "w-4", "{}");
    missing_hmac.hmac = None;

    let mut statuses = vec![
        wrong.send(&app).await.status(),
        missing_hmac.send(&app).await.status(),
    ];
    for header in [
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-api-version",
        "x-shopify-webhook-id",
    ] {
        let mut delivery = Delivery::new("/webhooks/app", "app/uninstalled", "w-5", "{}");
        delivery.skip_header = Some(header);
        statuses.push(delivery.send(&app).await.status());
    }

    assert_eq!(
        statuses[..2],
        [StatusCode::UNAUTHORIZED, StatusCode::BAD_REQUEST]
    );
    assert!(
        statuses[2..]
            .iter()
            .all(|status| *status == StatusCode::BAD_REQUEST)
    );
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn other_methods_on_webhook_routes_get_405() {
    let app = spawn_app().await;

    for path in [
        "/webhooks/app",
        "/webhooks/customers",
        "/webhooks/compliance",
    ] {
        let response = app.get(path).await;

        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
}

#[tokio::test]
async fn scopes_update_is_processed_in_the_background() {
    let app = spawn_app().await;
    let shop = shops::find_or_create(&app.db, &ShopDomain::parse(SHOP).unwrap())
        .await
        .unwrap();
    let body = json!({
        "id": 1, "shop_id": "gid://shopify/Shop/1", "previous": ["read_customers"],
        "current": ["read_customers", "write_customers"], "updated_at": "2026-01-01T00:00:00Z",
    })
    .to_string();

    let response = Delivery::new("/webhooks/app", "app/scopes_update", "w-6", &body)
        .send(&app)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    eventually("the scopes to be recorded", || async {
        let row = shops::find_by_domain(&app.db, &shop.domain)
            .await
            .unwrap()?;
        (row.scopes.as_deref() == Some("read_customers,write_customers")).then_some(())
    })
    .await;
    let rows = stored(&app).await;
    assert_eq!(rows[0].outcome.as_deref(), Some("scopes_updated"));
    assert_eq!(rows[0].attempts, 1);
}

async fn shop_with_customer(test: &ShopifyTestApp) -> (crate::helpers::TestTenant, u64, String) {
    let launch = test.standin.launch_url(SHOP).unwrap();
    assert_eq!(
        test.app.client.get(launch).send().await.unwrap().status(),
        StatusCode::OK
    );
    let tenant = test.app.tenant("acme").await;
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada",
        "emails": [{"value": "Ada@Example.com", "primary": true}],
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
    });
    let (status, created) = test
        .app
        .send_scim(reqwest::Method::POST, &tenant, "/Users", Some(user))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let input: shopify_standin::store::CustomerInput = serde_json::from_value(json!({
        "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
    }))
    .unwrap();
    let customer = test.standin.create_customer(SHOP, &input).unwrap();
    (
        tenant,
        customer.id,
        created["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_customer_data_request_produces_an_export_the_admin_can_download() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;
    let (_, customer_id, user_id) = shop_with_customer(&test).await;

    test.standin
        .request_customer_data(SHOP, customer_id)
        .unwrap();

    let shop = shops::find_by_domain(&test.app.db, &ShopDomain::parse(SHOP).unwrap())
        .await
        .unwrap()
        .unwrap();
    let export = eventually("the export", || async {
        exports::list(test.app.db.conn(), shop.id)
            .await
            .unwrap()
            .pop()
    })
    .await;
    assert_eq!(export.customer_id, customer_id.to_string());
    let body: Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(body["scim_users"][0]["id"], user_id.as_str());
    assert_eq!(body["scim_users"][0]["name"]["familyName"], "Lovelace");

    let token = test.standin.session_token(SHOP, None).unwrap();
    let download = test
        .app
        .client
        .get(format!(
            "{}/app/api/exports/{}",
            test.app.address, export.id
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(download.json::<Value>().await.unwrap(), body);
}

#[tokio::test]
async fn customers_redact_erases_that_customer_s_scim_user_and_deliveries() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;
    let (tenant, customer_id, user_id) = shop_with_customer(&test).await;
    let other = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "grace",
        "emails": [{"value": "grace@example.com"}],
    });
    let (_, grace) = test
        .app
        .send_scim(reqwest::Method::POST, &tenant, "/Users", Some(other))
        .await;
    test.standin
        .request_customer_data(SHOP, customer_id)
        .unwrap();
    eventually("the data request to be processed", || async {
        stored(&test.app)
            .await
            .iter()
            .any(|row| row.topic == "customers/data_request" && row.processed_at.is_some())
            .then_some(())
    })
    .await;

    test.standin.redact_customer(SHOP, customer_id).unwrap();

    eventually("the redaction", || async {
        stored(&test.app)
            .await
            .iter()
            .any(|row| row.outcome.as_deref() == Some("redacted"))
            .then_some(())
    })
    .await;
    let (gone, _) = test
        .app
        .send_scim(
            reqwest::Method::GET,
            &tenant,
            &format!("/Users/{user_id}"),
            None,
        )
        .await;
    let grace_id = grace["id"].as_str().unwrap();
    let (kept, _) = test
        .app
        .send_scim(
            reqwest::Method::GET,
            &tenant,
            &format!("/Users/{grace_id}"),
            None,
        )
        .await;
    assert_eq!((gone, kept), (StatusCode::NOT_FOUND, StatusCode::OK));
    let rows = stored(&test.app).await;
    let about_customer: Vec<_> = rows
        .iter()
        .filter(|row| row.subject_id.as_deref() == Some(customer_id.to_string().as_str()))
        .map(|row| row.topic.as_str())
        .collect();
    assert_eq!(about_customer, ["customers/redact"]);
    let shop = shops::find_by_domain(&test.app.db, &ShopDomain::parse(SHOP).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        exports::list(test.app.db.conn(), shop.id)
            .await
            .unwrap()
            .is_empty()
    );
}
