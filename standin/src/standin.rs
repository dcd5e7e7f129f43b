//! Starting and stopping a stand-in, and the handle that acts on it.
//!
//! Tests, the control API and `shopify-scim dev` use the handle to create shops, act as
//! the merchant, mint session tokens, inject faults and inspect what happened.

use std::net::{SocketAddr, TcpListener};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::bucket::{Plan, ThrottleStatus};
use crate::clock::Clock;
use crate::config::{StandInConfig, WebhookTargets};
use crate::fault::{FaultInjector, Faults};
use crate::oauth::{self, TokenRequest};
use crate::store::{
    CallRecord, Change, Customer, CustomerInput, Inner, MetafieldDefinition, Order, UserError,
};
use crate::webhook::{Delivery, Event, Outbox, Topic};
use crate::{http, lock, sign, store};

/// What a control action can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404: no shop with that domain.
    #[error("no shop {0}")]
    UnknownShop(String),
    /// 400: not a `name.myshopify.com` domain (or handle).
    #[error("{0:?} is not a shop domain such as demo.myshopify.com")]
    InvalidShop(String),
    /// 409: the shop exists already.
    #[error("shop {0} exists already")]
    ShopExists(String),
    /// 404: no customer with that id in the shop.
    #[error("no customer {0}")]
    UnknownCustomer(u64),
    /// 422: Shopify's validation refused the change.
    #[error("the change was refused: {}", messages(.0))]
    Rejected(Vec<UserError>),
    /// 409: the action needs the app's URL, which was not configured.
    #[error("the stand-in was started without an app URL")]
    NoAppUrl,
    /// 409: the action needs a manual clock.
    #[error("the stand-in runs on the system clock")]
    NotManualClock,
    /// 400: a token grant failed.
    #[error("token grant failed: {0}")]
    Grant(#[from] oauth::Error),
    /// Binding or serving failed.
    #[error("serving the stand-in: {0}")]
    Io(#[from] std::io::Error),
    /// The webhook HTTP client could not be built.
    #[error("building the webhook client: {0}")]
    Client(#[from] reqwest::Error),
}

fn messages(errors: &[UserError]) -> String {
    errors
        .iter()
        .map(|error| error.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The state every request handler and the handle share.
pub(crate) struct World {
    pub config: StandInConfig,
    pub base_url: Url,
    /// The app's URL and webhook targets; settable after start (see
    /// [`StandInHandle::set_app_url`]).
    pub app: Mutex<AppUrls>,
    pub inner: Mutex<Inner>,
    pub faults: Arc<FaultInjector>,
    pub outbox: Outbox,
}

impl World {
    pub fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    /// Sends the webhooks of one action; customer topics only while the app is installed.
    pub fn emit(&self, events: Vec<Event>) {
        let events: Vec<Event> = {
            let inner = lock(&self.inner);
            events
                .into_iter()
                .filter(|event| {
                    event.topic.is_compliance()
                        || event.topic == Topic::AppUninstalled
                        || inner
                            .shops
                            .get(&event.shop)
                            .is_some_and(|shop| shop.installed)
                })
                .collect()
        };
        let targets = lock(&self.app).webhooks.clone();
        self.outbox.send(&self.config, &targets, events, self.now());
    }
}

/// Where the app lives, as far as the stand-in knows.
#[derive(Debug, Clone)]
pub(crate) struct AppUrls {
    pub app_url: Option<Url>,
    pub webhooks: WebhookTargets,
}

/// Accepts `demo`, `demo.myshopify.com` or `Demo.MyShopify.com` and returns the lower-case
/// domain, or `None` for anything else.
pub fn parse_shop(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_lowercase();
    let domain = if text.contains('.') {
        text
    } else {
        format!("{text}.myshopify.com")
    };
    let handle = domain.strip_suffix(".myshopify.com")?;
    let valid = handle
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    valid.then_some(domain)
}

/// Starts stand-ins.
#[derive(Debug)]
pub struct StandIn;

impl StandIn {
    /// Binds `config.listen`, creates the configured shops and serves until stopped.
    ///
    /// Must run inside a Tokio runtime; the webhook worker is spawned on it.
    pub async fn start(config: StandInConfig) -> Result<RunningStandIn, Error> {
        let listener = TcpListener::bind(config.listen)?;
        let address = listener.local_addr()?;
        let base_url = base_url(address)?;

        let faults = Arc::new(FaultInjector::new(config.fault_seed));
        let (outbox, worker) = Outbox::new(&config, faults.clone())?;
        let world = Arc::new(World {
            base_url,
            app: Mutex::new(AppUrls {
                app_url: config.app_url.clone(),
                webhooks: config.webhooks.clone(),
            }),
            inner: Mutex::new(Inner::default()),
            faults,
            outbox,
            config,
        });
        let handle = StandInHandle { world };
        for (shop, plan) in handle.world.config.shops.clone() {
            handle.create_shop(&shop, plan)?;
        }

        let server = http::server(listener, handle.clone())?;
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker_task = tokio::spawn(worker.run(stop_rx));
        tracing::info!(standin.url = %handle.url(), "Shopify stand-in serving");

        Ok(RunningStandIn {
            handle,
            server: server_handle,
            server_task,
            worker_task,
            stop_tx,
        })
    }
}

fn base_url(address: SocketAddr) -> Result<Url, Error> {
    Url::parse(&format!("http://{address}"))
        .map_err(|error| Error::Io(std::io::Error::other(error.to_string())))
}

/// A serving stand-in; dereferences to its [`StandInHandle`].
pub struct RunningStandIn {
    handle: StandInHandle,
    server: actix_web::dev::ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    worker_task: JoinHandle<()>,
    stop_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for RunningStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningStandIn")
            .field("url", &self.handle.url().as_str())
            .finish_non_exhaustive()
    }
}

impl Deref for RunningStandIn {
    type Target = StandInHandle;

    fn deref(&self) -> &StandInHandle {
        &self.handle
    }
}

impl RunningStandIn {
    /// A handle that outlives this value's borrow (e.g. for another task).
    pub fn handle(&self) -> StandInHandle {
        self.handle.clone()
    }

    /// Stops accepting requests, finishes in-flight ones and stops webhook delivery.
    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        self.server.stop(true).await;
        let _ = self.server_task.await;
        let _ = self.worker_task.await;
    }
}

/// A shop as the control API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ShopSummary {
    /// `name.myshopify.com`.
    pub domain: String,
    /// Numeric id.
    pub id: u64,
    /// Plan.
    pub plan: Plan,
    /// Whether the app is installed.
    pub installed: bool,
    /// The shop owner's staff id (`sub` of minted session tokens).
    pub owner_user_id: u64,
    /// Number of customers.
    pub customers: usize,
    /// The app's bucket now.
    pub throttle_status: ThrottleStatus,
    /// The shop's admin base URL on this stand-in.
    pub admin_url: String,
}

/// The result of a direct offline-token grant.
#[derive(Debug, Clone, Serialize)]
pub struct TokenGrant {
    /// `X-Shopify-Access-Token` value.
    pub access_token: String,
    /// Refresh token, for expiring tokens.
    pub refresh_token: Option<String>,
    /// Seconds the access token lives, for expiring tokens.
    pub expires_in: Option<i64>,
}

/// Acts on a running stand-in; cheap to clone.
#[derive(Clone)]
pub struct StandInHandle {
    pub(crate) world: Arc<World>,
}

impl std::fmt::Debug for StandInHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandInHandle")
            .field("url", &self.world.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl StandInHandle {
    /// Base URL of the stand-in, e.g. `http://127.0.0.1:41234/`.
    pub fn url(&self) -> &Url {
        &self.world.base_url
    }

    /// The value for the app's Shopify admin base URL setting:
    /// `http://127.0.0.1:PORT/shops/{shop}`.
    pub fn admin_base_url_template(&self) -> String {
        format!("{}shops/{{shop}}", self.world.base_url)
    }

    /// A shop's admin base URL, e.g. `http://127.0.0.1:PORT/shops/demo.myshopify.com`.
    pub fn admin_url(&self, shop: &str) -> String {
        self.admin_base_url_template().replace("{shop}", shop)
    }

    /// A shop's Admin GraphQL endpoint for `version`.
    pub fn graphql_url(&self, shop: &str, version: &str) -> String {
        format!("{}/admin/api/{version}/graphql.json", self.admin_url(shop))
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &StandInConfig {
        &self.world.config
    }

    /// The app's URL, opened by [`StandInHandle::launch_url`].
    pub fn app_url(&self) -> Option<Url> {
        lock(&self.world.app).app_url.clone()
    }

    /// Where webhooks go now.
    pub fn webhook_targets(&self) -> WebhookTargets {
        lock(&self.world.app).webhooks.clone()
    }

    /// Points the stand-in at the app once its address is known: the app URL and the
    /// webhook routes of `shopify.app.toml` under it.
    pub fn set_app_url(&self, app_url: Url) {
        let mut app = lock(&self.world.app);
        app.webhooks = WebhookTargets::under(&app_url);
        app.app_url = Some(app_url);
    }

    /// Sends webhooks to `targets` from now on (the app's URL stays as it is).
    pub fn set_webhook_targets(&self, targets: WebhookTargets) {
        lock(&self.world.app).webhooks = targets;
    }

    /// The clock it reads.
    pub fn clock(&self) -> &Clock {
        &self.world.config.clock
    }

    fn domain(&self, shop: &str) -> Result<String, Error> {
        parse_shop(shop).ok_or_else(|| Error::InvalidShop(shop.to_owned()))
    }

    /// Creates a shop (by domain or handle) on `plan`, with the app not yet installed.
    pub fn create_shop(&self, shop: &str, plan: Plan) -> Result<ShopSummary, Error> {
        let domain = self.domain(shop)?;
        let created = lock(&self.world.inner).create_shop(&domain, plan, self.world.now());
        if !created {
            return Err(Error::ShopExists(domain));
        }
        tracing::info!(shop.domain = %domain, shop.plan = %plan, "shop created");
        self.shop(&domain)
    }

    /// Moves a shop to another plan, which changes its restore rate and bucket size.
    pub fn set_plan(&self, shop: &str, plan: Plan) -> Result<ShopSummary, Error> {
        let domain = self.with_shop(shop, |record, now| {
            record.plan = plan;
            record.bucket.set_plan(plan, now);
            Ok(record.domain.clone())
        })?;
        self.shop(&domain)
    }

    /// Sets the points available in a shop's bucket now (capped at its size); it refills
    /// at the restore rate from there.
    pub fn set_bucket_available(&self, shop: &str, points: f64) -> Result<ShopSummary, Error> {
        let domain = self.with_shop(shop, |record, now| {
            record.bucket.set_available(points, now);
            Ok(record.domain.clone())
        })?;
        self.shop(&domain)
    }

    /// One shop.
    pub fn shop(&self, shop: &str) -> Result<ShopSummary, Error> {
        let domain = self.domain(shop)?;
        self.shops()
            .into_iter()
            .find(|summary| summary.domain == domain)
            .ok_or(Error::UnknownShop(domain))
    }

    /// Every shop, by domain.
    pub fn shops(&self) -> Vec<ShopSummary> {
        let now = self.world.now();
        let mut inner = lock(&self.world.inner);
        inner
            .shops
            .values_mut()
            .map(|shop| ShopSummary {
                domain: shop.domain.clone(),
                id: shop.id,
                plan: shop.plan,
                installed: shop.installed,
                owner_user_id: shop.owner.id,
                customers: shop.customers.len(),
                throttle_status: shop.bucket.status_at(now),
                admin_url: self.admin_url(&shop.domain),
            })
            .collect()
    }

    fn with_shop<T>(
        &self,
        shop: &str,
        action: impl FnOnce(&mut store::Shop, DateTime<Utc>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let domain = self.domain(shop)?;
        let now = self.world.now();
        let mut inner = lock(&self.world.inner);
        let record = inner
            .shops
            .get_mut(&domain)
            .ok_or(Error::UnknownShop(domain))?;
        action(record, now)
    }

    /// A shop's customers, by id.
    pub fn customers(&self, shop: &str) -> Result<Vec<Customer>, Error> {
        self.with_shop(shop, |shop, _| {
            Ok(shop.customers.values().cloned().collect())
        })
    }

    /// One customer.
    pub fn customer(&self, shop: &str, id: u64) -> Result<Customer, Error> {
        self.with_shop(shop, |shop, _| {
            shop.customers
                .get(&id)
                .cloned()
                .ok_or(Error::UnknownCustomer(id))
        })
    }

    /// A shop's metafield definitions.
    pub fn metafield_definitions(&self, shop: &str) -> Result<Vec<MetafieldDefinition>, Error> {
        self.with_shop(shop, |shop, _| Ok(shop.metafield_definitions.clone()))
    }

    /// The Admin API calls the app made on a shop, oldest first, with their costs.
    pub fn calls(&self, shop: &str) -> Result<Vec<CallRecord>, Error> {
        self.with_shop(shop, |shop, _| Ok(shop.calls.clone()))
    }

    /// Every webhook delivery, oldest first, with its attempts.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.world.outbox.deliveries()
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.world.faults.get()
    }

    /// Replaces the faults in force.
    pub fn set_faults(&self, faults: Faults) {
        tracing::info!(?faults, "faults set");
        self.world.faults.set(faults);
    }

    /// Mints an App Bridge session token for a staff user of the shop (the owner when
    /// `user_id` is `None`), valid from now for the configured lifetime.
    pub fn session_token(&self, shop: &str, user_id: Option<u64>) -> Result<String, Error> {
        let domain = self.domain(shop)?;
        let owner = self.shop(&domain)?.owner_user_id;
        let now = self.world.now().timestamp();
        let lifetime =
            i64::try_from(self.world.config.session_token_lifetime.as_secs()).unwrap_or(i64::MAX);
        let user = user_id.unwrap_or(owner);
        let claims = sign::SessionClaims {
            iss: format!("https://{domain}/admin"),
            dest: format!("https://{domain}"),
            aud: self.world.config.api_key.clone(),
            sub: user.to_string(),
            exp: now.saturating_add(lifetime),
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: uuid::Uuid::new_v4().simple().to_string(),
        };
        Ok(sign::encode_session_token(
            &self.world.config.api_secret,
            &claims,
        ))
    }

    /// The URL Shopify admin would load in its iframe: the app URL with `embedded`, `host`,
    /// `id_token`, `locale`, `session`, `shop`, `timestamp` and their `hmac`.
    pub fn launch_url(&self, shop: &str) -> Result<Url, Error> {
        let domain = self.domain(shop)?;
        let mut url = self.app_url().ok_or(Error::NoAppUrl)?;
        let token = self.session_token(&domain, None)?;
        let mut params = vec![
            ("embedded".to_owned(), "1".to_owned()),
            ("host".to_owned(), oauth::host_param(&domain)),
            ("id_token".to_owned(), token),
            ("locale".to_owned(), "en".to_owned()),
            (
                "session".to_owned(),
                uuid::Uuid::new_v4().simple().to_string(),
            ),
            ("shop".to_owned(), domain),
            (
                "timestamp".to_owned(),
                self.world.now().timestamp().to_string(),
            ),
        ];
        let hmac = sign::query_hmac(&self.world.config.api_secret, &params);
        params.push(("hmac".to_owned(), hmac));
        url.query_pairs_mut().extend_pairs(params);
        Ok(url)
    }

    /// Installs the app (if needed) and grants an offline token by token exchange, as the
    /// app would on its first embedded load; `expiring` asks for an expiring token.
    pub fn grant_offline_token(&self, shop: &str, expiring: bool) -> Result<TokenGrant, Error> {
        let domain = self.domain(shop)?;
        let request = TokenRequest {
            client_id: Some(self.world.config.api_key.clone()),
            client_secret: Some(self.world.config.api_secret.clone()),
            grant_type: Some(oauth::TOKEN_EXCHANGE_GRANT.to_owned()),
            subject_token: Some(self.session_token(&domain, None)?),
            subject_token_type: Some(oauth::ID_TOKEN_TYPE.to_owned()),
            requested_token_type: Some(oauth::OFFLINE_TOKEN_TYPE.to_owned()),
            expiring: Some(Value::String(if expiring { "1" } else { "0" }.to_owned())),
            ..TokenRequest::default()
        };
        let now = self.world.now();
        let answer = {
            let mut inner = lock(&self.world.inner);
            if !inner.shops.contains_key(&domain) {
                return Err(Error::UnknownShop(domain));
            }
            oauth::grant(&mut inner, &self.world.config, &domain, &request, now)?
        };
        Ok(TokenGrant {
            access_token: answer["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: answer["refresh_token"].as_str().map(str::to_owned),
            expires_in: answer["expires_in"].as_i64(),
        })
    }

    /// The merchant creates a customer in Shopify admin.
    pub fn create_customer(&self, shop: &str, input: &CustomerInput) -> Result<Customer, Error> {
        self.change_customer(shop, None, input)
    }

    /// The merchant edits a customer in Shopify admin.
    pub fn update_customer(
        &self,
        shop: &str,
        id: u64,
        input: &CustomerInput,
    ) -> Result<Customer, Error> {
        self.change_customer(shop, Some(id), input)
    }

    fn change_customer(
        &self,
        shop: &str,
        id: Option<u64>,
        input: &CustomerInput,
    ) -> Result<Customer, Error> {
        let app_namespace = format!("app--{}", self.world.config.app_id);
        let (customer, change, domain) = self.with_shop(shop, |record, now| {
            if let Some(id) = id
                && !record.customers.contains_key(&id)
            {
                return Err(Error::UnknownCustomer(id));
            }
            let (customer, change) =
                store::apply_customer_input(record, id, input, &app_namespace, now)
                    .map_err(Error::Rejected)?;
            Ok((customer, change, record.domain.clone()))
        })?;
        let topic = match change {
            Change::Created => Topic::CustomersCreate,
            Change::Updated => Topic::CustomersUpdate,
        };
        self.world.emit(vec![Event {
            topic,
            shop: domain,
            payload: customer.webhook_payload(),
        }]);
        Ok(customer)
    }

    /// The merchant deletes a customer; like the API, refused when it has orders.
    pub fn delete_customer(&self, shop: &str, id: u64) -> Result<(), Error> {
        let domain = self.with_shop(shop, |record, _| {
            let customer = record
                .customers
                .get(&id)
                .ok_or(Error::UnknownCustomer(id))?;
            if !customer.orders.is_empty() {
                return Err(Error::Rejected(vec![UserError {
                    field: Some(vec!["id".to_owned()]),
                    message: "Customer can’t be deleted because they have associated orders"
                        .to_owned(),
                    code: "INVALID",
                }]));
            }
            record.customers.remove(&id);
            Ok(record.domain.clone())
        })?;
        self.world.emit(vec![Event {
            topic: Topic::CustomersDelete,
            shop: domain,
            payload: json!({
                "id": id,
                "tax_exemptions": [],
                "admin_graphql_api_id": store::customer_gid(id),
            }),
        }]);
        Ok(())
    }

    /// A customer places an order (of `amount`), which stops `customerDelete` from working.
    pub fn add_order(&self, shop: &str, customer_id: u64, amount: f64) -> Result<Order, Error> {
        let (order, customer, domain) = self.with_shop(shop, |record, now| {
            let customer = record
                .customers
                .get_mut(&customer_id)
                .ok_or(Error::UnknownCustomer(customer_id))?;
            let order = Order {
                id: store::next_id(),
                amount,
            };
            customer.orders.push(order.clone());
            customer.updated_at = now;
            Ok((order, customer.clone(), record.domain.clone()))
        })?;
        self.world.emit(vec![Event {
            topic: Topic::CustomersUpdate,
            shop: domain,
            payload: customer.webhook_payload(),
        }]);
        Ok(order)
    }

    /// The merchant uninstalls the app: every token is revoked and `app/uninstalled` sent.
    pub fn uninstall(&self, shop: &str) -> Result<(), Error> {
        let domain = self.domain(shop)?;
        let now = self.world.now();
        let payload = {
            let mut inner = lock(&self.world.inner);
            let record = inner
                .shops
                .get_mut(&domain)
                .ok_or_else(|| Error::UnknownShop(domain.clone()))?;
            record.installed = false;
            let payload = record.webhook_payload(now);
            inner.revoke_tokens(&domain);
            payload
        };
        tracing::info!(shop.domain = %domain, "app uninstalled");
        self.world.emit(vec![Event {
            topic: Topic::AppUninstalled,
            shop: domain,
            payload,
        }]);
        Ok(())
    }

    fn compliance_customer(&self, shop: &str, id: u64) -> Result<(Value, u64, String), Error> {
        self.with_shop(shop, |record, _| {
            let customer = record
                .customers
                .get(&id)
                .ok_or(Error::UnknownCustomer(id))?;
            let orders: Vec<u64> = customer.orders.iter().map(|order| order.id).collect();
            let payload = json!({
                "shop_id": record.id,
                "shop_domain": record.domain,
                "customer": { "id": customer.id, "email": customer.email, "phone": customer.phone },
                "orders": orders,
            });
            Ok((payload, record.id, record.domain.clone()))
        })
    }

    /// A customer asks the merchant for their data: `customers/data_request` is sent.
    pub fn request_customer_data(&self, shop: &str, id: u64) -> Result<(), Error> {
        let (mut payload, _, domain) = self.compliance_customer(shop, id)?;
        if let Some(object) = payload.as_object_mut() {
            let orders = object.remove("orders").unwrap_or_default();
            object.insert("orders_requested".to_owned(), orders);
            object.insert("data_request".to_owned(), json!({ "id": store::next_id() }));
        }
        self.world.emit(vec![Event {
            topic: Topic::CustomersDataRequest,
            shop: domain,
            payload,
        }]);
        Ok(())
    }

    /// The merchant requests a customer's redaction: `customers/redact` is sent.
    pub fn redact_customer(&self, shop: &str, id: u64) -> Result<(), Error> {
        let (mut payload, _, domain) = self.compliance_customer(shop, id)?;
        if let Some(object) = payload.as_object_mut() {
            let orders = object.remove("orders").unwrap_or_default();
            object.insert("orders_to_redact".to_owned(), orders);
        }
        self.world.emit(vec![Event {
            topic: Topic::CustomersRedact,
            shop: domain,
            payload,
        }]);
        Ok(())
    }

    /// Shopify asks the app to erase a shop's data (48 hours after uninstall in real life):
    /// `shop/redact` is sent.
    pub fn redact_shop(&self, shop: &str) -> Result<(), Error> {
        let (payload, domain) = self.with_shop(shop, |record, _| {
            Ok((
                json!({ "shop_id": record.id, "shop_domain": record.domain }),
                record.domain.clone(),
            ))
        })?;
        self.world.emit(vec![Event {
            topic: Topic::ShopRedact,
            shop: domain,
            payload,
        }]);
        Ok(())
    }

    /// Moves a manual clock forward.
    pub fn advance_clock(&self, by: std::time::Duration) -> Result<DateTime<Utc>, Error> {
        let clock = self.clock().manual().ok_or(Error::NotManualClock)?;
        clock.advance(by);
        Ok(clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shops_are_named_by_handle_or_myshopify_domain_only() {
        assert_eq!(parse_shop("demo").as_deref(), Some("demo.myshopify.com"));
        assert_eq!(
            parse_shop("Acme-Test.myshopify.com").as_deref(),
            Some("acme-test.myshopify.com")
        );
        for bad in [
            "evil.com",
            "acme-test.myshopify.com.evil.com",
            "-x",
            "a b",
            "",
        ] {
            assert_eq!(parse_shop(bad), None, "{bad}");
        }
    }
}
