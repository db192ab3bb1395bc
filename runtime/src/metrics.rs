//! The HTTP metrics every service records in the serve loop: requests by route and
//! status, their duration by route, and open connections. A service makes one
//! [`Registry`], registers these with [`HttpMetrics::register`] and its own next to
//! them, and serves the registry on its admin port ([`crate::admin`]). Every route's
//! duration series exists from the start; a `{route, status}` pair appears with its
//! first request (statuses are not known in advance).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

/// Upper bounds of the request duration buckets, in seconds: from half a millisecond
/// (a vote accepted from a warm cache) to ten seconds (the upstream timeout).
pub const REQUEST_DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of `/healthz`, answered by the runtime itself.
pub const HEALTHZ_ROUTE: &str = "healthz";

/// The route label of `/readyz`, answered by the runtime itself.
pub const READYZ_ROUTE: &str = "readyz";

/// The routes the runtime answers itself, whatever the service.
pub const RUNTIME_ROUTES: [&str; 2] = [HEALTHZ_ROUTE, READYZ_ROUTE];

/// Labels of `http_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteStatus {
    /// One of a service's fixed route names, never a raw path.
    pub route: &'static str,
    /// The numeric status code.
    pub status: u16,
}

/// Labels of `http_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabel {
    /// One of a service's fixed route names.
    pub route: &'static str,
}

/// A histogram with the request duration buckets.
fn duration_histogram() -> Histogram {
    Histogram::new(REQUEST_DURATION_BUCKETS)
}

/// The serve loop's metrics. Cloning shares the counters.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RouteStatus, Counter>,
    durations: Family<RouteLabel, Histogram, fn() -> Histogram>,
    /// The duration series of the routes known at start, resolved once: a handle shares
    /// its series with the family, and finding one here costs no lock and no hashing.
    route_durations: Arc<[(&'static str, Histogram)]>,
    connections_open: Gauge,
}

impl HttpMetrics {
    /// Registers `http_requests_total`, `http_request_duration_seconds` and
    /// `http_connections_open` in `registry`, with the duration series of `routes` (the
    /// service's [`crate::Handler::ROUTES`]) and of [`RUNTIME_ROUTES`] created at 0: a
    /// series that appears with its first request has no earlier sample for `rate()` or
    /// `histogram_quantile` to rise from.
    pub fn register(registry: &mut Registry, routes: &[&'static str]) -> HttpMetrics {
        let durations: Family<RouteLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let route_durations = RUNTIME_ROUTES
            .iter()
            .chain(routes)
            .map(|&route| {
                (
                    route,
                    durations.get_or_create(&RouteLabel { route }).clone(),
                )
            })
            .collect();
        let metrics = HttpMetrics {
            requests: Family::default(),
            durations,
            route_durations,
            connections_open: Gauge::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status code",
            metrics.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its response head, by route",
            metrics.durations.clone(),
        );
        registry.register(
            "http_connections_open",
            "Client connections open on the public port",
            metrics.connections_open.clone(),
        );
        metrics
    }

    /// Records one answered request.
    pub fn record(&self, route: &'static str, status: u16, duration: Duration) {
        self.requests
            .get_or_create(&RouteStatus { route, status })
            .inc();
        let seconds = duration.as_secs_f64();
        match self
            .route_durations
            .iter()
            .find(|(known, _)| *known == route)
        {
            Some((_, histogram)) => histogram.observe(seconds),
            None => self
                .durations
                .get_or_create(&RouteLabel { route })
                .observe(seconds),
        }
    }

    /// Counts a connection as open until the returned guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.connections_open.inc();
        OpenConnection(self.connections_open.clone())
    }
}

/// An open connection; closing it (dropping this) takes it off the gauge.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The registry in the OpenMetrics text format, as Prometheus scrapes it.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_and_connections_are_exported() {
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry, &["vote"]);
        metrics.record("vote", 202, Duration::from_millis(3));
        metrics.record("vote", 202, Duration::from_millis(30));
        metrics.record("vote", 503, Duration::from_micros(100));
        metrics.record("unlisted", 200, Duration::from_micros(100));
        let open = metrics.connection_opened();
        let _other = metrics.connection_opened();
        drop(open);
        let text = encode(&registry).unwrap();
        assert!(
            text.contains("http_requests_total{route=\"vote\",status=\"202\"} 2"),
            "{text}"
        );
        assert!(text.contains("http_requests_total{route=\"vote\",status=\"503\"} 1"));
        assert!(text.contains("http_request_duration_seconds_count{route=\"vote\"} 3"));
        assert!(text.contains("http_request_duration_seconds_count{route=\"unlisted\"} 1"));
        assert!(
            text.contains("http_request_duration_seconds_bucket{le=\"0.005\",route=\"vote\"} 2")
        );
        assert!(text.contains("http_connections_open 1"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn every_route_has_its_duration_series_from_the_start() {
        let mut registry = Registry::default();
        HttpMetrics::register(&mut registry, &["vote", "other"]);
        let text = encode(&registry).unwrap();
        for route in ["vote", "other", "healthz", "readyz"] {
            let count = format!("http_request_duration_seconds_count{{route=\"{route}\"}} 0");
            assert!(text.contains(&count), "{count} in {text}");
            let slowest =
                format!("http_request_duration_seconds_bucket{{le=\"+Inf\",route=\"{route}\"}} 0");
            assert!(text.contains(&slowest), "{slowest} in {text}");
        }
        assert!(
            !text.contains("http_requests_total{"),
            "statuses come with requests"
        );
    }
}
