//! Builds the HTTP server from settings and runs it until asked to stop, then drains
//! in-flight requests and stops background tasks.

use std::future::Future;
use std::net::TcpListener;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Settings, SyncEngineSettings};
use crate::shopify::embedded::AppUrls;
use crate::shopify::install::Platform;
use crate::shopify::webhook;
use crate::store::Database;
use crate::sync;
use crate::sync::worker::WorkerConfig;
use crate::web::server::{HttpService, ShopifyState};
use crate::web::shopify::{self as shopify_web, webhooks::InboxBell};

/// Deliveries the webhook processor takes per round.
const WEBHOOK_BATCH: u64 = 50;

/// How often the webhook processor looks for work when nothing wakes it.
const WEBHOOK_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// A bound, not yet running, instance of the service.
pub struct Application {
    port: u16,
    http: HttpService,
    db: Database,
    stop_tx: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Tells a background task that the service is stopping.
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Whether shutdown has begun.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown has begun.
    pub async fn stopped(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

impl Application {
    /// Binds the listener from `settings.server.listen` (port 0 picks a free port) and
    /// prepares the server on an already migrated database, with the webhook processor
    /// running beside it. The settings must satisfy [`Settings::require_for_serve`].
    pub fn build(settings: &Settings, db: Database) -> anyhow::Result<Self> {
        settings.require_for_serve()?;
        let shopify = shopify_state(settings, &db)?;
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let http = HttpService::start(
            listener,
            &settings.server,
            &settings.scim,
            db.clone(),
            shopify.clone(),
        )
        .context("starting the HTTP server")?;

        let (stop_tx, _) = watch::channel(false);
        let mut app = Self {
            port,
            http,
            db,
            stop_tx,
            tasks: JoinSet::new(),
        };
        let platform = shopify.platform.clone();
        app.spawn_background(|stop| process_webhooks(shopify.platform, shopify.bell, stop));
        let instance = uuid::Uuid::new_v4().simple().to_string();
        for n in 0..settings.sync.workers {
            let config = worker_config(&settings.sync, format!("{}/{n}", &instance[..12]));
            let platform = platform.clone();
            app.spawn_background(move |stop| sync::worker::run(platform, config, stop));
        }
        Ok(app)
    }

    /// The port the server is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `task` beside the server; it must return soon after its [`StopSignal`] fires.
    pub fn spawn_background<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let signal = StopSignal(self.stop_tx.subscribe());
        self.tasks.spawn(task(signal));
    }

    /// Serves until `stop` resolves (or the server fails), then lets in-flight requests
    /// finish within the configured grace period, stops background tasks and closes the
    /// database pool.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            http,
            db,
            stop_tx,
            mut tasks,
            ..
        } = self;

        let served = http.run_until(stop).await;

        let _ = stop_tx.send(true);
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(error = %error, "a background task failed while stopping");
            }
        }
        db.close().await.context("closing the database pool")?;
        tracing::info!("shutdown complete");
        served.context("running the HTTP server")
    }
}

/// The configuration of sync worker `id`.
fn worker_config(settings: &SyncEngineSettings, id: String) -> WorkerConfig {
    WorkerConfig {
        id,
        lease: std::time::Duration::from_secs(settings.lease_secs.max(1)),
        poll: std::time::Duration::from_millis(settings.poll_ms.max(10)),
        batch: 25,
        max_attempts: settings.max_attempts.max(1),
        retry_base: std::time::Duration::from_millis(settings.retry_base_ms),
        retry_max: std::time::Duration::from_secs(settings.retry_max_secs),
    }
}

/// Builds what the Shopify routes share from complete settings.
fn shopify_state(settings: &Settings, db: &Database) -> anyhow::Result<ShopifyState> {
    let shopify = &settings.shopify;
    let (Some(api_key), Some(public_url)) =
        (shopify.api_key.clone(), settings.server.public_url.clone())
    else {
        anyhow::bail!("the Shopify client id and the public URL are required");
    };
    let platform =
        Platform::from_settings(settings, db.clone()).context("preparing the Shopify client")?;

    Ok(ShopifyState {
        platform,
        pages: shopify_web::Settings {
            urls: AppUrls { public_url },
            api_key,
            scopes: shopify.scopes.clone(),
            app_bridge_url: shopify.app_bridge_url.clone(),
            polaris_url: shopify.polaris_url.clone(),
        },
        bell: std::sync::Arc::new(InboxBell::default()),
    })
}

/// Processes stored webhook deliveries until the service stops: at once when a delivery
/// arrives, and every [`WEBHOOK_POLL`] for retries and deliveries stored by other instances.
async fn process_webhooks(
    platform: Platform,
    bell: std::sync::Arc<InboxBell>,
    mut stop: StopSignal,
) {
    loop {
        loop {
            match webhook::process_pending(&platform, WEBHOOK_BATCH).await {
                Ok(done) if done as u64 == WEBHOOK_BATCH => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(
                        error.chain = %crate::telemetry::error_chain(&error),
                        "the webhook processor failed; retrying"
                    );
                    break;
                }
            }
        }
        tokio::select! {
            () = stop.stopped() => return,
            () = bell.0.notified() => {},
            () = tokio::time::sleep(WEBHOOK_POLL) => {},
        }
    }
}

/// Listens for SIGINT and SIGTERM from now on; the returned future resolves on either.
///
/// The handlers are installed before this returns, so a signal that arrives while the
/// server is still starting is not lost (nor does it kill the process outright).
#[cfg(unix)]
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
