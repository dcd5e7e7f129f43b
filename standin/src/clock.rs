//! Time as the stand-in sees it: the system clock, or a manual clock that a test moves.
//!
//! Token expiry, session-token checks, signed timestamps and the throttle's leaky bucket all
//! read this clock, so a test can step through an hour of token lifetime or a minute of
//! sustained load without waiting for either.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::lock;

/// Where the stand-in reads the current time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The operating system's clock.
    #[default]
    System,
    /// A clock that only moves when told to.
    Manual(ManualClock),
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Manual(clock) => clock.now(),
        }
    }

    /// The manual clock, when this is one.
    pub fn manual(&self) -> Option<&ManualClock> {
        match self {
            Self::System => None,
            Self::Manual(clock) => Some(clock),
        }
    }
}

/// A clock shared by the stand-in and a test; clones move together.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock that reads `start` until it is moved.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A clock that reads the given Unix time (seconds), or `None` when it is out of range.
    pub fn at_unix_seconds(seconds: i64) -> Option<Self> {
        DateTime::from_timestamp(seconds, 0).map(Self::starting_at)
    }

    /// The time the clock reads.
    pub fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let step = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        let mut now = lock(&self.now);
        *now = now.checked_add_signed(step).unwrap_or(*now);
    }

    /// Sets the clock to `to`, forwards or backwards.
    pub fn set(&self, to: DateTime<Utc>) {
        *lock(&self.now) = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_move_together() {
        let clock = ManualClock::at_unix_seconds(1_767_225_600).unwrap();
        let shared = Clock::Manual(clock.clone());

        clock.advance(Duration::from_millis(1500));

        assert_eq!(shared.now().timestamp_millis(), 1_767_225_601_500);
    }
}
