//! The compiled binary: `serve`, `migrate` and `dev`, run as child processes the way an
//! operator would, with their logs read from stdout.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::helpers::TestDatabase;

const BINARY: &str = env!("CARGO_BIN_EXE_shopify-scim");

/// How long any single wait on the child may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Environment that satisfies `serve`, with JSON logs.
fn serve_env(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("SHOPIFY_SCIM_SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        (
            "SHOPIFY_SCIM_SERVER__PUBLIC_URL",
            "https://scim.example.com".to_owned(),
        ),
        ("SHOPIFY_SCIM_SHOPIFY__API_KEY", "client-id".to_owned()),
        (
            "SHOPIFY_SCIM_SHOPIFY__API_SECRET",
            "client-secret".to_owned(),
        ),
        (
            "SHOPIFY_SCIM_SECURITY__TOKEN_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned(),
        ),
        ("SHOPIFY_SCIM_LOG__FORMAT", "json".to_owned()),
        ("SHOPIFY_SCIM_LOG__FILTER", "info".to_owned()),
    ]
}

/// A child process of the binary with its stdout read line by line.
struct Process {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    seen: Vec<String>,
}

impl Process {
    /// `dev` on a free loopback port with its data under `data_dir`.
    fn start_dev(data_dir: &std::path::Path) -> Self {
        let data_dir = data_dir.to_str().unwrap();
        Self::start(
            &["dev", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
            &[],
        )
    }

    fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        let mut child = Command::new(BINARY)
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting the binary");
        let stdout = child.stdout.take().expect("piped stdout");
        Self {
            child,
            stdout: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// Reads stdout until a line satisfies `wanted`, and returns it.
    async fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let read = async {
            while let Some(line) = self.stdout.next_line().await.expect("reading stdout") {
                self.seen.push(line.clone());
                if wanted(&line) {
                    return line;
                }
            }
            panic!("stdout ended; it said:\n{}", self.seen.join("\n"));
        };
        tokio::time::timeout(PATIENCE, read)
            .await
            .expect("the expected line did not appear in time")
    }

    /// Reads stdout until a JSON log line has `message` equal to `message`.
    async fn wait_for_log(&mut self, message: &str) -> Value {
        let line = self
            .wait_for_line(|line| {
                serde_json::from_str::<Value>(line).is_ok_and(|v| v["message"] == message)
            })
            .await;
        serde_json::from_str(&line).expect("a JSON log line")
    }

    /// Sends SIGTERM and returns the exit status and the rest of stdout.
    async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("a running child").to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().await;
        assert!(
            killed.is_ok_and(|status| status.success()),
            "kill -TERM failed"
        );

        let mut rest = self.seen.join("\n");
        let drain = async {
            while let Some(line) = self.stdout.next_line().await.expect("reading stdout") {
                rest.push('\n');
                rest.push_str(&line);
            }
            self.child.wait().await.expect("waiting for the child")
        };
        let status = tokio::time::timeout(PATIENCE, drain)
            .await
            .expect("the process did not exit after SIGTERM");
        (status, rest)
    }
}

/// Names listed as pending by `migrate status`.
fn pending_names(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("pending  "))
        .map(str::to_owned)
        .collect()
}

async fn run_to_end(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let output = Command::new(BINARY)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output();
    tokio::time::timeout(PATIENCE, output)
        .await
        .expect("the command did not finish in time")
        .expect("running the binary")
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_required_setting_and_names_its_variable() {
    let database = TestDatabase::fresh().await;
    let env: Vec<_> = serve_env(&database.url)
        .into_iter()
        .filter(|(key, _)| *key != "SHOPIFY_SCIM_SHOPIFY__API_SECRET")
        .collect();

    let output = run_to_end(&["serve"], &env).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("SHOPIFY_SCIM_SHOPIFY__API_SECRET"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_logs_one_line_per_request_with_the_route_and_never_the_query_or_credentials() {
    let database = TestDatabase::fresh().await;
    let mut server = Process::start(&["serve"], &serve_env(&database.url));
    let serving = server.wait_for_log("serving").await;
    let port = serving["http.port"].as_u64().expect("the bound port");

    let response = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/healthz?hmac=SECRET_HMAC&id_token=SECRET_JWT"
        ))
        .header("authorization", "Bearer SECRET_BEARER")
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    let access = server.wait_for_log("request finished").await;
    let (status, output) = server.terminate().await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(access["span"]["http.route"], "/healthz");
    assert_eq!(access["span"]["http.method"], "GET");
    assert_eq!(access["span"]["request_id"], "trace-me-1");
    assert_eq!(access["http.status_code"], 200);
    assert!(access["duration_ms"].is_u64(), "{access}");
    assert_eq!(
        output.matches("\"request finished\"").count(),
        1,
        "one access-log line per request:\n{output}"
    );
    for secret in [
        "SECRET_HMAC",
        "SECRET_JWT",
        "SECRET_BEARER",
        "client-secret",
    ] {
        assert!(
            !output.contains(secret),
            "{secret} leaked into the log:\n{output}"
        );
    }
    assert!(status.success(), "{status:?}");
    assert!(output.contains("shutdown complete"), "{output}");
}

#[tokio::test]
async fn serve_warns_about_unknown_variables_with_its_prefix() {
    let database = TestDatabase::fresh().await;
    let mut env = serve_env(&database.url);
    env.push(("SHOPIFY_SCIM_SERVER__LISTN", "typo".to_owned()));

    let mut server = Process::start(&["serve"], &env);
    let warning = server
        .wait_for_log("ignoring unknown environment variable SHOPIFY_SCIM_SERVER__LISTN")
        .await;
    server.wait_for_log("serving").await;
    let (status, _) = server.terminate().await;

    assert_eq!(warning["level"], "WARN");
    assert!(status.success());
}

#[tokio::test]
async fn serve_with_no_migrate_leaves_the_schema_alone_and_reports_not_ready() {
    let database = TestDatabase::fresh().await;
    let mut server = Process::start(&["serve", "--no-migrate"], &serve_env(&database.url));
    let port = server.wait_for_log("serving").await["http.port"]
        .as_u64()
        .unwrap();

    let response = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    server.terminate().await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["reason"], "migrations_pending");
}

#[tokio::test]
async fn migrate_status_lists_pending_migrations_until_migrate_applies_them() {
    let database = TestDatabase::fresh().await;
    let env = vec![("DATABASE_URL", database.url.clone())];

    let before = run_to_end(&["migrate", "status"], &env).await;
    let up = run_to_end(&["migrate"], &env).await;
    let after = run_to_end(&["migrate", "status"], &env).await;

    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let all = crate::health::migration_names();
    assert!(before.status.success() && up.status.success() && after.status.success());
    assert_eq!(pending_names(&before), all, "{}", text(&before));
    assert!(
        text(&up).contains(&format!("applied {} migration(s)", all.len())),
        "{}",
        text(&up)
    );
    assert!(pending_names(&after).is_empty(), "{}", text(&after));
    assert!(
        text(&after).contains("applied  m20261203_000001_create_shops"),
        "{}",
        text(&after)
    );
}

#[tokio::test]
async fn migrate_rejects_an_unsupported_database_url_without_echoing_it() {
    let env = vec![(
        "DATABASE_URL",
        "mysql://root:hunter2@localhost/db".to_owned(),
    )];

    let output = run_to_end(&["migrate"], &env).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("unsupported database URL scheme `mysql`"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn dev_serves_healthz_with_no_configuration_and_says_what_to_do_next() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");

    let mut dev = Process::start_dev(&data_dir);
    let app_line = dev
        .wait_for_line(|line| line.trim_start().starts_with("App:"))
        .await;
    let base = app_line
        .trim_start()
        .trim_start_matches("App:")
        .trim()
        .to_owned();
    dev.wait_for_line(|line| line.contains("Next steps")).await;
    let response = reqwest::get(format!("{base}/healthz")).await.unwrap();
    let (status, _) = dev.terminate().await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(data_dir.join("shopify-scim.db").is_file());
    assert!(data_dir.join("dev-secrets.toml").is_file());
    assert!(status.success());
}

#[cfg(feature = "standin")]
#[tokio::test]
async fn dev_starts_the_shopify_stand_in_and_its_control_api_answers_at_the_printed_url() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");

    let mut dev = Process::start_dev(&data_dir);
    let app_line = dev
        .wait_for_line(|line| line.trim_start().starts_with("App:"))
        .await;
    let app = app_line
        .trim_start()
        .trim_start_matches("App:")
        .trim()
        .to_owned();
    let standin_line = dev
        .wait_for_line(|line| line.starts_with("Shopify stand-in: "))
        .await;
    let standin = standin_line
        .trim_start_matches("Shopify stand-in: ")
        .trim()
        .to_owned();
    dev.wait_for_line(|line| line.contains("Next steps")).await;
    let shops: Value = reqwest::get(format!("{standin}_standin/shops"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary: Value = reqwest::get(format!("{standin}_standin"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, _) = dev.terminate().await;

    assert!(standin.starts_with("http://127.0.0.1:"), "{standin}");
    assert_eq!(shops[0]["domain"], "demo.myshopify.com");
    assert_eq!(
        summary["admin_base_url"],
        format!("{standin}shops/{{shop}}")
    );
    assert_eq!(
        summary["webhooks"]["customers"],
        format!("{app}/webhooks/customers")
    );
    assert!(status.success());
}

#[cfg(feature = "standin")]
#[tokio::test]
async fn dev_installs_a_demo_shop_whose_printed_scim_token_and_admin_link_work() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let value_of = |line: String, label: &str| {
        line.trim_start()
            .trim_start_matches(label)
            .trim()
            .to_owned()
    };

    let mut dev = Process::start_dev(&data_dir);
    let base = value_of(
        dev.wait_for_line(|line| line.contains("SCIM base URL:"))
            .await,
        "SCIM base URL:",
    );
    let token = value_of(
        dev.wait_for_line(|line| line.contains("SCIM token:")).await,
        "SCIM token:",
    );
    let admin = value_of(
        dev.wait_for_line(|line| line.contains("Admin page:")).await,
        "Admin page:",
    );
    dev.wait_for_line(|line| line.contains("Next steps")).await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com"}"#)
        .send()
        .await
        .unwrap();
    let page = client.get(&admin).send().await.unwrap();
    let page_status = page.status();
    let page_text = page.text().await.unwrap();
    let (status, _) = dev.terminate().await;

    assert!(
        base.ends_with("/scim/v2/demo") && !base.contains(":0/"),
        "{base}"
    );
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(page_status, StatusCode::OK);
    assert!(page_text.contains("SCIM provisioning for demo.myshopify.com"));
    assert!(
        page_text.contains("_standin/app-bridge.js"),
        "dev serves the App Bridge stub"
    );
    assert!(status.success());
}

#[tokio::test]
async fn token_create_prints_only_the_token_and_list_and_revoke_never_show_it() {
    let database = TestDatabase::fresh().await;
    let env = vec![("DATABASE_URL", database.url.clone())];

    let created = run_to_end(
        &["token", "create", "--shop", "demo", "--label", "okta"],
        &env,
    )
    .await;
    let token = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let id = token.split('_').nth(1).unwrap_or_default().to_owned();
    let listed = run_to_end(&["token", "list", "--shop", "demo.myshopify.com"], &env).await;
    let revoked = run_to_end(&["token", "revoke", &id], &env).await;
    let after = run_to_end(&["token", "list", "--shop", "demo"], &env).await;

    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        token.starts_with("shopscim_") && !token.contains('\n'),
        "{token}"
    );
    assert!(
        text(&listed).contains(&id) && text(&listed).contains("okta"),
        "{}",
        text(&listed)
    );
    assert!(text(&listed).contains("active"), "{}", text(&listed));
    assert!(
        text(&revoked).contains("revoked token"),
        "{}",
        text(&revoked)
    );
    assert!(text(&after).contains("revoked"), "{}", text(&after));
    let secret = &token["shopscim_".len() + id.len() + 1..];
    for output in [&listed, &revoked, &after] {
        assert!(!text(output).contains(secret));
        assert!(!String::from_utf8_lossy(&output.stderr).contains(secret));
    }
}

#[tokio::test]
async fn settings_are_validated_when_saved_and_shown_afterwards() {
    let database = TestDatabase::fresh().await;
    let env = vec![("DATABASE_URL", database.url.clone())];
    let dir = tempfile::tempdir().unwrap();
    let invalid = dir.path().join("invalid.json");
    let valid = dir.path().join("valid.json");
    std::fs::write(&invalid, r#"{"on_delete": "shred"}"#).unwrap();
    std::fs::write(
        &valid,
        r#"{"on_delete": "delete_without_orders", "tags": {"on_create": ["scim"]}}"#,
    )
    .unwrap();

    let refused = run_to_end(
        &[
            "settings",
            "--shop",
            "demo",
            "--set",
            invalid.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    let saved = run_to_end(
        &[
            "settings",
            "--shop",
            "demo",
            "--set",
            valid.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    let shown = run_to_end(&["settings", "--shop", "demo"], &env).await;

    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("shred"));
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["on_delete"], "delete_without_orders");
    assert_eq!(shown["tags"]["on_create"][0], "scim");
    assert_eq!(shown["tags"]["inactive"], "scim-inactive");
}

#[tokio::test]
async fn a_parked_job_is_listed_with_its_error_and_queued_again_by_retry() {
    let database = TestDatabase::fresh().await;
    let env = vec![("DATABASE_URL", database.url.clone())];
    let db = shopify_scim::store::Database::connect(&database.settings())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let domain = shopify_scim::types::ShopDomain::parse("demo.myshopify.com").unwrap();
    let shop = shopify_scim::store::shops::find_or_create(&db, &domain)
        .await
        .unwrap();
    shopify_scim::store::outbox::enqueue(
        db.conn(),
        shop.id,
        shopify_scim::store::outbox::SubjectKind::User,
        "u-1",
    )
    .await
    .unwrap();
    let job = shopify_scim::store::outbox::pending(db.conn(), shop.id)
        .await
        .unwrap()
        .remove(0);
    shopify_scim::store::sync::park_jobs(&db, shop.id, &[job.id], "Email is invalid")
        .await
        .unwrap();

    let listed = run_to_end(&["jobs", "list", "--failed"], &env).await;
    let retried = run_to_end(&["jobs", "retry", &job.id.to_string()], &env).await;
    let again = run_to_end(&["jobs", "retry", &job.id.to_string()], &env).await;

    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("u-1") && listed.contains("Email is invalid"),
        "{listed}"
    );
    assert!(String::from_utf8_lossy(&retried.stdout).contains("queued 1 job"));
    assert_eq!(
        again.status.code(),
        Some(1),
        "nothing parked is left to retry"
    );
    let pending = shopify_scim::store::outbox::pending(db.conn(), shop.id)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 0);
}
