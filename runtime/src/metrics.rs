//! The HTTP metrics every service records in the serve loop: requests by route and
//! status, their duration by route, and open connections. A service makes one
//! [`Registry`], registers these with [`HttpMetrics::register`] and its own next to
//! them, and serves the registry on its admin port ([`crate::admin`]). Every route's
//! duration series exists from the start; a `{route, status}` pair appears with its
//! first request (statuses are not known in advance).

use std::sync::{Arc, OnceLock};
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
    /// The series of the routes known at start, resolved once: a handle shares its
    /// series with the family, and finding one here costs no lock and no hashing (the
    /// two family lookups were about 650 instructions per request).
    known_routes: Arc<[RouteSeries]>,
    connections_open: Gauge,
}

/// Status codes from 100 to 599 (RFC 9110 §15): the ones a route keeps handles for.
const STATUS_CODES: std::ops::Range<u16> = 100..600;

/// One known route's series.
#[derive(Debug)]
struct RouteSeries {
    route: &'static str,
    duration: Histogram,
    /// `http_requests_total` by status code, from 100 up, each made with its first
    /// request: series appear as statuses occur, as with the family alone.
    requests: Box<[OnceLock<Counter>]>,
}

impl RouteSeries {
    fn new(
        route: &'static str,
        durations: &Family<RouteLabel, Histogram, fn() -> Histogram>,
    ) -> Self {
        RouteSeries {
            route,
            duration: durations.get_or_create(&RouteLabel { route }).clone(),
            requests: STATUS_CODES.map(|_| OnceLock::new()).collect(),
        }
    }
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
        let known_routes = RUNTIME_ROUTES
            .iter()
            .chain(routes)
            .map(|&route| RouteSeries::new(route, &durations))
            .collect();
        let metrics = HttpMetrics {
            requests: Family::default(),
            durations,
            known_routes,
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
        let seconds = duration.as_secs_f64();
        let labels = RouteStatus { route, status };
        let Some(known) = self.known_routes.iter().find(|known| known.route == route) else {
            self.requests.get_or_create(&labels).inc();
            self.durations
                .get_or_create(&RouteLabel { route })
                .observe(seconds);
            return;
        };
        known.duration.observe(seconds);
        let slot = status
            .checked_sub(STATUS_CODES.start)
            .and_then(|index| known.requests.get(usize::from(index)));
        match slot {
            Some(slot) => slot
                .get_or_init(|| self.requests.get_or_create(&labels).clone())
                .inc(),
            None => self.requests.get_or_create(&labels).inc(),
        };
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
        // Past the statuses a route keeps handles for (hyper allows up to 999).
        metrics.record("vote", 799, Duration::from_micros(100));
        let open = metrics.connection_opened();
        let _other = metrics.connection_opened();
        drop(open);
        let text = encode(&registry).unwrap();
        assert!(
            text.contains("http_requests_total{route=\"vote\",status=\"202\"} 2"),
            "{text}"
        );
        assert!(text.contains("http_requests_total{route=\"vote\",status=\"503\"} 1"));
        assert!(text.contains("http_requests_total{route=\"vote\",status=\"799\"} 1"));
        assert!(text.contains("http_requests_total{route=\"unlisted\",status=\"200\"} 1"));
        assert!(text.contains("http_request_duration_seconds_count{route=\"vote\"} 4"));
        assert!(text.contains("http_request_duration_seconds_count{route=\"unlisted\"} 1"));
        assert!(
            text.contains("http_request_duration_seconds_bucket{le=\"0.005\",route=\"vote\"} 3")
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
