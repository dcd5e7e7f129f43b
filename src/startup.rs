//! Builds the HTTP server from settings and runs it until asked to stop, then drains
//! in-flight requests and stops background tasks.

use std::future::Future;
use std::net::TcpListener;

use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::store::Database;
use crate::web::server::HttpService;

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
    /// Resolves once shutdown has begun.
    pub async fn stopped(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

impl Application {
    /// Binds the listener from `settings.server.listen` (port 0 picks a free port) and
    /// prepares the server on an already migrated database.
    pub fn build(settings: &Settings, db: Database) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let http = HttpService::start(listener, &settings.server, &settings.scim, db.clone())
            .context("starting the HTTP server")?;

        let (stop_tx, _) = watch::channel(false);
        Ok(Self {
            port,
            http,
            db,
            stop_tx,
            tasks: JoinSet::new(),
        })
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
