//! The command line: `serve`, `migrate` and `dev`, each taking `DATABASE_URL`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::config::{Loaded, Settings};
use crate::startup::{Application, shutdown_signal};
use crate::store::Database;
use crate::{dev, telemetry};

/// SCIM 2.0 provisioning of Shopify customers, one tenant per shop.
#[derive(Debug, Parser)]
#[command(name = "shopify-scim", version, about)]
pub struct Cli {
    /// Optional TOML configuration file, layered between defaults and the environment.
    #[arg(long, global = true, env = "SHOPIFY_SCIM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Database URL (`sqlite://PATH` or `postgres://...`); overrides every other layer.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations (unless told not to) and serve HTTP until SIGINT/SIGTERM.
    Serve {
        /// Start without applying migrations; `/readyz` answers 503 while any are pending.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply or inspect database migrations.
    Migrate {
        /// `up` (default) applies pending migrations; `status` lists them.
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Run locally with no configuration: loopback, SQLite under the data directory and
    /// generated development secrets.
    Dev {
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Directory for the SQLite file and the generated secrets.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
}

/// Migration actions.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// List every migration and whether it is applied.
    Status,
}

impl Cli {
    /// Runs the chosen command to completion.
    pub async fn run(self) -> anyhow::Result<()> {
        let database_url = self.database_url.map(SecretString::from);
        let Loaded {
            mut settings,
            warnings,
        } = Settings::load(self.config.as_deref())?;
        if let Some(url) = &database_url {
            settings.database.url = url.clone();
        }

        match self.command {
            Command::Serve { no_migrate } => serve(settings, &warnings, !no_migrate).await,
            Command::Migrate { action } => {
                migrate(settings, &warnings, action.unwrap_or(MigrateAction::Up)).await
            }
            Command::Dev { listen, data_dir } => {
                let options = dev::DevOptions {
                    listen,
                    data_dir,
                    database_url,
                };
                dev::run(settings, &warnings, options).await
            }
        }
    }
}

/// Installs telemetry and logs the warnings found while loading settings.
pub fn init_telemetry(settings: &Settings, warnings: &[String]) -> anyhow::Result<()> {
    telemetry::init(&settings.log, std::io::stdout)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(())
}

async fn serve(
    settings: Settings,
    warnings: &[String],
    apply_migrations: bool,
) -> anyhow::Result<()> {
    settings.require_for_serve()?;
    let stop = shutdown_signal()?;
    init_telemetry(&settings, warnings)?;

    let db = Database::connect(&settings.database)
        .await
        .context("connecting to the database")?;
    if apply_migrations {
        let applied = db.migrate().await.context("applying migrations")?;
        tracing::info!(
            db.migrations_applied = applied,
            "database schema is current"
        );
    }
    let backend = db.backend();
    let app = Application::build(&settings, db)?;

    tracing::info!(
        http.port = app.port(),
        db.backend = backend.name(),
        "serving"
    );
    app.run_until_stopped(stop).await
}

async fn migrate(
    settings: Settings,
    warnings: &[String],
    action: MigrateAction,
) -> anyhow::Result<()> {
    init_telemetry(&settings, warnings)?;
    let db = Database::connect(&settings.database)
        .await
        .context("connecting to the database")?;

    match action {
        MigrateAction::Up => {
            let applied = db.migrate().await.context("applying migrations")?;
            println!("applied {applied} migration(s); the schema is current");
        }
        MigrateAction::Status => {
            for migration in db.migration_status().await? {
                let state = if migration.applied {
                    "applied"
                } else {
                    "pending"
                };
                println!("{state:<8} {}", migration.name);
            }
        }
    }
    db.close().await?;
    Ok(())
}
