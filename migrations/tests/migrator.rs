//! The migrations apply, report their status and roll back on a fresh SQLite database.

#![expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use migrations::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

async fn fresh_database() -> DatabaseConnection {
    Database::connect("sqlite::memory:").await.unwrap()
}

async fn table_names(db: &DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get("", "name").unwrap())
        .collect()
}

#[tokio::test]
async fn every_migration_is_pending_on_an_empty_database() {
    let db = fresh_database().await;

    let pending = Migrator::get_pending_migrations_read_only(&db)
        .await
        .unwrap();

    assert_eq!(pending.len(), Migrator::migrations().len());
}

#[tokio::test]
async fn up_creates_the_shops_table_and_leaves_nothing_pending() {
    let db = fresh_database().await;

    Migrator::up(&db, None).await.unwrap();

    assert!(table_names(&db).await.contains(&"shops".to_owned()));
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn shop_domains_are_unique() {
    let db = fresh_database().await;
    Migrator::up(&db, None).await.unwrap();
    let insert = "INSERT INTO shops (domain, created_at, updated_at) \
                  VALUES ('a.myshopify.com', '2026-12-03T00:00:00Z', '2026-12-03T00:00:00Z')";

    db.execute_unprepared(insert).await.unwrap();
    let second = db.execute_unprepared(insert).await;

    let message = second.unwrap_err().to_string();
    assert!(message.contains("UNIQUE"), "{message}");
}

#[tokio::test]
async fn down_removes_everything_up_created() {
    let db = fresh_database().await;
    Migrator::up(&db, None).await.unwrap();

    Migrator::down(&db, None).await.unwrap();

    assert!(!table_names(&db).await.contains(&"shops".to_owned()));
}
