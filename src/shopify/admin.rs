//! HTTP calls to a shop's admin: the OAuth token endpoint (token exchange, authorization
//! code, refresh; `shopify.md` §1.4 to §1.6) and the Admin GraphQL API (§6.1).
//!
//! A shop is reached through the admin base URL template of the settings, in production
//! `https://{shop}`; nothing here knows which server answers.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::config::ShopifySettings;
use crate::shopify::oauth::TokenGrant;
use crate::shopify::{AppCredentials, Error, Result};
use crate::types::ShopDomain;

/// `grant_type` of the token exchange (RFC 8693).
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `subject_token_type` of a session token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// `requested_token_type` of an offline access token.
pub const OFFLINE_TOKEN_TYPE: &str = "urn:shopify:params:oauth:token-type:offline-access-token";

/// How long one call to Shopify may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The answer of one GraphQL call: its `data`, top-level `errors` and `extensions` (which
/// carry the query cost and throttle status).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphqlResponse {
    /// `data`, or null.
    #[serde(default)]
    pub data: Value,
    /// Top-level errors (syntax, throttling, access).
    #[serde(default)]
    pub errors: Vec<Value>,
    /// `extensions`, with `cost.throttleStatus`.
    #[serde(default)]
    pub extensions: Value,
}

impl GraphqlResponse {
    /// Whether Shopify refused the call for lack of query cost budget.
    pub fn is_throttled(&self) -> bool {
        self.errors
            .iter()
            .any(|error| error["extensions"]["code"] == "THROTTLED")
    }
}

/// Reaches shops' admins over HTTPS.
#[derive(Clone, Debug)]
pub struct ShopifyClient {
    http: reqwest::Client,
    admin_base_url: String,
    api_version: String,
    credentials: AppCredentials,
}

impl ShopifyClient {
    /// A client for the app's credentials and the shop URL template of `settings`.
    pub fn new(settings: &ShopifySettings, credentials: AppCredentials) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .user_agent(concat!("shopify-scim/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Transport)?;
        Ok(Self {
            http,
            admin_base_url: settings.admin_base_url.clone(),
            api_version: settings.api_version.clone(),
            credentials,
        })
    }

    /// The app's credentials.
    pub fn credentials(&self) -> &AppCredentials {
        &self.credentials
    }

    /// The admin base URL of `shop`.
    pub fn admin_url(&self, shop: &ShopDomain) -> Result<Url> {
        let settings = ShopifySettings {
            admin_base_url: self.admin_base_url.clone(),
            ..ShopifySettings::default()
        };
        settings
            .admin_url(shop)
            .map_err(|error| Error::Config(error.to_string()))
    }

    fn endpoint(&self, shop: &ShopDomain, path: &str) -> Result<Url> {
        let mut url = self.admin_url(shop)?;
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        Ok(url)
    }

    /// Trades a session token for an expiring offline access token (§1.6).
    #[tracing::instrument(level = "debug", skip_all, fields(shop.domain = %shop))]
    pub async fn exchange_session_token(
        &self,
        shop: &ShopDomain,
        session_token: &SecretString,
    ) -> Result<TokenGrant> {
        self.token_request(
            shop,
            json!({
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": session_token.expose_secret(),
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": OFFLINE_TOKEN_TYPE,
                "expiring": "1",
            }),
        )
        .await
    }

    /// Trades an authorization code for an expiring offline access token (§1.4).
    #[tracing::instrument(level = "debug", skip_all, fields(shop.domain = %shop))]
    pub async fn exchange_code(&self, shop: &ShopDomain, code: &str) -> Result<TokenGrant> {
        self.token_request(shop, json!({ "code": code, "expiring": "1" }))
            .await
    }

    /// Trades a refresh token for a new access and refresh token pair (§1.5).
    #[tracing::instrument(level = "debug", skip_all, fields(shop.domain = %shop))]
    pub async fn refresh(
        &self,
        shop: &ShopDomain,
        refresh_token: &SecretString,
    ) -> Result<TokenGrant> {
        self.token_request(
            shop,
            json!({
                "grant_type": "refresh_token",
                "refresh_token": refresh_token.expose_secret(),
            }),
        )
        .await
    }

    async fn token_request(&self, shop: &ShopDomain, mut body: Value) -> Result<TokenGrant> {
        body["client_id"] = json!(self.credentials.api_key());
        body["client_secret"] = json!(self.credentials.secret().expose_secret());
        let url = self.endpoint(shop, "/admin/oauth/access_token")?;

        let response = self
            .http
            .post(url)
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(Error::Transport)?;
        let status = response.status();
        let text = response.text().await.map_err(Error::Transport)?;

        if !status.is_success() {
            let code = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|body| body["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "no error code".to_owned());
            return Err(Error::TokenRejected {
                status: status.as_u16(),
                code,
            });
        }
        serde_json::from_str(&text)
            .map_err(|_| Error::UnexpectedResponse("the token grant is not readable".to_owned()))
    }

    /// Sends one Admin GraphQL operation. Shopify's 401 comes back as
    /// [`Error::TokenRejected`] with status 401, so the caller can refresh and retry once.
    #[tracing::instrument(level = "debug", skip_all, fields(shop.domain = %shop))]
    pub async fn graphql(
        &self,
        shop: &ShopDomain,
        access_token: &SecretString,
        query: &str,
        variables: &Value,
    ) -> Result<GraphqlResponse> {
        let url = self.endpoint(
            shop,
            &format!("/admin/api/{}/graphql.json", self.api_version),
        )?;
        let response = self
            .http
            .post(url)
            .header("x-shopify-access-token", access_token.expose_secret())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(Error::Transport)?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Error::TokenRejected {
                status: 401,
                code: "invalid access token".to_owned(),
            });
        }
        let text = response.text().await.map_err(Error::Transport)?;
        if !status.is_success() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::UnexpectedResponse(format!(
                "the Admin API answered {status}"
            )));
        }
        serde_json::from_str(&text)
            .map_err(|_| Error::UnexpectedResponse("the GraphQL answer is not JSON".to_owned()))
    }
}
