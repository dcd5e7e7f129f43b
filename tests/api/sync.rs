//! The sync engine end to end against the Shopify stand-in: SCIM users and groups become
//! customers and tags, deprovisioning follows the shop's policy, existing customers are
//! adopted only when allowed, merchant tags are left alone, and faults do not duplicate.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shopify_scim::store::{shops, sync as store_sync};
use shopify_scim::sync::settings::SyncSettings;
use shopify_scim::types::ShopDomain;
use shopify_standin::Plan;
use shopify_standin::store::{Customer, CustomerInput};

use crate::helpers::{
    ShopifyTestApp, TestTenant, eventually_within, spawn_app_with_shopify, standin_config,
};

const SHOP: &str = "acme.myshopify.com";

struct SyncTest {
    test: ShopifyTestApp,
    tenant: TestTenant,
}

impl SyncTest {
    async fn start(plan: Plan, adjust: impl FnOnce(&mut shopify_standin::StandInConfig)) -> Self {
        let mut config = standin_config(SHOP);
        config.shops = vec![(SHOP.to_owned(), plan)];
        config.fault_timeout = Duration::from_millis(200);
        adjust(&mut config);
        let test = spawn_app_with_shopify(SHOP, config).await;
        let launch = test.standin.launch_url(SHOP).unwrap();
        let opened = test.app.client.get(launch).send().await.unwrap();
        assert_eq!(opened.status(), StatusCode::OK);
        let tenant = test.app.tenant("acme").await;
        Self { test, tenant }
    }

    async fn set_settings(&self, sync: Value) {
        let settings = SyncSettings::parse(&sync).unwrap();
        let row = self.shop().await;
        let stored = settings.store_into(&row.settings).unwrap();
        shops::set_settings(&self.test.app.db, row.id, &stored)
            .await
            .unwrap();
    }

    async fn shop(&self) -> shopify_scim::store::entity::shop::Model {
        shops::find_by_domain(&self.test.app.db, &ShopDomain::parse(SHOP).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self
            .test
            .app
            .send_scim(method, &self.tenant, path, body)
            .await;
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    async fn create_user(&self, n: usize) -> String {
        let body = self
            .scim(
                Method::POST,
                "/Users",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{n}@example.com"),
                    "name": { "givenName": format!("Given{n}"), "familyName": format!("Family{n}") },
                    "emails": [{ "value": format!("user{n}@example.com"), "primary": true }],
                    "phoneNumbers": [{ "value": format!("+1 555 010 {n:04}") }],
                    "locale": "en-US",
                })),
            )
            .await;
        body["id"].as_str().unwrap().to_owned()
    }

    async fn create_group(&self, name: &str, members: &[String]) -> String {
        let members: Vec<Value> = members.iter().map(|id| json!({ "value": id })).collect();
        let body = self
            .scim(
                Method::POST,
                "/Groups",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "members": members,
                })),
            )
            .await;
        body["id"].as_str().unwrap().to_owned()
    }

    async fn patch(&self, path: &str, operations: Value) {
        self.scim(
            Method::PATCH,
            path,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": operations,
            })),
        )
        .await;
    }

    fn customers(&self) -> Vec<Customer> {
        self.test.standin.customers(SHOP).unwrap()
    }

    /// The customer whose `$app:scim_id` metafield holds `user_id`.
    fn customer_of(&self, user_id: &str) -> Option<Customer> {
        self.customers()
            .into_iter()
            .find(|customer| scim_id(customer) == Some(user_id))
    }

    /// Waits until the outbox is empty (nothing pending, running or parked).
    async fn synced(&self) {
        let shop_id = self.shop().await.id;
        let db = self.test.app.db.clone();
        eventually_within("the outbox to drain", Duration::from_secs(90), || {
            let db = db.clone();
            async move {
                let open = store_sync::open_jobs(&db, shop_id).await.unwrap();
                open.is_empty().then_some(())
            }
        })
        .await;
    }
}

fn scim_id(customer: &Customer) -> Option<&str> {
    customer
        .metafields
        .iter()
        .find(|metafield| metafield.key == "scim_id")
        .map(|metafield| metafield.value.as_str())
}

fn tags(customer: &Customer) -> BTreeSet<&str> {
    customer.tags.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn two_hundred_users_in_ten_groups_become_two_hundred_tagged_customers() {
    let sync = SyncTest::start(Plan::Enterprise, |_| {}).await;
    let mut users = Vec::new();
    for n in 0..200 {
        users.push(sync.create_user(n).await);
    }

    for group in 0..10 {
        let members = &users[group * 20..(group + 1) * 20];
        sync.create_group(&format!("Team {group}"), members).await;
    }
    sync.synced().await;

    let customers = sync.customers();
    assert_eq!(customers.len(), 200, "one customer per user, no duplicates");
    let by_user: HashMap<&str, &Customer> = customers
        .iter()
        .map(|customer| (scim_id(customer).unwrap(), customer))
        .collect();
    assert_eq!(by_user.len(), 200);
    for (n, user) in users.iter().enumerate() {
        let customer = by_user[user.as_str()];
        assert_eq!(
            customer.email.as_deref(),
            Some(format!("user{n}@example.com").as_str())
        );
        assert_eq!(
            customer.first_name.as_deref(),
            Some(format!("Given{n}").as_str())
        );
        assert_eq!(
            customer.last_name.as_deref(),
            Some(format!("Family{n}").as_str())
        );
        assert_eq!(
            customer.phone.as_deref(),
            Some(format!("+1555010{n:04}").as_str())
        );
        assert_eq!(customer.locale.as_deref(), Some("en-US"));
        let team = format!("scim-team-{}", n / 20);
        assert_eq!(tags(customer), BTreeSet::from([team.as_str()]));
    }
}

#[tokio::test]
async fn deactivation_tags_the_customer_inactive_and_reactivation_restores_its_groups() {
    let sync = SyncTest::start(Plan::Plus, |_| {}).await;
    let user = sync.create_user(1).await;
    sync.create_group("Gold", std::slice::from_ref(&user)).await;
    sync.synced().await;

    sync.patch(
        &format!("/Users/{user}"),
        json!([{ "op": "replace", "value": { "active": false } }]),
    )
    .await;
    sync.synced().await;
    let inactive = sync.customer_of(&user).unwrap();

    sync.patch(
        &format!("/Users/{user}"),
        json!([{ "op": "replace", "path": "active", "value": true }]),
    )
    .await;
    sync.synced().await;
    let active = sync.customer_of(&user).unwrap();

    assert_eq!(tags(&inactive), BTreeSet::from(["scim-inactive"]));
    assert_eq!(tags(&active), BTreeSet::from(["scim-gold"]));
    assert_eq!(sync.customers().len(), 1);
    let activity = store_sync::recent_activity(&sync.test.app.db, sync.shop().await.id, 50)
        .await
        .unwrap();
    assert!(activity.iter().any(|entry| entry.kind == "deprovisioned"));
}

#[tokio::test]
async fn delete_tags_by_default_and_deletes_or_erases_when_the_shop_says_so() {
    let sync = SyncTest::start(Plan::Plus, |_| {}).await;
    let tagged = sync.create_user(1).await;
    let deletable = sync.create_user(2).await;
    let with_orders = sync.create_user(3).await;
    let erased = sync.create_user(4).await;
    sync.synced().await;
    let order_customer = sync.customer_of(&with_orders).unwrap();
    sync.test
        .standin
        .add_order(SHOP, order_customer.id, 25.0)
        .unwrap();

    sync.scim(Method::DELETE, &format!("/Users/{tagged}"), None)
        .await;
    sync.synced().await;
    sync.set_settings(json!({ "on_delete": "delete_without_orders" }))
        .await;
    sync.scim(Method::DELETE, &format!("/Users/{deletable}"), None)
        .await;
    sync.scim(Method::DELETE, &format!("/Users/{with_orders}"), None)
        .await;
    sync.synced().await;
    sync.set_settings(json!({ "on_delete": "erase" })).await;
    sync.scim(Method::DELETE, &format!("/Users/{erased}"), None)
        .await;
    sync.synced().await;

    assert_eq!(
        tags(&sync.customer_of(&tagged).unwrap()),
        BTreeSet::from(["scim-inactive"])
    );
    assert!(
        sync.customer_of(&deletable).is_none(),
        "a customer without orders is deleted"
    );
    assert_eq!(
        tags(&sync.customer_of(&with_orders).unwrap()),
        BTreeSet::from(["scim-inactive"])
    );
    assert!(
        sync.customer_of(&erased)
            .unwrap()
            .data_erasure_requested_at
            .is_some()
    );
    assert_eq!(sync.customers().len(), 3);
}

#[tokio::test]
async fn an_existing_customer_with_the_email_fails_visibly_unless_adoption_is_allowed() {
    let sync = SyncTest::start(Plan::Plus, |_| {}).await;
    let input: CustomerInput =
        serde_json::from_value(json!({ "email": "user7@example.com", "firstName": "Old" }))
            .unwrap();
    let existing = sync.test.standin.create_customer(SHOP, &input).unwrap();
    let shop_id = sync.shop().await.id;

    let user = sync.create_user(7).await;
    let parked = eventually_within("the job to be parked", Duration::from_secs(30), || async {
        let failed = store_sync::failed_jobs(&sync.test.app.db, Some(shop_id))
            .await
            .unwrap();
        failed.into_iter().next()
    })
    .await;
    assert!(parked.last_error.unwrap().contains("already exists"));
    assert_eq!(sync.customers().len(), 1);

    sync.set_settings(json!({ "adopt_existing": true })).await;
    store_sync::retry_failed(&sync.test.app.db, Some(parked.id))
        .await
        .unwrap();
    sync.synced().await;

    let customers = sync.customers();
    assert_eq!(
        customers.len(),
        1,
        "the existing customer is linked, not duplicated"
    );
    assert_eq!(customers[0].id, existing.id);
    assert_eq!(scim_id(&customers[0]), Some(user.as_str()));
    assert_eq!(customers[0].first_name.as_deref(), Some("Given7"));
    let activity = store_sync::recent_activity(&sync.test.app.db, shop_id, 10)
        .await
        .unwrap();
    assert!(activity.iter().any(|entry| entry.kind == "adopted"));
    assert!(activity.iter().any(|entry| entry.kind == "failed"));
}

#[tokio::test]
async fn tags_the_merchant_added_are_never_removed() {
    let sync = SyncTest::start(Plan::Plus, |_| {}).await;
    let user = sync.create_user(1).await;
    let group = sync.create_group("Gold", std::slice::from_ref(&user)).await;
    sync.synced().await;
    let customer = sync.customer_of(&user).unwrap();
    let merchant: CustomerInput =
        serde_json::from_value(json!({ "tags": ["scim-gold", "vip-by-hand"] })).unwrap();
    sync.test
        .standin
        .update_customer(SHOP, customer.id, &merchant)
        .unwrap();

    sync.patch(
        &format!("/Groups/{group}"),
        json!([{ "op": "remove", "path": format!("members[value eq \"{user}\"]") }]),
    )
    .await;
    sync.synced().await;

    assert_eq!(
        tags(&sync.customer_of(&user).unwrap()),
        BTreeSet::from(["vip-by-hand"])
    );
}

#[tokio::test]
async fn a_user_that_did_not_change_costs_no_second_call() {
    let sync = SyncTest::start(Plan::Plus, |_| {}).await;
    let user = sync.create_user(1).await;
    sync.synced().await;
    let calls_before = sync.test.standin.calls(SHOP).unwrap().len();

    sync.scim(
        Method::PUT,
        &format!("/Users/{user}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "user1@example.com",
            "name": { "givenName": "Given1", "familyName": "Family1" },
            "emails": [{ "value": "user1@example.com", "primary": true }],
            "phoneNumbers": [{ "value": "+1 555 010 0001" }],
            "locale": "en-US",
            "displayName": "Only the display name changes",
        })),
    )
    .await;
    sync.synced().await;

    assert_eq!(sync.test.standin.calls(SHOP).unwrap().len(), calls_before);
}

#[tokio::test]
async fn with_thirty_percent_of_calls_failing_and_webhooks_disturbed_the_run_converges_without_duplicates()
 {
    let sync = SyncTest::start(Plan::Plus, |_| {}).await;
    sync.test.standin.set_faults(shopify_standin::Faults {
        error_share: 0.1,
        timeout_share: 0.1,
        throttle_share: 0.1,
        webhook_duplicate_share: 0.3,
        webhook_reorder_share: 0.3,
        ..Default::default()
    });
    let mut users = Vec::new();
    for n in 0..60 {
        users.push(sync.create_user(n).await);
    }
    sync.create_group("Faulty", &users[..30]).await;
    for user in &users[50..] {
        sync.patch(
            &format!("/Users/{user}"),
            json!([{ "op": "replace", "path": "active", "value": false }]),
        )
        .await;
    }

    sync.synced().await;
    sync.test
        .standin
        .set_faults(shopify_standin::Faults::default());

    let customers = sync.customers();
    assert_eq!(customers.len(), 60, "no duplicates");
    let faults = sync
        .test
        .standin
        .calls(SHOP)
        .unwrap()
        .iter()
        .filter(|call| call.fault.is_some())
        .count();
    assert!(faults > 20, "faults were injected ({faults})");
    for (n, user) in users.iter().enumerate() {
        let customer = sync.customer_of(user).unwrap();
        let expected = match n {
            0..30 => "scim-faulty",
            50.. => "scim-inactive",
            _ => "",
        };
        let expected: BTreeSet<&str> = [expected]
            .into_iter()
            .filter(|tag| !tag.is_empty())
            .collect();
        assert_eq!(tags(&customer), expected, "user {n}");
    }
}

#[tokio::test]
async fn two_instances_on_one_database_share_the_queue_and_never_push_a_shop_twice_at_once() {
    const SHOPS: [&str; 4] = ["one", "two", "three", "four"];
    let mut config = standin_config(SHOP);
    config.shops = SHOPS
        .iter()
        .map(|handle| (format!("{handle}.myshopify.com"), Plan::Plus))
        .collect();
    let test = spawn_app_with_shopify(SHOP, config).await;
    let latency = 40;
    test.standin.set_faults(shopify_standin::Faults {
        latency_ms: latency,
        ..Default::default()
    });
    let second_db = shopify_scim::store::Database::connect(&test.app.settings.database)
        .await
        .unwrap();
    let second = shopify_scim::startup::Application::build(&test.app.settings, second_db).unwrap();
    let (stop_second, stopped) = tokio::sync::oneshot::channel::<()>();
    let second = tokio::spawn(second.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let mut tenants = Vec::new();
    for handle in SHOPS {
        let launch = test
            .standin
            .launch_url(&format!("{handle}.myshopify.com"))
            .unwrap();
        assert_eq!(
            test.app.client.get(launch).send().await.unwrap().status(),
            StatusCode::OK
        );
        tenants.push(test.app.tenant(handle).await);
    }
    for tenant in &tenants {
        for n in 0..25 {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("{}-{n}@example.com", tenant.handle),
            });
            let (status, _) = test
                .app
                .send_scim(Method::POST, tenant, "/Users", Some(body))
                .await;
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    eventually_within(
        "every shop to be pushed",
        Duration::from_secs(90),
        || async {
            let mut open = 0;
            for handle in SHOPS {
                let domain = ShopDomain::parse(&format!("{handle}.myshopify.com")).unwrap();
                let shop = shops::find_by_domain(&test.app.db, &domain)
                    .await
                    .unwrap()
                    .unwrap();
                open += store_sync::open_jobs(&test.app.db, shop.id)
                    .await
                    .unwrap()
                    .len();
            }
            (open == 0).then_some(())
        },
    )
    .await;
    let _ = stop_second.send(());
    second.await.unwrap().unwrap();

    for handle in SHOPS {
        let shop = format!("{handle}.myshopify.com");
        let calls = test.standin.calls(&shop).unwrap();
        let pushes = calls
            .iter()
            .filter(|call| call.root_fields.iter().any(|field| field == "customerSet"))
            .count();
        assert_eq!(pushes, 25, "{shop}: each user pushed exactly once");
        assert_eq!(test.standin.customers(&shop).unwrap().len(), 25);
        let mut arrivals: Vec<_> = calls.iter().map(|call| call.at).collect();
        arrivals.sort();
        let closest = arrivals
            .windows(2)
            .map(|pair| (pair[1] - pair[0]).num_milliseconds())
            .min()
            .unwrap();
        assert!(
            closest >= latency as i64 - 5,
            "{shop}: two calls {closest} ms apart, so two workers pushed it at once"
        );
    }
}

#[tokio::test]
async fn the_admin_page_shows_what_the_sync_did() {
    let sync = SyncTest::start(Plan::Plus, |_| {}).await;
    let user = sync.create_user(1).await;
    sync.synced().await;
    let customer = sync.customer_of(&user).unwrap();
    let token = sync.test.standin.session_token(SHOP, None).unwrap();

    let shop: Value = sync
        .test
        .app
        .client
        .get(format!("{}/app/api/shop", sync.test.app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let launch = sync.test.standin.launch_url(SHOP).unwrap();
    let page = sync
        .test
        .app
        .client
        .get(launch)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(shop["activity"][0]["kind"], "pushed");
    assert_eq!(shop["activity"][0]["scim_user_id"], user.as_str());
    assert_eq!(shop["failed_jobs"], 0);
    assert!(page.contains("Sync activity"));
    assert!(
        page.contains(&customer.id.to_string()),
        "the page names the customer"
    );
    assert!(
        !page.contains("user1@example.com"),
        "no more PII than Shopify admin shows"
    );
}
