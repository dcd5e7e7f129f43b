//! Validated identifiers shared by every module. Each is built only through `parse`, so a
//! value of one of these types has already been checked.

use std::fmt;

/// Why a value was rejected by a `parse` constructor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The value is not a `*.myshopify.com` shop domain.
    #[error("not a valid shop domain: expected `name.myshopify.com`")]
    ShopDomain,
    /// The value is not a shop handle (the part before `.myshopify.com`).
    #[error("not a valid shop handle: expected lowercase letters, digits and hyphens")]
    ShopHandle,
}

const MYSHOPIFY_SUFFIX: &str = ".myshopify.com";

/// Longest handle accepted; DNS labels stop at 63 characters.
const MAX_HANDLE_LEN: usize = 63;

/// A shop's permanent `*.myshopify.com` domain, lowercase.
///
/// This is the only form of a shop name that may be placed into a URL.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, sea_orm::DeriveValueType)]
pub struct ShopDomain(String);

impl ShopDomain {
    /// Accepts `name.myshopify.com` (any case, surrounding whitespace trimmed) and nothing
    /// else: no scheme, port, path, or custom domain.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let lowered = input.trim().to_ascii_lowercase();
        let handle = lowered
            .strip_suffix(MYSHOPIFY_SUFFIX)
            .ok_or(ParseError::ShopDomain)?;
        ShopHandle::parse(handle).map_err(|_| ParseError::ShopDomain)?;
        Ok(Self(lowered))
    }

    /// The domain as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The handle: the subdomain before `.myshopify.com`.
    pub fn handle(&self) -> ShopHandle {
        let handle = &self.0[..self.0.len() - MYSHOPIFY_SUFFIX.len()];
        ShopHandle(handle.to_owned())
    }
}

impl fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShopDomain({})", self.0)
    }
}

/// The subdomain of a shop's `*.myshopify.com` domain; it names the tenant in SCIM URLs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShopHandle(String);

impl ShopHandle {
    /// Accepts 1 to 63 lowercase ASCII letters, digits and inner hyphens.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let valid_chars = input
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let valid = !input.is_empty()
            && input.len() <= MAX_HANDLE_LEN
            && valid_chars
            && !input.starts_with('-')
            && !input.ends_with('-');
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(ParseError::ShopHandle)
        }
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full shop domain for this handle.
    pub fn domain(&self) -> ShopDomain {
        ShopDomain(format!("{}{MYSHOPIFY_SUFFIX}", self.0))
    }
}

impl fmt::Display for ShopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShopHandle({})", self.0)
    }
}

/// Primary key of a row in `shops`; every tenant table leads with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, sea_orm::DeriveValueType)]
pub struct ShopId(i64);

impl ShopId {
    /// Wraps a key read from the database.
    pub fn from_db(id: i64) -> Self {
        Self(id)
    }

    /// The raw key, for queries.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ShopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_domains_are_lowercased_and_trimmed() {
        let domain = ShopDomain::parse("  Demo-Shop.MyShopify.com ").unwrap();

        assert_eq!(domain.as_str(), "demo-shop.myshopify.com");
        assert_eq!(domain.handle().as_str(), "demo-shop");
    }

    #[test]
    fn anything_but_a_bare_myshopify_domain_is_rejected() {
        for input in [
            "",
            ".myshopify.com",
            "-shop.myshopify.com",
            "shop-.myshopify.com",
            "https://shop.myshopify.com",
            "shop.myshopify.com/admin",
            "shop.myshopify.com:443",
            "shop.myshopify.com.evil.com",
            "evil.com/shop.myshopify.com",
            "shop.example.com",
            "sh_op.myshopify.com",
            "a.b.myshopify.com",
            "shöp.myshopify.com",
        ] {
            assert_eq!(
                ShopDomain::parse(input),
                Err(ParseError::ShopDomain),
                "{input:?}"
            );
        }
    }

    #[test]
    fn handles_longer_than_a_dns_label_are_rejected() {
        let long = "a".repeat(64);

        assert!(ShopHandle::parse(&long).is_err());
        assert!(ShopHandle::parse(&long[..63]).is_ok());
    }

    #[test]
    fn a_handle_and_its_domain_round_trip() {
        let handle = ShopHandle::parse("shop-1").unwrap();

        assert_eq!(handle.domain().handle(), handle);
        assert_eq!(handle.domain().to_string(), "shop-1.myshopify.com");
    }
}
