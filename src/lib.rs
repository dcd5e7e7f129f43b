//! shopify-scim: a Shopify embedded app whose per-shop SCIM 2.0 endpoint lets an identity
//! provider create, update, deactivate and remove the shop's customers.
//!
//! Routes and everything that knows actix live in [`web`]; settings in [`config`]; process
//! wiring in [`startup`]; persistence in [`store`]; shared validated identifiers in
//! [`types`]. The domain modules (`store`, `scim`, `shopify`, `sync`) know nothing
//! of HTTP frameworks.

pub mod cli;
pub mod config;
pub mod dev;
pub mod scim;
pub mod shopify;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod types;
pub mod web;
