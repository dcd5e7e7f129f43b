//! Sync workers.
//!
//! Each takes a shop with due jobs under a lease (one worker per shop, so
//! its cost bucket is tracked in one place), claims its jobs in batches, collapses the jobs
//! of one subject into one push, and settles each: deleted when pushed, retried with
//! exponential backoff and jitter, or parked as failed after `max_attempts`.
//!
//! A worker that dies leaves its lease and its running jobs to expire; another worker then
//! takes them over, and the idempotent push makes the repeat harmless.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;

use crate::shopify::install::Platform;
use crate::startup::StopSignal;
use crate::store::entity::sync_job;
use crate::store::sync::{self as store_sync, Lease};
use crate::sync::bucket::CostBucket;
use crate::sync::push::{Pushed, ShopPusher};
use crate::sync::settings::SyncSettings;
use crate::sync::{Error, Result};
use crate::telemetry::error_chain;

/// How workers run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's name in leases and job locks; unique per running worker.
    pub id: String,
    /// How long a lease (and a job claim) lasts without renewal.
    pub lease: Duration,
    /// Pause between looks for work when there is none.
    pub poll: Duration,
    /// Jobs claimed at once.
    pub batch: u64,
    /// Attempts before a job is parked as failed.
    pub max_attempts: i32,
    /// First retry delay; it doubles with each attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

/// Runs one worker until `stop` fires.
pub async fn run(platform: Platform, config: WorkerConfig, mut stop: StopSignal) {
    tracing::info!(sync.worker = %config.id, "sync worker started");
    loop {
        let worked = match find_and_work(&platform, &config, &stop).await {
            Ok(worked) => worked,
            Err(error) => {
                tracing::error!(
                    sync.worker = %config.id,
                    error.chain = %error_chain(&error),
                    "sync worker failed; carrying on"
                );
                false
            }
        };
        if stop.is_stopped() {
            break;
        }
        if !worked {
            tokio::select! {
                () = stop.stopped() => break,
                () = tokio::time::sleep(config.poll) => {},
            }
        }
    }
    tracing::info!(sync.worker = %config.id, "sync worker stopped");
}

/// Takes one free shop with due work and works it; `false` when there was none.
async fn find_and_work(
    platform: &Platform,
    config: &WorkerConfig,
    stop: &StopSignal,
) -> Result<bool> {
    let now = Utc::now();
    let mut shops = store_sync::shops_with_due_jobs(platform.db(), now, 64).await?;
    // Workers start their search at different shops, so they spread over shops quickly.
    let offset = config.id.bytes().map(usize::from).sum::<usize>() % shops.len().max(1);
    shops.rotate_left(offset);

    for shop_id in shops {
        let until = Utc::now() + lease_length(config);
        let Some(lease) =
            store_sync::acquire_lease(platform.db(), shop_id, &config.id, until).await?
        else {
            continue;
        };
        let outcome = work_shop(platform, config, &lease, stop).await;
        let bucket = outcome.as_ref().ok().and_then(|bucket| bucket.state());
        store_sync::release_lease(platform.db(), &lease, bucket.or_else(|| lease.bucket())).await?;
        outcome?;
        return Ok(true);
    }
    Ok(false)
}

fn lease_length(config: &WorkerConfig) -> chrono::Duration {
    chrono::Duration::from_std(config.lease).unwrap_or_else(|_| chrono::Duration::seconds(30))
}

/// Works a leased shop until it has no due jobs, the lease is lost or the service stops.
async fn work_shop(
    platform: &Platform,
    config: &WorkerConfig,
    lease: &Lease,
    stop: &StopSignal,
) -> Result<CostBucket> {
    let shop = &lease.shop;
    let settings = match SyncSettings::from_shop_settings(&shop.settings) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(shop.domain = %shop.domain, error = %error, "invalid sync settings");
            return Err(Error::Settings(error));
        }
    };
    let mut pusher = ShopPusher::new(
        platform,
        shop,
        settings,
        CostBucket::new(lease.bucket()),
        lease.state.metafield_defined,
    );

    'shop: loop {
        let until = Utc::now() + lease_length(config);
        let jobs = store_sync::claim_jobs(platform.db(), lease, config.batch, until).await?;
        if jobs.is_empty() {
            break;
        }
        for (subject, ids) in collapse(&jobs) {
            if stop.is_stopped() {
                // Claimed jobs left here expire and are taken up again.
                break 'shop;
            }
            let attempts = jobs
                .iter()
                .filter(|job| ids.contains(&job.id))
                .map(|job| job.attempts)
                .max()
                .unwrap_or(0);
            let result = pusher.push(&subject.0, &subject.1).await;
            if settle(platform, config, lease, &subject, &ids, attempts, result).await? {
                break 'shop;
            }
            let until = Utc::now() + lease_length(config);
            if !store_sync::renew_lease(platform.db(), lease, until).await? {
                tracing::warn!(shop.domain = %shop.domain, "sync lease lost; leaving the shop");
                break 'shop;
            }
        }
    }
    Ok(pusher.bucket().clone())
}

/// The claimed jobs grouped by subject `(kind, id)`, each subject once, oldest first.
fn collapse(jobs: &[sync_job::Model]) -> Vec<((String, String), Vec<i64>)> {
    let mut order = Vec::new();
    let mut groups: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for job in jobs {
        let key = (job.kind.clone(), job.subject_id.clone());
        let ids = groups.entry(key.clone()).or_default();
        if ids.is_empty() {
            order.push(key);
        }
        ids.push(job.id);
    }
    order
        .into_iter()
        .map(|key| {
            let ids = groups.remove(&key).unwrap_or_default();
            (key, ids)
        })
        .collect()
}

/// Records a push's result on its jobs; `true` when the shop must be left (not installed).
async fn settle(
    platform: &Platform,
    config: &WorkerConfig,
    lease: &Lease,
    subject: &(String, String),
    ids: &[i64],
    attempts: i32,
    result: Result<Pushed>,
) -> Result<bool> {
    let shop = &lease.shop;
    let db = platform.db();
    match result {
        Ok(pushed) => {
            store_sync::finish_jobs(db, shop.id, ids).await?;
            tracing::debug!(
                shop.domain = %shop.domain,
                scim.resource_id = %subject.1,
                sync.outcome = ?pushed,
                "subject pushed"
            );
            Ok(false)
        }
        Err(Error::NotInstalled) => {
            let later = Utc::now() + chrono::Duration::seconds(60);
            store_sync::retry_jobs(db, shop.id, ids, "the shop is not installed", later).await?;
            tracing::warn!(
                shop.domain = %shop.domain,
                "shop lost its Shopify token; its jobs wait"
            );
            Ok(true)
        }
        Err(Error::Rejected(reason)) => {
            park(platform, lease, subject, ids, &reason).await?;
            Ok(false)
        }
        Err(error) => {
            let reason = error_chain(&error);
            if attempts + 1 >= config.max_attempts {
                park(platform, lease, subject, ids, &reason).await?;
                return Ok(false);
            }
            let delay = backoff(config, attempts + 1, &error);
            tracing::warn!(
                shop.domain = %shop.domain,
                scim.resource_id = %subject.1,
                sync.attempt = attempts + 1,
                retry_in_ms = delay.as_millis() as u64,
                error.chain = %reason,
                "push failed; will retry"
            );
            let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            store_sync::retry_jobs(db, shop.id, ids, &reason, at).await?;
            Ok(false)
        }
    }
}

async fn park(
    platform: &Platform,
    lease: &Lease,
    subject: &(String, String),
    ids: &[i64],
    reason: &str,
) -> Result<()> {
    let shop = &lease.shop;
    store_sync::park_jobs(platform.db(), shop.id, ids, reason).await?;
    let user = (subject.0 == "user").then_some(subject.1.as_str());
    store_sync::record_activity(platform.db(), shop.id, "failed", user, None, Some(reason)).await?;
    tracing::error!(
        shop.domain = %shop.domain,
        scim.resource_id = %subject.1,
        error = %reason,
        "push failed for good; job parked"
    );
    Ok(())
}

/// The delay before attempt `attempt`: `retry_base * 2^(attempt-1)`, at most `retry_max`,
/// times a random factor in [0.5, 1.5); at least what Shopify's throttle asks for.
fn backoff(config: &WorkerConfig, attempt: i32, error: &Error) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = config
        .retry_base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(config.retry_max);
    let mut byte = [0u8; 1];
    let jitter = if getrandom::fill(&mut byte).is_ok() {
        0.5 + f64::from(byte[0]) / 256.0
    } else {
        1.0
    };
    let delay = base.mul_f64(jitter);
    match error {
        Error::Throttled(seconds) => delay.max(Duration::from_secs_f64(*seconds)),
        _ => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WorkerConfig {
        WorkerConfig {
            id: "w".to_owned(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            batch: 25,
            max_attempts: 8,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_maximum() {
        let error = Error::NotInstalled;
        for attempt in 1..=10 {
            let delay = backoff(&config(), attempt, &error).as_secs_f64();
            let base = (2f64.powi(attempt - 1)).min(60.0);

            assert!(
                delay >= base * 0.5 && delay < base * 1.5,
                "{attempt}: {delay}"
            );
        }
    }

    #[test]
    fn jobs_of_one_subject_collapse_into_one_push() {
        let job = |id: i64, subject: &str| sync_job::Model {
            id,
            shop_id: crate::types::ShopId::from_db(1),
            kind: "user".to_owned(),
            subject_id: subject.to_owned(),
            status: "running".to_owned(),
            attempts: 0,
            run_after: Utc::now(),
            locked_by: None,
            locked_until: None,
            last_error: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };

        let grouped = collapse(&[job(1, "b"), job(2, "a"), job(3, "b")]);

        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].0.1, "b");
        assert_eq!(grouped[0].1, vec![1, 3]);
        assert_eq!(grouped[1].1, vec![2]);
    }
}
