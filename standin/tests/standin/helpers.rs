//! A stand-in configured with the fixture credentials of `shopify.md` §10 on a manual
//! clock, a webhook receiver standing in for the app, and small request helpers.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use shopify_standin::{ManualClock, Plan, RunningStandIn, StandIn, StandInConfig, WebhookTargets};
use url::Url;

/// Fixture client id.
pub const CLIENT_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
/// Fixture client secret.
pub const CLIENT_SECRET: &str = "shpss_0123456789abcdef0123456789abcdef";
/// Fixture shop.
pub const SHOP: &str = "acme-test.myshopify.com";
/// Fixture `host` parameter.
pub const HOST: &str = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWNtZS10ZXN0";
/// Fixture timestamp, 2026-01-01T00:00:00Z.
pub const TS: i64 = 1_767_225_600;
/// Fixture session token (shopify.md §10.3), valid around [`TS`].
pub const SESSION_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2FjbWUtdGVzdC5teXNob3BpZnkuY29tL2FkbWluIiwiZGVzdCI6Imh0dHBzOi8vYWNtZS10ZXN0Lm15c2hvcGlmeS5jb20iLCJhdWQiOiJhMWIyYzNkNGU1ZjYwNzE4MjkzYTRiNWM2ZDdlOGY5MCIsInN1YiI6Ijc0ODU3MzQ2IiwiZXhwIjoxNzY3MjI1NjYwLCJuYmYiOjE3NjcyMjU2MDAsImlhdCI6MTc2NzIyNTYwMCwianRpIjoiZjg5MTIxMjktMWFmNi00Y2FkLTljYTMtNzZiMGY3NjIxMDg3Iiwic2lkIjoiYWFlYTE4MmYyNzMyZDQ0YzIzMDU3YzBmZWE1ODQwMjFhNDQ4NWIyYmQyNWQzZWI3ZmQzNDkzMTNhZDI0YzY4NSJ9.ob3uXA2FJAE_r_RCiCsANm972lEKZlS2LsNL7nDYKUY";
/// The API version the tests call.
pub const VERSION: &str = "2026-07";

/// How long any wait for something asynchronous may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A stand-in, its manual clock and the app's webhook receiver.
pub struct TestStandIn {
    pub standin: RunningStandIn,
    pub clock: ManualClock,
    pub app: Receiver,
    pub http: reqwest::Client,
}

/// The fixture configuration on a clock at [`TS`], webhooks to `app`, fast retries.
pub fn config(app: &Receiver, clock: &ManualClock) -> StandInConfig {
    let mut config = StandInConfig::new(CLIENT_ID, CLIENT_SECRET)
        .with_shop(SHOP, Plan::Standard)
        .with_clock(shopify_standin::Clock::Manual(clock.clone()));
    config.webhooks = WebhookTargets::under(&app.url);
    config.app_url = Some(app.url.join("/app").unwrap());
    config.webhook_retry_delays = vec![Duration::from_millis(20); 3];
    config.fault_timeout = Duration::from_millis(50);
    config.webhook_reorder_hold = PATIENCE;
    config
}

impl TestStandIn {
    /// The fixture stand-in with one Standard shop, [`SHOP`].
    pub async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    /// The fixture stand-in, adjusted by `adjust` before it starts.
    pub async fn start_with(adjust: impl FnOnce(StandInConfig) -> StandInConfig) -> Self {
        let app = Receiver::start().await;
        let clock = ManualClock::at_unix_seconds(TS).unwrap();
        let standin = StandIn::start(adjust(config(&app, &clock))).await.unwrap();
        Self {
            standin,
            clock,
            app,
            http: reqwest::Client::new(),
        }
    }

    /// `{stand-in}/shops/{shop}/admin/...`
    pub fn admin(&self, shop: &str, path: &str) -> String {
        format!("{}/admin/{path}", self.standin.admin_url(shop))
    }

    /// `{stand-in}/_standin/...`
    pub fn control(&self, path: &str) -> String {
        format!("{}_standin/{path}", self.standin.url())
    }

    /// An expiring offline token for [`SHOP`], as the app gets it on install.
    pub fn token(&self) -> String {
        self.standin
            .grant_offline_token(SHOP, true)
            .unwrap()
            .access_token
    }

    /// Posts a GraphQL request; returns the status and the JSON body.
    pub async fn graphql_on(
        &self,
        shop: &str,
        token: &str,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let response = self
            .http
            .post(self.admin(shop, &format!("api/{VERSION}/graphql.json")))
            .header("X-Shopify-Access-Token", token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// [`TestStandIn::graphql_on`] for [`SHOP`].
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        self.graphql_on(SHOP, token, query, variables).await
    }

    /// Posts a JSON body to the token endpoint of `shop`.
    pub async fn token_endpoint(&self, shop: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.admin(shop, "oauth/access_token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Creates a customer through the API and returns its GID.
    pub async fn create_customer(&self, token: &str, input: Value) -> String {
        let (_, body) = self
            .graphql(
                token,
                "mutation($input: CustomerInput!) { customerCreate(input: $input) { \
                 customer { id } userErrors { field message } } }",
                json!({ "input": input }),
            )
            .await;
        body["data"]["customerCreate"]["customer"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("customer not created: {body}"))
            .to_owned()
    }
}

/// The numeric id inside a customer GID.
pub fn numeric_id(gid: &str) -> u64 {
    gid.rsplit('/').next().unwrap().parse().unwrap()
}

/// A request the app's webhook routes received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    /// A header, by case-insensitive name ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    statuses: Mutex<VecDeque<u16>>,
}

/// Stands in for the app: records every request and answers 200 unless told otherwise.
pub struct Receiver {
    pub url: Url,
    shared: Arc<Shared>,
}

async fn record(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    shared.received.lock().unwrap().push(Received {
        path: request.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
    let status = shared.statuses.lock().unwrap().pop_front().unwrap_or(200);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    /// Starts listening on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let shared = web::Data::new(Shared::default());
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(record))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .disable_signals()
        .run();
        tokio::spawn(server);
        Self {
            url,
            shared: shared.into_inner(),
        }
    }

    /// Answers the next requests with these statuses, then 200 again.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.shared.statuses.lock().unwrap().extend(statuses);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived, and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let wait = async {
            loop {
                let received = self.received();
                if received.len() >= count {
                    return received;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .unwrap_or_else(|_| panic!("fewer than {count} webhooks: {:?}", self.received()))
    }
}

/// Waits, up to [`PATIENCE`], until `condition` holds; fails the test otherwise.
pub async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let wait = async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("still waiting for {what}"));
}
