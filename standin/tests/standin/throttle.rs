//! The cost-based leaky bucket under sustained load, on a clock the test moves: accepted
//! cost per simulated second matches the plan's restore rate, and everything beyond it is
//! answered `THROTTLED`.

use std::time::Duration;

use serde_json::{Value, json};
use shopify_standin::{Plan, WebhookTargets};

use crate::helpers::{SHOP, TestStandIn};

/// A mutation: requested 10, actual 10.
const CREATE: &str = "mutation($input: CustomerInput!) {
  customerCreate(input: $input) { customer { id } userErrors { message } } }";

/// A search that finds nothing: requested 2 + 20, actual 2.
const SEARCH: &str = "{ customers(first: 20, query: \"tag:nobody\") { nodes { id } } }";

/// The simulated step between bursts.
const TICK: Duration = Duration::from_millis(50);

struct Answer {
    throttled: bool,
    actual: u64,
}

async fn call(test: &TestStandIn, token: &str, n: u64) -> Answer {
    let (status, body) = if n.is_multiple_of(2) {
        let input = json!({ "input": { "firstName": format!("Load {n}") } });
        test.graphql(token, CREATE, input).await
    } else {
        test.graphql(token, SEARCH, json!({})).await
    };
    assert_eq!(status, 200, "{body}");
    let throttled = body["errors"][0]["extensions"]["code"] == "THROTTLED";
    Answer {
        throttled,
        actual: body["extensions"]["cost"]["actualQueryCost"]
            .as_u64()
            .unwrap_or(0),
    }
}

/// Sends calls until one is throttled; returns the actual cost accepted meanwhile.
async fn burst(test: &TestStandIn, token: &str, sent: &mut u64, throttled: &mut u64) -> u64 {
    let mut accepted = 0;
    loop {
        *sent += 1;
        let answer = call(test, token, *sent).await;
        if answer.throttled {
            *throttled += 1;
            return accepted;
        }
        accepted += answer.actual;
    }
}

/// Drains the bucket, then drives `seconds` of simulated sustained load and returns the
/// accepted cost per second and the number of `THROTTLED` answers.
async fn sustained_load(plan: Plan, seconds: u64) -> (f64, u64) {
    let test = TestStandIn::start_with(|mut config| {
        config.webhooks = WebhookTargets::default();
        config
    })
    .await;
    let token = test.token();
    let (mut sent, mut throttled) = (0, 0);
    // Drain the small Standard bucket, then move to the plan: what is left carries over.
    burst(&test, &token, &mut sent, &mut throttled).await;
    test.standin.set_plan(SHOP, plan).unwrap();

    let ticks = seconds * 1000 / TICK.as_millis() as u64;
    let mut accepted = 0;
    let mut throttled_in_window = 0;
    for _ in 0..ticks {
        test.clock.advance(TICK);
        accepted += burst(&test, &token, &mut sent, &mut throttled_in_window).await;
    }
    (accepted as f64 / seconds as f64, throttled_in_window)
}

#[tokio::test]
async fn sustained_load_is_accepted_at_each_plans_restore_rate_within_five_percent() {
    // Each run restores about 3,000 points, so the runs cost the same number of requests.
    for (plan, seconds) in [
        (Plan::Standard, 30),
        (Plan::Advanced, 15),
        (Plan::Plus, 3),
        (Plan::Enterprise, 2),
    ] {
        let (per_second, throttled) = sustained_load(plan, seconds).await;

        let rate = plan.restore_rate();
        let deviation = (per_second - rate).abs() / rate;
        println!("{plan}: {per_second:.1} points/s accepted, {throttled} throttled answers");
        assert!(
            deviation <= 0.05,
            "{plan}: accepted {per_second:.1} points/s against a restore rate of {rate}"
        );
        assert!(throttled > 0, "{plan}: nothing was throttled");
    }
}

#[tokio::test]
async fn a_throttled_answer_has_shopifys_shape_and_charges_nothing() {
    let test = TestStandIn::start().await;
    let token = test.token();
    let (mut sent, mut throttled) = (0, 0);
    burst(&test, &token, &mut sent, &mut throttled).await;

    let (status, body) = test.graphql(&token, SEARCH, json!({})).await;
    let (_, again) = test.graphql(&token, SEARCH, json!({})).await;

    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["message"], "Throttled");
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    assert!(body.get("data").is_none());
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 22);
    assert_eq!(cost["actualQueryCost"], Value::Null);
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], 2000.0);
    assert_eq!(cost["throttleStatus"]["restoreRate"], 100.0);
    assert!(
        cost["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
            < 22
    );
    assert_eq!(
        again["extensions"]["cost"]["throttleStatus"],
        cost["throttleStatus"]
    );
}

#[tokio::test]
async fn the_bucket_is_per_shop_so_one_shops_load_leaves_another_alone() {
    let test = TestStandIn::start().await;
    test.standin.create_shop("calm", Plan::Standard).unwrap();
    let token = test.token();
    let calm = test
        .standin
        .grant_offline_token("calm", true)
        .unwrap()
        .access_token;
    let (mut sent, mut throttled) = (0, 0);
    burst(&test, &token, &mut sent, &mut throttled).await;

    let (_, body) = test
        .graphql_on("calm.myshopify.com", &calm, SEARCH, json!({}))
        .await;

    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"],
        2000 - 2
    );
}
