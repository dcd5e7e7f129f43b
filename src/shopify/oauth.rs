//! OAuth pieces that involve no network: the authorize URL of the authorization-code grant,
//! the signed short-lived `state` cookie, and the shape of a token grant (`shopify.md` §1).

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use url::Url;

use crate::shopify::signature::hex_hmac;
use crate::shopify::{AppCredentials, Error, Result};

/// Name of the cookie that carries the signed OAuth state.
pub const STATE_COOKIE: &str = "shopify_app_state";

/// How long a started authorization-code install may take.
pub const STATE_LIFETIME_SECS: i64 = 60;

/// Renew an access token when it expires within this margin.
pub const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// Tokens Shopify granted, as its token endpoint answers them (§1.4, §1.5).
#[derive(Clone, Deserialize)]
pub struct TokenGrant {
    /// Offline access token.
    pub access_token: SecretString,
    /// Granted scopes, comma-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// Seconds until the access token expires (expiring tokens only).
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Refresh token (expiring tokens only).
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// Seconds until the refresh token expires.
    #[serde(default)]
    pub refresh_token_expires_in: Option<i64>,
}

impl TokenGrant {
    /// When the access token expires, counted from `granted_at`.
    pub fn access_expires_at(&self, granted_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expires_in
            .map(|seconds| granted_at + Duration::seconds(seconds))
    }

    /// When the refresh token expires, counted from `granted_at`.
    pub fn refresh_expires_at(&self, granted_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.refresh_token_expires_in
            .map(|seconds| granted_at + Duration::seconds(seconds))
    }
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .field("refresh", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

/// A new OAuth state: 32 random bytes as hex, and the cookie value that carries it signed
/// with an expiry.
pub struct NewState {
    /// The `state` parameter of the authorize URL.
    pub state: String,
    /// The value of the [`STATE_COOKIE`] cookie.
    pub cookie: String,
}

/// Starts an authorization-code install: a fresh state and its signed cookie, valid for
/// [`STATE_LIFETIME_SECS`] from `now`.
pub fn new_state(credentials: &AppCredentials, now: DateTime<Utc>) -> Result<NewState> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| Error::Encrypt)?;
    let state = hex::encode(bytes);
    let expires = now.timestamp() + STATE_LIFETIME_SECS;
    let signed = format!("{state}.{expires}");
    let mac = hex_hmac(
        credentials.secret(),
        format!("oauth-state:{signed}").as_bytes(),
    );
    Ok(NewState {
        cookie: format!("{signed}.{mac}"),
        state,
    })
}

/// Checks the callback's `state` against the cookie: signed by us, not expired, and equal
/// (all compared in constant time).
pub fn check_state(
    credentials: &AppCredentials,
    cookie: Option<&str>,
    state: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (Some(cookie), Some(state)) = (cookie, state) else {
        return Err(Error::StateMismatch);
    };
    let mut parts = cookie.rsplitn(2, '.');
    let (Some(mac), Some(signed)) = (parts.next(), parts.next()) else {
        return Err(Error::StateMismatch);
    };
    let authentic = credentials.verifying_secrets().any(|secret| {
        let expected = hex_hmac(secret, format!("oauth-state:{signed}").as_bytes());
        bool::from(expected.as_bytes().ct_eq(mac.as_bytes()))
    });
    let Some((cookie_state, expires)) = signed.split_once('.') else {
        return Err(Error::StateMismatch);
    };
    let fresh = expires
        .parse::<i64>()
        .is_ok_and(|expires| now.timestamp() <= expires);
    let same = bool::from(cookie_state.as_bytes().ct_eq(state.as_bytes()));
    if authentic && fresh && same {
        Ok(())
    } else {
        Err(Error::StateMismatch)
    }
}

/// The URL that asks the merchant to approve the app (offline token; §1.2).
pub fn authorize_url(
    admin: &Url,
    credentials: &AppCredentials,
    scopes: &str,
    redirect_uri: &Url,
    state: &str,
) -> Url {
    let mut url = admin.clone();
    let base = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base}/admin/oauth/authorize"));
    url.query_pairs_mut()
        .append_pair("client_id", credentials.api_key())
        .append_pair("scope", scopes)
        .append_pair("redirect_uri", redirect_uri.as_str())
        .append_pair("state", state);
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::fixtures::{TS, at, credentials};

    #[test]
    fn a_fresh_state_matches_its_own_cookie_within_a_minute() {
        let started = new_state(&credentials(), at(TS)).unwrap();

        let checked = check_state(
            &credentials(),
            Some(&started.cookie),
            Some(&started.state),
            at(TS + STATE_LIFETIME_SECS),
        );

        assert!(checked.is_ok());
    }

    #[test]
    fn a_state_that_differs_expired_or_forged_is_refused() {
        let started = new_state(&credentials(), at(TS)).unwrap();
        let other = new_state(&credentials(), at(TS)).unwrap();
        let forged = format!("{}.{}.{}", other.state, TS + 60, "0".repeat(64));

        let check = |cookie: Option<&str>, state: Option<&str>, now: i64| {
            check_state(&credentials(), cookie, state, at(now)).is_err()
        };

        assert!(check(Some(&started.cookie), Some(&other.state), TS));
        assert!(check(Some(&started.cookie), Some(&started.state), TS + 61));
        assert!(check(Some(&forged), Some(&other.state), TS));
        assert!(check(None, Some(&started.state), TS));
        assert!(check(Some(&started.cookie), None, TS));
    }

    #[test]
    fn the_authorize_url_goes_to_the_shop_s_admin_with_every_parameter() {
        let admin = Url::parse("https://acme-test.myshopify.com").unwrap();
        let redirect = Url::parse("https://app.example.com/auth/callback").unwrap();

        let url = authorize_url(&admin, &credentials(), "read_customers", &redirect, "abc");

        assert_eq!(
            url.as_str(),
            "https://acme-test.myshopify.com/admin/oauth/authorize?client_id=\
             a1b2c3d4e5f60718293a4b5c6d7e8f90&scope=read_customers&redirect_uri=\
             https%3A%2F%2Fapp.example.com%2Fauth%2Fcallback&state=abc"
        );
    }
}
