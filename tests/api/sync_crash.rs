//! Crash safety: the server process is killed with SIGKILL at random moments of a sync run,
//! five times, and started again; afterwards every SCIM user has exactly one customer in
//! its final state and no job was lost.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shopify_scim::store::{Database, shops, sync as store_sync, tokens};
use shopify_scim::types::ShopDomain;
use tokio::process::{Child, Command};

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, TestDatabase, TestTenant, eventually_within, standin_config,
};

const BINARY: &str = env!("CARGO_BIN_EXE_shopify-scim");
const SHOP: &str = "crash.myshopify.com";
const USERS: usize = 80;

/// A small, seeded source of "random" moments, so a failing run can be repeated.
struct Moments(u64);

impl Moments {
    fn next_millis(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        low + (self.0 >> 33) % (high - low)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap()
}

struct Server {
    database_url: String,
    admin_base_url: String,
    port: u16,
    log: std::path::PathBuf,
}

impl Server {
    fn start(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        Command::new(BINARY)
            .arg("serve")
            .env_clear()
            .envs([
                ("DATABASE_URL", self.database_url.clone()),
                (
                    "SHOPIFY_SCIM_SERVER__LISTEN",
                    format!("127.0.0.1:{}", self.port),
                ),
                (
                    "SHOPIFY_SCIM_SERVER__PUBLIC_URL",
                    format!("http://127.0.0.1:{}", self.port),
                ),
                ("SHOPIFY_SCIM_SHOPIFY__API_KEY", CLIENT_ID.to_owned()),
                ("SHOPIFY_SCIM_SHOPIFY__API_SECRET", CLIENT_SECRET.to_owned()),
                (
                    "SHOPIFY_SCIM_SHOPIFY__ADMIN_BASE_URL",
                    self.admin_base_url.clone(),
                ),
                (
                    "SHOPIFY_SCIM_SECURITY__TOKEN_ENCRYPTION_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned(),
                ),
                (
                    "SHOPIFY_SCIM_SCIM__RATE_LIMIT_PER_SECOND",
                    "10000".to_owned(),
                ),
                ("SHOPIFY_SCIM_SCIM__RATE_LIMIT_BURST", "10000".to_owned()),
                ("SHOPIFY_SCIM_SYNC__LEASE_SECS", "2".to_owned()),
                ("SHOPIFY_SCIM_SYNC__POLL_MS", "50".to_owned()),
                ("SHOPIFY_SCIM_SYNC__RETRY_BASE_MS", "50".to_owned()),
                ("SHOPIFY_SCIM_SYNC__RETRY_MAX_SECS", "1".to_owned()),
                ("SHOPIFY_SCIM_LOG__FILTER", "info".to_owned()),
            ])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("starting shopify-scim serve")
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_until_serving(&self, http: &reqwest::Client) {
        eventually_within("the server to answer", Duration::from_secs(30), || async {
            let answer = http.get(format!("{}/healthz", self.url())).send().await;
            answer
                .ok()
                .filter(|r| r.status() == StatusCode::OK)
                .map(|_| ())
        })
        .await;
    }
}

async fn scim(
    http: &reqwest::Client,
    base: &str,
    tenant: &TestTenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Option<Value> {
    let mut request = http
        .request(method, format!("{base}/scim/v2/{}{path}", tenant.handle))
        .bearer_auth(&tenant.token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

#[tokio::test]
async fn killing_the_server_during_a_sync_run_loses_no_job_and_duplicates_no_customer() {
    let database = TestDatabase::fresh().await;
    let mut config = standin_config(SHOP);
    config.shops = vec![(SHOP.to_owned(), shopify_standin::Plan::Standard)];
    let standin = shopify_standin::StandIn::start(config).await.unwrap();
    standin.set_faults(shopify_standin::Faults {
        latency_ms: 40,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let server = Server {
        database_url: database.url.clone(),
        admin_base_url: standin.admin_base_url_template(),
        port: free_port(),
        log: dir.path().join("server.log"),
    };
    let origin: url::Url = server.url().parse().unwrap();
    standin.set_app_url(origin.join("/app").unwrap());
    standin.set_webhook_targets(shopify_standin::WebhookTargets::under(&origin));
    let http = reqwest::Client::new();
    let mut child = server.start();
    server.wait_until_serving(&http).await;
    let launch = standin.launch_url(SHOP).unwrap();
    assert_eq!(
        http.get(launch).send().await.unwrap().status(),
        StatusCode::OK
    );
    let db = Database::connect(&database.settings()).await.unwrap();
    let domain = ShopDomain::parse(SHOP).unwrap();
    let shop = shops::find_by_domain(&db, &domain).await.unwrap().unwrap();
    let (_, token) = tokens::create(&db, shop.id, "crash", None, "test")
        .await
        .unwrap();
    let tenant = TestTenant {
        handle: "crash".to_owned(),
        token: secrecy::ExposeSecret::expose_secret(&token).to_owned(),
    };
    let mut moments = Moments(0x5eed_cafe);
    let mut users: Vec<String> = Vec::new();
    let mut final_names: HashMap<String, String> = HashMap::new();
    let mut kills_mid_run = 0;

    for round in 0..5 {
        // Writes land while the previous round's pushes are still going.
        for n in 0..USERS / 5 {
            let index = round * (USERS / 5) + n;
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("crash{index}@example.com"),
                "name": { "givenName": format!("First{index}"), "familyName": "Crash" },
            });
            let created = scim(
                &http,
                &server.url(),
                &tenant,
                Method::POST,
                "/Users",
                Some(body),
            )
            .await
            .expect("creating a user");
            let id = created["id"].as_str().unwrap().to_owned();
            final_names.insert(id.clone(), format!("First{index}"));
            users.push(id);
        }
        for id in users.iter().step_by(7) {
            let name = format!("Renamed{round}");
            let patch = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "path": "name.givenName", "value": name }],
            });
            scim(
                &http,
                &server.url(),
                &tenant,
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(patch),
            )
            .await
            .expect("renaming a user");
            final_names.insert(id.clone(), name);
        }

        tokio::time::sleep(Duration::from_millis(moments.next_millis(200, 1500))).await;
        let open = store_sync::open_jobs(&db, shop.id).await.unwrap().len();
        if open > 0 {
            kills_mid_run += 1;
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        child = server.start();
        server.wait_until_serving(&http).await;
    }

    eventually_within(
        "every job to be pushed",
        Duration::from_secs(120),
        || async {
            let open = store_sync::open_jobs(&db, shop.id).await.unwrap();
            open.is_empty().then_some(())
        },
    )
    .await;
    child.start_kill().unwrap();

    let customers = standin.customers(SHOP).unwrap();
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert_eq!(
        customers.len(),
        USERS,
        "one customer per user; server log:\n{log}"
    );
    let mut seen = HashMap::new();
    for customer in &customers {
        let scim_id = customer
            .metafields
            .iter()
            .find(|metafield| metafield.key == "scim_id")
            .map(|metafield| metafield.value.clone())
            .expect("every customer carries its SCIM id");
        assert!(
            seen.insert(scim_id.clone(), customer.id).is_none(),
            "a second customer"
        );
        assert_eq!(
            customer.first_name.as_deref(),
            Some(final_names[&scim_id].as_str()),
            "customer of {scim_id} is in its final state"
        );
    }
    assert_eq!(seen.len(), users.len());
    assert!(
        kills_mid_run >= 3,
        "only {kills_mid_run} of 5 kills hit a running sync"
    );
    assert!(
        store_sync::failed_jobs(&db, Some(shop.id))
            .await
            .unwrap()
            .is_empty()
    );
}
