//! Typed, layered settings: built-in defaults, then an optional TOML file, then environment
//! variables (`SHOPIFY_SCIM_SECTION__KEY`, plus the conventional `DATABASE_URL`).
//!
//! Secrets stay in [`SecretString`] from the moment they are read; nothing in this module
//! prints them. Every setting is listed once in [`SETTINGS`], which is also what the README
//! table and the unknown-variable warning are checked against.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::types::ShopDomain;

/// Prefix of every environment variable this service reads (apart from `DATABASE_URL`).
pub const ENV_PREFIX: &str = "SHOPIFY_SCIM_";

/// The SQLite database used when no `DATABASE_URL` is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/shopify-scim.db";

/// Where a shop's admin lives in production: `{shop}` becomes its `*.myshopify.com` domain.
pub const DEFAULT_ADMIN_BASE_URL: &str = "https://{shop}";

/// The placeholder in [`ShopifySettings::admin_base_url`].
pub const SHOP_PLACEHOLDER: &str = "{shop}";

/// Admin API version the app calls and its webhooks are serialised with.
pub const DEFAULT_API_VERSION: &str = "2026-07";

/// Access scopes the app asks for.
pub const DEFAULT_SCOPES: &str = "read_customers,write_customers";

/// Where Shopify serves App Bridge.
pub const DEFAULT_APP_BRIDGE_URL: &str = "https://cdn.shopify.com/shopifycloud/app-bridge.js";

/// Where Shopify serves the Polaris web components.
pub const DEFAULT_POLARIS_URL: &str = "https://cdn.shopify.com/shopifycloud/polaris.js";

/// Errors raised while loading or validating settings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer held a value of the wrong type or shape; figment names the layer and the key.
    #[error("invalid configuration: {0}")]
    Invalid(Box<figment::Error>),
    /// A setting that the chosen command needs has no value in any layer.
    #[error("missing required setting `{key}`: set the environment variable {env}")]
    Missing {
        /// Dotted key, as written in the TOML file.
        key: &'static str,
        /// Environment variable that supplies it.
        env: String,
    },
    /// A value is present but unusable.
    #[error("invalid value for `{key}` ({env}): {reason}")]
    InvalidValue {
        /// Dotted key, as written in the TOML file.
        key: &'static str,
        /// Environment variable that supplies it.
        env: String,
        /// What is wrong with it (never the value itself).
        reason: String,
    },
}

impl From<figment::Error> for Error {
    fn from(error: figment::Error) -> Self {
        Self::Invalid(Box::new(error))
    }
}

/// One documented setting.
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    /// Dotted key as written in the TOML file.
    pub key: &'static str,
    /// Default value, as text, or `None` when the setting has no default.
    pub default: Option<&'static str>,
    /// What the setting does.
    pub description: &'static str,
}

impl SettingDoc {
    /// The environment variable that supplies this setting.
    pub fn env_var(&self) -> String {
        env_var_for(self.key)
    }
}

/// Every setting the service reads, in the order the README documents them.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "server.listen",
        default: Some("127.0.0.1:8080"),
        description: "Socket address the HTTP server binds.",
    },
    SettingDoc {
        key: "server.public_url",
        default: None,
        description: "Public base URL of the app (https); SCIM base URLs and Shopify \
                      redirects are built from it. Required by `serve`.",
    },
    SettingDoc {
        key: "server.max_body_bytes",
        default: Some("1048576"),
        description: "Largest request body accepted; larger ones get 413.",
    },
    SettingDoc {
        key: "server.shutdown_timeout_secs",
        default: Some("30"),
        description: "How long in-flight requests may take to finish after SIGINT/SIGTERM.",
    },
    SettingDoc {
        key: "server.readiness_timeout_ms",
        default: Some("2000"),
        description: "Time budget of the database check behind `GET /readyz`.",
    },
    SettingDoc {
        key: "server.workers",
        default: None,
        description: "HTTP worker threads; one per core when unset.",
    },
    SettingDoc {
        key: "database.url",
        default: Some(DEFAULT_DATABASE_URL),
        description: "`sqlite://PATH` or `postgres://...`. Also read from `DATABASE_URL`, \
                      which wins over the prefixed variable.",
    },
    SettingDoc {
        key: "database.max_connections",
        default: Some("10"),
        description: "Connection pool size.",
    },
    SettingDoc {
        key: "database.connect_timeout_secs",
        default: Some("5"),
        description: "Time allowed to open one database connection.",
    },
    SettingDoc {
        key: "database.acquire_timeout_secs",
        default: Some("5"),
        description: "Time a request may wait for a pooled connection.",
    },
    SettingDoc {
        key: "database.sqlite_busy_timeout_ms",
        default: Some("5000"),
        description: "SQLite only: how long a statement waits for a lock held by another \
                      connection.",
    },
    SettingDoc {
        key: "scim.rate_limit_per_second",
        default: Some("100"),
        description: "Requests per second one SCIM token may make on average (Entra sends \
                      up to 25); above it requests get 429 with `Retry-After`.",
    },
    SettingDoc {
        key: "scim.rate_limit_burst",
        default: Some("200"),
        description: "Requests one SCIM token may make at once before the average applies.",
    },
    SettingDoc {
        key: "shopify.api_key",
        default: None,
        description: "The app's client id from the Partner Dashboard. Required by `serve`.",
    },
    SettingDoc {
        key: "shopify.api_secret",
        default: None,
        description: "The app's client secret (signs webhooks and session tokens). Secret. \
                      Required by `serve`.",
    },
    SettingDoc {
        key: "shopify.admin_base_url",
        default: Some(DEFAULT_ADMIN_BASE_URL),
        description: "Base URL of a shop's admin (OAuth and Admin API), with `{shop}` standing \
                      for its `*.myshopify.com` domain. `dev` points it at the local Shopify \
                      stand-in.",
    },
    SettingDoc {
        key: "shopify.previous_api_secret",
        default: None,
        description: "The client secret before a rotation; webhooks, signed links and session \
                      tokens made with it are still accepted until it is removed. Secret.",
    },
    SettingDoc {
        key: "shopify.scopes",
        default: Some(DEFAULT_SCOPES),
        description: "Access scopes requested by the authorization-code install.",
    },
    SettingDoc {
        key: "shopify.api_version",
        default: Some(DEFAULT_API_VERSION),
        description: "Admin GraphQL API version the app calls.",
    },
    SettingDoc {
        key: "shopify.app_bridge_url",
        default: Some(DEFAULT_APP_BRIDGE_URL),
        description: "App Bridge script the admin page loads. `dev` points it at the \
                      stand-in's stub.",
    },
    SettingDoc {
        key: "shopify.polaris_url",
        default: Some(DEFAULT_POLARIS_URL),
        description: "Polaris web components script the admin page loads.",
    },
    SettingDoc {
        key: "sync.workers",
        default: Some("2"),
        description: "Sync workers per instance; each pushes one shop at a time. 0 runs none.",
    },
    SettingDoc {
        key: "sync.lease_secs",
        default: Some("30"),
        description: "How long a worker holds a shop without renewing; a crashed worker's \
                      shop is taken over after it.",
    },
    SettingDoc {
        key: "sync.poll_ms",
        default: Some("500"),
        description: "How often an idle worker looks for due jobs.",
    },
    SettingDoc {
        key: "sync.max_attempts",
        default: Some("8"),
        description: "Attempts before a job is parked as failed (`jobs list --failed`).",
    },
    SettingDoc {
        key: "sync.retry_base_ms",
        default: Some("1000"),
        description: "First retry delay of a failed push; it doubles each attempt, with jitter.",
    },
    SettingDoc {
        key: "sync.retry_max_secs",
        default: Some("300"),
        description: "Longest retry delay.",
    },
    SettingDoc {
        key: "security.token_encryption_key",
        default: None,
        description: "Base64 of 32 random bytes; encrypts Shopify tokens at rest \
                      (AES-256-GCM). Secret. Required by `serve`.",
    },
    SettingDoc {
        key: "log.format",
        default: Some("compact"),
        description: "`compact` (human-readable) or `json` (one object per line).",
    },
    SettingDoc {
        key: "log.filter",
        default: Some("info,sqlx=warn,sea_orm=warn"),
        description: "tracing filter directives; `RUST_LOG` overrides it.",
    },
];

/// The environment variable that supplies a dotted key.
pub fn env_var_for(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

/// All settings of the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP server.
    #[serde(default)]
    pub server: ServerSettings,
    /// Database connection.
    #[serde(default)]
    pub database: DatabaseSettings,
    /// The SCIM endpoint.
    #[serde(default)]
    pub scim: ScimSettings,
    /// Shopify app credentials.
    #[serde(default)]
    pub shopify: ShopifySettings,
    /// The sync engine.
    #[serde(default)]
    pub sync: SyncEngineSettings,
    /// Keys for data at rest.
    #[serde(default)]
    pub security: SecuritySettings,
    /// Logging.
    #[serde(default)]
    pub log: LogSettings,
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Socket address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Public base URL of the app.
    pub public_url: Option<Url>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Grace period for in-flight requests at shutdown.
    pub shutdown_timeout_secs: u64,
    /// Time budget of the readiness check.
    pub readiness_timeout_ms: u64,
    /// HTTP worker threads; `None` uses one per core.
    pub workers: Option<usize>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            shutdown_timeout_secs: 30,
            readiness_timeout_ms: 2000,
            workers: None,
        }
    }
}

impl ServerSettings {
    /// Grace period for in-flight requests at shutdown.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// Time budget of the readiness check.
    pub fn readiness_timeout(&self) -> Duration {
        Duration::from_millis(self.readiness_timeout_ms)
    }
}

/// Database settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Connection URL; may carry a password, hence secret.
    pub url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
    /// Time allowed to open one connection.
    pub connect_timeout_secs: u64,
    /// Time a caller may wait for a pooled connection.
    pub acquire_timeout_secs: u64,
    /// SQLite lock wait.
    pub sqlite_busy_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from(DEFAULT_DATABASE_URL),
            max_connections: 10,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 5,
            sqlite_busy_timeout_ms: 5000,
        }
    }
}

impl DatabaseSettings {
    /// Settings for the given URL with every other value at its default.
    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            ..Self::default()
        }
    }
}

/// SCIM endpoint settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimSettings {
    /// Average requests per second per token.
    pub rate_limit_per_second: u32,
    /// Burst size per token.
    pub rate_limit_burst: u32,
}

impl Default for ScimSettings {
    fn default() -> Self {
        Self {
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
        }
    }
}

/// Shopify app credentials and where shops are reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShopifySettings {
    /// The app's client id (public).
    pub api_key: Option<String>,
    /// The app's client secret.
    pub api_secret: Option<SecretString>,
    /// Template of a shop's admin base URL; [`SHOP_PLACEHOLDER`] becomes the shop domain.
    pub admin_base_url: String,
    /// The client secret before a rotation, still accepted on what Shopify signs.
    pub previous_api_secret: Option<SecretString>,
    /// Access scopes of the authorization-code install, comma-separated.
    pub scopes: String,
    /// Admin API version.
    pub api_version: String,
    /// App Bridge script URL.
    pub app_bridge_url: String,
    /// Polaris web components script URL.
    pub polaris_url: String,
}

impl Default for ShopifySettings {
    fn default() -> Self {
        Self {
            api_key: None,
            api_secret: None,
            admin_base_url: DEFAULT_ADMIN_BASE_URL.to_owned(),
            previous_api_secret: None,
            scopes: DEFAULT_SCOPES.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            app_bridge_url: DEFAULT_APP_BRIDGE_URL.to_owned(),
            polaris_url: DEFAULT_POLARIS_URL.to_owned(),
        }
    }
}

impl ShopifySettings {
    /// The admin base URL of `shop`, e.g. `https://demo.myshopify.com`; OAuth lives under
    /// its `/admin/oauth/` and the GraphQL Admin API under its `/admin/api/`.
    pub fn admin_url(&self, shop: &ShopDomain) -> Result<Url, Error> {
        admin_url(&self.admin_base_url, shop.as_str())
    }
}

fn admin_url(template: &str, shop: &str) -> Result<Url, Error> {
    let key = "shopify.admin_base_url";
    if !template.contains(SHOP_PLACEHOLDER) {
        return Err(invalid(key, "must contain {shop}"));
    }
    let url = Url::parse(&template.replace(SHOP_PLACEHOLDER, shop))
        .map_err(|_| invalid(key, "is not a URL once {shop} is filled in"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(key, "must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(key, "must have no query or fragment"));
    }
    Ok(url)
}

/// How the sync engine's workers run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncEngineSettings {
    /// Workers per instance; 0 runs none (another instance pushes).
    pub workers: usize,
    /// Lease of a shop (and claim of its jobs), renewed while a worker is busy with it.
    pub lease_secs: u64,
    /// Pause between looks for work when there is none.
    pub poll_ms: u64,
    /// Attempts before a job is parked as failed.
    pub max_attempts: i32,
    /// First retry delay; it doubles with each attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay.
    pub retry_max_secs: u64,
}

impl Default for SyncEngineSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            lease_secs: 30,
            poll_ms: 500,
            max_attempts: 8,
            retry_base_ms: 1000,
            retry_max_secs: 300,
        }
    }
}

/// Keys protecting data at rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Base64 of the 32-byte AES-256-GCM key for Shopify tokens.
    pub token_encryption_key: Option<SecretString>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable single lines.
    #[default]
    Compact,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// tracing filter directives.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Compact,
            filter: "info,sqlx=warn,sea_orm=warn".to_owned(),
        }
    }
}

/// Settings together with the warnings found while loading them.
#[derive(Debug)]
pub struct Loaded {
    /// The merged settings.
    pub settings: Settings,
    /// Messages for the operator (unknown variables), to log once telemetry is up.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Built-in defaults only; tests and `dev` start from here.
    pub fn defaults() -> Self {
        Self {
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            scim: ScimSettings::default(),
            shopify: ShopifySettings::default(),
            sync: SyncEngineSettings::default(),
            security: SecuritySettings::default(),
            log: LogSettings::default(),
        }
    }

    /// Merges defaults, the optional TOML file and the process environment.
    ///
    /// A named file that does not exist is an error; without a name no file is read.
    pub fn load(file: Option<&Path>) -> Result<Loaded, Error> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(Error::InvalidValue {
                    key: "config",
                    env: format!("{ENV_PREFIX}CONFIG"),
                    reason: format!("no configuration file at {}", path.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let known_env = Env::prefixed(ENV_PREFIX).filter(|key| {
            SETTINGS.iter().any(|doc| {
                key.as_str()
                    .eq_ignore_ascii_case(&doc.key.replace('.', "__"))
            })
        });
        figment = figment.merge(known_env.split("__"));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database.url", url));
        }

        let settings: Settings = figment.extract()?;
        settings.validate()?;

        let warnings = unknown_env_vars(std::env::vars().map(|(key, _)| key))
            .into_iter()
            .map(|var| format!("ignoring unknown environment variable {var}"))
            .collect();
        Ok(Loaded { settings, warnings })
    }

    /// Checks the values whose shape serde cannot express.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(key) = &self.security.token_encryption_key {
            decode_encryption_key(key)?;
        }
        if let Some(url) = &self.server.public_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(invalid("server.public_url", "must be an http or https URL"));
        }
        admin_url(&self.shopify.admin_base_url, "example.myshopify.com")?;
        for (key, value) in [
            ("shopify.app_bridge_url", &self.shopify.app_bridge_url),
            ("shopify.polaris_url", &self.shopify.polaris_url),
        ] {
            let scheme = Url::parse(value).map(|url| url.scheme().to_owned());
            if !matches!(scheme.as_deref(), Ok("http" | "https")) {
                return Err(invalid(key, "must be an http or https URL"));
            }
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }

    /// Checks that everything `serve` needs is present, naming the first missing variable.
    pub fn require_for_serve(&self) -> Result<(), Error> {
        if self.server.public_url.is_none() {
            return Err(missing("server.public_url"));
        }
        if self.shopify.api_key.as_deref().is_none_or(str::is_empty) {
            return Err(missing("shopify.api_key"));
        }
        if self
            .shopify
            .api_secret
            .as_ref()
            .is_none_or(|secret| secret.expose_secret().is_empty())
        {
            return Err(missing("shopify.api_secret"));
        }
        if self.security.token_encryption_key.is_none() {
            return Err(missing("security.token_encryption_key"));
        }
        Ok(())
    }
}

/// Decodes and length-checks the token encryption key.
pub fn decode_encryption_key(key: &SecretString) -> Result<[u8; 32], Error> {
    use base64::Engine as _;

    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key.expose_secret().trim())
        .map_err(|_| invalid("security.token_encryption_key", "is not valid base64"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        invalid(
            "security.token_encryption_key",
            "must decode to exactly 32 bytes",
        )
    })
}

/// Names of prefixed variables in `vars` that match no known setting.
pub fn unknown_env_vars(vars: impl IntoIterator<Item = String>) -> Vec<String> {
    let known: Vec<String> = SETTINGS
        .iter()
        .map(SettingDoc::env_var)
        .chain([format!("{ENV_PREFIX}CONFIG")])
        .collect();
    let mut unknown: Vec<String> = vars
        .into_iter()
        .filter(|var| var.starts_with(ENV_PREFIX) && !known.contains(var))
        .collect();
    unknown.sort();
    unknown
}

fn missing(key: &'static str) -> Error {
    Error::Missing {
        key,
        env: env_var_for(key),
    }
}

fn invalid(key: &'static str, reason: &str) -> Error {
    Error::InvalidValue {
        key,
        env: env_var_for(key),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail fixes the closures' error type to figment::Error"
)]
mod tests {
    use super::*;

    fn complete_env(jail: &mut figment::Jail) {
        jail.set_env(
            "SHOPIFY_SCIM_SERVER__PUBLIC_URL",
            "https://scim.example.com",
        );
        jail.set_env("SHOPIFY_SCIM_SHOPIFY__API_KEY", "client-id");
        jail.set_env("SHOPIFY_SCIM_SHOPIFY__API_SECRET", "shpss_secret");
        jail.set_env(
            "SHOPIFY_SCIM_SECURITY__TOKEN_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        );
    }

    #[test]
    fn env_var_names_follow_the_prefix_and_double_underscore_rule() {
        assert_eq!(env_var_for("server.listen"), "SHOPIFY_SCIM_SERVER__LISTEN");
        assert_eq!(
            env_var_for("database.sqlite_busy_timeout_ms"),
            "SHOPIFY_SCIM_DATABASE__SQLITE_BUSY_TIMEOUT_MS"
        );
    }

    #[test]
    fn defaults_use_sqlite_under_data_and_loopback() {
        figment::Jail::expect_with(|_| {
            let loaded = Settings::load(None).map_err(|e| e.to_string())?;

            assert_eq!(loaded.settings.server.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(
                loaded.settings.database.url.expose_secret(),
                DEFAULT_DATABASE_URL
            );
            assert_eq!(loaded.settings.log.format, LogFormat::Compact);
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "app.toml",
                "[server]\nlisten = \"127.0.0.1:9000\"\nmax_body_bytes = 10\n",
            )?;
            jail.set_env("SHOPIFY_SCIM_SERVER__MAX_BODY_BYTES", "20");
            jail.set_env("DATABASE_URL", "postgres://localhost/x");

            let loaded = Settings::load(Some(Path::new("app.toml"))).map_err(|e| e.to_string())?;

            assert_eq!(loaded.settings.server.listen.port(), 9000);
            assert_eq!(loaded.settings.server.max_body_bytes, 20);
            assert_eq!(
                loaded.settings.database.url.expose_secret(),
                "postgres://localhost/x"
            );
            Ok(())
        });
    }

    #[test]
    fn a_missing_required_value_names_its_variable() {
        figment::Jail::expect_with(|jail| {
            complete_env(jail);
            jail.set_env("SHOPIFY_SCIM_SHOPIFY__API_SECRET", "");

            let loaded = Settings::load(None).map_err(|e| e.to_string())?;
            let error = loaded.settings.require_for_serve().unwrap_err();

            assert!(
                error
                    .to_string()
                    .contains("SHOPIFY_SCIM_SHOPIFY__API_SECRET"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_complete_environment_satisfies_serve() {
        figment::Jail::expect_with(|jail| {
            complete_env(jail);

            let loaded = Settings::load(None).map_err(|e| e.to_string())?;

            assert!(loaded.settings.require_for_serve().is_ok());
            Ok(())
        });
    }

    #[test]
    fn unknown_prefixed_variables_are_reported_and_others_ignored() {
        let vars = [
            "SHOPIFY_SCIM_SERVER__LISTEN",
            "SHOPIFY_SCIM_SERVER__LISTN",
            "SHOPIFY_SCIM_CONFIG",
            "PATH",
        ]
        .map(String::from);

        assert_eq!(
            unknown_env_vars(vars),
            vec!["SHOPIFY_SCIM_SERVER__LISTN".to_owned()]
        );
    }

    #[test]
    fn a_short_encryption_key_is_rejected_without_echoing_it() {
        let error = decode_encryption_key(&SecretString::from("c2hvcnQ=")).unwrap_err();

        assert!(error.to_string().contains("32 bytes"));
        assert!(!error.to_string().contains("c2hvcnQ="));
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("app.toml", "[server]\nlisten_port = 1\n")?;

            let error = Settings::load(Some(Path::new("app.toml"))).unwrap_err();

            assert!(error.to_string().contains("listen_port"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_readme_documents_every_setting_with_its_variable_and_default() {
        let readme = include_str!("../README.md");

        for doc in SETTINGS {
            let row = readme
                .lines()
                .find(|line| line.starts_with(&format!("| `{}` |", doc.env_var())))
                .unwrap_or_else(|| panic!("README has no row for {}", doc.env_var()));
            assert!(row.contains(&format!("`{}`", doc.key)), "{row}");
            let default = doc.default.map_or("none".to_owned(), |d| format!("`{d}`"));
            assert!(
                row.contains(&default),
                "{row} should name the default {default}"
            );
        }
    }

    #[test]
    fn shops_are_reached_at_their_own_domain_by_default() {
        let settings = Settings::defaults();
        let shop = ShopDomain::parse("demo.myshopify.com").unwrap();

        assert_eq!(
            settings.shopify.admin_url(&shop).unwrap().as_str(),
            "https://demo.myshopify.com/"
        );
    }

    #[test]
    fn the_admin_base_url_can_put_the_shop_in_the_path_of_another_host() {
        let mut settings = Settings::defaults();
        settings.shopify.admin_base_url = "http://127.0.0.1:9000/shops/{shop}".to_owned();
        let shop = ShopDomain::parse("demo.myshopify.com").unwrap();

        assert!(settings.validate().is_ok());
        assert_eq!(
            settings.shopify.admin_url(&shop).unwrap().as_str(),
            "http://127.0.0.1:9000/shops/demo.myshopify.com"
        );
    }

    #[test]
    fn an_admin_base_url_without_the_shop_or_not_http_is_rejected() {
        for template in [
            "https://admin.example.com",
            "ftp://{shop}",
            "https://{shop}?x=1",
        ] {
            let mut settings = Settings::defaults();
            settings.shopify.admin_base_url = template.to_owned();

            let error = settings.validate().unwrap_err();

            assert!(
                error
                    .to_string()
                    .contains("SHOPIFY_SCIM_SHOPIFY__ADMIN_BASE_URL"),
                "{template}: {error}"
            );
        }
    }

    #[test]
    fn the_admin_base_url_is_read_from_its_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "SHOPIFY_SCIM_SHOPIFY__ADMIN_BASE_URL",
                "http://127.0.0.1:1/shops/{shop}",
            );

            let loaded = Settings::load(None).map_err(|e| e.to_string())?;

            assert_eq!(
                loaded.settings.shopify.admin_base_url,
                "http://127.0.0.1:1/shops/{shop}"
            );
            assert!(
                !loaded
                    .warnings
                    .iter()
                    .any(|warning| warning.contains("ADMIN_BASE_URL")),
                "{:?}",
                loaded.warnings
            );
            Ok(())
        });
    }

    #[test]
    fn debug_output_of_settings_hides_secrets() {
        let mut settings = Settings::defaults();
        settings.shopify.api_secret = Some(SecretString::from("shpss_do_not_print"));
        settings.database = DatabaseSettings::with_url("postgres://u:hunter2@db/x");

        let printed = format!("{settings:?}");

        assert!(!printed.contains("shpss_do_not_print"));
        assert!(!printed.contains("hunter2"));
    }
}
