//! Shopify access and refresh tokens at rest: AES-256-GCM under the configured key, a fresh
//! 96-bit random nonce per value, stored as base64 of `nonce || ciphertext || tag`.
//!
//! Each value is bound to where it is stored (shop and column) as associated data, so a
//! ciphertext copied into another row or column does not decrypt.

use std::fmt;

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _};
use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretBox, SecretString};

use crate::shopify::{Error, Result};

const NONCE_LEN: usize = 12;

/// Encrypts and decrypts stored Shopify tokens.
#[derive(Clone)]
pub struct TokenCipher {
    key: std::sync::Arc<SecretBox<[u8; 32]>>,
}

impl TokenCipher {
    /// A cipher under `key` (32 bytes, from `security.token_encryption_key`).
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key: std::sync::Arc::new(SecretBox::new(Box::new(key))),
        }
    }

    fn aes(&self) -> Aes256Gcm {
        Aes256Gcm::new(&(*self.key.expose_secret()).into())
    }

    /// Encrypts `plaintext` for the place named by `context` (for example
    /// `shop.myshopify.com/access_token`).
    pub fn encrypt(&self, plaintext: &SecretString, context: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| Error::Encrypt)?;
        let sealed = self
            .aes()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Encrypt)?;

        let mut stored = Vec::with_capacity(NONCE_LEN + sealed.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(stored))
    }

    /// Decrypts a value that [`TokenCipher::encrypt`] produced for the same `context`.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<SecretString> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(stored)
            .map_err(|_| Error::Decrypt)?;
        if bytes.len() <= NONCE_LEN {
            return Err(Error::Decrypt);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Decrypt)?;
        let plain = self
            .aes()
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Decrypt)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| Error::Decrypt)
    }
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCipher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(seed: u8) -> TokenCipher {
        TokenCipher::new([seed; 32])
    }

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn a_token_round_trips_and_never_appears_in_the_stored_text() {
        let stored = cipher(1)
            .encrypt(&secret("shpat_plain"), "a.myshopify.com/access")
            .unwrap();

        let back = cipher(1)
            .decrypt(&stored, "a.myshopify.com/access")
            .unwrap();

        assert_eq!(back.expose_secret(), "shpat_plain");
        assert!(!stored.contains("shpat"));
    }

    #[test]
    fn the_same_token_encrypts_differently_each_time() {
        let a = cipher(1).encrypt(&secret("t"), "c").unwrap();
        let b = cipher(1).encrypt(&secret("t"), "c").unwrap();

        assert_ne!(a, b);
    }

    #[test]
    fn another_key_another_place_or_a_flipped_bit_fails_to_decrypt() {
        let stored = cipher(1).encrypt(&secret("t"), "a/access").unwrap();
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&stored)
            .unwrap();
        bytes[NONCE_LEN] ^= 1;
        let flipped = base64::engine::general_purpose::STANDARD.encode(bytes);

        assert!(cipher(2).decrypt(&stored, "a/access").is_err());
        assert!(cipher(1).decrypt(&stored, "b/access").is_err());
        assert!(cipher(1).decrypt(&stored, "a/refresh").is_err());
        assert!(cipher(1).decrypt(&flipped, "a/access").is_err());
        assert!(cipher(1).decrypt("", "a/access").is_err());
        assert!(cipher(1).decrypt("%%%", "a/access").is_err());
    }

    #[test]
    fn debug_output_shows_no_key() {
        assert_eq!(format!("{:?}", cipher(7)), "TokenCipher");
    }
}
