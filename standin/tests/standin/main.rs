//! Integration tests of the Shopify stand-in: each starts a real stand-in on loopback
//! port 0 and talks to it over HTTP, as the app would.

#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly at the first unexpected error"
)]

mod admin_api;
mod control;
mod helpers;
mod oauth;
mod throttle;
mod webhooks;
