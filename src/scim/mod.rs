//! SCIM 2.0 service provider logic (RFC 7643, RFC 7644): resource schemas, attribute
//! handling, filters and PATCH. Knows nothing of HTTP frameworks or of Shopify.

pub mod attr;
pub mod error;
pub mod filter;
#[cfg(test)]
mod fixtures;
pub mod patch;
pub mod resource;
pub mod schema;
pub mod token;
