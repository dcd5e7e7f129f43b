//! Authentication and the discovery endpoints of the SCIM scope.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestTenant, spawn_app};

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Every route of the scope, with the methods it serves.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/ServiceProviderConfig"),
    ("GET", "/ResourceTypes"),
    ("GET", "/ResourceTypes/User"),
    ("GET", "/Schemas"),
    ("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
    ("GET", "/NoSuchEndpoint"),
    ("GET", "/Users"),
    ("POST", "/Users"),
    ("POST", "/Users/.search"),
    ("GET", "/Users/3f1c8b5e-0000-4000-8000-000000000000"),
    ("PUT", "/Users/3f1c8b5e-0000-4000-8000-000000000000"),
    ("PATCH", "/Users/3f1c8b5e-0000-4000-8000-000000000000"),
    ("DELETE", "/Users/3f1c8b5e-0000-4000-8000-000000000000"),
    ("GET", "/Groups"),
    ("POST", "/Groups"),
    ("POST", "/Groups/.search"),
    ("GET", "/Groups/3f1c8b5e-0000-4000-8000-000000000000"),
    ("PUT", "/Groups/3f1c8b5e-0000-4000-8000-000000000000"),
    ("PATCH", "/Groups/3f1c8b5e-0000-4000-8000-000000000000"),
    ("DELETE", "/Groups/3f1c8b5e-0000-4000-8000-000000000000"),
    ("POST", "/.search"),
    ("POST", "/Bulk"),
];

async fn assert_scim_error(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["schemas"][0], ERROR_URN);
    assert_eq!(body["status"], status.as_str());
    body
}

#[tokio::test]
async fn a_token_of_another_shop_gets_the_same_401_as_an_unknown_token_on_every_route() {
    let app = spawn_app().await;
    let shop_a = app.tenant("shop-a").await;
    let shop_b = app.tenant("shop-b").await;
    let b_on_a = TestTenant {
        handle: shop_a.handle.clone(),
        token: shop_b.token.clone(),
    };
    let unknown = TestTenant {
        handle: shop_a.handle.clone(),
        token: format!("shopscim_0123456789abcdef_{}", "A".repeat(43)),
    };

    for (method, path) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let cross = app
            .scim(method.clone(), &b_on_a, path)
            .send()
            .await
            .unwrap();
        let bogus = app.scim(method, &unknown, path).send().await.unwrap();

        assert_eq!(cross.headers()["www-authenticate"], "Bearer realm=\"SCIM\"");
        let cross_body = assert_scim_error(cross, StatusCode::UNAUTHORIZED).await;
        let bogus_body = assert_scim_error(bogus, StatusCode::UNAUTHORIZED).await;
        assert_eq!(cross_body, bogus_body, "{path}");
    }
}

#[tokio::test]
async fn requests_without_a_bearer_token_or_for_an_unknown_shop_get_401() {
    let app = spawn_app().await;
    let tenant = app.tenant("shop-a").await;
    let nowhere = TestTenant {
        handle: "no-such-shop".to_owned(),
        token: tenant.token.clone(),
    };
    let url = format!("{}/scim/v2/shop-a/Schemas", app.address);

    let anonymous = app.client.get(&url).send().await.unwrap();
    let basic = app
        .client
        .get(&url)
        .basic_auth("u", Some("p"))
        .send()
        .await
        .unwrap();
    let unknown_shop = app
        .scim(Method::GET, &nowhere, "/Schemas")
        .send()
        .await
        .unwrap();

    assert_scim_error(anonymous, StatusCode::UNAUTHORIZED).await;
    assert_scim_error(basic, StatusCode::UNAUTHORIZED).await;
    assert_scim_error(unknown_shop, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_revoked_or_expired_token_stops_working() {
    let app = spawn_app().await;
    let tenant = app.tenant("shop-a").await;
    let domain = shopify_scim::types::ShopDomain::parse("shop-a.myshopify.com").unwrap();
    let shop = shopify_scim::store::shops::find_by_domain(&app.db, &domain)
        .await
        .unwrap()
        .unwrap();
    let id = tenant.token.split('_').nth(1).unwrap();
    let expired_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    let (_, expired) =
        shopify_scim::store::tokens::create(&app.db, shop.id, "old", Some(expired_at), "test")
            .await
            .unwrap();
    let expired = TestTenant {
        handle: tenant.handle.clone(),
        token: secrecy::ExposeSecret::expose_secret(&expired).to_owned(),
    };

    let before = app
        .scim(Method::GET, &tenant, "/Schemas")
        .send()
        .await
        .unwrap();
    let token_id = shopify_scim::scim::token::TokenId::parse(id).unwrap();
    shopify_scim::store::tokens::revoke(&app.db, shop.id, &token_id)
        .await
        .unwrap();
    let after = app
        .scim(Method::GET, &tenant, "/Schemas")
        .send()
        .await
        .unwrap();
    let with_expired = app
        .scim(Method::GET, &expired, "/Schemas")
        .send()
        .await
        .unwrap();

    assert_eq!(before.status(), StatusCode::OK);
    assert_scim_error(after, StatusCode::UNAUTHORIZED).await;
    assert_scim_error(with_expired, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn the_service_provider_config_announces_what_the_endpoint_supports() {
    let app = spawn_app().await;
    let tenant = app.tenant("shop-a").await;

    let response = app
        .scim(Method::GET, &tenant, "/ServiceProviderConfig")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["patch"]["supported"], true);
    assert_eq!(body["bulk"]["supported"], true);
    assert_eq!(body["bulk"]["maxOperations"], 1000);
    assert_eq!(body["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert!(
        body["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with("/scim/v2/shop-a/ServiceProviderConfig")
    );
}

#[tokio::test]
async fn resource_types_and_schemas_list_users_groups_and_the_enterprise_extension() {
    let app = spawn_app().await;
    let tenant = app.tenant("shop-a").await;

    let types: Value = app
        .scim(Method::GET, &tenant, "/ResourceTypes")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas: Value = app
        .scim(Method::GET, &tenant, "/Schemas")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let names: Vec<&str> = types["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rt| rt["name"].as_str().unwrap())
        .collect();
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["User", "Group"]);
    assert_eq!(types["totalResults"], 2);
    for urn in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ] {
        assert!(ids.contains(&urn), "{urn} missing from {ids:?}");
    }
}

#[tokio::test]
async fn unknown_schemas_resource_types_and_urls_answer_scim_404s() {
    let app = spawn_app().await;
    let tenant = app.tenant("shop-a").await;

    for path in [
        "/Schemas/urn:nope",
        "/ResourceTypes/Widget",
        "/3f1c8b5e-no-such-thing",
    ] {
        let response = app.scim(Method::GET, &tenant, path).send().await.unwrap();

        assert_scim_error(response, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn discovery_endpoints_refuse_other_methods_with_405_and_filters_with_403() {
    let app = spawn_app().await;
    let tenant = app.tenant("shop-a").await;

    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let response = app.scim(method, &tenant, path).send().await.unwrap();
            assert_scim_error(response, StatusCode::METHOD_NOT_ALLOWED).await;
        }
        let filtered = app
            .scim(Method::GET, &tenant, &format!("{path}?filter=id%20pr"))
            .send()
            .await
            .unwrap();
        assert_scim_error(filtered, StatusCode::FORBIDDEN).await;
    }
}

#[tokio::test]
async fn an_oversized_scim_body_gets_a_scim_413() {
    let app = spawn_app().await;
    let tenant = app.tenant("shop-a").await;

    let response = app
        .scim(Method::POST, &tenant, "/Users")
        .body(vec![b' '; 128 * 1024])
        .send()
        .await
        .unwrap();

    assert_scim_error(response, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn a_token_over_its_rate_limit_gets_429_with_retry_after_and_others_are_unaffected() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        scim_rate_limit: (1, 2),
        ..crate::helpers::TestOptions::default()
    })
    .await;
    let busy = app.tenant("busy-shop").await;
    let other = app.tenant("busy-shop").await;

    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = app
            .scim(Method::GET, &busy, "/Schemas")
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "1");
            assert_scim_error(response, StatusCode::TOO_MANY_REQUESTS).await;
        }
    }
    let second_token = app
        .scim(Method::GET, &other, "/Schemas")
        .send()
        .await
        .unwrap();

    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(second_token.status(), StatusCode::OK);
}
