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

async fn numbers(db: &DatabaseConnection, sql: &str) -> Vec<Vec<i64>> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (0..row.column_names().len())
                .map(|index| row.try_get_by_index::<i64>(index).unwrap())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn users_stored_before_list_positions_are_numbered_counted_and_their_emails_indexed() {
    let db = fresh_database().await;
    Migrator::up(&db, Some(5)).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO shops (id, domain, created_at, updated_at) VALUES \
         (1, 'a.myshopify.com', '2026-12-03T00:00:00Z', '2026-12-03T00:00:00Z'), \
         (2, 'b.myshopify.com', '2026-12-03T00:00:00Z', '2026-12-03T00:00:00Z')",
    )
    .await
    .unwrap();
    for (pk, shop, emails) in [
        (
            10,
            1,
            r#"[{"value":"Ada@X.org","primary":true},{"value":"ada@home.org"}]"#,
        ),
        (11, 2, r#"[{"value":"grace@x.org"}]"#),
        (12, 1, r#"[]"#),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO scim_users (pk, shop_id, id, user_name, user_name_ci, resource, \
             created_at, updated_at) VALUES ({pk}, {shop}, 'id-{pk}', 'u{pk}', 'u{pk}', \
             '{{\"emails\":{emails}}}', '2026-12-03T00:00:00Z', '2026-12-03T00:00:00Z')"
        ))
        .await
        .unwrap();
    }

    Migrator::up(&db, None).await.unwrap();

    assert_eq!(
        numbers(&db, "SELECT pk, seq FROM scim_users ORDER BY pk").await,
        [[10, 1], [11, 1], [12, 2]]
    );
    assert_eq!(
        numbers(
            &db,
            "SELECT shop_id, last_seq FROM scim_sequences \
             WHERE resource_type = 'User' ORDER BY shop_id"
        )
        .await,
        [[1, 2], [2, 1]]
    );
    assert_eq!(
        numbers(
            &db,
            "SELECT shop_id, block, stripe, live FROM scim_list_blocks \
             WHERE resource_type = 'User' ORDER BY shop_id, stripe"
        )
        .await,
        [[1, 0, 1, 1], [1, 0, 2, 1], [2, 0, 1, 1]]
    );
    let emails = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT user_pk, value_ci FROM scim_user_emails ORDER BY user_pk, value_ci",
        ))
        .await
        .unwrap();
    let emails: Vec<(i64, String)> = emails
        .iter()
        .map(|row| {
            (
                row.try_get("", "user_pk").unwrap(),
                row.try_get("", "value_ci").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        emails,
        [
            (10, "ada@home.org".to_owned()),
            (10, "ada@x.org".to_owned()),
            (11, "grace@x.org".to_owned())
        ]
    );
}
