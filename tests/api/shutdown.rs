//! Graceful shutdown: in-flight requests finish, new connections are refused, background
//! tasks stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use shopify_scim::startup::Application;
use shopify_scim::store::Database;
use tokio::net::TcpStream;

use crate::helpers::{TestDatabase, TestOptions, spawn_app_with, test_settings};

#[tokio::test]
async fn stopping_lets_an_in_flight_request_finish_and_refuses_new_connections() {
    let mut app = spawn_app_with(TestOptions {
        readiness_timeout: Duration::from_secs(8),
        ..TestOptions::default()
    })
    .await;
    let outage = app.database_outage().await;
    let request = app.client.get(format!("{}/readyz", app.address)).send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let running = app.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late_connection = TcpStream::connect(app.socket).await;
    outage.end().await;
    let response = in_flight.await.unwrap().unwrap();
    let stopped = running.await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        late_connection.is_err(),
        "the listener still accepted a connection"
    );
    assert!(stopped.is_ok(), "{stopped:?}");
}

#[tokio::test]
async fn stopping_signals_background_tasks_and_waits_for_them() {
    let database = TestDatabase::fresh().await;
    let settings = test_settings(&TestOptions::default(), &database.settings());
    let db = Database::connect(&settings.database).await.unwrap();
    db.migrate().await.unwrap();
    let mut application = Application::build(&settings, db).unwrap();
    let finished = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&finished);
    application.spawn_background(|mut stop| async move {
        stop.stopped().await;
        flag.store(true, Ordering::SeqCst);
    });

    let result = application.run_until_stopped(std::future::ready(())).await;

    assert!(result.is_ok(), "{result:?}");
    assert!(finished.load(Ordering::SeqCst));
}
