//! Builds the HTTP server from settings and runs it until asked to stop, then drains
//! in-flight requests and stops background tasks.

use std::future::Future;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::store::Database;
use crate::web::request_log::{AccessLog, BodyLimit, assign_request_id, reject_oversized_bodies};
use crate::web::{self as routes, ReadinessBudget};

/// A bound, not yet running, instance of the service.
pub struct Application {
    port: u16,
    server: Server,
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
        let server_settings = settings.server.clone();
        let listener = TcpListener::bind(server_settings.listen)
            .with_context(|| format!("binding {}", server_settings.listen))?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();

        let limit = server_settings.max_body_bytes;
        let db_data = web::Data::new(db.clone());
        let budget = web::Data::new(ReadinessBudget(server_settings.readiness_timeout()));
        let body_limit = web::Data::new(BodyLimit(limit));
        let mut server = HttpServer::new(move || {
            let (payload_config, json_config) = routes::body_configs(limit);
            App::new()
                .app_data(db_data.clone())
                .app_data(budget.clone())
                .app_data(body_limit.clone())
                .app_data(payload_config)
                .app_data(json_config)
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                .wrap(from_fn(reject_oversized_bodies))
                .wrap(TracingLogger::<AccessLog>::new())
                .wrap(from_fn(assign_request_id))
        })
        .listen(listener)
        .context("starting the HTTP listener")?
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .disable_signals();
        if let Some(workers) = server_settings.workers {
            server = server.workers(workers);
        }

        let (stop_tx, _) = watch::channel(false);
        Ok(Self {
            port,
            server: server.run(),
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
            server,
            db,
            stop_tx,
            mut tasks,
            ..
        } = self;
        let handle = server.handle();
        let mut server = std::pin::pin!(server);

        let served = tokio::select! {
            result = &mut server => result,
            () = stop => {
                tracing::info!("shutdown requested; finishing in-flight requests");
                // The server future processes the stop command, so it must be polled too.
                let ((), result) = tokio::join!(handle.stop(true), &mut server);
                result
            }
        };

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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
}
