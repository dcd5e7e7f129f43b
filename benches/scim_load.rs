//! Load benchmark for any SCIM 2.0 server: loads one tenant with users, then measures
//! create, `userName eq` lookup, PATCH and a deep page. Run through `benches/scim.sh`,
//! which starts our service (SQLite and PostgreSQL) and scim2-server 0.8.3 side by side.
//!
//! Settings come from the environment: `BENCH_URL` (tenant base URL), `BENCH_TOKEN`,
//! `BENCH_USERS` (default 50000), `BENCH_CONCURRENCY` (default 8), `BENCH_SAMPLES` (default
//! 1000) and `BENCH_LABEL`. It prints one JSON line per operation.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark stops at the first failure"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

struct Bench {
    client: reqwest::Client,
    url: String,
    token: String,
    concurrency: usize,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn user_name(index: usize) -> String {
    format!("user-{index:06}@bench.test")
}

impl Bench {
    /// Runs `count` requests built by `request`, `concurrency` at a time; returns the
    /// latency of each and the wall time of all.
    async fn run<F>(&self, count: usize, request: F) -> (Vec<Duration>, Duration, Vec<Value>)
    where
        F: Fn(usize) -> reqwest::RequestBuilder,
    {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(count);
        for index in 0..count {
            let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
            let builder = request(index).bearer_auth(&self.token);
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let response = builder.send().await.expect("the server answered");
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let latency = sent.elapsed();
                drop(permit);
                assert!(status.is_success(), "status {status}: {body}");
                (latency, body)
            }));
        }
        let mut latencies = Vec::with_capacity(count);
        let mut bodies = Vec::with_capacity(count);
        for task in tasks {
            let (latency, body) = task.await.unwrap();
            latencies.push(latency);
            bodies.push(body);
        }
        (latencies, started.elapsed(), bodies)
    }
}

fn report(label: &str, operation: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    let at = |share: f64| {
        let rank = ((latencies.len() as f64 * share).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1].as_secs_f64() * 1000.0
    };
    let line = json!({
        "server": label,
        "operation": operation,
        "requests": latencies.len(),
        "per_second": (latencies.len() as f64 / wall.as_secs_f64()).round(),
        "p50_ms": (at(0.50) * 100.0).round() / 100.0,
        "p99_ms": (at(0.99) * 100.0).round() / 100.0,
    });
    println!("{line}");
}

#[tokio::main]
async fn main() {
    let bench = Bench {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        url: std::env::var("BENCH_URL").expect("BENCH_URL names the tenant base URL"),
        token: std::env::var("BENCH_TOKEN").expect("BENCH_TOKEN"),
        concurrency: env_number("BENCH_CONCURRENCY", 8),
    };
    let users = env_number("BENCH_USERS", 50_000);
    let samples = env_number("BENCH_SAMPLES", 1000).min(users);
    let label = std::env::var("BENCH_LABEL").unwrap_or_else(|_| "server".to_owned());
    let step = (users / samples).max(1);

    let (latencies, wall, bodies) = bench
        .run(users, |index| {
            bench
                .client
                .post(format!("{}/Users", bench.url))
                .json(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name(index),
                    "name": { "givenName": "Bench", "familyName": format!("User {index}") },
                    "emails": [{ "value": user_name(index), "type": "work", "primary": true }],
                    "active": true,
                }))
        })
        .await;
    let ids: Vec<String> = bodies
        .iter()
        .map(|body| body["id"].as_str().unwrap().to_owned())
        .collect();
    report(&label, "create", latencies, wall);

    let (latencies, wall, bodies) = bench
        .run(samples, |index| {
            let filter = format!("userName eq \"{}\"", user_name(index * step));
            bench
                .client
                .get(format!("{}/Users", bench.url))
                .query(&[("filter", filter)])
        })
        .await;
    assert!(
        bodies.iter().all(|body| body["totalResults"] == 1),
        "each lookup finds one user"
    );
    report(&label, "userName eq lookup", latencies, wall);

    let (latencies, wall, _) = bench
        .run(samples, |index| {
            bench
                .client
                .patch(format!("{}/Users/{}", bench.url, ids[index * step]))
                .json(&json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{ "op": "replace", "path": "displayName", "value": "Patched" }],
                }))
        })
        .await;
    report(&label, "PATCH", latencies, wall);

    // The first page and the last full one: a deep page should cost what the first does.
    let deep = users.saturating_sub(99).max(1).to_string();
    for start in ["1", deep.as_str()] {
        let (latencies, wall, bodies) = bench
            .run(samples, |_| {
                bench
                    .client
                    .get(format!("{}/Users", bench.url))
                    .query(&[("startIndex", start), ("count", "100")])
            })
            .await;
        assert!(
            bodies.iter().all(|body| body["Resources"]
                .as_array()
                .is_some_and(|r| r.len() == users.min(100))),
            "each page holds 100 users"
        );
        report(
            &label,
            &format!("page at startIndex={start}"),
            latencies,
            wall,
        );
    }
}
