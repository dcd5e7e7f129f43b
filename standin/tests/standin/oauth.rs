//! OAuth: the authorize redirect and its signed query string, and the token endpoint's
//! code, token-exchange and refresh grants, down to the Admin API's 401s.

use std::time::Duration;

use serde_json::{Value, json};
use shopify_standin::sign::{self, SessionClaims};
use url::Url;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, HOST, SESSION_TOKEN, SHOP, TS, TestStandIn};

const CALLBACK: &str = "https://app.example.com/auth/callback";
const STATE: &str = "8a1f0c9d7e6b5a4c3d2e1f0a9b8c7d6e";
const SHOP_QUERY: &str = "query { shop { myshopifyDomain } }";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn authorize(test: &TestStandIn, extra: &[(&str, &str)]) -> Url {
    let mut url = Url::parse(&test.admin(SHOP, "oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("scope", "read_customers,write_customers")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("state", STATE)
        .extend_pairs(extra);
    let response = no_redirects().get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn params(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

fn param(url: &Url, name: &str) -> String {
    params(url)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
        .unwrap_or_default()
}

async fn exchange_code(test: &TestStandIn, code: &str) -> (u16, Value) {
    test.token_endpoint(
        SHOP,
        json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "expiring": "1",
        }),
    )
    .await
}

fn exchange_body(subject_token: &str) -> Value {
    json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        "expiring": "1",
    })
}

fn refresh_body(refresh_token: &str) -> Value {
    json!({
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    })
}

fn fixture_claims() -> SessionClaims {
    SessionClaims {
        iss: format!("https://{SHOP}/admin"),
        dest: format!("https://{SHOP}"),
        aud: CLIENT_ID.to_owned(),
        sub: "74857346".to_owned(),
        exp: TS + 60,
        nbf: TS,
        iat: TS,
        jti: "f8912129-1af6-4cad-9ca3-76b0f7621087".to_owned(),
        sid: "aaea182f2732d44c23057c0fea584021a4485b2bd25d3eb7fd349313ad24c685".to_owned(),
    }
}

#[tokio::test]
async fn authorize_redirects_back_with_code_host_shop_state_timestamp_and_a_correct_hmac() {
    let test = TestStandIn::start().await;

    let redirect = authorize(&test, &[]).await;

    let mut keys: Vec<String> = params(&redirect).into_iter().map(|(key, _)| key).collect();
    keys.sort();
    assert_eq!(keys, ["code", "hmac", "host", "shop", "state", "timestamp"]);
    assert_eq!(redirect.as_str().split('?').next(), Some(CALLBACK));
    assert_eq!(param(&redirect, "shop"), SHOP);
    assert_eq!(param(&redirect, "host"), HOST);
    assert_eq!(param(&redirect, "state"), STATE);
    assert_eq!(param(&redirect, "timestamp"), TS.to_string());
    assert_eq!(
        param(&redirect, "hmac"),
        sign::query_hmac(CLIENT_SECRET, &params(&redirect))
    );
    // With the fixture's code the same message is the fixture's, hmac and all.
    let mut fixture = params(&redirect);
    for (key, value) in &mut fixture {
        if key == "code" {
            *value = "3f2a9c7e1b4d6a8f0e2c4b6d8f0a1c3e".to_owned();
        }
    }
    assert_eq!(
        sign::query_hmac(CLIENT_SECRET, &fixture),
        "6db7dc696bf0aecd45c553e40f3ca324d398dc18fbe0af7664ace7f71f868e0e"
    );
}

#[tokio::test]
async fn authorize_refuses_another_apps_client_id_and_unlisted_redirects() {
    let test = TestStandIn::start_with(|mut config| {
        config.redirect_urls = vec![Url::parse(CALLBACK).unwrap()];
        config
    })
    .await;
    let base = test.admin(SHOP, "oauth/authorize");

    let wrong_client = no_redirects()
        .get(format!("{base}?client_id=other&redirect_uri={CALLBACK}"))
        .send()
        .await
        .unwrap();
    let wrong_redirect = no_redirects()
        .get(format!(
            "{base}?client_id={CLIENT_ID}&redirect_uri=https://evil.com/cb"
        ))
        .send()
        .await
        .unwrap();

    assert_eq!(wrong_client.status(), 400);
    assert_eq!(wrong_redirect.status(), 400);
}

#[tokio::test]
async fn the_code_grant_returns_an_expiring_offline_token_and_the_code_works_once() {
    let test = TestStandIn::start().await;
    let code = param(&authorize(&test, &[]).await, "code");

    let (status, body) = exchange_code(&test, &code).await;
    let (again, reused) = exchange_code(&test, &code).await;

    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].as_str().unwrap().starts_with("shpat_"));
    assert!(
        body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("shprt_")
    );
    assert_eq!(body["scope"], "read_customers,write_customers");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["refresh_token_expires_in"], 7_776_000);
    assert!(test.standin.shop(SHOP).unwrap().installed);
    let (api, _) = test
        .graphql(
            body["access_token"].as_str().unwrap(),
            SHOP_QUERY,
            json!({}),
        )
        .await;
    assert_eq!(api, 200);
    assert_eq!(again, 400);
    assert_eq!(reused["error"], "invalid_grant");
}

#[tokio::test]
async fn a_per_user_authorization_returns_an_online_token_with_its_associated_user() {
    let test = TestStandIn::start().await;
    let code = param(
        &authorize(&test, &[("grant_options[]", "per-user")]).await,
        "code",
    );

    let (status, body) = exchange_code(&test, &code).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["associated_user"]["account_owner"], true);
    assert_eq!(
        body["associated_user_scope"],
        "read_customers,write_customers"
    );
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert!(body.get("refresh_token").is_none());
}

#[tokio::test]
async fn a_non_expiring_offline_token_is_one_per_shop_and_never_expires() {
    let test = TestStandIn::start().await;

    let first = test.standin.grant_offline_token(SHOP, false).unwrap();
    let second = test.standin.grant_offline_token(SHOP, false).unwrap();
    test.clock.advance(Duration::from_secs(10 * 24 * 3600));
    let (status, _) = test
        .graphql(&first.access_token, SHOP_QUERY, json!({}))
        .await;

    assert_eq!(first.access_token, second.access_token);
    assert_eq!(first.refresh_token, None);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_token_endpoint_refuses_a_wrong_client_secret() {
    let test = TestStandIn::start().await;
    let code = param(&authorize(&test, &[]).await, "code");

    let (status, body) = test
        .token_endpoint(
            SHOP,
            json!({ "client_id": CLIENT_ID, "client_secret": "shpss_wrong", "code": code }),
        )
        .await;

    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn token_exchange_accepts_the_fixture_session_token_at_its_timestamp() {
    let test = TestStandIn::start().await;

    let (status, body) = test
        .token_endpoint(SHOP, exchange_body(SESSION_TOKEN))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 3600);
    let (api, _) = test
        .graphql(
            body["access_token"].as_str().unwrap(),
            SHOP_QUERY,
            json!({}),
        )
        .await;
    assert_eq!(api, 200);
}

#[tokio::test]
async fn token_exchange_accepts_session_tokens_the_stand_in_mints_like_shopify_admin() {
    let test = TestStandIn::start().await;
    let minted = test.standin.session_token(SHOP, Some(74_857_346)).unwrap();

    let claims = sign::decode_session_token(CLIENT_SECRET, CLIENT_ID, &minted, TS).unwrap();
    let (status, _) = test.token_endpoint(SHOP, exchange_body(&minted)).await;

    assert_eq!(claims.sub, "74857346");
    assert_eq!(claims.dest, format!("https://{SHOP}"));
    assert_eq!(claims.exp - claims.iat, 60);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn token_exchange_refuses_bad_signatures_other_audiences_expired_tokens_and_other_shops() {
    let test = TestStandIn::start().await;
    test.standin
        .create_shop("other-shop", shopify_standin::Plan::Standard)
        .unwrap();
    let other_secret = sign::encode_session_token("shpss_other", &fixture_claims());
    let other_audience = sign::encode_session_token(
        CLIENT_SECRET,
        &SessionClaims {
            aud: "another-app".to_owned(),
            ..fixture_claims()
        },
    );
    let evil_dest = sign::encode_session_token(
        CLIENT_SECRET,
        &SessionClaims {
            dest: "https://evil.com".to_owned(),
            ..fixture_claims()
        },
    );

    let mut answers = vec![
        test.token_endpoint(SHOP, exchange_body(&other_secret))
            .await,
        test.token_endpoint(SHOP, exchange_body(&other_audience))
            .await,
        test.token_endpoint(SHOP, exchange_body(&evil_dest)).await,
        test.token_endpoint("other-shop.myshopify.com", exchange_body(SESSION_TOKEN))
            .await,
    ];
    test.clock.advance(Duration::from_secs(71));
    answers.push(
        test.token_endpoint(SHOP, exchange_body(SESSION_TOKEN))
            .await,
    );

    for (status, body) in answers {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body, json!({ "error": "invalid_subject_token" }));
    }
    assert!(!test.standin.shop(SHOP).unwrap().installed);
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_the_old_refresh_token_dies_once_the_new_pair_is_used() {
    let test = TestStandIn::start().await;
    let first = test.standin.grant_offline_token(SHOP, true).unwrap();
    let first_refresh = first.refresh_token.clone().unwrap();

    let (status, second) = test
        .token_endpoint(SHOP, refresh_body(&first_refresh))
        .await;
    let second_access = second["access_token"].as_str().unwrap();
    let second_refresh = second["refresh_token"].as_str().unwrap();
    let (api, _) = test.graphql(second_access, SHOP_QUERY, json!({})).await;
    let (reused, body) = test
        .token_endpoint(SHOP, refresh_body(&first_refresh))
        .await;
    let (renewed, third) = test
        .token_endpoint(SHOP, refresh_body(second_refresh))
        .await;

    assert_eq!(status, 200, "{second}");
    assert_ne!(second_access, first.access_token);
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(api, 200);
    assert_eq!(reused, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(renewed, 200, "{third}");
}

#[tokio::test]
async fn the_old_refresh_token_still_works_until_its_replacement_is_first_used() {
    let test = TestStandIn::start().await;
    let first = test.standin.grant_offline_token(SHOP, true).unwrap();
    let first_refresh = first.refresh_token.unwrap();

    let (lost, _) = test
        .token_endpoint(SHOP, refresh_body(&first_refresh))
        .await;
    let (recovered, _) = test
        .token_endpoint(SHOP, refresh_body(&first_refresh))
        .await;

    assert_eq!(lost, 200);
    assert_eq!(recovered, 200);
}

#[tokio::test]
async fn an_expired_access_token_gets_401_and_a_refreshed_one_works() {
    let test = TestStandIn::start_with(|mut config| {
        config.access_token_lifetime = Duration::from_secs(5);
        config
    })
    .await;
    let grant = test.standin.grant_offline_token(SHOP, true).unwrap();

    let (fresh, _) = test
        .graphql(&grant.access_token, SHOP_QUERY, json!({}))
        .await;
    test.clock.advance(Duration::from_secs(6));
    let (expired, body) = test
        .graphql(&grant.access_token, SHOP_QUERY, json!({}))
        .await;
    let (_, renewed) = test
        .token_endpoint(SHOP, refresh_body(&grant.refresh_token.unwrap()))
        .await;
    let (after, _) = test
        .graphql(
            renewed["access_token"].as_str().unwrap(),
            SHOP_QUERY,
            json!({}),
        )
        .await;

    assert_eq!(grant.expires_in, Some(5));
    assert_eq!(fresh, 200);
    assert_eq!(expired, 401);
    assert_eq!(
        body["errors"],
        "[API] Invalid API key or access token (unrecognized login or wrong password)"
    );
    assert_eq!(after, 200);
}

#[tokio::test]
async fn uninstall_revokes_access_and_refresh_tokens() {
    let test = TestStandIn::start().await;
    let grant = test.standin.grant_offline_token(SHOP, true).unwrap();

    test.standin.uninstall(SHOP).unwrap();
    let (api, _) = test
        .graphql(&grant.access_token, SHOP_QUERY, json!({}))
        .await;
    let (refresh, _) = test
        .token_endpoint(SHOP, refresh_body(&grant.refresh_token.unwrap()))
        .await;

    assert_eq!(api, 401);
    assert_eq!(refresh, 400);
    assert!(!test.standin.shop(SHOP).unwrap().installed);
}

#[tokio::test]
async fn the_admin_api_refuses_a_missing_token_and_another_shops_token() {
    let test = TestStandIn::start().await;
    test.standin
        .create_shop("other-shop", shopify_standin::Plan::Plus)
        .unwrap();
    let other = test
        .standin
        .grant_offline_token("other-shop", true)
        .unwrap()
        .access_token;

    let (missing, _) = test.graphql("", SHOP_QUERY, json!({})).await;
    let (foreign, _) = test.graphql(&other, SHOP_QUERY, json!({})).await;

    assert_eq!(missing, 401);
    assert_eq!(foreign, 401);
}
