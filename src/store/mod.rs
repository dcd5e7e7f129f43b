//! Persistence: the connection pool, migrations, readiness, and (in submodules) the sea-orm
//! entities with their tenant-scoped queries.
//!
//! SQLite is the embedded default and PostgreSQL the scale-out backend; both are selected by
//! URL and both must behave the same. Nothing here knows about HTTP.

pub mod entity;
pub mod exports;
pub mod groups;
pub mod outbox;
pub mod resources;
pub mod shops;
pub mod sync;
#[cfg(test)]
pub(crate) mod testing;
pub mod tokens;
pub mod users;
pub mod webhooks;

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::DatabaseSettings;

/// Errors of the persistence layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names a backend we do not support. Only the scheme is reported: the rest of
    /// the URL may hold a password.
    #[error("unsupported database URL scheme `{scheme}`: use sqlite:// or postgres://")]
    UnsupportedScheme {
        /// The scheme found, or an empty string.
        scheme: String,
    },
    /// The directory for a SQLite file could not be created.
    #[error("cannot create the directory {path} for the SQLite database")]
    CreateDir {
        /// Directory that could not be created.
        path: String,
        /// Underlying I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The database did not answer within the allowed time.
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    /// A write would duplicate a value of this named unique index (for example
    /// `uq_scim_users_shop_user_name`). The conflicting value is not carried.
    #[error("the value of unique index `{0}` is already taken")]
    UniqueViolation(&'static str),
    /// The database answered with an error.
    #[error("database error")]
    Db(#[from] DbErr),
    /// Something else failed (randomness, encoding); the text says what.
    #[error("{0}")]
    Other(String),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which database engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Recognises the backend from a database URL.
    pub fn from_url(url: &str) -> Result<Self> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            other => Err(Error::UnsupportedScheme {
                scheme: other.chars().take(20).collect(),
            }),
        }
    }

    /// Lowercase name for logs and status output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The shared connection pool.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
    backend: Backend,
    /// SQLite only: held by the one write transaction of this process that may run. Writers
    /// queue here in arrival order instead of polling SQLite's lock with the busy handler,
    /// whose sleeps of up to 100 ms made a queue of a few writers take hundreds.
    write_gate: Option<Arc<Mutex<()>>>,
}

/// A transaction that may write; on SQLite it also holds this process's write turn until it
/// commits or is dropped (rolled back).
#[derive(Debug)]
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTxn {
    /// Commits the transaction and gives up the write turn.
    pub async fn commit(self) -> Result<()> {
        self.txn.commit().await?;
        Ok(())
    }
}

impl Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// What the readiness probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The database answers and every migration is applied.
    Ready,
    /// The database answers but these migrations are not applied yet.
    PendingMigrations(Vec<String>),
}

/// State of one migration, for `migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Migration name (its file name).
    pub name: String,
    /// Whether it has been applied to this database.
    pub applied: bool,
}

impl Database {
    /// Opens the pool. A SQLite file and its directory are created when missing, and every
    /// SQLite connection runs in WAL mode with foreign keys on and a busy timeout.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self> {
        let url = settings.url.expose_secret();
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite {
            create_sqlite_dir(url)?;
        }

        let busy_timeout = Duration::from_millis(settings.sqlite_busy_timeout_ms);
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(settings.max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(move |opts| {
                opts.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(busy_timeout)
            });

        let conn = sea_orm::Database::connect(options).await?;
        tracing::debug!(db.backend = backend.name(), "database pool opened");
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self {
            conn,
            backend,
            write_gate,
        })
    }

    /// The sea-orm connection, for queries in this module's submodules.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Which engine this pool talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction meant to write. On SQLite it first waits for this process's write
    /// turn, then begins `IMMEDIATE`, taking the database's write lock up front so that a
    /// read-then-write cannot fail half-way on a lock upgrade; PostgreSQL uses its defaults
    /// (read committed).
    pub async fn begin_write(&self) -> Result<WriteTxn> {
        let turn = match &self.write_gate {
            Some(gate) => Some(Arc::clone(gate).lock_owned().await),
            None => None,
        };
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend == Backend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let txn = self.conn.begin_with_options(options).await?;
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// Applies every pending migration; returns how many ran.
    pub async fn migrate(&self) -> Result<usize> {
        let pending = Migrator::get_pending_migrations(&self.conn).await?.len();
        Migrator::up(&self.conn, None).await?;
        Ok(pending)
    }

    /// Lists every known migration with whether it is applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>> {
        let migrations = Migrator::get_migration_with_status_read_only(&self.conn).await?;
        Ok(migrations
            .iter()
            .map(|migration| MigrationState {
                name: migration.name().to_owned(),
                applied: migration.status() == migrations::MigrationStatus::Applied,
            })
            .collect())
    }

    /// Checks, within `budget`, that the database answers and its schema is current.
    ///
    /// On SQLite the check runs in a `BEGIN IMMEDIATE` transaction, so a database whose write
    /// lock another process holds reports as unavailable: reads alone would always succeed
    /// there. The transaction is rolled back; the probe writes nothing.
    pub async fn readiness(&self, budget: Duration) -> Result<Readiness> {
        let probe = async {
            let options = TransactionOptions {
                sqlite_transaction_mode: (self.backend == Backend::Sqlite)
                    .then_some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            };
            let txn = self.conn.begin_with_options(options).await?;
            let pending = Migrator::get_pending_migrations_read_only(&txn).await?;
            txn.rollback().await?;
            Ok::<_, DbErr>(pending)
        };
        let pending = tokio::time::timeout(budget, probe)
            .await
            .map_err(|_| Error::Timeout(budget))??;

        if pending.is_empty() {
            Ok(Readiness::Ready)
        } else {
            Ok(Readiness::PendingMigrations(
                pending.iter().map(|m| m.name().to_owned()).collect(),
            ))
        }
    }

    /// Closes every pooled connection.
    pub async fn close(self) -> Result<()> {
        self.conn.close().await?;
        Ok(())
    }
}

/// Which rows of a tenant table a list query considers, before any in-memory filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<K> {
    /// Every row of the shop.
    All,
    /// Rows matching any of the alternatives, each a conjunction of keys. An empty list
    /// matches nothing.
    AnyOf(Vec<Vec<K>>),
}

/// A named unique index, recognisable in a violation reported by either backend.
#[derive(Debug, Clone, Copy)]
pub struct UniqueIndex {
    /// The index name, as PostgreSQL reports it.
    pub name: &'static str,
    /// The indexed columns as SQLite lists them: `table.col, table.col`.
    pub sqlite_columns: &'static str,
}

/// Turns a violation of one of `indexes` into [`Error::UniqueViolation`]; any other error
/// stays a [`Error::Db`].
///
/// PostgreSQL names the constraint (`... violates unique constraint "uq_..."`); SQLite names
/// the columns (`UNIQUE constraint failed: scim_users.shop_id, scim_users.user_name_ci`).
pub(crate) fn on_unique(error: DbErr, indexes: &[UniqueIndex]) -> Error {
    let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err() else {
        return Error::Db(error);
    };
    let quoted = |name: &str| format!("\"{name}\"");
    let violated = indexes.iter().find(|index| {
        message.contains(&quoted(index.name))
            || message
                .strip_prefix("UNIQUE constraint failed: ")
                .is_some_and(|columns| columns.trim() == index.sqlite_columns)
    });
    match violated {
        Some(index) => Error::UniqueViolation(index.name),
        None => Error::Db(error),
    }
}

/// Creates the parent directory of a file-backed SQLite URL.
fn create_sqlite_dir(url: &str) -> Result<()> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }

    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: dir.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_recognised_by_scheme() {
        assert_eq!(
            Backend::from_url("sqlite://./data/x.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
    }

    #[test]
    fn an_unsupported_scheme_is_named_without_the_rest_of_the_url() {
        let error = Backend::from_url("mysql://root:hunter2@h/db").unwrap_err();

        assert!(error.to_string().contains("`mysql`"));
        assert!(!error.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn connecting_to_a_new_sqlite_path_creates_its_directory_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested/deeper/app.db");
        let settings = DatabaseSettings::with_url(format!("sqlite://{}", file.display()));

        let db = Database::connect(&settings).await.unwrap();
        db.migrate().await.unwrap();

        assert!(file.is_file());
        assert_eq!(
            db.readiness(Duration::from_secs(5)).await.unwrap(),
            Readiness::Ready
        );
    }

    #[tokio::test]
    async fn sqlite_connections_use_wal_and_enforce_foreign_keys() {
        use sea_orm::{ConnectionTrait, Statement};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("app.db").display());
        let db = Database::connect(&DatabaseSettings::with_url(url))
            .await
            .unwrap();
        let backend = db.conn().get_database_backend();

        let journal = db
            .conn()
            .query_one_raw(Statement::from_string(backend, "PRAGMA journal_mode"))
            .await
            .unwrap()
            .unwrap();
        let foreign_keys = db
            .conn()
            .query_one_raw(Statement::from_string(backend, "PRAGMA foreign_keys"))
            .await
            .unwrap()
            .unwrap();

        assert_eq!(
            journal.try_get::<String>("", "journal_mode").unwrap(),
            "wal"
        );
        assert_eq!(foreign_keys.try_get::<i32>("", "foreign_keys").unwrap(), 1);
    }

    #[tokio::test]
    async fn readiness_lists_migrations_that_are_not_applied() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("app.db").display());
        let db = Database::connect(&DatabaseSettings::with_url(url))
            .await
            .unwrap();

        let readiness = db.readiness(Duration::from_secs(5)).await.unwrap();

        let Readiness::PendingMigrations(names) = readiness else {
            panic!("expected pending migrations, got {readiness:?}");
        };
        let all: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        assert_eq!(names, all);
    }
}
