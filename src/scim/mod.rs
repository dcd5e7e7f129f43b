//! SCIM 2.0 service provider logic (RFC 7643, RFC 7644). Knows nothing of HTTP frameworks or
//! of Shopify.
//!
//! Resource schemas, attribute handling, filters and PATCH are pure; [`service`] stores Users
//! and Groups of one tenant and is what the web layer calls.

pub mod attr;
pub mod bulk;
pub mod error;
pub mod filter;
#[cfg(test)]
mod fixtures;
pub mod patch;
mod query;
pub mod resource;
pub mod schema;
pub mod service;
pub mod token;
