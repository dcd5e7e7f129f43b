//! Webhook acknowledgement benchmark: a burst of signed Shopify deliveries against a running
//! `shopify-scim serve`, then a look into `webhook_inbox` to check that none was lost or
//! processed twice. Run through `benches/webhooks.sh`, which starts the service on SQLite and
//! on PostgreSQL.
//!
//! The burst holds `--deliveries` unique deliveries (default 5,000), sent with `--concurrency`
//! requests in flight (default 64). Four in five are `customers/update` to
//! `/webhooks/customers`, one in five `app/scopes_update` to `/webhooks/app`. One in twenty is
//! sent again with the same webhook id, as a Shopify retry would be: half of those right after
//! the first copy, so both can be in flight together, the other half [`LATE_RESEND`]
//! deliveries later. Every answer must be 200.
//!
//! Afterwards it waits (at most `--process-timeout-secs`, default 120) until the background
//! processor has finished every `app/scopes_update`, then reads the inbox through the
//! library's store and checks: one row per unique webhook id and none missing; each
//! `app/scopes_update` processed once (`attempts` 1, outcome `scopes_updated`); each
//! `customers/update` stored and left unprocessed for the sync engine. It prints the checks,
//! then one JSON line of figures, and exits non-zero when a check fails.
//!
//! Every option can also be set by environment variable (`BENCH_URL`, `BENCH_SECRET`,
//! `BENCH_SHOP`, `BENCH_DELIVERIES`, `BENCH_CONCURRENCY`, `BENCH_PROCESS_TIMEOUT_SECS`,
//! `BENCH_LABEL`, `DATABASE_URL`).

#![expect(clippy::expect_used, reason = "a benchmark stops at the first failure")]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use serde_json::{Value, json};
use sha2::Sha256;
use shopify_scim::config::DatabaseSettings;
use shopify_scim::store::entity::webhook_delivery;
use shopify_scim::store::{Database, webhooks};
use shopify_scim::types::ShopDomain;

/// The topic the background processor handles in this burst.
const SCOPES_UPDATE: &str = "app/scopes_update";

/// The topic that is only stored, for the sync engine.
const CUSTOMERS_UPDATE: &str = "customers/update";

/// How many deliveries after the first copy a late re-send goes out.
const LATE_RESEND: usize = 1000;

/// Sends a burst of signed webhook deliveries and checks the inbox afterwards.
#[derive(Debug, Parser)]
struct Options {
    /// Base URL of the running app, without a path.
    #[arg(long, env = "BENCH_URL")]
    url: String,
    /// The app's client secret, which signs the deliveries.
    #[arg(long, env = "BENCH_SECRET")]
    secret: String,
    /// The shop every delivery names.
    #[arg(long, env = "BENCH_SHOP", default_value = "bench.myshopify.com")]
    shop: String,
    /// Unique deliveries in the burst; re-sends come on top.
    #[arg(long, env = "BENCH_DELIVERIES", default_value_t = 5000)]
    deliveries: usize,
    /// Requests in flight at once.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
    /// How long to wait for the background processor after the burst.
    #[arg(long, env = "BENCH_PROCESS_TIMEOUT_SECS", default_value_t = 120)]
    process_timeout_secs: u64,
    /// The app's database, read for the checks.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Name of the run in the output.
    #[arg(long, env = "BENCH_LABEL", default_value = "server")]
    label: String,
    /// Passed by `cargo bench` to every bench binary; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One signed delivery, ready to send as often as the schedule says.
struct Delivery {
    path: &'static str,
    topic: &'static str,
    webhook_id: String,
    event_id: String,
    triggered_at: String,
    hmac: String,
    body: Vec<u8>,
}

/// What the burst saw.
struct Burst {
    latencies: Vec<Duration>,
    failures: Vec<String>,
    wall: Duration,
}

fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn customer_update(index: usize, now: &str) -> Value {
    let id = 7_100_000_000_000_u64 + index as u64;
    json!({
        "id": id,
        "admin_graphql_api_id": format!("gid://shopify/Customer/{id}"),
        "email": format!("customer-{index:05}@bench.test"),
        "first_name": "Bench",
        "last_name": format!("Customer {index}"),
        "phone": null,
        "state": "enabled",
        "verified_email": true,
        "tags": "",
        "note": null,
        "currency": "USD",
        "tax_exempt": false,
        "created_at": "2026-11-02T09:30:00-05:00",
        "updated_at": now,
        "addresses": [],
        "default_address": null,
        "email_marketing_consent": {
            "state": "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": null,
        },
    })
}

fn scopes_update(index: usize, now: &str) -> Value {
    json!({
        "id": 8_200_000_u64 + index as u64,
        "shop_id": "gid://shopify/Shop/1",
        "previous": ["read_customers"],
        "current": ["read_customers", "write_customers"],
        "updated_at": now,
    })
}

/// Builds and signs delivery `index`: every fifth one is `app/scopes_update`.
fn delivery(index: usize, secret: &[u8]) -> Delivery {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let (path, topic, payload) = if index % 5 == 4 {
        ("/webhooks/app", SCOPES_UPDATE, scopes_update(index, &now))
    } else {
        (
            "/webhooks/customers",
            CUSTOMERS_UPDATE,
            customer_update(index, &now),
        )
    };
    let body = serde_json::to_vec(&payload).expect("a JSON value serialises");
    Delivery {
        path,
        topic,
        webhook_id: uuid::Uuid::new_v4().to_string(),
        event_id: uuid::Uuid::new_v4().to_string(),
        triggered_at: now,
        hmac: signature(secret, &body),
        body,
    }
}

/// The order of sending, as indexes into the deliveries: each once, and every twentieth
/// twice, the second copy either right after the first or [`LATE_RESEND`] places later.
fn schedule(deliveries: usize) -> Vec<usize> {
    let mut keyed: Vec<(usize, bool, usize)> = (0..deliveries).map(|i| (i, false, i)).collect();
    for resend in 0..deliveries / 20 {
        let index = 20 * resend + resend % 20;
        let after = if resend % 2 == 0 {
            index
        } else {
            index + LATE_RESEND
        };
        keyed.push((after, true, index));
    }
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, index)| index).collect()
}

/// Sends every scheduled delivery, `concurrency` at a time, timing each acknowledgement.
async fn send_burst(
    client: &reqwest::Client,
    options: &Options,
    deliveries: Arc<Vec<Delivery>>,
    order: Arc<Vec<usize>>,
) -> Burst {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency.max(1) {
        let (client, base) = (client.clone(), options.url.trim_end_matches('/').to_owned());
        let (shop, next) = (options.shop.clone(), Arc::clone(&next));
        let (deliveries, order) = (Arc::clone(&deliveries), Arc::clone(&order));
        senders.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                let delivery = &deliveries[index];
                let request = client
                    .post(format!("{base}{}", delivery.path))
                    .header("content-type", "application/json")
                    .header("x-shopify-hmac-sha256", &delivery.hmac)
                    .header("x-shopify-topic", delivery.topic)
                    .header("x-shopify-shop-domain", &shop)
                    .header("x-shopify-api-version", "2026-07")
                    .header("x-shopify-webhook-id", &delivery.webhook_id)
                    .header("x-shopify-event-id", &delivery.event_id)
                    .header("x-shopify-triggered-at", &delivery.triggered_at)
                    .body(delivery.body.clone());

                let sent = Instant::now();
                let answer = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.map(|_| status)
                    }
                    Err(error) => Err(error),
                };
                let latency = sent.elapsed();

                match answer {
                    Ok(status) if status == reqwest::StatusCode::OK => latencies.push(latency),
                    Ok(status) => {
                        latencies.push(latency);
                        failures.push(format!("{}: status {status}", delivery.webhook_id));
                    }
                    Err(error) => failures.push(format!("{}: {error}", delivery.webhook_id)),
                }
            }
            (latencies, failures)
        }));
    }

    let mut burst = Burst {
        latencies: Vec::with_capacity(order.len()),
        failures: Vec::new(),
        wall: Duration::ZERO,
    };
    for sender in senders {
        let (latencies, failures) = sender.await.expect("a sender finished");
        burst.latencies.extend(latencies);
        burst.failures.extend(failures);
    }
    burst.wall = started.elapsed();
    burst
}

/// Waits until `expected` deliveries of `topic` are processed; `false` when `timeout` passes
/// first.
async fn wait_until_processed(
    db: &Database,
    shop: &ShopDomain,
    topic: &str,
    expected: u64,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let processed = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::ShopDomain.eq(shop.as_str()))
            .filter(webhook_delivery::Column::Topic.eq(topic))
            .filter(webhook_delivery::Column::ProcessedAt.is_not_null())
            .count(db.conn())
            .await
            .expect("the inbox can be counted");
        if processed >= expected {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Milliseconds at `share` of the sorted latencies, by nearest rank, to two decimals.
fn percentile(sorted: &[Duration], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len());
    (sorted[rank - 1].as_secs_f64() * 100_000.0).round() / 100.0
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let millis = (to - from).num_milliseconds().max(0);
    (millis as f64 / 10.0).round() / 100.0
}

/// What the inbox holds after the burst, against what was sent.
#[derive(Default)]
struct Inbox {
    rows: usize,
    lost: usize,
    unexpected: usize,
    stored_twice: usize,
    wrong_topic: usize,
    scopes_rows: usize,
    scopes_processed_once: usize,
    processed_twice: usize,
    customer_rows: usize,
    customers_unprocessed: usize,
    last_processed_at: Option<DateTime<Utc>>,
}

fn inspect(rows: &[webhook_delivery::Model], deliveries: &[Delivery]) -> Inbox {
    let sent: HashMap<&str, &str> = deliveries
        .iter()
        .map(|delivery| (delivery.webhook_id.as_str(), delivery.topic))
        .collect();
    let mut copies: HashMap<&str, usize> = HashMap::new();
    let mut inbox = Inbox {
        rows: rows.len(),
        ..Inbox::default()
    };
    for row in rows {
        *copies.entry(row.webhook_id.as_str()).or_default() += 1;
        match sent.get(row.webhook_id.as_str()) {
            None => inbox.unexpected += 1,
            Some(&topic) if topic != row.topic => inbox.wrong_topic += 1,
            Some(_) => {}
        }
        if row.attempts > 1 {
            inbox.processed_twice += 1;
        }
        if row.topic == SCOPES_UPDATE {
            inbox.scopes_rows += 1;
            let once = row.processed_at.is_some()
                && row.attempts == 1
                && row.outcome.as_deref() == Some("scopes_updated");
            inbox.scopes_processed_once += usize::from(once);
            inbox.last_processed_at = inbox.last_processed_at.max(row.processed_at);
        } else if row.topic == CUSTOMERS_UPDATE {
            inbox.customer_rows += 1;
            let untouched = row.processed_at.is_none() && row.attempts == 0;
            inbox.customers_unprocessed += usize::from(untouched);
        }
    }
    inbox.lost = sent.keys().filter(|id| !copies.contains_key(*id)).count();
    inbox.stored_twice = copies.values().map(|count| count - 1).sum();
    inbox
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let shop = ShopDomain::parse(&options.shop).expect("--shop is a myshopify.com domain");
    let db = Database::connect(&DatabaseSettings::with_url(options.database_url.clone()))
        .await
        .expect("the app's database opens");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");

    let deliveries: Vec<Delivery> = (0..options.deliveries)
        .map(|index| delivery(index, options.secret.as_bytes()))
        .collect();
    let order = schedule(deliveries.len());
    let resends = order.len() - deliveries.len();
    let expected_scopes = deliveries
        .iter()
        .filter(|delivery| delivery.topic == SCOPES_UPDATE)
        .count();
    let expected_customers = deliveries.len() - expected_scopes;
    let deliveries = Arc::new(deliveries);

    let burst_started_at = Utc::now();
    let mut burst = send_burst(&client, &options, Arc::clone(&deliveries), Arc::new(order)).await;
    let burst_ended_at = Utc::now();

    let timeout = Duration::from_secs(options.process_timeout_secs);
    let drained =
        wait_until_processed(&db, &shop, SCOPES_UPDATE, expected_scopes as u64, timeout).await;
    let rows = webhooks::for_shop(&db, &shop)
        .await
        .expect("the inbox can be read");
    let inbox = inspect(&rows, &deliveries);

    let checks = [
        (
            format!(
                "every one of {} requests answered 200 ({} did not)",
                resends + deliveries.len(),
                burst.failures.len()
            ),
            burst.failures.is_empty(),
        ),
        (
            format!(
                "every app/scopes_update processed within {} s",
                options.process_timeout_secs
            ),
            drained,
        ),
        (
            format!(
                "one row per unique webhook id ({} rows, {} ids)",
                inbox.rows,
                deliveries.len()
            ),
            inbox.rows == deliveries.len(),
        ),
        (
            format!("no delivery lost ({} missing)", inbox.lost),
            inbox.lost == 0,
        ),
        (
            format!(
                "no delivery stored twice ({} extra rows)",
                inbox.stored_twice
            ),
            inbox.stored_twice == 0,
        ),
        (
            format!(
                "no row that was not sent, none under another topic ({}, {})",
                inbox.unexpected, inbox.wrong_topic
            ),
            inbox.unexpected == 0 && inbox.wrong_topic == 0,
        ),
        (
            format!(
                "each app/scopes_update processed once as scopes_updated ({} of {} rows, {} sent)",
                inbox.scopes_processed_once, inbox.scopes_rows, expected_scopes
            ),
            inbox.scopes_processed_once == expected_scopes && inbox.scopes_rows == expected_scopes,
        ),
        (
            format!(
                "no delivery claimed more than once ({} were)",
                inbox.processed_twice
            ),
            inbox.processed_twice == 0,
        ),
        (
            format!(
                "each customers/update stored unprocessed ({} of {} rows, {} sent)",
                inbox.customers_unprocessed, inbox.customer_rows, expected_customers
            ),
            inbox.customers_unprocessed == expected_customers
                && inbox.customer_rows == expected_customers,
        ),
    ];
    for failure in burst.failures.iter().take(10) {
        println!("  not acknowledged: {failure}");
    }
    for (check, passed) in &checks {
        println!("{} {check}", if *passed { "ok  " } else { "FAIL" });
    }

    burst.latencies.sort_unstable();
    let last_processed_at = inbox.last_processed_at.unwrap_or(burst_ended_at);
    let passed = checks.iter().all(|(_, passed)| *passed);
    let line = json!({
        "server": options.label,
        "deliveries": deliveries.len(),
        "duplicates": resends,
        "requests": resends + deliveries.len(),
        "concurrency": options.concurrency,
        "not_acknowledged": burst.failures.len(),
        "per_second": ((resends + deliveries.len()) as f64 / burst.wall.as_secs_f64()).round(),
        "p50_ms": percentile(&burst.latencies, 0.50),
        "p90_ms": percentile(&burst.latencies, 0.90),
        "p99_ms": percentile(&burst.latencies, 0.99),
        "max_ms": percentile(&burst.latencies, 1.0),
        "burst_s": (burst.wall.as_secs_f64() * 100.0).round() / 100.0,
        "backlog_after_burst_s": seconds_between(burst_ended_at, last_processed_at),
        "processing_s": seconds_between(burst_started_at, last_processed_at),
        "lost": inbox.lost,
        "stored_twice": inbox.stored_twice,
        "processed_twice": inbox.processed_twice,
        "checks_passed": passed,
    });
    println!("{line}");

    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
