//! What a stand-in is started with: the one app it knows (credentials, URLs, scopes),
//! token lifetimes, webhook retry policy, the clock and the shops that exist at start.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use crate::bucket::Plan;
use crate::clock::Clock;

/// The webhook API version Shopify would write into `X-Shopify-API-Version`.
pub const DEFAULT_API_VERSION: &str = "2026-07";

/// Shopify's retry schedule: 8 retries over about four hours, doubling from one minute.
pub fn shopify_retry_delays() -> Vec<Duration> {
    (0..8).map(|n| Duration::from_secs(60 << n)).collect()
}

/// Where the three webhook subscriptions of `shopify.app.toml` deliver.
#[derive(Debug, Clone, Default)]
pub struct WebhookTargets {
    /// `app/uninstalled` (and `app/scopes_update`).
    pub app: Option<Url>,
    /// `customers/create`, `customers/update`, `customers/delete`.
    pub customers: Option<Url>,
    /// `customers/data_request`, `customers/redact`, `shop/redact`.
    pub compliance: Option<Url>,
}

impl WebhookTargets {
    /// The app's routes `/webhooks/app`, `/webhooks/customers` and `/webhooks/compliance`
    /// under `base`, as `shopify.app.toml` subscribes them.
    pub fn under(base: &Url) -> Self {
        let join = |path: &str| {
            let mut url = base.clone();
            let prefix = base.path().trim_end_matches('/').to_owned();
            url.set_path(&format!("{prefix}{path}"));
            Some(url)
        };
        Self {
            app: join("/webhooks/app"),
            customers: join("/webhooks/customers"),
            compliance: join("/webhooks/compliance"),
        }
    }
}

/// Everything a stand-in is started with.
#[derive(Clone)]
pub struct StandInConfig {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The app's client id.
    pub api_key: String,
    /// The app's client secret; signs webhooks, query strings and session tokens.
    pub api_secret: String,
    /// The app's numeric id, which the `$app` metafield namespace expands to.
    pub app_id: u64,
    /// The app's URL, opened by the merchant's "launch" action.
    pub app_url: Option<Url>,
    /// Where webhooks go.
    pub webhooks: WebhookTargets,
    /// Redirect URIs the authorize endpoint accepts; empty accepts any http(s) URL.
    pub redirect_urls: Vec<Url>,
    /// Scopes granted on install, comma-separated.
    pub scopes: String,
    /// Value of `X-Shopify-API-Version` on webhooks.
    pub api_version: String,
    /// Lifetime of expiring offline access tokens (Shopify: one hour).
    pub access_token_lifetime: Duration,
    /// Lifetime of refresh tokens (Shopify: 90 days).
    pub refresh_token_lifetime: Duration,
    /// Lifetime of minted session tokens (Shopify: one minute).
    pub session_token_lifetime: Duration,
    /// Pause before each webhook retry; its length is the number of retries.
    pub webhook_retry_delays: Vec<Duration>,
    /// How long one webhook delivery may take (Shopify: five seconds).
    pub webhook_timeout: Duration,
    /// How long a reorder fault holds a delivery back when no other one follows it.
    pub webhook_reorder_hold: Duration,
    /// How long a fault-injected "timeout" holds an Admin API request before answering 504.
    pub fault_timeout: Duration,
    /// Seed of the random choices behind injected faults, so runs can be repeated.
    pub fault_seed: u64,
    /// The clock for tokens, signatures and the throttle.
    pub clock: Clock,
    /// Shops that exist from the start, by `*.myshopify.com` domain.
    pub shops: Vec<(String, Plan)>,
    /// HTTP worker threads.
    pub workers: usize,
}

impl fmt::Debug for StandInConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandInConfig")
            .field("listen", &self.listen)
            .field("api_key", &self.api_key)
            .field("app_url", &self.app_url)
            .field("webhooks", &self.webhooks)
            .field("shops", &self.shops)
            .finish_non_exhaustive()
    }
}

impl StandInConfig {
    /// Loopback on a free port, Shopify's lifetimes and retry schedule, the system clock,
    /// no shops and no webhook targets.
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            app_id: 1,
            app_url: None,
            webhooks: WebhookTargets::default(),
            redirect_urls: Vec::new(),
            scopes: "read_customers,write_customers".to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            access_token_lifetime: Duration::from_secs(3600),
            refresh_token_lifetime: Duration::from_secs(90 * 24 * 3600),
            session_token_lifetime: Duration::from_secs(60),
            webhook_retry_delays: shopify_retry_delays(),
            webhook_timeout: Duration::from_secs(5),
            webhook_reorder_hold: Duration::from_secs(1),
            fault_timeout: Duration::from_secs(30),
            fault_seed: 0x5eed,
            clock: Clock::System,
            shops: Vec::new(),
            workers: 2,
        }
    }

    /// Sets the app URL and subscribes the app's webhook routes under it.
    pub fn with_app_url(mut self, app_url: Url) -> Self {
        self.webhooks = WebhookTargets::under(&app_url);
        self.app_url = Some(app_url);
        self
    }

    /// Adds a shop that exists from the start.
    pub fn with_shop(mut self, domain: impl Into<String>, plan: Plan) -> Self {
        self.shops.push((domain.into(), plan));
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_targets_follow_the_app_toml_routes_under_the_app_url() {
        let targets = WebhookTargets::under(&Url::parse("http://127.0.0.1:8080/").unwrap());

        assert_eq!(
            targets.customers.unwrap().as_str(),
            "http://127.0.0.1:8080/webhooks/customers"
        );
        assert_eq!(
            targets.compliance.unwrap().as_str(),
            "http://127.0.0.1:8080/webhooks/compliance"
        );
    }

    #[test]
    fn the_default_retry_schedule_is_eight_retries_over_about_four_hours() {
        let delays = shopify_retry_delays();
        let total: Duration = delays.iter().sum();

        assert_eq!(delays.len(), 8);
        assert!(total > Duration::from_secs(4 * 3600) && total < Duration::from_secs(5 * 3600));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let config = StandInConfig::new("key", "shpss_do_not_print");

        assert!(!format!("{config:?}").contains("shpss_do_not_print"));
    }
}
