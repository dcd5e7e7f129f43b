//! shopify-standin: a faithful local stand-in for the parts of Shopify that shopify-scim
//! talks to, so tests, demos and benchmarks need no live store.
//!
//! It is a real HTTP server on loopback ([`StandIn::start`]) serving, per shop under
//! `/shops/{shop}`: OAuth ([`oauth`]: authorize redirect, code grant, token exchange,
//! refresh with rotation), the Admin GraphQL API ([`graphql`]) behind a cost-based
//! leaky bucket ([`bucket`]), and signed webhooks back to the app ([`webhook`]). A control
//! API under `/_standin` ([`http::control`]) creates shops, acts as the merchant, injects
//! faults ([`fault`]) and shows what happened. Behaviour follows `shopify.md` §1, §4, §6,
//! §7 and §10.
//!
//! Production code of shopify-scim must not depend on this crate; the app reaches a shop
//! only through its generic "Shopify admin base URL" setting.

pub mod bucket;
pub mod clock;
pub mod config;
pub mod fault;
pub mod graphql;
pub mod http;
pub mod oauth;
pub mod sign;
pub mod standin;
pub mod store;
pub mod webhook;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub use bucket::Plan;
pub use clock::{Clock, ManualClock};
pub use config::{StandInConfig, WebhookTargets};
pub use fault::Faults;
pub use standin::{Error, RunningStandIn, StandIn, StandInHandle};

/// Locks `mutex`, carrying on with the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
