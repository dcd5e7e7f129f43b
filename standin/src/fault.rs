//! Injected faults: a share of Admin API calls failing with 5xx, hanging until a timeout or
//! answering `THROTTLED`, added latency, and duplicated or reordered webhook deliveries.
//!
//! Choices come from a small seeded generator, so a test that sets a share and a seed sees
//! the same calls fail on every run.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::lock;

/// The faults in force; every share is a probability between 0 and 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of Admin API and token-endpoint calls answered with [`Faults::error_status`].
    pub error_share: f64,
    /// The 5xx status of those answers; 503 when unset.
    pub error_status: Option<u16>,
    /// Share of Admin API calls held until the stand-in's fault timeout, then answered 504.
    pub timeout_share: f64,
    /// Share of Admin API calls answered `THROTTLED` whatever the bucket holds.
    pub throttle_share: f64,
    /// Milliseconds added before every Admin API and token-endpoint answer.
    pub latency_ms: u64,
    /// Share of webhook deliveries sent twice (same `X-Shopify-Webhook-Id`).
    pub webhook_duplicate_share: f64,
    /// Share of webhook deliveries held back and sent after the next one.
    pub webhook_reorder_share: f64,
}

/// A fault chosen for one Admin API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminFault {
    /// Answer with this 5xx status.
    ServerError(u16),
    /// Hold the request, then answer 504.
    Timeout,
    /// Answer `THROTTLED`.
    Throttled,
}

impl AdminFault {
    /// A short word for the call log.
    pub fn describe(self) -> String {
        match self {
            Self::ServerError(status) => format!("server error {status}"),
            Self::Timeout => "timeout".to_owned(),
            Self::Throttled => "throttled".to_owned(),
        }
    }
}

/// Holds the faults in force and rolls the dice for each call.
#[derive(Debug)]
pub struct FaultInjector {
    faults: Mutex<Faults>,
    state: Mutex<u64>,
}

impl FaultInjector {
    /// No faults, with the given seed.
    pub fn new(seed: u64) -> Self {
        Self {
            faults: Mutex::new(Faults::default()),
            state: Mutex::new(seed),
        }
    }

    /// The faults in force.
    pub fn get(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Replaces the faults in force.
    pub fn set(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// The latency to add before answering.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(lock(&self.faults).latency_ms)
    }

    /// Picks the fault (if any) for one Admin API call.
    pub fn admin_call(&self, may_throttle: bool) -> Option<AdminFault> {
        let faults = self.get();
        if self.roll(faults.error_share) {
            return Some(AdminFault::ServerError(faults.error_status.unwrap_or(503)));
        }
        if self.roll(faults.timeout_share) {
            return Some(AdminFault::Timeout);
        }
        if may_throttle && self.roll(faults.throttle_share) {
            return Some(AdminFault::Throttled);
        }
        None
    }

    /// Whether to send a delivery twice.
    pub fn duplicate_webhook(&self) -> bool {
        let share = lock(&self.faults).webhook_duplicate_share;
        self.roll(share)
    }

    /// Whether to hold a delivery back until after the next one.
    pub fn reorder_webhook(&self) -> bool {
        let share = lock(&self.faults).webhook_reorder_share;
        self.roll(share)
    }

    /// True with probability `share` (never for 0, always for 1 and above).
    fn roll(&self, share: f64) -> bool {
        if share <= 0.0 {
            return false;
        }
        if share >= 1.0 {
            return true;
        }
        let mut state = lock(&self.state);
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64) < share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_calls_fails_close_to_the_share_and_the_same_seed_repeats_it() {
        let run = || {
            let injector = FaultInjector::new(7);
            injector.set(Faults {
                error_share: 0.25,
                ..Faults::default()
            });
            (0..4000)
                .map(|_| injector.admin_call(true).is_some())
                .collect::<Vec<_>>()
        };

        let first = run();
        let failures = first.iter().filter(|failed| **failed).count();

        assert!((900..=1100).contains(&failures), "{failures}");
        assert_eq!(first, run());
    }

    #[test]
    fn no_faults_are_injected_by_default() {
        let injector = FaultInjector::new(1);

        assert!((0..100).all(|_| injector.admin_call(true).is_none()));
        assert!(!injector.duplicate_webhook());
    }
}
