//! The sync engine: what the identity provider says about a person becomes that person's
//! customer in the shop (ARCHITECTURE.md, "Provision").
//!
//! Workers ([`worker`]) take one shop at a time under a lease, claim its outbox jobs and
//! push each subject's *current* state ([`push`]): the desired customer is computed from
//! the SCIM user and the shop's settings ([`settings`], [`mapping`]) and written with
//! `customerSet` keyed by an app-owned `id` metafield holding the SCIM id, so a repeated or
//! crashed job can never create a second customer. Tags change only through `tagsAdd` and
//! `tagsRemove` of tags the app owns. Calls are paced by a model of the shop's Shopify cost
//! bucket ([`bucket`]) so the budget is used fully without being throttled.
//!
//! Nothing here knows HTTP frameworks; Shopify is reached through
//! [`crate::shopify::install::Platform`].

pub mod bucket;
pub mod mapping;
pub mod push;
pub mod settings;
pub mod worker;

use crate::{scim, shopify, store};

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Shopify refused the change for a reason that retrying cannot fix (its `userErrors`,
    /// or a customer with the same email that the shop's policy does not let us adopt). The
    /// job is parked as failed with this text.
    #[error("{0}")]
    Rejected(String),
    /// Shopify answered `THROTTLED` or 429: wait this many seconds, then call again.
    #[error("throttled by Shopify")]
    Throttled(f64),
    /// Shopify could not be reached or failed (5xx, timeout): retry with backoff.
    #[error("Shopify failed")]
    Shopify(#[source] shopify::Error),
    /// The shop has no usable Shopify token; its jobs wait for a reinstall.
    #[error("the shop is not installed")]
    NotInstalled,
    /// The shop's sync settings are invalid; the text says which.
    #[error("invalid sync settings: {0}")]
    Settings(String),
    /// Reading SCIM state failed.
    #[error("reading SCIM state failed")]
    Scim(#[source] scim::error::Error),
    /// The database failed.
    #[error("storage failure")]
    Store(#[from] store::Error),
}

impl From<shopify::Error> for Error {
    fn from(error: shopify::Error) -> Self {
        match error {
            shopify::Error::NotInstalled => Self::NotInstalled,
            other => Self::Shopify(other),
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
