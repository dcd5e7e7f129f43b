//! OAuth as Shopify runs it for one app, and the access check behind the Admin API.
//!
//! The authorize redirect carries a signed query string; the token endpoint has three
//! grants: authorization code, token exchange of a session token, refresh with rotation.
//!
//! Shapes from `shopify.md` §1.2–1.6 and §10.4. A non-expiring offline token is one per
//! shop, as Shopify keeps it; expiring ones are new on every grant.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use base64::Engine as _;

use crate::config::StandInConfig;
use crate::sign;
use crate::store::{Inner, StaffUser};

/// Token type of a session token in a token-exchange request.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// Requested token type for an offline access token.
pub const OFFLINE_TOKEN_TYPE: &str = "urn:shopify:params:oauth:token-type:offline-access-token";
/// Requested token type for an online (per-user) access token.
pub const ONLINE_TOKEN_TYPE: &str = "urn:shopify:params:oauth:token-type:online-access-token";
/// Grant type of token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME_SECS: i64 = 600;

/// How long an online (per-user) token lives.
const ONLINE_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;

/// Why an OAuth request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 400 on authorize: `client_id` is not this app's.
    #[error("Oauth error invalid_request: The client_id is not valid")]
    UnknownClient,
    /// 400 on authorize: `redirect_uri` is missing or not allowed.
    #[error("Oauth error invalid_request: The redirect_uri is missing or not whitelisted")]
    RedirectUri,
    /// 401: wrong `client_id` or `client_secret` at the token endpoint.
    #[error("invalid_client")]
    InvalidClient,
    /// 400: a required parameter is missing or malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// 400: the code or refresh token is unknown, used, expired or revoked.
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    /// 400: the session token failed verification (signature, `aud`, expiry, `dest`).
    #[error("invalid_subject_token")]
    InvalidSubjectToken,
    /// 400: a `grant_type` this endpoint does not know.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
}

impl Error {
    /// HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            _ => 400,
        }
    }

    /// JSON body of the answer.
    pub fn body(&self) -> Value {
        match self {
            Self::UnknownClient | Self::RedirectUri => json!({ "error": self.to_string() }),
            Self::InvalidClient => json!({
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }),
            Self::InvalidRequest(reason) => {
                json!({ "error": "invalid_request", "error_description": reason })
            }
            Self::InvalidGrant(reason) => {
                json!({ "error": "invalid_grant", "error_description": reason })
            }
            Self::InvalidSubjectToken => json!({ "error": "invalid_subject_token" }),
            Self::UnsupportedGrantType => json!({ "error": "unsupported_grant_type" }),
        }
    }
}

/// An access token the stand-in issued.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// Shop it is valid for.
    pub shop: String,
    /// Expiry; `None` for non-expiring offline tokens.
    pub expires_at: Option<DateTime<Utc>>,
    /// The staff user of an online token.
    pub user: Option<StaffUser>,
    /// Granted scopes.
    pub scope: String,
    /// Set by uninstall.
    pub revoked: bool,
    /// The refresh token this one's grant replaced, retired on this token's first use.
    pub retires: Option<String>,
}

/// A refresh token the stand-in issued.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// Shop it is valid for.
    pub shop: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set by uninstall, or once its replacement was used.
    pub revoked: bool,
    /// The refresh token this one replaced, retired on this one's first use.
    pub retires: Option<String>,
}

/// An authorization code waiting for its exchange.
#[derive(Debug, Clone)]
pub struct AuthCode {
    /// Shop the merchant approved on.
    pub shop: String,
    /// Granted scopes.
    pub scope: String,
    /// `grant_options[]=per-user`.
    pub online: bool,
    /// Who approved.
    pub user: StaffUser,
    /// When it stops being exchangeable.
    pub expires_at: DateTime<Utc>,
}

/// A fresh random token with Shopify's prefix, e.g. `shpat_`.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// The `host` parameter: unpadded base64 of `admin.shopify.com/store/{handle}`.
pub fn host_param(shop: &str) -> String {
    let handle = shop.split('.').next().unwrap_or(shop);
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(format!("admin.shopify.com/store/{handle}"))
}

/// Approves an authorize request at once (the merchant always says yes) and returns the
/// redirect back to the app with `code`, `host`, `shop`, `state`, `timestamp` and `hmac`.
pub fn authorize(
    inner: &mut Inner,
    config: &StandInConfig,
    shop: &str,
    params: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Url, Error> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if param("client_id") != Some(config.api_key.as_str()) {
        return Err(Error::UnknownClient);
    }
    let redirect = param("redirect_uri")
        .and_then(|uri| Url::parse(uri).ok())
        .filter(|uri| matches!(uri.scheme(), "http" | "https"))
        .filter(|uri| config.redirect_urls.is_empty() || config.redirect_urls.contains(uri))
        .ok_or(Error::RedirectUri)?;
    let online = params
        .iter()
        .any(|(key, value)| key == "grant_options[]" && value == "per-user");
    let scope = param("scope").unwrap_or(&config.scopes).to_owned();
    let user = inner
        .shops
        .get(shop)
        .map(|shop| shop.owner.clone())
        .ok_or(Error::InvalidRequest("unknown shop"))?;

    let code = uuid::Uuid::new_v4().simple().to_string();
    inner.codes.insert(
        code.clone(),
        AuthCode {
            shop: shop.to_owned(),
            scope,
            online,
            user,
            expires_at: now + TimeDelta::seconds(CODE_LIFETIME_SECS),
        },
    );

    let mut query = vec![
        ("code".to_owned(), code),
        ("host".to_owned(), host_param(shop)),
        ("shop".to_owned(), shop.to_owned()),
    ];
    if let Some(state) = param("state") {
        query.push(("state".to_owned(), state.to_owned()));
    }
    query.push(("timestamp".to_owned(), now.timestamp().to_string()));
    let hmac = sign::query_hmac(&config.api_secret, &query);
    query.push(("hmac".to_owned(), hmac));

    let mut redirect = redirect;
    redirect.query_pairs_mut().extend_pairs(query);
    Ok(redirect)
}

/// A token-endpoint request body (JSON or form-encoded).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    /// The app's client id.
    pub client_id: Option<String>,
    /// The app's client secret.
    pub client_secret: Option<String>,
    /// Absent for the authorization-code grant.
    pub grant_type: Option<String>,
    /// Authorization code.
    pub code: Option<String>,
    /// Refresh token.
    pub refresh_token: Option<String>,
    /// The session token, for token exchange.
    pub subject_token: Option<String>,
    /// [`ID_TOKEN_TYPE`].
    pub subject_token_type: Option<String>,
    /// [`OFFLINE_TOKEN_TYPE`] or [`ONLINE_TOKEN_TYPE`].
    pub requested_token_type: Option<String>,
    /// `"1"` or `1` for an expiring offline token.
    pub expiring: Option<Value>,
}

impl TokenRequest {
    fn expiring(&self) -> bool {
        match &self.expiring {
            Some(Value::String(text)) => text == "1" || text == "true",
            Some(Value::Number(number)) => number.as_u64() == Some(1),
            Some(Value::Bool(flag)) => *flag,
            _ => false,
        }
    }
}

/// Runs one token-endpoint grant for `shop` and returns the JSON answer.
pub fn grant(
    inner: &mut Inner,
    config: &StandInConfig,
    shop: &str,
    request: &TokenRequest,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let client_ok = request
        .client_id
        .as_deref()
        .is_some_and(|id| sign::same(id, &config.api_key))
        && request
            .client_secret
            .as_deref()
            .is_some_and(|secret| sign::same(secret, &config.api_secret));
    if !client_ok {
        return Err(Error::InvalidClient);
    }
    if !inner.shops.contains_key(shop) {
        return Err(Error::InvalidRequest("unknown shop"));
    }

    match request.grant_type.as_deref() {
        None | Some("authorization_code") => code_grant(inner, config, shop, request, now),
        Some(TOKEN_EXCHANGE_GRANT) => token_exchange(inner, config, shop, request, now),
        Some("refresh_token") => refresh(inner, config, shop, request, now),
        Some(_) => Err(Error::UnsupportedGrantType),
    }
}

fn code_grant(
    inner: &mut Inner,
    config: &StandInConfig,
    shop: &str,
    request: &TokenRequest,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let code = request
        .code
        .as_deref()
        .ok_or(Error::InvalidRequest("code is missing"))?;
    let found = inner
        .codes
        .remove(code)
        .filter(|found| found.shop == shop && found.expires_at > now)
        .ok_or(Error::InvalidGrant(
            "The authorization code was not found or was already used",
        ))?;

    install(inner, shop);
    if found.online {
        Ok(issue_online(inner, shop, &found.scope, found.user, now))
    } else {
        Ok(issue_offline(
            inner,
            config,
            shop,
            &found.scope,
            request.expiring(),
            None,
            now,
        ))
    }
}

fn token_exchange(
    inner: &mut Inner,
    config: &StandInConfig,
    shop: &str,
    request: &TokenRequest,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    if request.subject_token_type.as_deref() != Some(ID_TOKEN_TYPE) {
        return Err(Error::InvalidRequest(
            "subject_token_type must be an id_token",
        ));
    }
    let token = request
        .subject_token
        .as_deref()
        .ok_or(Error::InvalidRequest("subject_token is missing"))?;
    let claims =
        sign::decode_session_token(&config.api_secret, &config.api_key, token, now.timestamp())
            .map_err(|_| Error::InvalidSubjectToken)?;
    if claims.dest != format!("https://{shop}") {
        return Err(Error::InvalidSubjectToken);
    }
    let user_id: u64 = claims.sub.parse().map_err(|_| Error::InvalidSubjectToken)?;
    let owner = inner
        .shops
        .get(shop)
        .map(|shop| shop.owner.id)
        .unwrap_or_default();

    install(inner, shop);
    let scope = config.scopes.clone();
    match request.requested_token_type.as_deref() {
        Some(ONLINE_TOKEN_TYPE) => {
            let user = StaffUser {
                id: user_id,
                account_owner: user_id == owner,
            };
            Ok(issue_online(inner, shop, &scope, user, now))
        }
        Some(OFFLINE_TOKEN_TYPE) | None => Ok(issue_offline(
            inner,
            config,
            shop,
            &scope,
            request.expiring(),
            None,
            now,
        )),
        Some(_) => Err(Error::InvalidRequest(
            "requested_token_type is not supported",
        )),
    }
}

fn refresh(
    inner: &mut Inner,
    config: &StandInConfig,
    shop: &str,
    request: &TokenRequest,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let presented = request
        .refresh_token
        .as_deref()
        .ok_or(Error::InvalidRequest("refresh_token is missing"))?;
    let record = inner
        .refresh_tokens
        .get(presented)
        .filter(|record| record.shop == shop && !record.revoked && record.expires_at > now)
        .cloned()
        .ok_or(Error::InvalidGrant(
            "The refresh token is invalid, expired or revoked",
        ))?;

    retire(inner, record.retires.as_deref());
    if let Some(used) = inner.refresh_tokens.get_mut(presented) {
        used.retires = None;
    }
    let scope = config.scopes.clone();
    Ok(issue_offline(
        inner,
        config,
        shop,
        &scope,
        true,
        Some(presented.to_owned()),
        now,
    ))
}

fn install(inner: &mut Inner, shop: &str) {
    if let Some(shop) = inner.shops.get_mut(shop)
        && !shop.installed
    {
        shop.installed = true;
        tracing::info!(shop.domain = %shop.domain, "app installed");
    }
}

fn retire(inner: &mut Inner, refresh_token: Option<&str>) {
    if let Some(old) = refresh_token.and_then(|token| inner.refresh_tokens.get_mut(token)) {
        old.revoked = true;
    }
}

fn issue_offline(
    inner: &mut Inner,
    config: &StandInConfig,
    shop: &str,
    scope: &str,
    expiring: bool,
    replaces: Option<String>,
    now: DateTime<Utc>,
) -> Value {
    if !expiring {
        let existing = inner
            .shops
            .get(shop)
            .and_then(|shop| shop.legacy_offline_token.clone());
        let token = existing.unwrap_or_else(|| random_token("shpat_"));
        inner.access_tokens.insert(
            token.clone(),
            AccessToken {
                shop: shop.to_owned(),
                expires_at: None,
                user: None,
                scope: scope.to_owned(),
                revoked: false,
                retires: None,
            },
        );
        if let Some(shop) = inner.shops.get_mut(shop) {
            shop.legacy_offline_token = Some(token.clone());
        }
        return json!({ "access_token": token, "scope": scope });
    }

    let access_lifetime = lifetime(config.access_token_lifetime);
    let refresh_lifetime = lifetime(config.refresh_token_lifetime);
    let access = random_token("shpat_");
    let refresh = random_token("shprt_");
    inner.access_tokens.insert(
        access.clone(),
        AccessToken {
            shop: shop.to_owned(),
            expires_at: Some(now + access_lifetime),
            user: None,
            scope: scope.to_owned(),
            revoked: false,
            retires: replaces.clone(),
        },
    );
    inner.refresh_tokens.insert(
        refresh.clone(),
        RefreshToken {
            shop: shop.to_owned(),
            expires_at: now + refresh_lifetime,
            revoked: false,
            retires: replaces,
        },
    );
    json!({
        "access_token": access,
        "scope": scope,
        "expires_in": access_lifetime.num_seconds(),
        "refresh_token": refresh,
        "refresh_token_expires_in": refresh_lifetime.num_seconds(),
    })
}

fn issue_online(
    inner: &mut Inner,
    shop: &str,
    scope: &str,
    user: StaffUser,
    now: DateTime<Utc>,
) -> Value {
    let access = random_token("shpua_");
    let lifetime = TimeDelta::seconds(ONLINE_TOKEN_LIFETIME_SECS);
    inner.access_tokens.insert(
        access.clone(),
        AccessToken {
            shop: shop.to_owned(),
            expires_at: Some(now + lifetime),
            user: Some(user.clone()),
            scope: scope.to_owned(),
            revoked: false,
            retires: None,
        },
    );
    json!({
        "access_token": access,
        "scope": scope,
        "expires_in": lifetime.num_seconds(),
        "associated_user_scope": scope,
        "associated_user": {
            "id": user.id,
            "first_name": "Staff",
            "last_name": user.id.to_string(),
            "email": format!("staff-{}@{shop}", user.id),
            "email_verified": true,
            "account_owner": user.account_owner,
            "locale": "en",
            "collaborator": false,
        },
    })
}

fn lifetime(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// Why the Admin API refused an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one the stand-in never issued, or one for another shop.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked by uninstall.
    Revoked,
}

impl Denied {
    /// A short word for the call log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown token",
            Self::Expired => "expired token",
            Self::Revoked => "revoked token",
        }
    }
}

/// Checks an `X-Shopify-Access-Token` for `shop`; the first use of a token issued by a
/// refresh retires the refresh token that was replaced.
pub fn authenticate(
    inner: &mut Inner,
    shop: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Denied> {
    let record = token
        .and_then(|token| inner.access_tokens.get_mut(token))
        .filter(|record| record.shop == shop)
        .ok_or(Denied::Unknown)?;
    if record.revoked {
        return Err(Denied::Revoked);
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Err(Denied::Expired);
    }
    let retired = record.retires.take();
    retire(inner, retired.as_deref());
    Ok(())
}
