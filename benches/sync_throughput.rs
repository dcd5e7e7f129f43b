//! Sync throughput benchmark: how much of a shop's Shopify rate limit the sync engine uses.
//!
//! For each database (`--backend`, SQLite by default) and each plan (`--plans`, default
//! `standard,plus`: 100 and 1,000 points restored per second) it starts the Shopify stand-in
//! and the app in this process, installs the app on the stand-in's shop by token exchange
//! (the first embedded load, as Shopify admin does it), empties the shop's cost bucket, and
//! then acts as an identity provider: it POSTs `--users` users (default 2,000) over SCIM,
//! `--concurrency` at a time, then `--groups` groups (default 10) that share the users
//! between them. The app's workers push them to the stand-in as they always do.
//!
//! When every user is a customer carrying its group's tag and the outbox is empty, it reads
//! the stand-in's call log and reports: the cost Shopify accepted per second between emptying
//! the bucket and the last call, as a share of the restore rate (the target is at least 90%),
//! and how many calls were answered `THROTTLED` (the target is 0). It also checks that each
//! user has exactly one customer. One JSON line per run, then a table; it exits non-zero when
//! a check fails.
//!
//! Starting from an empty bucket measures pacing alone: with a full bucket (`--full-bucket`)
//! the first 20 seconds of restore rate are free, which flatters the share.
//!
//! Run it with `cargo bench --bench sync_throughput` (about 8 minutes for the defaults; the
//! 100-point run alone takes some 400 seconds, because that is what 40,000 points cost).
//! `--backends sqlite,postgres` adds PostgreSQL runs.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark stops at the first failure"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::{Parser, ValueEnum};
use sea_orm::ConnectionTrait as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use shopify_scim::config::{DatabaseSettings, Settings};
use shopify_scim::startup::Application;
use shopify_scim::store::{Database, shops, sync as store_sync, tokens};
use shopify_scim::types::ShopDomain;
use shopify_standin::store::Customer;
use shopify_standin::{Plan, RunningStandIn, StandIn, StandInConfig};
use tokio::sync::Semaphore;

const CLIENT_ID: &str = "bench-client-id";
const CLIENT_SECRET: &str = "bench-client-secret";
const SHOP: &str = "bench.myshopify.com";

/// Measures the share of Shopify's restore rate the sync engine turns into accepted work.
#[derive(Debug, Parser)]
struct Options {
    /// Users to provision per run.
    #[arg(long, env = "BENCH_USERS", default_value_t = 2000)]
    users: usize,
    /// Groups the users are shared between.
    #[arg(long, env = "BENCH_GROUPS", default_value_t = 10)]
    groups: usize,
    /// SCIM requests in flight at once.
    #[arg(long, env = "BENCH_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Shopify plans to run against, comma-separated (standard: 100 points/s, advanced: 200,
    /// plus: 1,000, enterprise: 2,000).
    #[arg(
        long,
        env = "BENCH_PLANS",
        value_delimiter = ',',
        default_value = "standard,plus"
    )]
    plans: Vec<Plan>,
    /// Databases to run on, comma-separated.
    #[arg(
        long,
        env = "BENCH_BACKENDS",
        value_delimiter = ',',
        default_value = "sqlite"
    )]
    backends: Vec<Backend>,
    /// PostgreSQL server to create each run's database on.
    #[arg(
        long,
        env = "BENCH_PG_ADMIN_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg_admin_url: String,
    /// Start from a full bucket instead of an empty one.
    #[arg(long)]
    full_bucket: bool,
    /// Passed by `cargo bench` to every bench binary; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// A database for one run, dropped (PostgreSQL) or deleted (SQLite) afterwards.
struct RunDatabase {
    url: String,
    dir: Option<tempfile::TempDir>,
    created: Option<(String, String)>,
}

impl RunDatabase {
    async fn create(backend: Backend, pg_admin_url: &str) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Self {
                    url,
                    dir: Some(dir),
                    created: None,
                }
            }
            Backend::Postgres => {
                let name = format!("shopify_scim_sync_bench_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(pg_admin_url)
                    .await
                    .expect("the PostgreSQL server answers");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("a database for the run");
                admin.close().await.expect("closing the admin connection");
                let mut url = url::Url::parse(pg_admin_url).expect("the admin URL is a URL");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    dir: None,
                    created: Some((pg_admin_url.to_owned(), name)),
                }
            }
        }
    }

    async fn drop(self) {
        if let Some((admin_url, name)) = self.created {
            let admin = sea_orm::Database::connect(&admin_url)
                .await
                .expect("the PostgreSQL server answers");
            admin
                .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                .await
                .expect("dropping the run's database");
        }
        drop(self.dir);
    }
}

/// The app's settings for a run: production defaults, pointed at the stand-in.
fn settings(database_url: &str, admin_base_url: String) -> Settings {
    let mut settings = Settings::defaults();
    settings.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.server.public_url = Some("http://127.0.0.1".parse().expect("a URL"));
    settings.database = DatabaseSettings::with_url(database_url.to_owned());
    settings.shopify.api_key = Some(CLIENT_ID.to_owned());
    settings.shopify.api_secret = Some(SecretString::from(CLIENT_SECRET));
    settings.shopify.admin_base_url = admin_base_url;
    settings.security.token_encryption_key = Some(SecretString::from(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ));
    // The identity provider here sends faster than the default per-token limit allows.
    settings.scim.rate_limit_per_second = 100_000;
    settings.scim.rate_limit_burst = 100_000;
    settings
}

/// The app and the stand-in of one run.
struct Run {
    standin: RunningStandIn,
    db: Database,
    scim: String,
    token: String,
    http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Run {
    async fn start(database_url: &str, plan: Plan) -> Self {
        let standin =
            StandIn::start(StandInConfig::new(CLIENT_ID, CLIENT_SECRET).with_shop(SHOP, plan))
                .await
                .expect("the stand-in starts");
        let settings = settings(database_url, standin.admin_base_url_template());
        let db = Database::connect(&settings.database)
            .await
            .expect("the database opens");
        db.migrate().await.expect("migrations apply");
        let application =
            Application::build(&settings, db.clone()).expect("the application builds");
        let origin: url::Url = format!("http://127.0.0.1:{}", application.port())
            .parse()
            .expect("a URL");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(application.run_until_stopped(async {
            let _ = stopped.await;
        }));
        standin.set_app_url(origin.join("/app").expect("a URL"));
        standin.set_webhook_targets(shopify_standin::WebhookTargets::under(&origin));

        let http = reqwest::Client::new();
        let opened = http
            .get(standin.launch_url(SHOP).expect("a launch URL"))
            .send()
            .await
            .expect("the app answers its launch URL");
        assert!(opened.status().is_success(), "install: {}", opened.status());
        let shop = shop(&db).await;
        let (_, token) = tokens::create(&db, shop.id, "bench", None, "bench")
            .await
            .expect("a SCIM token");

        Self {
            standin,
            db,
            scim: origin.join("/scim/v2/bench").expect("a URL").to_string(),
            token: token.expose_secret().to_owned(),
            http,
            stop,
            running,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.running
            .await
            .expect("the application task ends")
            .expect("the application stops cleanly");
        self.standin.stop().await;
    }

    /// POSTs every body, `concurrency` at a time; answers the ids in order.
    async fn post_all(&self, path: &str, bodies: Vec<Value>, concurrency: usize) -> Vec<String> {
        let permits = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = Vec::with_capacity(bodies.len());
        for body in bodies {
            let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
            let request = self
                .http
                .post(format!("{}{path}", self.scim))
                .bearer_auth(&self.token)
                .header("content-type", "application/scim+json")
                .json(&body);
            tasks.push(tokio::spawn(async move {
                let response = request.send().await.expect("the app answers");
                let status = response.status();
                let created: Value = response.json().await.unwrap_or(Value::Null);
                drop(permit);
                assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
                created["id"].as_str().expect("a created id").to_owned()
            }));
        }
        let mut ids = Vec::with_capacity(tasks.len());
        for task in tasks {
            ids.push(task.await.expect("a request task"));
        }
        ids
    }
}

async fn shop(db: &Database) -> shopify_scim::store::entity::shop::Model {
    shops::find_by_domain(db, &ShopDomain::parse(SHOP).expect("a shop domain"))
        .await
        .expect("the shops table answers")
        .expect("the shop was installed")
}

fn user(index: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("user-{index:05}@bench.test"),
        "name": { "givenName": format!("Given{index}"), "familyName": format!("Family{index}") },
        "emails": [{ "value": format!("user-{index:05}@bench.test"), "primary": true }],
        "phoneNumbers": [{ "value": format!("+1 555 01{:05}", index % 100_000) }],
        "locale": "en-US",
    })
}

fn scim_id(customer: &Customer) -> Option<&str> {
    customer
        .metafields
        .iter()
        .find(|metafield| metafield.key == "scim_id")
        .map(|metafield| metafield.value.as_str())
}

/// What one run measured.
struct Measured {
    backend: Backend,
    plan: Plan,
    provision_s: f64,
    sync_s: f64,
    calls: usize,
    throttled: usize,
    accepted_points: u64,
    customers: usize,
    duplicates: usize,
    missing_tag: usize,
    unsynced: usize,
}

impl Measured {
    fn restore_rate(&self) -> f64 {
        self.plan.restore_rate()
    }

    fn points_per_second(&self) -> f64 {
        self.accepted_points as f64 / self.sync_s.max(f64::EPSILON)
    }

    fn share(&self) -> f64 {
        self.points_per_second() / self.restore_rate()
    }
}

async fn run(options: &Options, backend: Backend, plan: Plan) -> Measured {
    let database = RunDatabase::create(backend, &options.pg_admin_url).await;
    let run = Run::start(&database.url, plan).await;
    let shop_id = shop(&run.db).await.id;

    let emptied_at: DateTime<Utc> = Utc::now();
    if !options.full_bucket {
        run.standin
            .set_bucket_available(SHOP, 0.0)
            .expect("the shop exists");
    }
    let started = Instant::now();
    let users = run
        .post_all(
            "/Users",
            (0..options.users).map(user).collect(),
            options.concurrency,
        )
        .await;
    let groups: Vec<Value> = (0..options.groups)
        .map(|group| {
            let members: Vec<Value> = users
                .iter()
                .skip(group)
                .step_by(options.groups.max(1))
                .map(|id| json!({ "value": id }))
                .collect();
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": format!("Team {group}"),
                "members": members,
            })
        })
        .collect();
    run.post_all("/Groups", groups, options.concurrency).await;
    let provision_s = started.elapsed().as_secs_f64();

    // Everything should be pushed well within three times what the points cost.
    let patience =
        Duration::from_secs_f64(60.0 + 3.0 * 20.0 * users.len() as f64 / plan.restore_rate());
    let deadline = Instant::now() + patience;
    let unsynced = loop {
        let open = store_sync::open_jobs(&run.db, shop_id)
            .await
            .expect("the outbox answers")
            .len();
        let customers = run.standin.customers(SHOP).expect("the shop exists");
        let tagged = customers
            .iter()
            .filter(|customer| {
                customer
                    .tags
                    .iter()
                    .any(|tag| tag.starts_with("scim-team-"))
            })
            .count();
        if open == 0 && tagged >= users.len() {
            break 0;
        }
        if Instant::now() >= deadline {
            eprintln!("gave up after {patience:?}: {open} open jobs, {tagged} tagged customers");
            break open.max(users.len().saturating_sub(tagged));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let calls: Vec<_> = run
        .standin
        .calls(SHOP)
        .expect("the shop exists")
        .into_iter()
        .filter(|call| call.at >= emptied_at)
        .collect();
    let last_call = calls.iter().map(|call| call.at).max().unwrap_or(emptied_at);
    let accepted_points = calls
        .iter()
        .filter(|call| !call.throttled && call.status == 200)
        .filter_map(|call| call.actual_cost)
        .sum();

    let customers = run.standin.customers(SHOP).expect("the shop exists");
    let mut per_user: HashMap<&str, Vec<&Customer>> = HashMap::new();
    for customer in &customers {
        if let Some(id) = scim_id(customer) {
            per_user.entry(id).or_default().push(customer);
        }
    }
    let mut missing_tag = 0;
    for (index, id) in users.iter().enumerate() {
        let tag = format!("scim-team-{}", index % options.groups.max(1));
        let tagged = per_user.get(id.as_str()).is_some_and(|customers| {
            customers
                .iter()
                .all(|customer| customer.tags.contains(&tag))
        });
        missing_tag += usize::from(!tagged);
    }

    let measured = Measured {
        backend,
        plan,
        provision_s,
        sync_s: (last_call - emptied_at).num_milliseconds() as f64 / 1000.0,
        calls: calls.len(),
        throttled: calls.iter().filter(|call| call.throttled).count(),
        accepted_points,
        customers: customers.len(),
        duplicates: per_user.values().map(|customers| customers.len() - 1).sum(),
        missing_tag,
        unsynced,
    };
    run.stop().await;
    database.drop().await;
    measured
}

fn checks(options: &Options, measured: &Measured) -> Vec<(String, bool)> {
    vec![
        (
            format!(
                "one customer per user ({} customers, {} users, {} duplicates)",
                measured.customers, options.users, measured.duplicates
            ),
            measured.customers == options.users && measured.duplicates == 0,
        ),
        (
            format!(
                "every customer carries its group's tag ({} do not)",
                measured.missing_tag
            ),
            measured.missing_tag == 0 && measured.unsynced == 0,
        ),
        (
            format!(
                "accepted cost at least 90% of the restore rate ({:.1}%)",
                100.0 * measured.share()
            ),
            measured.share() >= 0.9,
        ),
        (
            format!("no THROTTLED answers ({})", measured.throttled),
            measured.throttled == 0,
        ),
    ]
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    let mut results = Vec::new();
    let mut passed = true;

    for &backend in &options.backends {
        for &plan in &options.plans {
            let measured = run(&options, backend, plan).await;
            for (check, ok) in checks(&options, &measured) {
                println!("{} {check}", if ok { "ok  " } else { "FAIL" });
                passed &= ok;
            }
            println!(
                "{}",
                json!({
                    "backend": backend.label(),
                    "plan": plan.as_str(),
                    "restore_rate": measured.restore_rate(),
                    "users": options.users,
                    "groups": options.groups,
                    "full_bucket": options.full_bucket,
                    "provision_s": (measured.provision_s * 100.0).round() / 100.0,
                    "sync_s": measured.sync_s,
                    "calls": measured.calls,
                    "accepted_points": measured.accepted_points,
                    "points_per_second": (measured.points_per_second() * 10.0).round() / 10.0,
                    "share": (measured.share() * 1000.0).round() / 1000.0,
                    "throttled": measured.throttled,
                    "customers": measured.customers,
                    "duplicates": measured.duplicates,
                })
            );
            results.push(measured);
        }
    }

    println!(
        "\n| database | restore rate | users | IdP done s | synced s | calls | accepted points | points/s | share | THROTTLED |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for measured in &results {
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.1} | {:.1}% | {} |",
            measured.backend.label(),
            measured.restore_rate(),
            options.users,
            measured.provision_s,
            measured.sync_s,
            measured.calls,
            measured.accepted_points,
            measured.points_per_second(),
            100.0 * measured.share(),
            measured.throttled,
        );
    }

    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
