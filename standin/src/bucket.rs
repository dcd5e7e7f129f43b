//! The GraphQL Admin API's cost-based leaky bucket, one per app and shop.
//!
//! `shopify.md` §7: a request's requested cost is charged up front and the difference to
//! its actual cost refunded afterwards; the bucket refills at the plan's restore rate; a
//! request that finds fewer points than it asks for is answered `THROTTLED`. Pure
//! arithmetic on timestamps handed in by the caller, so tests need no sleeping.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Seconds of restore rate a full bucket holds (Standard: 100 points/s, 2,000 points).
pub const BUCKET_SECONDS: f64 = 20.0;

/// The most a single query may cost, whatever the bucket holds.
pub const SINGLE_QUERY_MAX_COST: u64 = 1000;

/// A shop's Shopify plan, which sets its GraphQL restore rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// Basic, Shopify and Grow: 100 points per second.
    #[default]
    Standard,
    /// Advanced: 200 points per second.
    Advanced,
    /// Shopify Plus: 1,000 points per second.
    Plus,
    /// Enterprise (Commerce Components): 2,000 points per second.
    Enterprise,
}

impl Plan {
    /// Every plan, cheapest first.
    pub const ALL: [Self; 4] = [Self::Standard, Self::Advanced, Self::Plus, Self::Enterprise];

    /// GraphQL points restored per second.
    pub fn restore_rate(self) -> f64 {
        match self {
            Self::Standard => 100.0,
            Self::Advanced => 200.0,
            Self::Plus => 1000.0,
            Self::Enterprise => 2000.0,
        }
    }

    /// Points a full bucket holds.
    pub fn bucket_size(self) -> f64 {
        self.restore_rate() * BUCKET_SECONDS
    }

    /// The name `shop { plan { displayName } }` answers.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Standard => "Shopify",
            Self::Advanced => "Advanced",
            Self::Plus => "Shopify Plus",
            Self::Enterprise => "Commerce Components",
        }
    }

    /// Whether `shop { plan { shopifyPlus } }` is true.
    pub fn is_plus(self) -> bool {
        matches!(self, Self::Plus | Self::Enterprise)
    }

    /// Lower-case name, as the control API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Advanced => "advanced",
            Self::Plus => "plus",
            Self::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plan name that is not one of the four.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown plan {0:?}: use standard, advanced, plus or enterprise")]
pub struct UnknownPlan(String);

impl FromStr for Plan {
    type Err = UnknownPlan;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|plan| plan.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownPlan(text.to_owned()))
    }
}

/// What `extensions.cost.throttleStatus` reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    /// Size of the bucket.
    pub maximum_available: f64,
    /// Whole points available now.
    pub currently_available: u64,
    /// Points restored per second.
    pub restore_rate: f64,
}

/// A leaky bucket of query-cost points.
#[derive(Debug, Clone)]
pub struct LeakyBucket {
    maximum: f64,
    restore_rate: f64,
    available: f64,
    updated_at: DateTime<Utc>,
}

impl LeakyBucket {
    /// A full bucket for `plan`.
    pub fn full(plan: Plan, now: DateTime<Utc>) -> Self {
        Self {
            maximum: plan.bucket_size(),
            restore_rate: plan.restore_rate(),
            available: plan.bucket_size(),
            updated_at: now,
        }
    }

    /// Changes size and restore rate to `plan`'s, keeping the points already available
    /// (capped at the new size).
    pub fn set_plan(&mut self, plan: Plan, now: DateTime<Utc>) {
        self.restore(now);
        self.maximum = plan.bucket_size();
        self.restore_rate = plan.restore_rate();
        self.available = self.available.min(self.maximum);
    }

    /// Sets the points available now, capped at the bucket's size (a test or benchmark
    /// starting from an empty bucket, say).
    pub fn set_available(&mut self, points: f64, now: DateTime<Utc>) {
        self.restore(now);
        self.available = points.clamp(0.0, self.maximum);
    }

    /// Takes `requested` points if the bucket holds them; otherwise takes nothing and
    /// returns the status in `Err`, for a `THROTTLED` answer.
    pub fn charge(
        &mut self,
        requested: u64,
        now: DateTime<Utc>,
    ) -> Result<ThrottleStatus, ThrottleStatus> {
        self.restore(now);
        let requested = requested as f64;
        if requested > self.available {
            return Err(self.status());
        }
        self.available -= requested;
        Ok(self.status())
    }

    /// Gives back `points` (requested minus actual cost), up to the bucket's size.
    pub fn refund(&mut self, points: u64, now: DateTime<Utc>) -> ThrottleStatus {
        self.restore(now);
        self.available = (self.available + points as f64).min(self.maximum);
        self.status()
    }

    /// The status at `now`.
    pub fn status_at(&mut self, now: DateTime<Utc>) -> ThrottleStatus {
        self.restore(now);
        self.status()
    }

    /// Seconds until `requested` points are available (zero when they already are).
    pub fn wait_for(&mut self, requested: u64, now: DateTime<Utc>) -> f64 {
        self.restore(now);
        ((requested as f64 - self.available) / self.restore_rate).max(0.0)
    }

    fn restore(&mut self, now: DateTime<Utc>) {
        let elapsed = (now - self.updated_at)
            .num_microseconds()
            .unwrap_or(i64::MAX);
        if elapsed > 0 {
            let refill = elapsed as f64 / 1_000_000.0 * self.restore_rate;
            self.available = (self.available + refill).min(self.maximum);
            self.updated_at = now;
        }
    }

    fn status(&self) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: self.maximum,
            currently_available: self.available.floor() as u64,
            restore_rate: self.restore_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    #[test]
    fn each_plan_restores_at_its_documented_rate() {
        let rates: Vec<f64> = Plan::ALL.iter().map(|plan| plan.restore_rate()).collect();

        assert_eq!(rates, vec![100.0, 200.0, 1000.0, 2000.0]);
    }

    #[test]
    fn plan_names_parse_case_insensitively_and_unknown_ones_are_refused() {
        assert_eq!("Plus".parse::<Plan>().unwrap(), Plan::Plus);
        assert_eq!(" enterprise ".parse::<Plan>().unwrap(), Plan::Enterprise);
        assert!("gold".parse::<Plan>().is_err());
    }

    #[test]
    fn a_charge_larger_than_what_is_available_takes_nothing() {
        let mut bucket = LeakyBucket::full(Plan::Standard, start());
        bucket.charge(1990, start()).unwrap();

        let refused = bucket.charge(11, start()).unwrap_err();

        assert_eq!(refused.currently_available, 10);
        assert_eq!(bucket.charge(10, start()).unwrap().currently_available, 0);
    }

    #[test]
    fn the_bucket_refills_at_the_restore_rate_up_to_its_size() {
        let mut bucket = LeakyBucket::full(Plan::Advanced, start());
        bucket.charge(4000, start()).unwrap();

        let half_second = bucket.status_at(start() + TimeDelta::milliseconds(500));
        let much_later = bucket.status_at(start() + TimeDelta::hours(1));

        assert_eq!(half_second.currently_available, 100);
        assert_eq!(much_later.currently_available, 4000);
        assert_eq!(much_later.maximum_available, 4000.0);
    }

    #[test]
    fn refunds_return_the_unused_part_of_a_charge() {
        let mut bucket = LeakyBucket::full(Plan::Standard, start());
        bucket.charge(102, start()).unwrap();

        let status = bucket.refund(90, start());

        assert_eq!(status.currently_available, 1988);
    }

    #[test]
    fn the_wait_before_a_retry_is_the_shortfall_over_the_restore_rate() {
        let mut bucket = LeakyBucket::full(Plan::Standard, start());
        bucket.charge(2000, start()).unwrap();

        assert!((bucket.wait_for(50, start()) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn changing_plan_changes_the_rate_and_caps_what_is_available() {
        let mut bucket = LeakyBucket::full(Plan::Plus, start());

        bucket.set_plan(Plan::Standard, start());
        let status = bucket.status_at(start());

        assert_eq!(status.restore_rate, 100.0);
        assert_eq!(status.currently_available, 2000);
    }
}
