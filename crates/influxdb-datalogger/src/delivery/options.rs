//! How a background writer batches and retries, and what it reports.

use std::time::Duration;

/// When to retry a failed send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The first wait.
    pub initial_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
    /// How much each wait grows.
    pub multiplier: f64,
    /// Each wait is shortened by a random share up to this (0 to 1), so that many clients do
    /// not retry in step.
    pub jitter: f64,
    /// How long one chunk is retried before it goes back to the queue.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.3,
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt` (1 for the first retry), before jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let grown = self.initial_delay.as_secs_f64()
            * self.multiplier.powi(attempt.saturating_sub(1) as i32);
        Duration::from_secs_f64(grown.min(self.max_delay.as_secs_f64()))
    }
}

/// How a [`BackgroundWriter`](super::BackgroundWriter) batches and retries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeliveryOptions {
    /// The most points sent in one request (InfluxDB advises about 5,000).
    pub max_points: usize,
    /// The most bytes sent in one request.
    pub max_bytes: usize,
    /// The longest data waits before it is sent.
    pub interval: Duration,
    /// How failed sends are retried.
    pub retry: RetryPolicy,
    /// How long `flush` (and so `close`) waits for everything handed over to be acknowledged.
    pub flush_timeout: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            max_points: 5_000,
            max_bytes: 4 << 20,
            interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            flush_timeout: Duration::from_secs(30),
        }
    }
}
