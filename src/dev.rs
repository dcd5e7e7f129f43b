//! `shopify-scim dev`: the service on loopback with SQLite and generated secrets, so a
//! newcomer can run it with no configuration at all.
//!
//! Generated secrets are kept in `<data dir>/dev-secrets.toml` (mode 0600) so that data
//! encrypted in one run can be read in the next. They are for local use only.
//!
//! With the `standin` feature (a default one), `dev` also starts the local Shopify
//! stand-in (crate `shopify-standin`) on loopback, points `shopify.admin_base_url` at it
//! and points its webhooks at the app. This module is the only production code that knows
//! the stand-in exists; release builds leave it out with `--no-default-features`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::cli::{LogTarget, init_telemetry};
use crate::config::{DatabaseSettings, Settings};
use crate::startup::{Application, shutdown_signal};
use crate::store::{Backend, Database};

/// File name of the generated secrets inside the data directory.
pub const SECRETS_FILE: &str = "dev-secrets.toml";

/// What `dev` was asked for on the command line.
#[derive(Debug)]
pub struct DevOptions {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Directory for the SQLite file and the secrets.
    pub data_dir: PathBuf,
    /// A database URL given explicitly; otherwise SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
}

/// The secrets `dev` generates once and then reuses.
#[derive(Serialize, Deserialize)]
struct DevSecrets {
    api_key: String,
    api_secret: String,
    token_encryption_key: String,
}

impl std::fmt::Debug for DevSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevSecrets")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// Prepares settings for local development and serves until SIGINT/SIGTERM.
pub async fn run(
    settings: Settings,
    warnings: &[String],
    options: DevOptions,
) -> anyhow::Result<()> {
    let mut settings = dev_settings(settings, &options)?;
    let stop = shutdown_signal()?;
    init_telemetry(&settings, warnings, LogTarget::Stdout)?;
    let shopify = stand_in::start(&mut settings).await?;

    let db = Database::connect(&settings.database)
        .await
        .context("opening the development database")?;
    db.migrate().await.context("applying migrations")?;
    let database_label = describe_database(&settings.database, db.backend());
    let app = Application::build(&settings, db.clone()).with_context(|| {
        format!(
            "starting on {} (choose another with --listen)",
            options.listen
        )
    })?;

    let address = SocketAddr::new(options.listen.ip(), app.port());
    let app_url = Url::parse(&format!("http://{address}")).context("building the app URL")?;
    let public_url = settings
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| app_url.clone());
    let announce = async {
        let demo = shopify.install_demo(&app_url, &public_url, &db).await;
        println!(
            "{}{}{}{}",
            banner_head(address, &database_label, &options.data_dir),
            shopify.describe(),
            demo,
            banner_tail(address),
        );
    };
    let (served, ()) = tokio::join!(app.run_until_stopped(stop), announce);
    shopify.stop().await;
    served
}

/// Fills in everything `dev` decides: address, public URL, database and secrets.
fn dev_settings(mut settings: Settings, options: &DevOptions) -> anyhow::Result<Settings> {
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let secrets = load_or_create_secrets(&options.data_dir.join(SECRETS_FILE))?;

    settings.server.listen = concrete_port(options.listen)?;
    if settings.server.public_url.is_none() {
        let url = Url::parse(&format!("http://{}", settings.server.listen))
            .context("building the local public URL")?;
        settings.server.public_url = Some(url);
    }
    settings.database = match &options.database_url {
        Some(url) => DatabaseSettings {
            url: url.clone(),
            ..settings.database
        },
        None => DatabaseSettings {
            url: SecretString::from(sqlite_url(&options.data_dir)),
            ..settings.database
        },
    };
    settings.shopify.api_key.get_or_insert(secrets.api_key);
    settings
        .shopify
        .api_secret
        .get_or_insert_with(|| SecretString::from(secrets.api_secret));
    settings
        .security
        .token_encryption_key
        .get_or_insert_with(|| SecretString::from(secrets.token_encryption_key));

    settings.validate()?;
    settings.require_for_serve()?;
    Ok(settings)
}

/// `listen` with port 0 replaced by a port that is free now, so that the public URL and the
/// printed URLs name the port the app will serve on.
fn concrete_port(listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    if listen.port() != 0 {
        return Ok(listen);
    }
    let probe = std::net::TcpListener::bind(listen)
        .with_context(|| format!("finding a free port on {}", listen.ip()))?;
    Ok(probe.local_addr()?)
}

fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("shopify-scim.db").display())
}

fn describe_database(settings: &DatabaseSettings, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => format!("SQLite ({})", settings.url.expose_secret()),
        Backend::Postgres => "PostgreSQL (from DATABASE_URL)".to_owned(),
    }
}

fn load_or_create_secrets(path: &Path) -> anyhow::Result<DevSecrets> {
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return toml::from_str(&text).with_context(|| {
            format!(
                "{} is not valid; delete it to generate new secrets",
                path.display()
            )
        });
    }

    let secrets = DevSecrets {
        api_key: format!("dev-{}", hex(&random_bytes::<16>()?)),
        api_secret: format!("dev-secret-{}", hex(&random_bytes::<32>()?)),
        token_encryption_key: base64::engine::general_purpose::STANDARD
            .encode(random_bytes::<32>()?),
    };
    let text = toml::to_string(&secrets).context("encoding the development secrets")?;
    write_private(path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok(secrets)
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("reading OS randomness: {error}"))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

fn banner_head(address: SocketAddr, database: &str, data_dir: &Path) -> String {
    let base = format!("http://{address}");
    format!(
        "\n\
         shopify-scim dev is running.\n\
         \n  App:        {base}\
         \n  Health:     {base}/healthz\
         \n  Readiness:  {base}/readyz\
         \n  Database:   {database}\
         \n  Secrets:    {secrets} (generated, local use only)\n\n",
        secrets = data_dir.join(SECRETS_FILE).display(),
    )
}

fn banner_tail(address: SocketAddr) -> String {
    format!(
        "\n\
         \nNext steps:\
         \n  curl http://{address}/healthz\
         \n  cargo test            runs the whole test suite (no database server needed)\
         \n  Ctrl-C                stops the service\n"
    )
}

/// The local Shopify stand-in, when this build has it.
#[cfg(feature = "standin")]
mod stand_in {
    use anyhow::Context as _;
    use secrecy::ExposeSecret as _;
    use shopify_standin::{Plan, RunningStandIn, StandIn, StandInConfig};
    use url::Url;

    use crate::config::{DEFAULT_ADMIN_BASE_URL, DEFAULT_APP_BRIDGE_URL, Settings};
    use crate::shopify::embedded::AppUrls;
    use crate::store::{Database, shops, tokens};
    use crate::types::ShopDomain;

    /// The shop the stand-in creates, matching the README's `token create --shop demo`.
    pub const DEMO_SHOP: &str = "demo.myshopify.com";

    /// The stand-in `dev` started, or why it did not start one.
    pub enum Shopify {
        /// Serving on loopback; the app's admin base URL points at it.
        StandIn(RunningStandIn),
        /// `shopify.admin_base_url` was configured, so `dev` leaves it alone.
        Configured(String),
    }

    /// Starts the stand-in with the app's credentials and points the admin base URL at
    /// it, unless that setting was configured explicitly.
    pub async fn start(settings: &mut Settings) -> anyhow::Result<Shopify> {
        if settings.shopify.admin_base_url != DEFAULT_ADMIN_BASE_URL {
            return Ok(Shopify::Configured(settings.shopify.admin_base_url.clone()));
        }
        let api_key = settings.shopify.api_key.clone().unwrap_or_default();
        let api_secret = settings
            .shopify
            .api_secret
            .as_ref()
            .map(|secret| secret.expose_secret().to_owned())
            .unwrap_or_default();
        let config = StandInConfig::new(api_key, api_secret).with_shop(DEMO_SHOP, Plan::Standard);

        let standin = StandIn::start(config)
            .await
            .context("starting the local Shopify stand-in")?;
        settings.shopify.admin_base_url = standin.admin_base_url_template();
        if settings.shopify.app_bridge_url == DEFAULT_APP_BRIDGE_URL {
            settings.shopify.app_bridge_url = format!("{}_standin/app-bridge.js", standin.url());
        }
        settings
            .validate()
            .context("checking the stand-in's admin base URL")?;
        Ok(Shopify::StandIn(standin))
    }

    impl Shopify {
        /// Points webhooks at the app and says where the stand-in is and how to look.
        pub fn describe(&self) -> String {
            match self {
                Self::StandIn(standin) => {
                    let url = standin.url();
                    format!(
                        "Shopify stand-in: {url}\
                         \n  Admin base URL: {template}\
                         \n  Demo shop:      {DEMO_SHOP}\
                         \n  Inspect it:     curl {url}_standin/shops\
                         \n                  curl {url}_standin/webhooks",
                        template = standin.admin_base_url_template(),
                    )
                }
                Self::Configured(template) => {
                    format!("Shopify admin:  {template} (from configuration; no stand-in)")
                }
            }
        }

        /// Points the stand-in at the app, installs the app on the demo shop the way
        /// Shopify admin would (its first embedded load, which the app answers with a
        /// token exchange), creates a SCIM token and says how to use both.
        pub async fn install_demo(&self, app_url: &Url, public_url: &Url, db: &Database) -> String {
            let Self::StandIn(standin) = self else {
                return String::new();
            };
            standin.set_app_url(app_url.join("app").unwrap_or_else(|_| app_url.clone()));
            standin.set_webhook_targets(shopify_standin::WebhookTargets::under(app_url));
            match install(standin, db).await {
                Ok((domain, token)) => {
                    let urls = AppUrls {
                        public_url: public_url.clone(),
                    };
                    let scim = urls.scim_base_url(&domain);
                    let admin = format!("{}_standin/shops/demo/launch", standin.url());
                    format!(
                        "\n\nDemo shop installed through token exchange.\
                         \n  SCIM base URL: {scim}\
                         \n  SCIM token: {token}\
                         \n  Create a user:\
                         \n    curl -H 'Authorization: Bearer {token}' \\\
                         \n      -H 'Content-Type: application/scim+json' \\\
                         \n      -d '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\
                         \"userName\":\"ada@example.com\"}}' \\\
                         \n      {scim}/Users\
                         \n  Admin page:    {admin}\
                         \n                 (opens the app as Shopify admin would, with a fresh \
                         session token)"
                    )
                }
                Err(error) => {
                    tracing::warn!(
                        error = %format!("{error:#}"),
                        "installing the demo shop failed"
                    );
                    format!("\n\nThe demo shop could not be installed: {error:#}")
                }
            }
        }

        /// Stops the stand-in, if one was started.
        pub async fn stop(self) {
            if let Self::StandIn(standin) = self {
                standin.stop().await;
            }
        }
    }

    /// Loads the app's launch URL like Shopify admin, then makes a SCIM token; answers the
    /// shop and the token.
    async fn install(
        standin: &RunningStandIn,
        db: &Database,
    ) -> anyhow::Result<(ShopDomain, String)> {
        let launch = standin
            .launch_url(DEMO_SHOP)
            .context("signing the demo shop's launch URL")?;
        let response = reqwest::get(launch)
            .await
            .context("loading the app as Shopify admin")?;
        anyhow::ensure!(
            response.status().is_success(),
            "the app answered {} to its first embedded load",
            response.status()
        );

        let domain = ShopDomain::parse(DEMO_SHOP).context("the demo shop's domain")?;
        let shop = shops::find_by_domain(db, &domain)
            .await?
            .context("the demo shop was not stored")?;
        let (_, token) = tokens::create(db, shop.id, "dev", None, "dev").await?;
        Ok((domain, token.expose_secret().to_owned()))
    }
}

/// Stands in for the stand-in in builds without it.
#[cfg(not(feature = "standin"))]
mod stand_in {
    use url::Url;

    use crate::config::Settings;

    /// Nothing was started.
    pub struct Shopify(String);

    /// Starts nothing; the admin base URL stays as configured.
    pub async fn start(settings: &mut Settings) -> anyhow::Result<Shopify> {
        Ok(Shopify(settings.shopify.admin_base_url.clone()))
    }

    impl Shopify {
        /// Nothing to install without a stand-in.
        pub async fn install_demo(
            &self,
            _app_url: &Url,
            _public_url: &Url,
            _db: &crate::store::Database,
        ) -> String {
            String::new()
        }

        /// Says that this build has no stand-in.
        pub fn describe(&self) -> String {
            format!(
                "Shopify stand-in: not built in (build with the default `standin` feature); \
                 Shopify admin: {}",
                self.0
            )
        }

        /// Nothing to stop.
        pub async fn stop(self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path) -> DevOptions {
        DevOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.to_path_buf(),
            database_url: None,
        }
    }

    #[test]
    fn dev_settings_satisfy_serve_with_no_configuration() {
        let dir = tempfile::tempdir().unwrap();

        let settings = dev_settings(Settings::defaults(), &options(dir.path())).unwrap();

        assert!(settings.require_for_serve().is_ok());
        assert!(
            settings
                .database
                .url
                .expose_secret()
                .starts_with("sqlite://")
        );
        assert!(
            settings
                .database
                .url
                .expose_secret()
                .contains(dir.path().to_str().unwrap())
        );
    }

    #[test]
    fn generated_secrets_are_reused_across_runs() {
        let dir = tempfile::tempdir().unwrap();

        let first = dev_settings(Settings::defaults(), &options(dir.path())).unwrap();
        let second = dev_settings(Settings::defaults(), &options(dir.path())).unwrap();

        let key = |s: &Settings| {
            s.security
                .token_encryption_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned())
        };
        assert!(key(&first).is_some());
        assert_eq!(key(&first), key(&second));
    }

    #[test]
    fn production_builds_can_leave_the_stand_in_out() {
        let manifest: toml::Table = toml::from_str(include_str!("../Cargo.toml")).unwrap();

        let dependency = &manifest["dependencies"]["shopify-standin"];
        let features = manifest["features"].as_table().unwrap();
        let enabling: Vec<&String> = features
            .iter()
            .filter(|(_, enables)| {
                enables
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|item| item.as_str().unwrap().contains("shopify-standin"))
            })
            .map(|(name, _)| name)
            .collect();

        assert_eq!(dependency["optional"].as_bool(), Some(true));
        assert_eq!(enabling, ["standin"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_secrets_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();

        dev_settings(Settings::defaults(), &options(dir.path())).unwrap();

        let mode = std::fs::metadata(dir.path().join(SECRETS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
