//! The edge's counters, kept as plain atomics: requests by route and status class,
//! and per upstream its latency, healthy replicas, retries and ejections. The
//! Prometheus export reads these later; nothing here formats or exposes them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;

use crate::routes::Route;

/// Status classes counted: 1xx to 5xx.
const STATUS_CLASSES: usize = 5;

/// Routes counted, in [`Route::index`] order.
const ROUTES: usize = Route::ALL.len();

/// A count that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `amount`.
    pub fn add(&self, amount: u64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Replaces the value.
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Requests answered, by route and status class.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    answered: [[Counter; STATUS_CLASSES]; ROUTES],
}

impl RequestMetrics {
    /// Counts one answered request.
    pub fn record(&self, route: Route, status: StatusCode) {
        if let Some(counter) = self.counter(route, status.as_u16() / 100) {
            counter.inc();
        }
    }

    /// Requests on `route` answered with a status of `class` (1 to 5: 1xx to 5xx).
    pub fn answered(&self, route: Route, class: u16) -> u64 {
        self.counter(route, class).map_or(0, Counter::get)
    }

    fn counter(&self, route: Route, class: u16) -> Option<&Counter> {
        let class = usize::from(class).checked_sub(1)?;
        self.answered.get(route.index())?.get(class)
    }
}

/// One upstream pool's counters.
#[derive(Debug, Default)]
pub struct UpstreamMetrics {
    /// Sum of the times from sending a request to its response head, in microseconds.
    pub latency_micros_sum: Counter,
    /// Responses those times were measured for.
    pub latency_count: Counter,
    /// Replicas currently given requests.
    pub healthy_replicas: Gauge,
    /// Attempts made after an earlier attempt of the same request failed.
    pub retries: Counter,
    /// Replicas ejected, by health checks or by a refused connection.
    pub ejections: Counter,
}

impl UpstreamMetrics {
    /// Records the time one upstream took to send its response head.
    pub fn observe_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros_sum.add(micros);
        self.latency_count.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_class() {
        let metrics = RequestMetrics::default();
        metrics.record(Route::Vote, StatusCode::ACCEPTED);
        metrics.record(Route::Vote, StatusCode::OK);
        metrics.record(Route::Vote, StatusCode::BAD_GATEWAY);
        metrics.record(Route::Static, StatusCode::NOT_MODIFIED);
        assert_eq!(metrics.answered(Route::Vote, 2), 2);
        assert_eq!(metrics.answered(Route::Vote, 5), 1);
        assert_eq!(metrics.answered(Route::Static, 3), 1);
        assert_eq!(metrics.answered(Route::Result, 2), 0);
        assert_eq!(metrics.answered(Route::Vote, 0), 0, "no class 0");
        assert_eq!(metrics.answered(Route::Vote, 9), 0, "no class 9");
    }

    #[test]
    fn latency_sums_and_counts() {
        let metrics = UpstreamMetrics::default();
        metrics.observe_latency(Duration::from_millis(2));
        metrics.observe_latency(Duration::from_micros(500));
        assert_eq!(metrics.latency_micros_sum.get(), 2_500);
        assert_eq!(metrics.latency_count.get(), 2);
        metrics.healthy_replicas.set(3);
        metrics.healthy_replicas.set(2);
        assert_eq!(metrics.healthy_replicas.get(), 2);
    }
}
