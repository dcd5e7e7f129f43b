//! Everything the app knows about Shopify as a platform.
//!
//! Signed query strings and webhooks, App Bridge session tokens, Shopify tokens encrypted
//! at rest, the OAuth token endpoint (token exchange, authorization code, refresh), the
//! Admin GraphQL client, installation state and the handling of platform webhooks
//! (uninstall, scopes, compliance).
//!
//! Nothing here knows actix: the web layer extracts raw inputs (query strings, header
//! values, body bytes) and calls in. Facts implemented here are in `shopify.md` §1 to §5;
//! the section is named beside each function.

pub mod admin;
pub mod crypto;
pub mod embedded;
pub mod install;
pub mod oauth;
pub mod session_token;
pub mod signature;
pub mod webhook;

use std::fmt;

use secrecy::SecretString;

use crate::store;

/// Why a Shopify-facing operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query-string or webhook HMAC is missing or does not verify. 401.
    #[error("the request signature is missing or invalid")]
    InvalidSignature,
    /// A signed query string's `timestamp` is missing or more than 90 seconds away. 401.
    #[error("the signed request is too old or its timestamp is invalid")]
    StaleRequest,
    /// The request lacks a part Shopify always sends, or repeats one. 400.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// A `shop` value is not a `*.myshopify.com` domain. 400.
    #[error("not a valid shop domain: expected `name.myshopify.com`")]
    InvalidShop,
    /// A session token was rejected; the text says why, never what it held. 401.
    #[error("invalid session token: {0}")]
    InvalidSessionToken(&'static str),
    /// The OAuth `state` is missing, forged, expired, or differs from the cookie. 403.
    #[error("the OAuth state does not match this browser's")]
    StateMismatch,
    /// The shop holds no usable Shopify token (never installed, uninstalled, or its
    /// refresh failed). 409 on the admin API, a re-install prompt on pages.
    #[error("the shop has no valid Shopify access token")]
    NotInstalled,
    /// Shopify's token endpoint refused a grant. 502.
    #[error("Shopify refused the token request ({status}: {code})")]
    TokenRejected {
        /// HTTP status of the answer.
        status: u16,
        /// The `error` field of the answer, or a short description.
        code: String,
    },
    /// Shopify answered something we cannot read. 502.
    #[error("unexpected answer from Shopify: {0}")]
    UnexpectedResponse(String),
    /// Shopify could not be reached or timed out. 502.
    #[error("calling Shopify failed")]
    Transport(#[source] reqwest::Error),
    /// A stored token could not be decrypted (wrong key, or tampered row). 500.
    #[error("a stored Shopify token could not be decrypted")]
    Decrypt,
    /// Encryption failed. 500.
    #[error("encrypting a Shopify token failed")]
    Encrypt,
    /// The configuration cannot reach this shop (bad admin base URL). 500.
    #[error("configuration: {0}")]
    Config(String),
    /// The database failed. 500.
    #[error("storage failure")]
    Store(#[from] store::Error),
}

impl From<sea_orm::DbErr> for Error {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Store(store::Error::Db(error))
    }
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The app's identity at Shopify: client id and secret, plus the previous secret while a
/// rotation is under way (Shopify may sign with the old one for up to an hour, §4.1).
#[derive(Clone)]
pub struct AppCredentials {
    api_key: String,
    secret: SecretString,
    previous_secret: Option<SecretString>,
}

impl AppCredentials {
    /// Credentials from the client id, the current secret and an optional previous one.
    pub fn new(
        api_key: impl Into<String>,
        secret: SecretString,
        previous_secret: Option<SecretString>,
    ) -> Self {
        Self {
            api_key: api_key.into(),
            secret,
            previous_secret,
        }
    }

    /// The client id (public; it is also the `shopify-api-key` meta tag).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The current client secret, for calls to Shopify.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// Every secret a signature may have been made with: the current one first.
    pub fn verifying_secrets(&self) -> impl Iterator<Item = &SecretString> {
        std::iter::once(&self.secret).chain(self.previous_secret.as_ref())
    }
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("api_key", &self.api_key)
            .field("rotating", &self.previous_secret.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! The fixed inputs of `shopify.md` §10.

    use secrecy::SecretString;

    use super::AppCredentials;

    pub const CLIENT_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    pub const CLIENT_SECRET: &str = "shpss_0123456789abcdef0123456789abcdef";
    pub const SHOP: &str = "acme-test.myshopify.com";
    pub const HOST: &str = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZS10ZXN0";
    pub const TS: i64 = 1_767_225_600;

    pub fn credentials() -> AppCredentials {
        AppCredentials::new(CLIENT_ID, SecretString::from(CLIENT_SECRET), None)
    }

    pub fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }
}
