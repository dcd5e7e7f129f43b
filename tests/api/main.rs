//! Integration tests: each one drives the real application over HTTP on port 0, against a
//! fresh SQLite file or, with `TEST_DATABASE_URL`, a fresh PostgreSQL database.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test should fail loudly at the first unexpected error"
)]

mod cli;
mod health;
mod helpers;
mod request_log;
mod scim_bulk;
mod scim_discovery;
mod scim_fuzz;
mod scim_groups;
mod scim_users;
mod shopify_admin;
mod shopify_app_toml;
mod shopify_install;
mod shopify_webhooks;
mod shutdown;
mod sync;
mod sync_crash;
