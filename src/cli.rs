//! The command line: `serve`, `migrate`, `token`, `jobs`, `settings` and `dev`, each taking
//! `DATABASE_URL`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::{Loaded, Settings};
use crate::scim::token::TokenId;
use crate::startup::{Application, shutdown_signal};
use crate::store::Database;
use crate::store::entity::shop;
use crate::store::sync as store_sync;
use crate::store::{shops, tokens};
use crate::sync::settings::SyncSettings;
use crate::types::{ShopDomain, ShopHandle};
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
    /// Create, list and revoke a shop's SCIM bearer tokens.
    Token {
        /// What to do with tokens.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// List and retry sync jobs.
    Jobs {
        /// What to do with jobs.
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Show a shop's sync settings, or replace them with a validated JSON file.
    Settings {
        /// Shop domain or handle.
        #[arg(long)]
        shop: String,
        /// JSON file with the new sync settings (mapping, tags, `on_delete`,
        /// `adopt_existing`); they are shown when omitted.
        #[arg(long, value_name = "FILE")]
        set: Option<PathBuf>,
    },
    /// Run locally with no configuration: loopback, SQLite under the data directory,
    /// generated development secrets and the local Shopify stand-in.
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

/// Token actions.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it (only it) on stdout; it is shown this once.
    ///
    /// A shop that does not exist yet is created in the "not installed" state, so its SCIM
    /// endpoint can be tried before the Shopify side is wired.
    Create {
        /// Shop domain (`name.myshopify.com`) or handle (`name`).
        #[arg(long)]
        shop: String,
        /// A label that says who uses the token (e.g. `okta-prod`).
        #[arg(long, default_value = "cli")]
        label: String,
        /// Lifetime such as `90d`, `12h`, `30m` or `3600s`; no expiry when omitted.
        #[arg(long, value_parser = parse_lifetime)]
        expires_in: Option<chrono::Duration>,
    },
    /// List a shop's tokens: ids, labels and dates, never secrets.
    List {
        /// Shop domain or handle.
        #[arg(long)]
        shop: String,
    },
    /// Revoke a token by its id (the 16 hex digits after `shopscim_`).
    Revoke {
        /// Token id.
        id: String,
    },
}

/// Job actions.
#[derive(Debug, Clone, Subcommand)]
pub enum JobsAction {
    /// List jobs: the parked ones with `--failed`, otherwise the open jobs of `--shop`.
    List {
        /// Only jobs parked as failed, with their last error.
        #[arg(long)]
        failed: bool,
        /// Only this shop's jobs.
        #[arg(long)]
        shop: Option<String>,
    },
    /// Queue parked jobs again: one by id, or all with `--all`.
    Retry {
        /// Job id (from `jobs list --failed`).
        id: Option<i64>,
        /// Every parked job.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
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
            Command::Token { action } => token(settings, &warnings, action).await,
            Command::Jobs { action } => jobs(settings, &warnings, action).await,
            Command::Settings { shop, set } => {
                shop_settings(settings, &warnings, &shop, set.as_deref()).await
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

/// Where a command's logs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// Long-running services log to stdout.
    Stdout,
    /// One-shot commands keep stdout for their output and log to stderr.
    Stderr,
}

/// Installs telemetry and logs the warnings found while loading settings.
pub fn init_telemetry(
    settings: &Settings,
    warnings: &[String],
    target: LogTarget,
) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;

    match target {
        LogTarget::Stdout => {
            let ansi = std::io::stdout().is_terminal();
            telemetry::init(&settings.log, std::io::stdout, ansi)?;
        }
        LogTarget::Stderr => {
            let ansi = std::io::stderr().is_terminal();
            telemetry::init(&settings.log, std::io::stderr, ansi)?;
        }
    }
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
    init_telemetry(&settings, warnings, LogTarget::Stdout)?;

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
    init_telemetry(&settings, warnings, LogTarget::Stderr)?;
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

async fn token(settings: Settings, warnings: &[String], action: TokenAction) -> anyhow::Result<()> {
    let db = open(&settings, warnings).await?;

    match action {
        TokenAction::Create {
            shop,
            label,
            expires_in,
        } => {
            let domain = parse_shop(&shop)?;
            let shop = shops::find_or_create(&db, &domain).await?;
            let expires_at = expires_in.map(|lifetime| chrono::Utc::now() + lifetime);
            let (_, plaintext) = tokens::create(&db, shop.id, &label, expires_at, "cli").await?;
            println!("{}", plaintext.expose_secret());
        }
        TokenAction::List { shop } => {
            let shop = existing_shop(&db, &shop).await?;
            println!("{}", token_table(&tokens::list(&db, shop.id).await?));
        }
        TokenAction::Revoke { id } => {
            let id = TokenId::parse(&id).map_err(|_| anyhow::anyhow!("not a token id: {id}"))?;
            let shop = tokens::shop_of_token(&db, &id)
                .await?
                .with_context(|| format!("no token {id}"))?;
            if tokens::revoke(&db, shop.id, &id).await? {
                println!("revoked token {id} of {}", shop.domain);
            } else {
                println!("token {id} of {} was already revoked", shop.domain);
            }
        }
    }
    db.close().await?;
    Ok(())
}

async fn open(settings: &Settings, warnings: &[String]) -> anyhow::Result<Database> {
    init_telemetry(settings, warnings, LogTarget::Stderr)?;
    let db = Database::connect(&settings.database)
        .await
        .context("connecting to the database")?;
    db.migrate().await.context("applying migrations")?;
    Ok(db)
}

async fn jobs(settings: Settings, warnings: &[String], action: JobsAction) -> anyhow::Result<()> {
    let db = open(&settings, warnings).await?;

    match action {
        JobsAction::List { failed, shop } => {
            let shop_id = match shop {
                Some(shop) => Some(existing_shop(&db, &shop).await?.id),
                None => None,
            };
            let listed = match (failed, shop_id) {
                (true, shop_id) => store_sync::failed_jobs(&db, shop_id).await?,
                (false, Some(shop_id)) => store_sync::open_jobs(&db, shop_id).await?,
                (false, None) => anyhow::bail!("name a shop with --shop, or list --failed jobs"),
            };
            println!("{}", job_table(&listed));
        }
        JobsAction::Retry { id, all } => {
            anyhow::ensure!(id.is_some() || all, "name a job id, or --all");
            let queued = store_sync::retry_failed(&db, id).await?;
            if let (Some(id), 0) = (id, queued) {
                anyhow::bail!("no parked job {id}");
            }
            println!("queued {queued} job(s) again");
        }
    }
    db.close().await?;
    Ok(())
}

fn job_table(jobs: &[crate::store::entity::sync_job::Model]) -> String {
    let mut table = format!(
        "{:<8}  {:<6}  {:<5}  {:<36}  {:<8}  {:<8}  {}",
        "ID", "SHOP", "KIND", "SUBJECT", "STATUS", "ATTEMPTS", "LAST ERROR"
    );
    for job in jobs {
        table.push_str(&format!(
            "\n{:<8}  {:<6}  {:<5}  {:<36}  {:<8}  {:<8}  {}",
            job.id,
            job.shop_id,
            job.kind,
            job.subject_id,
            job.status,
            job.attempts,
            job.last_error.as_deref().unwrap_or("-"),
        ));
    }
    table
}

async fn shop_settings(
    settings: Settings,
    warnings: &[String],
    shop: &str,
    file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let db = open(&settings, warnings).await?;
    let domain = parse_shop(shop)?;
    let row = shops::find_or_create(&db, &domain).await?;

    let sync = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            let parsed = SyncSettings::parse(&value)
                .map_err(|error| anyhow::anyhow!("invalid sync settings: {error}"))?;
            let stored = parsed
                .store_into(&row.settings)
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            shops::set_settings(&db, row.id, &stored).await?;
            parsed
        }
        None => SyncSettings::from_shop_settings(&row.settings)
            .map_err(|error| anyhow::anyhow!("the stored settings are invalid: {error}"))?,
    };
    println!("{}", serde_json::to_string_pretty(&sync)?);
    db.close().await?;
    Ok(())
}

/// The stored shop named by a domain or handle; an error when there is none.
async fn existing_shop(db: &Database, text: &str) -> anyhow::Result<shop::Model> {
    let domain = parse_shop(text)?;
    shops::find_by_domain(db, &domain)
        .await?
        .with_context(|| format!("no shop {domain}"))
}

/// Accepts a shop domain or a bare handle.
fn parse_shop(text: &str) -> anyhow::Result<ShopDomain> {
    let domain = if text.contains('.') {
        ShopDomain::parse(text)
    } else {
        ShopHandle::parse(text).map(|handle| handle.domain())
    };
    domain.map_err(|error| anyhow::anyhow!("--shop {text:?}: {error}"))
}

/// Parses `90d`, `12h`, `30m` or `3600s` into a positive duration.
fn parse_lifetime(text: &str) -> Result<chrono::Duration, String> {
    let usage = || format!("{text:?} is not a lifetime such as 90d, 12h, 30m or 3600s");
    let split = text.len().checked_sub(1).ok_or_else(usage)?;
    let (number, unit) = text.split_at(split);
    let amount: i64 = number.parse().map_err(|_| usage())?;
    let lifetime = match unit {
        "d" => chrono::Duration::try_days(amount),
        "h" => chrono::Duration::try_hours(amount),
        "m" => chrono::Duration::try_minutes(amount),
        "s" => chrono::Duration::try_seconds(amount),
        _ => None,
    };
    lifetime
        .filter(|d| *d > chrono::Duration::zero())
        .ok_or_else(usage)
}

fn token_table(tokens: &[tokens::TokenInfo]) -> String {
    let date = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or("-".to_owned(), |at| at.format("%Y-%m-%d %H:%M").to_string())
    };
    let mut table = format!(
        "{:<16}  {:<20}  {:<16}  {:<16}  {:<16}  {}",
        "ID", "LABEL", "CREATED", "EXPIRES", "LAST USED", "STATUS"
    );
    for token in tokens {
        let now = chrono::Utc::now();
        let status = match (token.revoked_at, token.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(at)) if at <= now => "expired",
            _ => "active",
        };
        table.push_str(&format!(
            "\n{:<16}  {:<20}  {:<16}  {:<16}  {:<16}  {status}",
            token.id,
            token.label,
            date(Some(token.created_at)),
            date(token.expires_at),
            date(token.last_used_at),
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_accept_days_hours_minutes_and_seconds() {
        assert_eq!(parse_lifetime("90d"), Ok(chrono::Duration::days(90)));
        assert_eq!(parse_lifetime("12h"), Ok(chrono::Duration::hours(12)));
        assert_eq!(parse_lifetime("30m"), Ok(chrono::Duration::minutes(30)));
        assert_eq!(parse_lifetime("2s"), Ok(chrono::Duration::seconds(2)));
    }

    #[test]
    fn malformed_or_non_positive_lifetimes_are_rejected() {
        for text in [
            "",
            "d",
            "10",
            "10w",
            "-5d",
            "0h",
            "1.5h",
            "99999999999999999d",
        ] {
            assert!(parse_lifetime(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn shops_are_named_by_domain_or_handle() {
        assert_eq!(parse_shop("demo").unwrap().as_str(), "demo.myshopify.com");
        assert_eq!(
            parse_shop("Demo.myshopify.com").unwrap().as_str(),
            "demo.myshopify.com"
        );
        assert!(parse_shop("demo.example.com").is_err());
        assert!(parse_shop("https://demo.myshopify.com").is_err());
    }
}
