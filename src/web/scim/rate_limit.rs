//! The per-token request rate limit of the SCIM endpoint: a token bucket per bearer token,
//! in this process. Over the limit, a request gets 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets keyed by SCIM token id.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimiter {
    /// Allows `per_second` requests per second on average and bursts of `burst`.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long to wait for one.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            refilled_at: now,
        });

        let elapsed = now
            .saturating_duration_since(bucket.refilled_at)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(Duration::from_secs_f64(wait))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_requests_wait_for_the_refill() {
        let limiter = RateLimiter::new(10, 3);
        let start = Instant::now();

        let burst: Vec<bool> = (0..4)
            .map(|_| limiter.check_at("t", start).is_ok())
            .collect();
        let after_refill = limiter.check_at("t", start + Duration::from_millis(100));

        assert_eq!(burst, [true, true, true, false]);
        assert!(after_refill.is_ok());
    }

    #[test]
    fn tokens_have_separate_buckets() {
        let limiter = RateLimiter::new(1, 1);
        let now = Instant::now();

        assert!(limiter.check_at("a", now).is_ok());
        assert!(limiter.check_at("b", now).is_ok());
        assert!(limiter.check_at("a", now).is_err());
    }

    #[test]
    fn the_wait_reported_is_the_time_to_the_next_token() {
        let limiter = RateLimiter::new(4, 1);
        let now = Instant::now();
        limiter.check_at("t", now).unwrap();

        let wait = limiter.check_at("t", now).unwrap_err();

        assert_eq!(wait, Duration::from_millis(250));
    }
}
