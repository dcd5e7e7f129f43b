//! App Bridge session tokens (`shopify.md` §2).
//!
//! HS256 JWTs signed with the app's client secret, one minute long, sent as `id_token` on
//! embedded document loads and as `Authorization: Bearer` on the admin page's own requests.
//!
//! Verified by hand (the scheme is one HMAC): `alg` must be `HS256`, the signature must
//! match under the current or previous secret, `exp` and `nbf` hold with [`LEEWAY_SECS`] of
//! leeway, `aud` is our client id, `dest` is `https://{valid shop}` and `iss` is that shop's
//! admin URL.

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::shopify::{AppCredentials, Error, Result};
use crate::types::ShopDomain;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: i64 = 10;

/// A verified session token: who is looking at which shop's admin.
#[derive(Clone)]
pub struct SessionToken {
    /// The shop, from `dest`.
    pub shop: ShopDomain,
    /// The staff user's id (`sub`), when Shopify admin issued the token.
    pub user_id: Option<String>,
    /// When the token stops being valid (without leeway).
    pub expires_at: DateTime<Utc>,
    raw: SecretString,
}

impl SessionToken {
    /// The token as presented, for the token exchange's `subject_token`.
    pub fn raw(&self) -> &SecretString {
        &self.raw
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionToken")
            .field("shop", &self.shop)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    dest: String,
    aud: Audience,
    sub: Option<String>,
    exp: i64,
    nbf: Option<i64>,
}

/// `aud` may be a string or, in JWT generally, a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, client_id: &str) -> bool {
        match self {
            Self::One(aud) => aud == client_id,
            Self::Many(auds) => auds.iter().any(|aud| aud == client_id),
        }
    }
}

/// Verifies `token` at time `now`.
pub fn verify(
    credentials: &AppCredentials,
    token: &str,
    now: DateTime<Utc>,
) -> Result<SessionToken> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::InvalidSessionToken("not a JWT"));
    };

    let header: Header = decode_json(header)?;
    if header.alg != "HS256" {
        return Err(Error::InvalidSessionToken("algorithm is not HS256"));
    }
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Error::InvalidSessionToken("signature is not base64url"))?;
    let signed = &token[..header_and_payload_len(token)];
    let authentic = credentials.verifying_secrets().any(|secret| {
        HmacSha256::new_from_slice(secret.expose_secret().as_bytes()).is_ok_and(|mut mac| {
            mac.update(signed.as_bytes());
            mac.verify_slice(&signature).is_ok()
        })
    });
    if !authentic {
        return Err(Error::InvalidSessionToken("signature does not verify"));
    }

    let claims: Claims = decode_json(payload)?;
    let now = now.timestamp();
    if now > claims.exp.saturating_add(LEEWAY_SECS) {
        return Err(Error::InvalidSessionToken("expired"));
    }
    if claims
        .nbf
        .is_some_and(|nbf| now < nbf.saturating_sub(LEEWAY_SECS))
    {
        return Err(Error::InvalidSessionToken("not yet valid"));
    }
    if !claims.aud.contains(credentials.api_key()) {
        return Err(Error::InvalidSessionToken("issued for another app"));
    }
    let shop = shop_of_dest(&claims.dest)?;
    if claims
        .iss
        .as_deref()
        .is_some_and(|iss| iss.trim_end_matches('/') != format!("https://{shop}/admin"))
    {
        return Err(Error::InvalidSessionToken("issuer is not the shop's admin"));
    }

    Ok(SessionToken {
        shop,
        user_id: claims.sub.filter(|sub| !sub.is_empty()),
        expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or_default(),
        raw: SecretString::from(token.to_owned()),
    })
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::InvalidSessionToken("a part is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| Error::InvalidSessionToken("a part is not JSON"))
}

/// `https://{shop}` with a valid `*.myshopify.com` host and nothing else.
fn shop_of_dest(dest: &str) -> Result<ShopDomain> {
    let host = dest
        .strip_prefix("https://")
        .map(|rest| rest.trim_end_matches('/'))
        .ok_or(Error::InvalidSessionToken("dest is not an https shop URL"))?;
    ShopDomain::parse(host).map_err(|_| Error::InvalidSessionToken("dest is not a valid shop"))
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::shopify::fixtures::{CLIENT_ID, CLIENT_SECRET, SHOP, TS, at, credentials};

    /// `shopify.md` §10.3.
    pub(crate) const FIXTURE_TOKEN: &str = concat!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.",
        "eyJpc3MiOiJodHRwczovL2FjbWUtdGVzdC5teXNob3BpZnkuY29tL2FkbWluIiwiZGVzdCI6Imh0dHBzOi8v",
        "YWNtZS10ZXN0Lm15c2hvcGlmeS5jb20iLCJhdWQiOiJhMWIyYzNkNGU1ZjYwNzE4MjkzYTRiNWM2ZDdlOGY5",
        "MCIsInN1YiI6Ijc0ODU3MzQ2IiwiZXhwIjoxNzY3MjI1NjYwLCJuYmYiOjE3NjcyMjU2MDAsImlhdCI6MTc2",
        "NzIyNTYwMCwianRpIjoiZjg5MTIxMjktMWFmNi00Y2FkLTljYTMtNzZiMGY3NjIxMDg3Iiwic2lkIjoiYWFl",
        "YTE4MmYyNzMyZDQ0YzIzMDU3YzBmZWE1ODQwMjFhNDQ4NWIyYmQyNWQzZWI3ZmQzNDkzMTNhZDI0YzY4NSJ9.",
        "ob3uXA2FJAE_r_RCiCsANm972lEKZlS2LsNL7nDYKUY"
    );

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Signs `claims` with `secret` under header `alg`.
    pub(crate) fn mint(secret: &str, alg: &str, claims: &serde_json::Value) -> String {
        let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        let payload = b64(claims.to_string().as_bytes());
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        let signature = b64(&mac.finalize().into_bytes());
        format!("{header}.{payload}.{signature}")
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": format!("https://{SHOP}/admin"), "dest": format!("https://{SHOP}"),
            "aud": CLIENT_ID, "sub": "74857346", "exp": TS + 60, "nbf": TS, "iat": TS,
            "jti": "f8912129-1af6-4cad-9ca3-76b0f7621087", "sid": "s",
        })
    }

    #[test]
    fn the_fixture_token_verifies_throughout_its_window_with_leeway() {
        for now in [TS - 10, TS, TS + 70] {
            let token = verify(&credentials(), FIXTURE_TOKEN, at(now)).unwrap();

            assert_eq!(token.shop.as_str(), SHOP);
            assert_eq!(token.user_id.as_deref(), Some("74857346"));
        }
    }

    #[test]
    fn the_fixture_token_is_rejected_outside_its_window() {
        assert!(verify(&credentials(), FIXTURE_TOKEN, at(TS - 11)).is_err());
        assert!(verify(&credentials(), FIXTURE_TOKEN, at(TS + 71)).is_err());
    }

    #[test]
    fn every_negative_case_of_the_fixtures_is_rejected() {
        let with = |key: &str, value: serde_json::Value| {
            let mut claims = claims();
            claims[key] = value;
            claims
        };
        let cases = [
            mint(CLIENT_SECRET, "HS256", &with("aud", "another-app".into())),
            mint(CLIENT_SECRET, "none", &claims()),
            mint(CLIENT_SECRET, "RS256", &claims()),
            mint(CLIENT_SECRET, "HS256", &with("exp", (TS - 11).into())),
            mint(CLIENT_SECRET, "HS256", &with("nbf", (TS + 11).into())),
            mint(
                CLIENT_SECRET,
                "HS256",
                &with("dest", "https://evil.com".into()),
            ),
            mint(
                CLIENT_SECRET,
                "HS256",
                &with("iss", "https://evil.myshopify.com/admin".into()),
            ),
            mint("shpss_another_secret", "HS256", &claims()),
            format!("{}.", FIXTURE_TOKEN),
            FIXTURE_TOKEN.replace(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                "eyJhbGciOiJub25lIn0",
            ),
        ];

        for token in cases {
            assert!(verify(&credentials(), &token, at(TS)).is_err(), "{token}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_raw_token() {
        let token = verify(&credentials(), FIXTURE_TOKEN, at(TS)).unwrap();

        assert!(!format!("{token:?}").contains("eyJ"));
    }

    proptest! {
        #[test]
        fn a_token_with_any_byte_changed_is_rejected(index in 0usize..FIXTURE_TOKEN.len(), byte in 33u8..127) {
            let mut bytes = FIXTURE_TOKEN.as_bytes().to_vec();
            prop_assume!(bytes[index] != byte);
            bytes[index] = byte;
            let token = String::from_utf8(bytes).unwrap();

            prop_assert!(verify(&credentials(), &token, at(TS)).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = verify(&credentials(), &text, at(TS));
        }
    }
}
