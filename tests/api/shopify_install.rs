//! Installing against the Shopify stand-in: token exchange on the first embedded load, the
//! authorization-code grant, tokens encrypted at rest, refresh with rotation, uninstall and
//! reinstall, and `shop/redact`.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait as _, Statement};
use shopify_scim::shopify::install::Platform;
use shopify_scim::store::entity::shop;
use shopify_scim::store::{Backend, shops};
use shopify_scim::types::ShopDomain;

use crate::helpers::{ShopifyTestApp, eventually, spawn_app_with_shopify, standin_config};

const SHOP: &str = "acme.myshopify.com";

async fn installed_app() -> ShopifyTestApp {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;
    let response = open_app(&test).await;
    assert_eq!(response.status(), StatusCode::OK);
    test
}

/// Loads the app the way Shopify admin does: the launch URL with a fresh `id_token`.
async fn open_app(test: &ShopifyTestApp) -> reqwest::Response {
    let launch = test.standin.launch_url(&test.shop).unwrap();
    test.app.client.get(launch).send().await.unwrap()
}

async fn shop_row(test: &ShopifyTestApp) -> Option<shop::Model> {
    shops::find_by_domain(&test.app.db, &ShopDomain::parse(SHOP).unwrap())
        .await
        .unwrap()
}

/// Every byte the database holds, as text: the SQLite files, or each PostgreSQL row cast to
/// text.
async fn everything_stored(test: &ShopifyTestApp) -> String {
    match test.app.database.backend {
        Backend::Sqlite => {
            let path = test
                .app
                .database
                .url
                .trim_start_matches("sqlite://")
                .to_owned();
            let mut bytes = std::fs::read(&path).unwrap_or_default();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Backend::Postgres => {
            let conn = test.app.db.conn();
            let tables = conn
                .query_all_raw(Statement::from_string(
                    conn.get_database_backend(),
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
                ))
                .await
                .unwrap();
            let mut text = String::new();
            for table in tables {
                let name: String = table.try_get("", "table_name").unwrap();
                let rows = conn
                    .query_all_raw(Statement::from_string(
                        conn.get_database_backend(),
                        format!("SELECT t::text AS row FROM \"{name}\" t"),
                    ))
                    .await
                    .unwrap();
                for row in rows {
                    text.push_str(&row.try_get::<String>("", "row").unwrap());
                }
            }
            text
        }
    }
}

/// How many rows of each table with a `shop_id` column belong to `shop_id`, plus the inbox
/// rows of the shop's domain.
async fn rows_of_shop(test: &ShopifyTestApp, shop_id: i64) -> Vec<(String, i64)> {
    let conn = test.app.db.conn();
    let listing = match test.app.database.backend {
        Backend::Sqlite => {
            "SELECT m.name AS table_name FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'shop_id'"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS table_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'shop_id'"
        }
    };
    let tables = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), listing))
        .await
        .unwrap();
    let mut counts = Vec::new();
    for table in tables {
        let name: String = table.try_get("", "table_name").unwrap();
        counts.push((name.clone(), format!("shop_id = {shop_id}")));
    }
    counts.push(("shops".to_owned(), format!("id = {shop_id}")));
    counts.push((
        "webhook_inbox".to_owned(),
        format!("shop_domain = '{SHOP}'"),
    ));

    let mut found = Vec::new();
    for (table, condition) in counts {
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM \"{table}\" WHERE {condition}"),
            ))
            .await
            .unwrap()
            .unwrap();
        found.push((table, row.try_get::<i64>("", "n").unwrap()));
    }
    found
}

fn platform(test: &ShopifyTestApp) -> Platform {
    Platform::from_settings(&test.app.settings, test.app.db.clone()).unwrap()
}

#[tokio::test]
async fn the_first_embedded_load_installs_by_token_exchange_and_renders_the_admin_page() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;

    let response = open_app(&test).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-security-policy"],
        "frame-ancestors https://acme.myshopify.com https://admin.shopify.com;"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"<meta name="shopify-api-key" content="test-client-id">"#));
    assert!(page.contains("http://127.0.0.1/scim/v2/acme"));
    assert!(page.contains("Installed"));
    let row = shop_row(&test).await.unwrap();
    assert_eq!(row.install_state, "installed");
    assert!(row.access_token_ciphertext.is_some() && row.refresh_token_ciphertext.is_some());
    assert!(row.access_token_expires_at.is_some() && row.installed_at.is_some());
}

#[tokio::test]
async fn no_database_column_holds_a_shopify_token_in_plaintext() {
    let test = installed_app().await;
    platform(&test)
        .graphql(
            &ShopDomain::parse(SHOP).unwrap(),
            "{ shop { name } }",
            &serde_json::json!({}),
        )
        .await
        .unwrap();

    let stored = everything_stored(&test).await;

    assert!(
        stored.contains("acme.myshopify.com"),
        "the scan reads the data"
    );
    assert!(
        !stored.contains("shpat_"),
        "an access token is stored in plaintext"
    );
    assert!(
        !stored.contains("shprt_"),
        "a refresh token is stored in plaintext"
    );
}

#[tokio::test]
async fn a_load_with_a_stored_token_exchanges_nothing() {
    let test = installed_app().await;
    let first = shop_row(&test).await.unwrap();

    let response = open_app(&test).await;

    assert_eq!(response.status(), StatusCode::OK);
    let second = shop_row(&test).await.unwrap();
    assert_eq!(
        first.access_token_ciphertext,
        second.access_token_ciphertext
    );
}

#[tokio::test]
async fn with_two_second_tokens_refresh_rotates_the_stored_pair_and_calls_keep_working() {
    let mut config = standin_config(SHOP);
    config.access_token_lifetime = Duration::from_secs(2);
    let test = spawn_app_with_shopify(SHOP, config).await;
    assert_eq!(open_app(&test).await.status(), StatusCode::OK);
    let platform = platform(&test);
    let domain = ShopDomain::parse(SHOP).unwrap();
    let installed = shop_row(&test).await.unwrap();

    let mut refresh_tokens = vec![installed.refresh_token_ciphertext.clone()];
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let answer = platform
            .graphql(
                &domain,
                "{ shop { myshopifyDomain } }",
                &serde_json::json!({}),
            )
            .await
            .unwrap();
        assert_eq!(answer.data["shop"]["myshopifyDomain"], SHOP);
        refresh_tokens.push(shop_row(&test).await.unwrap().refresh_token_ciphertext);
    }

    let distinct: std::collections::HashSet<_> = refresh_tokens.iter().collect();
    assert_eq!(
        distinct.len(),
        refresh_tokens.len(),
        "each refresh stores a new pair"
    );
    assert_eq!(shop_row(&test).await.unwrap().install_state, "installed");
}

#[tokio::test]
async fn a_revoked_token_that_cannot_be_refreshed_marks_the_shop_as_needing_reauthorisation() {
    let test = installed_app().await;
    let platform = platform(&test);
    let domain = ShopDomain::parse(SHOP).unwrap();
    // The merchant's uninstall revokes every token at Shopify before its webhook arrives.
    test.standin
        .set_webhook_targets(shopify_standin::WebhookTargets::default());
    test.standin.uninstall(SHOP).unwrap();

    let answer = platform
        .graphql(&domain, "{ shop { name } }", &serde_json::json!({}))
        .await;

    assert!(answer.is_err());
    let row = shop_row(&test).await.unwrap();
    assert_eq!(row.install_state, "needs_reauth");
    assert!(row.access_token_ciphertext.is_none());
}

#[tokio::test]
async fn after_app_uninstalled_the_scim_token_gets_401_and_a_reinstall_takes_a_new_token() {
    let test = installed_app().await;
    let tenant = test.app.tenant("acme").await;
    let (status, _) = test
        .app
        .send_scim(reqwest::Method::GET, &tenant, "/Users", None)
        .await;
    assert_eq!(status, StatusCode::OK);

    test.standin.uninstall(SHOP).unwrap();

    eventually("the uninstall to be processed", || async {
        (shop_row(&test).await?.install_state == "uninstalled").then_some(())
    })
    .await;
    let (status, _) = test
        .app
        .send_scim(reqwest::Method::GET, &tenant, "/Users", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        shop_row(&test)
            .await
            .unwrap()
            .access_token_ciphertext
            .is_none()
    );

    assert_eq!(open_app(&test).await.status(), StatusCode::OK);
    let renewed = test.app.tenant("acme").await;
    let (old, _) = test
        .app
        .send_scim(reqwest::Method::GET, &tenant, "/Users", None)
        .await;
    let (new, _) = test
        .app
        .send_scim(reqwest::Method::GET, &renewed, "/Users", None)
        .await;
    assert_eq!((old, new), (StatusCode::UNAUTHORIZED, StatusCode::OK));
    assert_eq!(shop_row(&test).await.unwrap().install_state, "installed");
}

#[tokio::test]
async fn a_repeated_app_uninstalled_changes_nothing_more() {
    let test = installed_app().await;

    test.standin.uninstall(SHOP).unwrap();
    test.standin.uninstall(SHOP).unwrap();

    let deliveries = eventually("both uninstalls to be processed", || async {
        let rows = shopify_scim::store::webhooks::for_shop(
            &test.app.db,
            &ShopDomain::parse(SHOP).unwrap(),
        )
        .await
        .unwrap();
        let done = rows.iter().filter(|row| row.processed_at.is_some()).count();
        (done == 2).then_some(rows)
    })
    .await;
    assert!(
        deliveries
            .iter()
            .all(|row| row.outcome.as_deref() == Some("uninstalled"))
    );
    assert_eq!(shop_row(&test).await.unwrap().install_state, "uninstalled");
}

#[tokio::test]
async fn shop_redact_leaves_no_row_of_that_shop() {
    let test = installed_app().await;
    let tenant = test.app.tenant("acme").await;
    let user = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@example.com",
        "emails": [{"value": "ada@example.com", "primary": true}],
    });
    let (status, _) = test
        .app
        .send_scim(reqwest::Method::POST, &tenant, "/Users", Some(user))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let shop_id = shop_row(&test).await.unwrap().id.get();
    test.standin.uninstall(SHOP).unwrap();

    test.standin.redact_shop(SHOP).unwrap();

    eventually("the shop to be erased", || async {
        shop_row(&test).await.is_none().then_some(())
    })
    .await;
    let left: Vec<_> = rows_of_shop(&test, shop_id)
        .await
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect();
    assert!(left.is_empty(), "rows left: {left:?}");
}

#[tokio::test]
async fn the_authorization_code_grant_installs_through_auth_and_its_callback() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;

    let begin = test.app.get(&format!("/auth?shop={SHOP}")).await;
    assert_eq!(begin.status(), StatusCode::FOUND);
    let cookie = begin.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("shopify_app_state=") && cookie.contains("HttpOnly"));
    let authorize = begin.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(&test.standin.admin_url(SHOP)));

    let approved = test.app.client.get(&authorize).send().await.unwrap();
    let back = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(back.path(), "/auth/callback");
    let callback = format!("/auth/callback?{}", back.query().unwrap());
    let state_cookie = cookie.split(';').next().unwrap().to_owned();

    let without_cookie = test.app.get(&callback).await;
    let finished = test
        .app
        .client
        .get(format!("{}{callback}", test.app.address))
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();

    assert_eq!(without_cookie.status(), StatusCode::FORBIDDEN);
    assert_eq!(finished.status(), StatusCode::FOUND);
    assert_eq!(
        finished.headers()["location"],
        "https://admin.shopify.com/store/acme/apps/test-client-id"
    );
    assert_eq!(shop_row(&test).await.unwrap().install_state, "installed");
}

#[tokio::test]
async fn a_callback_with_a_tampered_hmac_or_state_installs_nothing() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;
    let begin = test.app.get(&format!("/auth?shop={SHOP}")).await;
    let cookie = begin.headers()["set-cookie"].to_str().unwrap();
    let state_cookie = cookie.split(';').next().unwrap().to_owned();
    let authorize = begin.headers()["location"].to_str().unwrap().to_owned();
    let approved = test.app.client.get(&authorize).send().await.unwrap();
    let back = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    let query = back.query().unwrap().to_owned();
    let tampered_hmac = query.replace("hmac=", "hmac=0");
    let other_state = format!("{query}&state=another");

    for (query, expected) in [
        (tampered_hmac, StatusCode::UNAUTHORIZED),
        (other_state, StatusCode::BAD_REQUEST),
    ] {
        let response = test
            .app
            .client
            .get(format!("{}/auth/callback?{query}", test.app.address))
            .header("cookie", &state_cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{query}");
    }
    assert!(shop_row(&test).await.is_none());
}

#[tokio::test]
async fn an_embedded_load_without_a_session_token_goes_through_the_bounce_page() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;

    let response = test
        .app
        .get(&format!("/app?embedded=1&shop={SHOP}&host=abc"))
        .await;

    assert_eq!(response.status(), StatusCode::FOUND);
    let bounce = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(bounce.path(), "/auth/session-token");
    let reload = bounce
        .query_pairs()
        .find(|(key, _)| key == "shopify-reload")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        reload,
        format!("http://127.0.0.1/app?embedded=1&shop={SHOP}&host=abc")
    );
    let page = test
        .app
        .get("/auth/session-token")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("https://cdn.shopify.com/shopifycloud/app-bridge.js"));
    assert!(
        shop_row(&test).await.is_none(),
        "nothing installs without a session token"
    );
}

#[tokio::test]
async fn an_invalid_shop_or_a_load_outside_the_admin_is_answered_without_installing() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;

    let evil = test.app.get("/app?embedded=1&shop=evil.com").await;
    let top_level = test
        .app
        .get(&format!(
            "/app?shop={SHOP}&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZQ"
        ))
        .await;

    assert_eq!(evil.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        evil.headers()["content-security-policy"],
        "frame-ancestors 'none';"
    );
    assert_eq!(top_level.status(), StatusCode::FOUND);
    assert_eq!(
        top_level.headers()["location"],
        "https://admin.shopify.com/store/acme/apps/test-client-id"
    );
    assert!(shop_row(&test).await.is_none());
}

#[tokio::test]
async fn pages_outside_the_admin_may_not_be_framed() {
    let test = spawn_app_with_shopify(SHOP, standin_config(SHOP)).await;

    let response = test.app.get("/healthz").await;

    assert_eq!(
        response.headers()["content-security-policy"],
        "frame-ancestors 'none';"
    );
}
