//! Starting the real application for a test: a fresh database each time (a SQLite file, or a
//! new PostgreSQL database when `TEST_DATABASE_URL` names a server), port 0, and handles to
//! inspect and disturb it.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::TransactionTrait as _;
use sea_orm::{ConnectionTrait, DatabaseTransaction, SqliteTransactionMode, TransactionOptions};
use secrecy::SecretString;
use shopify_scim::config::{DatabaseSettings, Settings};
use shopify_scim::startup::Application;
use shopify_scim::store::{Backend, Database};
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The client id of every test application.
pub const CLIENT_ID: &str = "test-client-id";

/// The client secret of every test application.
pub const CLIENT_SECRET: &str = "test-client-secret";

/// Installs the log subscriber once per test binary; output is kept only with `TEST_LOG=1`.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    let settings = shopify_scim::config::LogSettings {
        filter: "debug,sqlx=warn,sea_orm=warn".to_owned(),
        ..Default::default()
    };
    let result = if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
        shopify_scim::telemetry::init(&settings, std::io::stdout, false)
    } else {
        shopify_scim::telemetry::init(&settings, std::io::sink, false)
    };
    result.expect("installing the test log subscriber");
});

/// A database created for one test, removed again when the test ends.
pub struct TestDatabase {
    /// URL the application should use.
    pub url: String,
    /// Which engine it is.
    pub backend: Backend,
    /// Keeps a SQLite file's directory alive for the test.
    _dir: Option<TempDir>,
    /// PostgreSQL: the server's admin URL and the database's name, to drop it at the end.
    created: Option<(String, String)>,
}

impl TestDatabase {
    /// A new, empty database on the backend this run tests.
    pub async fn fresh() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => Self::fresh_postgres(&admin_url).await,
            _ => Self::fresh_sqlite(),
        }
    }

    fn fresh_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("app.db").display());
        Self {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            created: None,
        }
    }

    async fn fresh_postgres(admin_url: &str) -> Self {
        let name = format!("shopify_scim_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(admin_url)
            .await
            .expect("connecting to TEST_DATABASE_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("creating a test database");
        admin.close().await.expect("closing the admin connection");

        let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            backend: Backend::Postgres,
            _dir: None,
            created: Some((admin_url.to_owned(), name)),
        }
    }

    /// Database settings for this database, with short timeouts suited to tests.
    pub fn settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            max_connections: 5,
            connect_timeout_secs: 2,
            acquire_timeout_secs: 2,
            ..DatabaseSettings::with_url(self.url.clone())
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.created.take() else {
            return;
        };
        // Drop runs inside the test's runtime, so the cleanup gets a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = sea_orm::Database::connect(admin_url.as_str()).await?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                admin.execute_unprepared(&sql).await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!("could not drop a test database: {error}");
        }
    }
}

/// How a test wants its application.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// Apply migrations before serving.
    pub migrate: bool,
    /// Request body cap.
    pub max_body_bytes: usize,
    /// Readiness probe budget.
    pub readiness_timeout: Duration,
    /// SCIM requests per second and burst per token.
    pub scim_rate_limit: (u32, u32),
    /// Where shops' admins are: the Shopify stand-in's template, or Shopify's default.
    pub admin_base_url: Option<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            migrate: true,
            max_body_bytes: 64 * 1024,
            readiness_timeout: Duration::from_millis(800),
            scim_rate_limit: (1000, 1000),
            admin_base_url: None,
        }
    }
}

/// A running application and what a test needs around it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The bound socket address.
    pub socket: SocketAddr,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    /// A connection of the test's own to the application's database.
    pub db: Database,
    /// The database the application uses.
    pub database: TestDatabase,
    /// The settings the application runs with.
    pub settings: Settings,
    /// Proxy between the application and PostgreSQL, to simulate outages.
    proxy: Option<DbProxy>,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts the application with default test options.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

/// Starts the application on port 0 against a fresh database.
pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    LazyLock::force(&TRACING);
    let database = TestDatabase::fresh().await;

    let proxy = match database.backend {
        Backend::Postgres => Some(DbProxy::start(&database.url).await),
        Backend::Sqlite => None,
    };
    let app_url = proxy
        .as_ref()
        .map_or_else(|| database.url.clone(), |proxy| proxy.url.clone());
    let settings = test_settings(
        &options,
        &DatabaseSettings {
            url: SecretString::from(app_url),
            ..database.settings()
        },
    );

    let db = Database::connect(&database.settings())
        .await
        .expect("connecting the test's own pool");
    if options.migrate {
        db.migrate().await.expect("migrating the test database");
    }
    let app_db = Database::connect(&settings.database)
        .await
        .expect("connecting the application's pool");
    let application = Application::build(&settings, app_db).expect("building the application");
    let socket = SocketAddr::from(([127, 0, 0, 1], application.port()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until_stopped(async {
        let _ = stop_rx.await;
    }));

    TestApp {
        address: format!("http://{socket}"),
        socket,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("building the HTTP client"),
        db,
        database,
        settings,
        proxy,
        stop: Some(stop_tx),
        running: Some(running),
    }
}

/// Settings of a test application: loopback port 0 and complete (fake) credentials.
pub fn test_settings(options: &TestOptions, database: &DatabaseSettings) -> Settings {
    let mut settings = Settings::defaults();
    settings.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.server.public_url = Some("http://127.0.0.1".parse().expect("a valid URL"));
    settings.server.max_body_bytes = options.max_body_bytes;
    settings.server.readiness_timeout_ms =
        u64::try_from(options.readiness_timeout.as_millis()).expect("a short timeout");
    settings.server.shutdown_timeout_secs = 10;
    settings.server.workers = Some(2);
    settings.database = database.clone();
    (
        settings.scim.rate_limit_per_second,
        settings.scim.rate_limit_burst,
    ) = options.scim_rate_limit;
    settings.shopify.api_key = Some(CLIENT_ID.to_owned());
    settings.shopify.api_secret = Some(SecretString::from(CLIENT_SECRET));
    settings.sync.poll_ms = 50;
    settings.sync.lease_secs = 5;
    settings.sync.retry_base_ms = 50;
    settings.sync.retry_max_secs = 1;
    if let Some(template) = &options.admin_base_url {
        settings.shopify.admin_base_url = template.clone();
    }
    settings.security.token_encryption_key = Some(SecretString::from(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ));
    settings
}

impl TestApp {
    /// `GET {address}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("sending a request to the test app")
    }

    /// `POST {address}{path}` with a raw body.
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .body(body)
            .send()
            .await
            .expect("sending a request to the test app")
    }

    /// Makes the database unreachable for the application until the outage ends.
    ///
    /// PostgreSQL: open connections are cut and new ones are accepted but never answered.
    /// SQLite: another connection holds the write lock.
    pub async fn database_outage(&self) -> Outage {
        match (&self.proxy, self.database.backend) {
            (Some(proxy), _) => {
                proxy.cut();
                Outage::Proxy(proxy.clone())
            }
            (None, _) => {
                let options = TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                };
                let lock = self
                    .db
                    .conn()
                    .begin_with_options(options)
                    .await
                    .expect("taking the SQLite write lock");
                Outage::SqliteLock(lock)
            }
        }
    }

    /// Asks the application to stop and returns its run handle, to await the shutdown.
    pub fn stop(&mut self) -> JoinHandle<anyhow::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.running
            .take()
            .expect("the application was started once")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A shop with a SCIM token, as an identity provider would hold it.
#[derive(Debug, Clone)]
pub struct TestTenant {
    /// The shop handle in SCIM URLs.
    pub handle: String,
    /// The bearer token.
    pub token: String,
}

impl TestApp {
    /// Creates (or reuses) the shop `handle` and a fresh token for it.
    pub async fn tenant(&self, handle: &str) -> TestTenant {
        use secrecy::ExposeSecret as _;

        let domain = shopify_scim::types::ShopHandle::parse(handle)
            .expect("a valid handle")
            .domain();
        let shop = shopify_scim::store::shops::find_or_create(&self.db, &domain)
            .await
            .expect("creating the shop");
        let (_, token) =
            shopify_scim::store::tokens::create(&self.db, shop.id, "test", None, "test")
                .await
                .expect("creating a token");
        TestTenant {
            handle: handle.to_owned(),
            token: token.expose_secret().to_owned(),
        }
    }

    /// A request to `/scim/v2/{tenant}{path}` with the tenant's token.
    pub fn scim(
        &self,
        method: reqwest::Method,
        tenant: &TestTenant,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(
                method,
                format!("{}/scim/v2/{}{path}", self.address, tenant.handle),
            )
            .bearer_auth(&tenant.token)
    }

    /// Sends a SCIM request with an optional JSON body; answers the status and the parsed
    /// body (`null` when empty).
    pub async fn send_scim(
        &self,
        method: reqwest::Method,
        tenant: &TestTenant,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = self.scim(method, tenant, path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json; charset=utf-8")
                .body(body.to_string());
        }
        let response = request.send().await.expect("sending a SCIM request");
        let status = response.status();
        let text = response.text().await.expect("reading a SCIM response");
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).expect("a JSON response body")
        };
        (status, body)
    }
}

/// An ongoing database outage; [`Outage::end`] restores service.
pub enum Outage {
    /// PostgreSQL behind a cut proxy.
    Proxy(DbProxy),
    /// SQLite with its write lock held.
    SqliteLock(DatabaseTransaction),
}

impl Outage {
    /// Ends the outage.
    pub async fn end(self) {
        match self {
            Self::Proxy(proxy) => proxy.restore(),
            Self::SqliteLock(lock) => lock.rollback().await.expect("releasing the write lock"),
        }
    }
}

/// A TCP proxy in front of PostgreSQL that a test can cut and restore.
#[derive(Clone)]
pub struct DbProxy {
    /// Database URL that goes through the proxy.
    pub url: String,
    state: Arc<Mutex<ProxyState>>,
    upstream: SocketAddr,
}

#[derive(Default)]
struct ProxyState {
    cut: bool,
    links: Vec<JoinHandle<()>>,
    held: Vec<TcpStream>,
}

impl DbProxy {
    async fn start(database_url: &str) -> Self {
        let mut url = url::Url::parse(database_url).expect("a PostgreSQL URL");
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = url.port().unwrap_or(5432);
        let upstream = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolving the PostgreSQL host")
            .next()
            .expect("an address for the PostgreSQL host");

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let local = listener.local_addr().expect("the proxy's address");
        url.set_host(Some("127.0.0.1")).expect("a host can be set");
        url.set_port(Some(local.port())).expect("a port can be set");

        let proxy = Self {
            url: url.to_string(),
            state: Arc::new(Mutex::new(ProxyState::default())),
            upstream,
        };
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepting.admit(client);
            }
        });
        proxy
    }

    fn admit(&self, client: TcpStream) {
        let mut state = self.state.lock().expect("proxy state lock");
        if state.cut {
            state.held.push(client);
        } else {
            state.links.push(tokio::spawn(link(client, self.upstream)));
        }
    }

    fn cut(&self) {
        let mut state = self.state.lock().expect("proxy state lock");
        state.cut = true;
        for link in state.links.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        let mut state = self.state.lock().expect("proxy state lock");
        state.cut = false;
        let held: Vec<TcpStream> = state.held.drain(..).collect();
        for client in held {
            state.links.push(tokio::spawn(link(client, self.upstream)));
        }
    }
}

async fn link(mut client: TcpStream, upstream: SocketAddr) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

/// An application wired to a Shopify stand-in that knows it (same credentials, webhooks
/// pointed at the application), with one shop on the Standard plan.
pub struct ShopifyTestApp {
    /// The application.
    pub app: TestApp,
    /// The stand-in.
    pub standin: shopify_standin::RunningStandIn,
    /// The stand-in's shop.
    pub shop: String,
}

/// The stand-in's configuration for tests: short webhook retries, `shop` on Standard.
pub fn standin_config(shop: &str) -> shopify_standin::StandInConfig {
    let mut config = shopify_standin::StandInConfig::new(CLIENT_ID, CLIENT_SECRET)
        .with_shop(shop, shopify_standin::Plan::Standard);
    config.webhook_retry_delays = vec![Duration::from_millis(100); 5];
    config
}

/// Starts a stand-in configured by `config`, then the application against it.
pub async fn spawn_app_with_shopify(
    shop: &str,
    config: shopify_standin::StandInConfig,
) -> ShopifyTestApp {
    let standin = shopify_standin::StandIn::start(config)
        .await
        .expect("starting the Shopify stand-in");
    let options = TestOptions {
        admin_base_url: Some(standin.admin_base_url_template()),
        ..TestOptions::default()
    };
    let app = spawn_app_with(options).await;
    let origin: url::Url = app.address.parse().expect("a URL");
    standin.set_app_url(origin.join("/app").expect("a URL"));
    standin.set_webhook_targets(shopify_standin::WebhookTargets::under(&origin));
    ShopifyTestApp {
        app,
        standin,
        shop: shop.to_owned(),
    }
}

/// Waits until `check` answers `Some`, polling; fails the test after 15 seconds.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(what, Duration::from_secs(15), check).await
}

/// Waits until `check` answers `Some`, polling; fails the test after `patience`.
pub async fn eventually_within<T, F, Fut>(what: &str, patience: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
