//! Webhook delivery: signed, sent at least once, retried, and logged for inspection.
//!
//! Every topic the app subscribes to is signed with the app secret over the exact body
//! bytes, sent with Shopify's headers and retried on anything but a 2xx.
//!
//! `shopify.md` §4: headers of §4.1, retries of §4.2, payloads of §4.3–4.4. One worker sends
//! deliveries in the order they were triggered unless a reorder fault holds one back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::config::{StandInConfig, WebhookTargets};
use crate::fault::FaultInjector;
use crate::{lock, sign};

/// Most delivery records kept; older ones are dropped first.
pub const DELIVERY_LOG_LIMIT: usize = 10_000;

/// The topics the stand-in sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Topic {
    /// `customers/create`
    #[serde(rename = "customers/create")]
    CustomersCreate,
    /// `customers/update`
    #[serde(rename = "customers/update")]
    CustomersUpdate,
    /// `customers/delete`
    #[serde(rename = "customers/delete")]
    CustomersDelete,
    /// `app/uninstalled`
    #[serde(rename = "app/uninstalled")]
    AppUninstalled,
    /// `customers/data_request`
    #[serde(rename = "customers/data_request")]
    CustomersDataRequest,
    /// `customers/redact`
    #[serde(rename = "customers/redact")]
    CustomersRedact,
    /// `shop/redact`
    #[serde(rename = "shop/redact")]
    ShopRedact,
}

impl Topic {
    /// The value of `X-Shopify-Topic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomersCreate => "customers/create",
            Self::CustomersUpdate => "customers/update",
            Self::CustomersDelete => "customers/delete",
            Self::AppUninstalled => "app/uninstalled",
            Self::CustomersDataRequest => "customers/data_request",
            Self::CustomersRedact => "customers/redact",
            Self::ShopRedact => "shop/redact",
        }
    }

    /// Compliance topics are sent whether or not the app is still installed.
    pub fn is_compliance(self) -> bool {
        matches!(
            self,
            Self::CustomersDataRequest | Self::CustomersRedact | Self::ShopRedact
        )
    }

    fn target(self, targets: &WebhookTargets) -> Option<&Url> {
        match self {
            Self::CustomersCreate | Self::CustomersUpdate | Self::CustomersDelete => {
                targets.customers.as_ref()
            }
            Self::AppUninstalled => targets.app.as_ref(),
            Self::CustomersDataRequest | Self::CustomersRedact | Self::ShopRedact => {
                targets.compliance.as_ref()
            }
        }
    }
}

/// Something that happened in a shop and becomes a webhook.
#[derive(Debug, Clone)]
pub struct Event {
    /// Topic.
    pub topic: Topic,
    /// Shop domain.
    pub shop: String,
    /// JSON payload.
    pub payload: Value,
}

/// One attempt at sending a delivery.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// When it was sent (stand-in clock).
    pub at: DateTime<Utc>,
    /// The app's HTTP status, when it answered.
    pub status: Option<u16>,
    /// What went wrong without a status (connection refused, timeout).
    pub error: Option<String>,
}

/// A delivery and what became of it, as the control API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// `X-Shopify-Webhook-Id`, the same on every retry.
    pub webhook_id: String,
    /// `X-Shopify-Event-Id`.
    pub event_id: String,
    /// Topic.
    pub topic: Topic,
    /// Shop domain.
    pub shop: String,
    /// Where it goes; `None` when the app subscribes no URL for the topic.
    pub url: Option<String>,
    /// `X-Shopify-Triggered-At`.
    pub triggered_at: String,
    /// The payload.
    pub payload: Value,
    /// Every attempt, duplicates included.
    pub attempts: Vec<Attempt>,
    /// Whether an attempt got a 2xx.
    pub delivered: bool,
    /// Whether the retries ran out.
    pub gave_up: bool,
}

struct Job {
    index: u64,
    url: Url,
    body: Arc<Vec<u8>>,
    headers: Arc<Vec<(&'static str, String)>>,
    retry: usize,
}

/// Records deliveries and hands them to the worker.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Job>,
    log: Arc<Mutex<DeliveryLog>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct DeliveryLog {
    first_index: u64,
    deliveries: Vec<Delivery>,
}

impl DeliveryLog {
    fn get_mut(&mut self, index: u64) -> Option<&mut Delivery> {
        let offset = usize::try_from(index.checked_sub(self.first_index)?).ok()?;
        self.deliveries.get_mut(offset)
    }
}

/// What the delivery worker needs.
pub struct Worker {
    rx: mpsc::UnboundedReceiver<Job>,
    tx: mpsc::UnboundedSender<Job>,
    log: Arc<Mutex<DeliveryLog>>,
    faults: Arc<FaultInjector>,
    client: reqwest::Client,
    retry_delays: Vec<Duration>,
    reorder_hold: Duration,
    clock: crate::clock::Clock,
}

impl Outbox {
    /// An outbox and the worker that empties it.
    pub fn new(
        config: &StandInConfig,
        faults: Arc<FaultInjector>,
    ) -> Result<(Self, Worker), reqwest::Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(DeliveryLog::default()));
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1).min(config.webhook_timeout))
            .timeout(config.webhook_timeout)
            .build()?;
        let worker = Worker {
            rx,
            tx: tx.clone(),
            log: log.clone(),
            faults,
            client,
            retry_delays: config.webhook_retry_delays.clone(),
            reorder_hold: config.webhook_reorder_hold,
            clock: config.clock.clone(),
        };
        Ok((Self { tx, log }, worker))
    }

    /// Signs and queues the deliveries of one merchant action (they share an event id).
    pub fn send(
        &self,
        config: &StandInConfig,
        targets: &WebhookTargets,
        events: Vec<Event>,
        now: DateTime<Utc>,
    ) {
        if events.is_empty() {
            return;
        }
        let event_id = uuid::Uuid::new_v4().to_string();
        let triggered_at = now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        for event in events {
            let url = event.topic.target(targets).cloned();
            self.queue(config, url, event, &event_id, &triggered_at);
        }
    }

    fn queue(
        &self,
        config: &StandInConfig,
        url: Option<Url>,
        event: Event,
        event_id: &str,
        triggered_at: &str,
    ) {
        let webhook_id = uuid::Uuid::new_v4().to_string();
        // A `Value` always serialises.
        let body = serde_json::to_vec(&event.payload).unwrap_or_default();
        let headers = vec![
            ("Content-Type", "application/json".to_owned()),
            ("X-Shopify-Topic", event.topic.as_str().to_owned()),
            (
                "X-Shopify-Hmac-Sha256",
                sign::webhook_hmac(&config.api_secret, &body),
            ),
            ("X-Shopify-Shop-Domain", event.shop.clone()),
            ("X-Shopify-API-Version", config.api_version.clone()),
            ("X-Shopify-Webhook-Id", webhook_id.clone()),
            ("X-Shopify-Event-Id", event_id.to_owned()),
            ("X-Shopify-Triggered-At", triggered_at.to_owned()),
        ];

        let index = {
            let mut log = lock(&self.log);
            if log.deliveries.len() >= DELIVERY_LOG_LIMIT {
                log.deliveries.remove(0);
                log.first_index += 1;
            }
            log.deliveries.push(Delivery {
                webhook_id,
                event_id: event_id.to_owned(),
                topic: event.topic,
                shop: event.shop.clone(),
                url: url.as_ref().map(Url::to_string),
                triggered_at: triggered_at.to_owned(),
                payload: event.payload,
                attempts: Vec::new(),
                delivered: false,
                gave_up: false,
            });
            log.first_index + log.deliveries.len() as u64 - 1
        };
        tracing::debug!(
            webhook.topic = event.topic.as_str(),
            shop.domain = %event.shop,
            "webhook queued"
        );

        if let Some(url) = url {
            let job = Job {
                index,
                url,
                body: Arc::new(body),
                headers: Arc::new(headers),
                retry: 0,
            };
            // The worker only stops when the stand-in stops; a send after that is moot.
            let _ = self.tx.send(job);
        }
    }

    /// Every delivery recorded, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.log).deliveries.clone()
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

impl Worker {
    /// Sends deliveries until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut held: Option<Job> = None;
        let reorder_hold = self.reorder_hold;
        loop {
            let hold = async {
                if held.is_some() {
                    tokio::time::sleep(reorder_hold).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = stopped(&mut stop) => return,
                () = hold => {
                    if let Some(job) = held.take() {
                        self.deliver(job).await;
                    }
                }
                job = self.rx.recv() => {
                    let Some(job) = job else { return };
                    if held.is_none() && job.retry == 0 && self.faults.reorder_webhook() {
                        held = Some(job);
                        continue;
                    }
                    self.deliver(job).await;
                    if let Some(job) = held.take() {
                        self.deliver(job).await;
                    }
                }
            }
        }
    }

    async fn deliver(&self, job: Job) {
        let copies = if job.retry == 0 && self.faults.duplicate_webhook() {
            2
        } else {
            1
        };
        let mut delivered = false;
        for _ in 0..copies {
            delivered |= self.attempt(&job).await;
        }
        if delivered {
            return;
        }

        match self.retry_delays.get(job.retry).copied() {
            Some(delay) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Job {
                        retry: job.retry + 1,
                        ..job
                    });
                });
            }
            None => {
                if let Some(delivery) = lock(&self.log).get_mut(job.index) {
                    delivery.gave_up = true;
                }
                tracing::warn!(webhook.index = job.index, "webhook retries exhausted");
            }
        }
    }

    async fn attempt(&self, job: &Job) -> bool {
        let mut request = self.client.post(job.url.clone());
        for (name, value) in job.headers.iter() {
            request = request.header(*name, value);
        }
        let result = request.body(job.body.as_ref().clone()).send().await;

        let attempt = match &result {
            Ok(response) => Attempt {
                at: self.clock.now(),
                status: Some(response.status().as_u16()),
                error: None,
            },
            Err(error) => Attempt {
                at: self.clock.now(),
                status: None,
                error: Some(if error.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "could not connect".to_owned()
                }),
            },
        };
        let ok = attempt
            .status
            .is_some_and(|status| (200..300).contains(&status));
        tracing::debug!(
            webhook.index = job.index,
            webhook.retry = job.retry,
            http.status = attempt.status,
            "webhook attempt"
        );
        if let Some(delivery) = lock(&self.log).get_mut(job.index) {
            delivery.attempts.push(attempt);
            delivery.delivered |= ok;
        }
        ok
    }
}
