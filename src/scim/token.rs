//! SCIM bearer tokens: generation, the wire format, and digests.
//!
//! A token reads `shopscim_<id>_<secret>`: a fixed product prefix (never change it: secret
//! scanners and our own parser rely on it), a 16-hex-digit public id that names the stored
//! row, and 256 random bits in base64url. Only the SHA-256 of the whole text is stored; the
//! plaintext exists once, when the token is created.

use std::fmt;

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The product prefix every token starts with.
pub const TOKEN_PREFIX: &str = "shopscim_";

const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;
/// base64url without padding of 32 bytes.
const SECRET_LEN: usize = 43;

/// Why a presented token was rejected before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not in the token format (401).
    #[error("malformed token")]
    Malformed,
    /// The operating system's random source failed.
    #[error("no randomness available: {0}")]
    Randomness(String),
}

/// The public id of a token; safe to show and log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenId(String);

impl TokenId {
    /// Accepts exactly 16 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let valid = text.len() == ID_BYTES * 2
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::Malformed)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

/// SHA-256 of a token's text, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    /// Lowercase hex, for storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Compares with a stored hex digest in constant time; malformed hex never matches.
    pub fn matches_hex(&self, stored: &str) -> bool {
        let mut bytes = [0u8; 32];
        if hex::decode_to_slice(stored, &mut bytes).is_err() {
            return false;
        }
        bool::from(self.0.ct_eq(&bytes))
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// A newly generated token: its id, the plaintext (shown once) and the digest to store.
pub struct NewToken {
    /// Public id.
    pub id: TokenId,
    /// The full token text.
    pub plaintext: SecretString,
    /// What to store.
    pub digest: TokenDigest,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl NewToken {
    /// Draws a new id and secret from the operating system's random source.
    pub fn generate() -> Result<Self, Error> {
        let mut id = [0u8; ID_BYTES];
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut id).map_err(|e| Error::Randomness(e.to_string()))?;
        getrandom::fill(&mut secret).map_err(|e| Error::Randomness(e.to_string()))?;

        let id = TokenId(hex::encode(id));
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let text = format!("{TOKEN_PREFIX}{id}_{secret}");
        let digest = TokenDigest::of(&text);
        Ok(Self {
            id,
            plaintext: SecretString::from(text),
            digest,
        })
    }
}

/// A presented token, checked for shape and digested, ready for lookup by id.
pub struct PresentedToken {
    /// Id to look up.
    pub id: TokenId,
    /// Digest to compare with the stored one.
    pub digest: TokenDigest,
}

impl PresentedToken {
    /// Checks the format without touching storage.
    pub fn parse(text: &SecretString) -> Result<Self, Error> {
        let text = text.expose_secret();
        let rest = text.strip_prefix(TOKEN_PREFIX).ok_or(Error::Malformed)?;
        let (id, secret) = rest.split_once('_').ok_or(Error::Malformed)?;
        let id = TokenId::parse(id)?;
        let secret_ok = secret.len() == SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !secret_ok {
            return Err(Error::Malformed);
        }
        Ok(Self {
            id,
            digest: TokenDigest::of(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_and_matches_its_digest() {
        let token = NewToken::generate().unwrap();

        let presented = PresentedToken::parse(&token.plaintext).unwrap();

        assert!(token.plaintext.expose_secret().starts_with(TOKEN_PREFIX));
        assert_eq!(presented.id, token.id);
        assert!(presented.digest.matches_hex(&token.digest.to_hex()));
    }

    #[test]
    fn two_generated_tokens_differ() {
        let first = NewToken::generate().unwrap();
        let second = NewToken::generate().unwrap();

        assert_ne!(first.id, second.id);
        assert_ne!(first.digest, second.digest);
    }

    #[test]
    fn a_changed_secret_does_not_match_the_stored_digest() {
        let token = NewToken::generate().unwrap();
        let mut text = token.plaintext.expose_secret().to_owned();
        let last = text.pop().unwrap();
        text.push(if last == 'A' { 'B' } else { 'A' });

        let presented = PresentedToken::parse(&SecretString::from(text)).unwrap();

        assert!(!presented.digest.matches_hex(&token.digest.to_hex()));
    }

    #[test]
    fn text_outside_the_format_is_rejected_before_lookup() {
        for text in [
            "",
            "Bearer x",
            "shopscim_",
            "shopscim_0123456789abcdef",
            "shopscim_0123456789ABCDEF_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "shopscim_0123456789abcdef_short",
            "other_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            let parsed = PresentedToken::parse(&SecretString::from(text));
            assert!(parsed.is_err(), "{text:?}");
        }
    }

    #[test]
    fn malformed_stored_digests_never_match() {
        let token = NewToken::generate().unwrap();

        assert!(!token.digest.matches_hex("not-hex"));
        assert!(!token.digest.matches_hex(""));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let token = NewToken::generate().unwrap();

        let printed = format!("{token:?}");

        assert!(!printed.contains(token.plaintext.expose_secret()));
    }
}
