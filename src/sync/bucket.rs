//! A model of a shop's Shopify cost bucket (`shopify.md` §7).
//!
//! A worker sends only what fits: points drain by each call's cost and refill at the
//! restore rate up to the bucket's size. Every answer's `throttleStatus` resets the model
//! to what Shopify measured.
//!
//! Until the first answer the model knows nothing and lets one call through.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::store::sync::BucketState;

/// Keeps this many points in reserve against rounding and concurrent refunds.
const MARGIN: f64 = 1.0;

/// The estimated and measured state of one shop's bucket.
#[derive(Debug, Clone)]
pub struct CostBucket {
    state: Option<BucketState>,
    /// The requested cost last seen per operation name.
    costs: HashMap<&'static str, f64>,
}

impl CostBucket {
    /// A bucket last measured as `state` (from the shop's sync row), or unknown.
    pub fn new(state: Option<BucketState>) -> Self {
        Self {
            state,
            costs: HashMap::new(),
        }
    }

    /// What is stored for the next worker.
    pub fn state(&self) -> Option<BucketState> {
        self.state
    }

    /// The points expected to be available at `now`.
    pub fn available_at(&self, now: DateTime<Utc>) -> Option<f64> {
        let state = self.state?;
        let elapsed = (now - state.measured_at).num_milliseconds().max(0) as f64 / 1000.0;
        Some((state.available + elapsed * state.restore_rate).min(state.maximum))
    }

    /// The requested cost expected of `operation` (10 per mutation until one is measured).
    pub fn estimate(&self, operation: &'static str) -> f64 {
        self.costs.get(operation).copied().unwrap_or(10.0)
    }

    /// How long to wait at `now` before `operation` fits in the bucket.
    pub fn wait_for(&self, operation: &'static str, now: DateTime<Utc>) -> Duration {
        let (Some(available), Some(state)) = (self.available_at(now), self.state) else {
            return Duration::ZERO;
        };
        let needed = self.estimate(operation).min(state.maximum) + MARGIN - available;
        if needed <= 0.0 || state.restore_rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(needed / state.restore_rate)
    }

    /// Learns from an answer's `extensions.cost`: the operation's requested cost and the
    /// bucket Shopify reports.
    pub fn observe(&mut self, operation: &'static str, extensions: &Value, now: DateTime<Utc>) {
        let cost = &extensions["cost"];
        if let Some(requested) = cost["requestedQueryCost"].as_f64() {
            self.costs.insert(operation, requested);
        }
        let status = &cost["throttleStatus"];
        if let (Some(available), Some(maximum), Some(restore_rate)) = (
            status["currentlyAvailable"].as_f64(),
            status["maximumAvailable"].as_f64(),
            status["restoreRate"].as_f64(),
        ) {
            self.state = Some(BucketState {
                available,
                maximum,
                restore_rate,
                measured_at: now,
            });
        }
    }

    /// How long a throttled call should wait: until its requested cost is restored.
    pub fn throttle_wait(&self, operation: &'static str, extensions: &Value) -> f64 {
        let cost = &extensions["cost"];
        let requested = cost["requestedQueryCost"]
            .as_f64()
            .unwrap_or_else(|| self.estimate(operation));
        let status = &cost["throttleStatus"];
        let available = status["currentlyAvailable"].as_f64().unwrap_or(0.0);
        let rate = status["restoreRate"].as_f64().unwrap_or(50.0).max(1.0);
        ((requested - available).max(0.0) / rate).max(0.05)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_767_225_600_000 + millis).unwrap_or_default()
    }

    fn answer(requested: f64, available: f64) -> Value {
        json!({ "cost": {
            "requestedQueryCost": requested, "actualQueryCost": requested,
            "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": available,
                                "restoreRate": 100.0 },
        }})
    }

    #[test]
    fn an_unknown_bucket_lets_the_first_call_through() {
        assert_eq!(CostBucket::new(None).wait_for("set", at(0)), Duration::ZERO);
    }

    #[test]
    fn an_empty_bucket_waits_for_the_restore_rate_to_refill_one_call() {
        let mut bucket = CostBucket::new(None);
        bucket.observe("set", &answer(12.0, 2.0), at(0));

        let wait = bucket.wait_for("set", at(0));

        assert!((wait.as_secs_f64() - 0.11).abs() < 1e-9, "{wait:?}");
        assert_eq!(bucket.wait_for("set", at(110)), Duration::ZERO);
    }

    #[test]
    fn the_bucket_refills_only_up_to_its_size() {
        let mut bucket = CostBucket::new(None);
        bucket.observe("set", &answer(10.0, 1990.0), at(0));

        assert_eq!(bucket.available_at(at(60_000)), Some(2000.0));
    }

    #[test]
    fn a_throttled_call_waits_until_its_cost_is_restored() {
        let bucket = CostBucket::new(None);

        let wait = bucket.throttle_wait("set", &answer(752.0, 666.0));

        assert!((wait - 0.86).abs() < 1e-9);
    }
}
