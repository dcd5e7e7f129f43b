//! `GET /healthz` and `GET /readyz`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestOptions, spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_answers_200_with_a_json_status() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );
}

#[tokio::test]
async fn readyz_answers_200_when_the_database_is_migrated() {
    let app = spawn_app().await;

    let response = app.get("/readyz").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "ready" })
    );
}

#[tokio::test]
async fn readyz_answers_503_while_migrations_are_pending_and_200_after_migrating() {
    let app = spawn_app_with(TestOptions {
        migrate: false,
        ..TestOptions::default()
    })
    .await;

    let before = app.get("/readyz").await;
    let before_status = before.status();
    let before_body: Value = before.json().await.unwrap();
    app.db.migrate().await.unwrap();
    let after = app.get("/readyz").await;

    assert_eq!(before_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(before_body["reason"], "migrations_pending");
    assert_eq!(before_body["pending"], json!(migration_names()));
    assert_eq!(after.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_is_unreachable_and_200_once_it_is_back() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    let outage = app.database_outage().await;
    let during = app.get("/readyz").await;
    let during_status = during.status();
    let during_body: Value = during.json().await.unwrap();
    outage.end().await;
    let after = wait_for_status(&app, "/readyz", StatusCode::OK).await;

    assert_eq!(during_status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        during_body,
        json!({ "status": "not_ready", "reason": "database_unavailable" })
    );
    assert_eq!(after, StatusCode::OK);
}

#[tokio::test]
async fn healthz_stays_200_while_the_database_is_unreachable() {
    let app = spawn_app().await;

    let outage = app.database_outage().await;
    let response = app.get("/healthz").await;
    outage.end().await;

    assert_eq!(response.status(), StatusCode::OK);
}

/// Names of every migration, in order.
pub fn migration_names() -> Vec<String> {
    use migrations::MigratorTrait as _;

    migrations::Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect()
}

/// Polls `path` until it answers `expected` or five seconds pass; returns the last status.
async fn wait_for_status(
    app: &crate::helpers::TestApp,
    path: &str,
    expected: StatusCode,
) -> StatusCode {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = app.get(path).await.status();
        if status == expected || tokio::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
