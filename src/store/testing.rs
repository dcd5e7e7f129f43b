//! Test support for unit tests that need a database: a fresh, migrated SQLite file per test,
//! or a fresh PostgreSQL database when `TEST_DATABASE_URL` names a server, and tenant scopes
//! obtained the way requests obtain them, through [`tokens::authenticate`].

use sea_orm::ConnectionTrait as _;
use tempfile::TempDir;

use crate::config::DatabaseSettings;
use crate::scim::token::PresentedToken;
use crate::store::tokens::{self, TenantScope};
use crate::store::{Database, shops};
use crate::types::ShopDomain;

/// A migrated database that exists for one test and is removed when dropped.
pub(crate) struct TestDb {
    /// The pool.
    pub db: Database,
    _dir: Option<TempDir>,
    /// PostgreSQL: the admin URL and the database name, to drop it afterwards.
    created: Option<(String, String)>,
}

impl TestDb {
    /// Creates and migrates a fresh database.
    pub async fn fresh() -> Self {
        let (url, dir, created) = match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("shopify_scim_unit_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(admin_url.as_str())
                    .await
                    .expect("connecting to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("creating a test database");
                admin.close().await.expect("closing the admin connection");
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                (url.to_string(), None, Some((admin_url, name)))
            }
            _ => {
                let dir = tempfile::tempdir().expect("creating a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("app.db").display());
                (url, Some(dir), None)
            }
        };

        let settings = DatabaseSettings {
            max_connections: 4,
            ..DatabaseSettings::with_url(url)
        };
        let db = Database::connect(&settings).await.expect("connecting");
        db.migrate().await.expect("migrating");
        Self {
            db,
            _dir: dir,
            created,
        }
    }

    /// A scope for the shop `handle.myshopify.com`, created on first use, authenticated with
    /// a new token.
    pub async fn scope(&self, handle: &str) -> TenantScope {
        let domain = ShopDomain::parse(&format!("{handle}.myshopify.com")).expect("domain");
        let shop = shops::find_or_create(&self.db, &domain)
            .await
            .expect("shop");
        let (_, plaintext) = tokens::create(&self.db, shop.id, "test", None, "test")
            .await
            .expect("token");
        let presented = PresentedToken::parse(&plaintext).expect("token shape");
        tokens::authenticate(&self.db, &domain, &presented)
            .await
            .expect("authenticating")
            .expect("a live token")
    }
}

impl Drop for TestDb {
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
