//! The three signatures Shopify makes with an app's client secret: the hex HMAC over a
//! sorted query string, the base64 HMAC over a webhook body, and the HS256 session token.
//!
//! Algorithms as in `shopify.md` §1.3 (query strings), §4.1 (webhooks) and §2 (session
//! tokens); the unit tests reproduce the fixture values of §10 bit for bit.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// Leeway, in seconds, allowed on a session token's `exp` and `nbf`.
pub const SESSION_TOKEN_LEEWAY_SECS: i64 = 10;

/// Why a session token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not three base64url parts holding JSON.
    #[error("the session token is malformed")]
    Malformed,
    /// The header names an algorithm other than HS256.
    #[error("the session token is not signed with HS256")]
    Algorithm,
    /// The signature does not match the app secret.
    #[error("the session token's signature does not match")]
    Signature,
    /// `exp` lies more than the leeway in the past.
    #[error("the session token has expired")]
    Expired,
    /// `nbf` lies more than the leeway in the future.
    #[error("the session token is not valid yet")]
    NotYetValid,
    /// `aud` is not this app's client id.
    #[error("the session token is meant for another app")]
    Audience,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(secret: &str, message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this constructor cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Encodes `text` as `application/x-www-form-urlencoded` the way `URLSearchParams` does,
/// except that a space becomes `%20` (as the official JS library leaves it).
pub fn form_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'*' | b'-' | b'.' | b'_') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The message Shopify signs for a query string: every pair but `hmac` and `signature`,
/// sorted by key, form-encoded and joined with `&`.
pub fn query_message<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(key, value)| (key.as_ref(), value.as_ref()))
        .filter(|(key, _)| !matches!(*key, "hmac" | "signature"))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-case hex HMAC-SHA256 of [`query_message`], as sent in the `hmac` parameter.
pub fn query_hmac<K: AsRef<str>, V: AsRef<str>>(secret: &str, params: &[(K, V)]) -> String {
    hex::encode(hmac_sha256(secret, query_message(params).as_bytes()))
}

/// Base64 HMAC-SHA256 of a webhook body, as sent in `X-Shopify-Hmac-Sha256`.
pub fn webhook_hmac(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret, body))
}

/// Claims of an App Bridge session token, in the order Shopify writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The shop's admin URL, `https://{shop}/admin`.
    pub iss: String,
    /// The shop's URL, `https://{shop}`.
    pub dest: String,
    /// The app's client id.
    pub aud: String,
    /// The staff user's id, as a decimal string.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Not valid before, seconds since the epoch.
    pub nbf: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// A random UUID.
    pub jti: String,
    /// Session id, unique per user and app.
    pub sid: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

/// Signs `claims` as an HS256 JWT with the app secret, as Shopify admin does.
pub fn encode_session_token(secret: &str, claims: &SessionClaims) -> String {
    let header = Header {
        alg: "HS256".to_owned(),
        typ: "JWT".to_owned(),
    };
    // Serialising these plain structs cannot fail.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// Verifies a session token: HS256 signature with `secret`, `aud == client_id`, and `exp`
/// and `nbf` against `now` (Unix seconds) with [`SESSION_TOKEN_LEEWAY_SECS`] of leeway.
///
/// The caller checks `dest` against the shop it serves.
pub fn decode_session_token(
    secret: &str,
    client_id: &str,
    token: &str,
    now: i64,
) -> Result<SessionClaims, Error> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed);
    };

    let header: Header = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Error::Malformed)?;
    if header.alg != "HS256" {
        return Err(Error::Algorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Error::Malformed)?;
    let expected = hmac_sha256(
        secret,
        format!("{}.{payload}", parts_prefix(token)).as_bytes(),
    );
    if !bool::from(expected.as_slice().ct_eq(&signature)) {
        return Err(Error::Signature);
    }

    let claims: SessionClaims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Error::Malformed)?;
    if claims.exp <= now - SESSION_TOKEN_LEEWAY_SECS {
        return Err(Error::Expired);
    }
    if claims.nbf > now + SESSION_TOKEN_LEEWAY_SECS {
        return Err(Error::NotYetValid);
    }
    if claims.aud != client_id {
        return Err(Error::Audience);
    }
    Ok(claims)
}

/// The encoded header of a token: everything before the first dot.
fn parts_prefix(token: &str) -> &str {
    token.split('.').next().unwrap_or_default()
}

/// Constant-time comparison of two strings of any length.
pub fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixture inputs of shopify.md §10.
    const CLIENT_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    const CLIENT_SECRET: &str = "shpss_0123456789abcdef0123456789abcdef";
    const SHOP: &str = "acme-test.myshopify.com";
    const HOST: &str = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZS10ZXN0";
    const TS: &str = "1767225600";
    const SESSION_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2FjbWUtdGVzdC5teXNob3BpZnkuY29tL2FkbWluIiwiZGVzdCI6Imh0dHBzOi8vYWNtZS10ZXN0Lm15c2hvcGlmeS5jb20iLCJhdWQiOiJhMWIyYzNkNGU1ZjYwNzE4MjkzYTRiNWM2ZDdlOGY5MCIsInN1YiI6Ijc0ODU3MzQ2IiwiZXhwIjoxNzY3MjI1NjYwLCJuYmYiOjE3NjcyMjU2MDAsImlhdCI6MTc2NzIyNTYwMCwianRpIjoiZjg5MTIxMjktMWFmNi00Y2FkLTljYTMtNzZiMGY3NjIxMDg3Iiwic2lkIjoiYWFlYTE4MmYyNzMyZDQ0YzIzMDU3YzBmZWE1ODQwMjFhNDQ4NWIyYmQyNWQzZWI3ZmQzNDkzMTNhZDI0YzY4NSJ9.ob3uXA2FJAE_r_RCiCsANm972lEKZlS2LsNL7nDYKUY";

    fn fixture_claims() -> SessionClaims {
        SessionClaims {
            iss: "https://acme-test.myshopify.com/admin".to_owned(),
            dest: "https://acme-test.myshopify.com".to_owned(),
            aud: CLIENT_ID.to_owned(),
            sub: "74857346".to_owned(),
            exp: 1_767_225_660,
            nbf: 1_767_225_600,
            iat: 1_767_225_600,
            jti: "f8912129-1af6-4cad-9ca3-76b0f7621087".to_owned(),
            sid: "aaea182f2732d44c23057c0fea584021a4485b2bd25d3eb7fd349313ad24c685".to_owned(),
        }
    }

    #[test]
    fn shopifys_published_oauth_example_is_reproduced() {
        let params = [
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            ("shop", "some-shop.myshopify.com"),
            ("timestamp", "1337178173"),
        ];
        let mut with_state = params.to_vec();
        with_state.push(("state", "0.6784241404160823"));

        assert_eq!(
            query_hmac("hush", &params),
            "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
        );
        assert_eq!(
            query_hmac("hush", &with_state),
            "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
        );
    }

    #[test]
    fn the_install_request_fixture_is_signed_bit_for_bit() {
        let params = [("shop", SHOP), ("timestamp", TS), ("host", HOST)];

        assert_eq!(
            query_message(&params),
            "host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZS10ZXN0\
             &shop=acme-test.myshopify.com&timestamp=1767225600"
        );
        assert_eq!(
            query_hmac(CLIENT_SECRET, &params),
            "74e2519d5ca28df5de304ac8b637e33b397d269306d4628b6801aa1e0b8bcfdc"
        );
    }

    #[test]
    fn the_oauth_callback_fixture_is_signed_bit_for_bit_and_ignores_its_own_hmac() {
        let params = [
            ("code", "3f2a9c7e1b4d6a8f0e2c4b6d8f0a1c3e"),
            ("hmac", "anything"),
            ("host", HOST),
            ("shop", SHOP),
            ("state", "8a1f0c9d7e6b5a4c3d2e1f0a9b8c7d6e"),
            ("timestamp", TS),
        ];

        assert_eq!(
            query_hmac(CLIENT_SECRET, &params),
            "6db7dc696bf0aecd45c553e40f3ca324d398dc18fbe0af7664ace7f71f868e0e"
        );
    }

    #[test]
    fn the_embedded_page_load_fixture_is_signed_bit_for_bit() {
        let params = [
            ("embedded", "1"),
            ("host", HOST),
            ("id_token", SESSION_TOKEN),
            ("locale", "en"),
            (
                "session",
                "4fd3c2a1b0e9d8c7b6a5f4e3d2c1b0a94fd3c2a1b0e9d8c7b6a5f4e3d2c1b0a9",
            ),
            ("shop", SHOP),
            ("timestamp", TS),
        ];

        assert_eq!(
            query_hmac(CLIENT_SECRET, &params),
            "7e35d8395be59362a1eb61fabba1a003c82ef6f3efa695b871aabd5c405525d8"
        );
    }

    #[test]
    fn reserved_characters_are_form_encoded_not_joined_raw() {
        let params = [
            ("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWI="),
            ("shop", "ab.myshopify.com"),
            ("timestamp", TS),
        ];

        assert_eq!(
            query_message(&params),
            "host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWI%3D&shop=ab.myshopify.com\
             &timestamp=1767225600"
        );
        assert_eq!(
            query_hmac(CLIENT_SECRET, &params),
            "701b604f7b45abe4f49b2771630680fb9c83a1eb9e01b017ae05ce4b502c7062"
        );
        assert_eq!(form_encode("a b+c/d~"), "a%20b%2Bc%2Fd%7E");
    }

    #[test]
    fn webhook_bodies_are_signed_bit_for_bit() {
        let update = br#"{"id":706405506930370084,"admin_graphql_api_id":"gid://shopify/Customer/706405506930370084","email":"bob@biller.com","first_name":"Bob","last_name":"Biller","phone":null,"state":"disabled","updated_at":"2026-01-01T00:00:00-05:00"}"#;
        let redact = br#"{"shop_id":954889,"shop_domain":"acme-test.myshopify.com","customer":{"id":191167,"email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[299938,280263,220458]}"#;

        assert_eq!(update.len(), 230);
        assert_eq!(
            webhook_hmac(CLIENT_SECRET, update),
            "xQ2MWyK/a4PqzaXyFJYCzzLVxHWz0qDTdamwttYZk6k="
        );
        assert_eq!(
            webhook_hmac(CLIENT_SECRET, redact),
            "ae54rRqSQUbcc/saecPoF+bLvr9ztU4ZCAC1RDKBFB0="
        );
    }

    #[test]
    fn the_session_token_fixture_is_minted_bit_for_bit() {
        assert_eq!(
            encode_session_token(CLIENT_SECRET, &fixture_claims()),
            SESSION_TOKEN
        );
    }

    #[test]
    fn the_session_token_fixture_verifies_within_its_window_only() {
        let decode = |now| decode_session_token(CLIENT_SECRET, CLIENT_ID, SESSION_TOKEN, now);

        assert_eq!(decode(1_767_225_590), Ok(fixture_claims()));
        assert_eq!(decode(1_767_225_669), Ok(fixture_claims()));
        assert_eq!(decode(1_767_225_671), Err(Error::Expired));
        assert_eq!(decode(1_767_225_589), Err(Error::NotYetValid));
    }

    #[test]
    fn session_tokens_for_another_app_or_secret_or_algorithm_are_refused() {
        let now = 1_767_225_600;
        let other_app = decode_session_token(CLIENT_SECRET, "another", SESSION_TOKEN, now);
        let other_secret = decode_session_token("shpss_other", CLIENT_ID, SESSION_TOKEN, now);
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            SESSION_TOKEN.split('.').nth(1).unwrap()
        );

        assert_eq!(other_app, Err(Error::Audience));
        assert_eq!(other_secret, Err(Error::Signature));
        assert_eq!(
            decode_session_token(CLIENT_SECRET, CLIENT_ID, &unsigned, now),
            Err(Error::Algorithm)
        );
        assert_eq!(
            decode_session_token(CLIENT_SECRET, CLIENT_ID, "not-a-jwt", now),
            Err(Error::Malformed)
        );
    }
}
