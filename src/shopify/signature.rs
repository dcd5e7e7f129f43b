//! Shopify's two HMAC schemes.
//!
//! Hex HMAC-SHA256 over the sorted, form-encoded parameters of a signed query string
//! (install, OAuth callback, embedded load; `shopify.md` §1.3), and base64 HMAC-SHA256 over
//! the raw bytes of a webhook body (§4.1).
//!
//! Rules we chose where Shopify leaves room: a repeated parameter is rejected; the `hmac`
//! value must be lower-case hex, exactly as Shopify writes it; the timestamp may be at most
//! 90 seconds away from our clock in either direction.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

use crate::shopify::{AppCredentials, Error, Result};
use crate::types::ShopDomain;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How far a signed request's `timestamp` may be from now, in seconds.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 90;

/// A query string whose HMAC, timestamp and shop have been verified.
#[derive(Debug, Clone)]
pub struct SignedQuery {
    /// The `shop` parameter.
    pub shop: ShopDomain,
    /// Every parameter but `hmac`, decoded.
    pub params: BTreeMap<String, String>,
}

impl SignedQuery {
    /// A verified parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// Encodes text as `application/x-www-form-urlencoded`, with spaces as `%20` (what
/// Shopify's libraries sign).
pub fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The message a query string's HMAC covers: every pair but `hmac` and `signature`, sorted
/// by key, form-encoded and joined with `&`.
pub fn query_message<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut kept: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(key, _)| *key != "hmac" && *key != "signature")
        .collect();
    kept.sort_by(|a, b| a.0.cmp(b.0));
    kept.iter()
        .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-case hex HMAC-SHA256 of `message` under `secret`.
pub fn hex_hmac(secret: &SecretString, message: &[u8]) -> String {
    hex::encode(raw_hmac(secret, message))
}

/// Base64 HMAC-SHA256 of a webhook body under `secret`, as `X-Shopify-Hmac-Sha256` holds it.
pub fn webhook_hmac(secret: &SecretString, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw_hmac(secret, body))
}

fn raw_hmac(secret: &SecretString, message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of every length; an empty tag would never match anything.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose_secret().as_bytes()) else {
        return Vec::new();
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Verifies a raw query string signed by Shopify.
///
/// Parameters decoded, none repeated, the `hmac` matching under any of the app's secrets
/// (in constant time), `timestamp` within [`TIMESTAMP_TOLERANCE_SECS`] of `now`, and `shop`
/// a valid `*.myshopify.com` domain.
pub fn verify_query(
    credentials: &AppCredentials,
    raw_query: &str,
    now: DateTime<Utc>,
) -> Result<SignedQuery> {
    let mut params = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        if params
            .insert(key.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(Error::Malformed("a query parameter is repeated"));
        }
    }
    let presented = params.remove("hmac").ok_or(Error::InvalidSignature)?;

    let message = query_message(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let matches = credentials.verifying_secrets().any(|secret| {
        let expected = hex_hmac(secret, message.as_bytes());
        bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    });
    if !matches {
        return Err(Error::InvalidSignature);
    }

    let timestamp: i64 = params
        .get("timestamp")
        .and_then(|value| value.parse().ok())
        .ok_or(Error::StaleRequest)?;
    if (now.timestamp() - timestamp).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(Error::StaleRequest);
    }
    let shop = params
        .get("shop")
        .and_then(|shop| ShopDomain::parse(shop).ok())
        .ok_or(Error::InvalidShop)?;
    Ok(SignedQuery { shop, params })
}

/// Verifies a webhook: the base64 `X-Shopify-Hmac-Sha256` value must match the HMAC of the
/// exact body bytes under any of the app's secrets. An empty body never verifies.
pub fn verify_webhook(credentials: &AppCredentials, body: &[u8], presented: &str) -> Result<()> {
    if body.is_empty() {
        return Err(Error::InvalidSignature);
    }
    let presented = base64::engine::general_purpose::STANDARD
        .decode(presented.trim())
        .map_err(|_| Error::InvalidSignature)?;
    let matches = credentials
        .verifying_secrets()
        .any(|secret| bool::from(raw_hmac(secret, body).ct_eq(&presented)));
    if matches {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::fixtures::{CLIENT_SECRET, HOST, SHOP, TS, at, credentials};

    const INSTALL_HMAC: &str = "74e2519d5ca28df5de304ac8b637e33b397d269306d4628b6801aa1e0b8bcfdc";
    const CALLBACK_HMAC: &str = "6db7dc696bf0aecd45c553e40f3ca324d398dc18fbe0af7664ace7f71f868e0e";
    const CUSTOMERS_UPDATE: &str = concat!(
        r#"{"id":706405506930370084,"admin_graphql_api_id":"gid://shopify/Customer/706405506930370084","#,
        r#""email":"bob@biller.com","first_name":"Bob","last_name":"Biller","phone":null,"#,
        r#""state":"disabled","updated_at":"2026-01-01T00:00:00-05:00"}"#
    );
    const CUSTOMERS_REDACT: &str = concat!(
        r#"{"shop_id":954889,"shop_domain":"acme-test.myshopify.com","customer":{"id":191167,"#,
        r#""email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[299938,280263,220458]}"#
    );

    fn install_query(hmac: &str) -> String {
        format!("host={HOST}&shop={SHOP}&timestamp={TS}&hmac={hmac}")
    }

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn shopify_s_published_example_reproduces() {
        let message = "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com\
                       &timestamp=1337178173";
        let with_state = "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com\
                          &state=0.6784241404160823&timestamp=1337178173";

        assert_eq!(
            hex_hmac(&secret("hush"), message.as_bytes()),
            "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
        );
        assert_eq!(
            hex_hmac(&secret("hush"), with_state.as_bytes()),
            "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
        );
    }

    #[test]
    fn the_install_request_fixture_verifies() {
        let verified = verify_query(&credentials(), &install_query(INSTALL_HMAC), at(TS)).unwrap();

        assert_eq!(verified.shop.as_str(), SHOP);
        assert_eq!(verified.get("host"), Some(HOST));
    }

    #[test]
    fn the_callback_fixture_verifies_in_any_parameter_order() {
        let query = format!(
            "state=8a1f0c9d7e6b5a4c3d2e1f0a9b8c7d6e&hmac={CALLBACK_HMAC}&shop={SHOP}\
             &timestamp={TS}&code=3f2a9c7e1b4d6a8f0e2c4b6d8f0a1c3e&host={HOST}"
        );

        let verified = verify_query(&credentials(), &query, at(TS)).unwrap();

        assert_eq!(
            verified.get("code"),
            Some("3f2a9c7e1b4d6a8f0e2c4b6d8f0a1c3e")
        );
    }

    #[test]
    fn the_embedded_load_fixture_verifies() {
        let token = crate::shopify::session_token::tests::FIXTURE_TOKEN;
        let query = format!(
            "embedded=1&host={HOST}&id_token={token}&locale=en\
             &session=4fd3c2a1b0e9d8c7b6a5f4e3d2c1b0a94fd3c2a1b0e9d8c7b6a5f4e3d2c1b0a9\
             &shop={SHOP}&timestamp={TS}\
             &hmac=7e35d8395be59362a1eb61fabba1a003c82ef6f3efa695b871aabd5c405525d8"
        );

        assert!(verify_query(&credentials(), &query, at(TS)).is_ok());
    }

    #[test]
    fn padded_values_are_form_encoded_before_signing() {
        let pairs = [
            ("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWI="),
            ("shop", "ab.myshopify.com"),
            ("timestamp", "1767225600"),
        ];

        let message = query_message(pairs);

        assert_eq!(
            message,
            "host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWI%3D&shop=ab.myshopify.com&timestamp=1767225600"
        );
        assert_eq!(
            hex_hmac(&secret(CLIENT_SECRET), message.as_bytes()),
            "701b604f7b45abe4f49b2771630680fb9c83a1eb9e01b017ae05ce4b502c7062"
        );
    }

    #[test]
    fn every_negative_case_of_the_fixtures_is_rejected() {
        let mut flipped = INSTALL_HMAC.to_owned();
        flipped.replace_range(0..1, "8");
        let cases = [
            (install_query(&flipped), TS),
            (install_query(INSTALL_HMAC), TS + 91),
            (install_query(INSTALL_HMAC), TS - 91),
            (install_query(&INSTALL_HMAC.to_uppercase()), TS),
            (format!("host={HOST}&shop={SHOP}&timestamp={TS}"), TS),
            (
                format!("{}&timestamp={TS}", install_query(INSTALL_HMAC)),
                TS,
            ),
            (
                signed(&[("shop", "evil.com"), ("timestamp", "1767225600")]),
                TS,
            ),
            (
                signed(&[
                    ("shop", "acme-test.myshopify.com.evil.com"),
                    ("timestamp", "1767225600"),
                ]),
                TS,
            ),
        ];

        for (query, now) in cases {
            assert!(
                verify_query(&credentials(), &query, at(now)).is_err(),
                "{query} at {now}"
            );
        }
    }

    fn signed(pairs: &[(&str, &str)]) -> String {
        let message = query_message(pairs.iter().copied());
        let hmac = hex_hmac(&secret(CLIENT_SECRET), message.as_bytes());
        format!("{message}&hmac={hmac}")
    }

    #[test]
    fn a_query_within_ninety_seconds_verifies() {
        for now in [TS - 90, TS + 90] {
            assert!(verify_query(&credentials(), &install_query(INSTALL_HMAC), at(now)).is_ok());
        }
    }

    #[test]
    fn a_query_signed_with_the_previous_secret_verifies_during_rotation() {
        let rotating =
            AppCredentials::new("id", secret("the-new-secret"), Some(secret(CLIENT_SECRET)));

        assert!(verify_query(&rotating, &install_query(INSTALL_HMAC), at(TS)).is_ok());
        assert!(
            verify_webhook(
                &rotating,
                CUSTOMERS_UPDATE.as_bytes(),
                "xQ2MWyK/a4PqzaXyFJYCzzLVxHWz0qDTdamwttYZk6k="
            )
            .is_ok()
        );
    }

    #[test]
    fn the_webhook_fixtures_verify_over_their_exact_bytes() {
        assert_eq!(
            webhook_hmac(&secret(CLIENT_SECRET), CUSTOMERS_UPDATE.as_bytes()),
            "xQ2MWyK/a4PqzaXyFJYCzzLVxHWz0qDTdamwttYZk6k="
        );
        assert_eq!(CUSTOMERS_UPDATE.len(), 230);
        assert!(
            verify_webhook(
                &credentials(),
                CUSTOMERS_REDACT.as_bytes(),
                "ae54rRqSQUbcc/saecPoF+bLvr9ztU4ZCAC1RDKBFB0="
            )
            .is_ok()
        );
    }

    #[test]
    fn re_serialised_json_fails_the_webhook_hmac() {
        let value: serde_json::Value = serde_json::from_str(CUSTOMERS_UPDATE).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        let compact_reordered = serde_json::to_vec(&value).unwrap();

        for body in [pretty, compact_reordered] {
            assert!(
                verify_webhook(
                    &credentials(),
                    &body,
                    "xQ2MWyK/a4PqzaXyFJYCzzLVxHWz0qDTdamwttYZk6k="
                )
                .is_err()
            );
        }
    }

    #[test]
    fn an_empty_body_or_a_non_base64_header_never_verifies() {
        let empty_hmac = webhook_hmac(&secret(CLIENT_SECRET), b"");

        assert!(verify_webhook(&credentials(), b"", &empty_hmac).is_err());
        assert!(verify_webhook(&credentials(), b"{}", "not base64!").is_err());
    }
}
