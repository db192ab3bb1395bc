//! The edge's own metrics, in prometheus-client types: per upstream pool its latency,
//! healthy replicas, retries and ejections (kept in each [`crate::upstream::Pool`]),
//! requests refused over the rate, and open WebSocket tunnels. [`register`] exports
//! them with the serve loop's HTTP metrics (route `vote`, `result` or `static`) on the
//! admin port, which the edge never routes to.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use tally_runtime::Registry;

use crate::tunnel::Tunnels;
use crate::upstream::Pool;

/// A count that only goes up (cloning shares it).
pub type Counter = prometheus_client::metrics::counter::Counter;

/// A value that goes up and down (cloning shares it).
pub type Gauge = prometheus_client::metrics::gauge::Gauge;

/// Upstream latency buckets, in seconds: a replica on the same host answers in well
/// under a millisecond; the upstream timeout is 10 s by default.
pub const UPSTREAM_SECONDS_BUCKETS: [f64; 14] = [
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// One upstream pool's metrics.
#[derive(Debug)]
pub struct UpstreamMetrics {
    /// Times from sending a request to its response head.
    pub latency: Histogram,
    /// Replicas currently given requests.
    pub healthy_replicas: Gauge,
    /// Attempts made after an earlier attempt of the same request failed.
    pub retries: Counter,
    /// Replicas ejected, by health checks or by a refused connection.
    pub ejections: Counter,
}

impl Default for UpstreamMetrics {
    fn default() -> Self {
        UpstreamMetrics {
            latency: Histogram::new(UPSTREAM_SECONDS_BUCKETS),
            healthy_replicas: Gauge::default(),
            retries: Counter::default(),
            ejections: Counter::default(),
        }
    }
}

impl UpstreamMetrics {
    /// Records the time one upstream took to send its response head.
    pub fn observe_latency(&self, latency: Duration) {
        self.latency.observe(latency.as_secs_f64());
    }
}

/// Registers the edge's metrics in `registry`: the pools', `rate_limited` as
/// `tally_edge_rate_limited_total`, and the tunnels open across `tunnels` (one set per
/// worker thread).
pub fn register(
    registry: &mut Registry,
    pools: [Arc<Pool>; 2],
    rate_limited: &Counter,
    tunnels: Vec<Tunnels>,
) {
    registry.register(
        "tally_edge_rate_limited",
        "Requests refused with 429 for going over the client's rate",
        rate_limited.clone(),
    );
    registry.register_collector(Box::new(EdgeCollector { pools, tunnels }));
}

/// Reads the pools and tunnels at each scrape.
#[derive(Debug)]
struct EdgeCollector {
    pools: [Arc<Pool>; 2],
    tunnels: Vec<Tunnels>,
}

impl EdgeCollector {
    /// One family labelled by `upstream`, with `metric` of each pool.
    fn per_upstream<M: EncodeMetric>(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        kind: MetricType,
        metric: impl Fn(&UpstreamMetrics) -> &M,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, kind)?;
        for pool in &self.pools {
            let labels = [("upstream", pool.kind())];
            metric(pool.metrics()).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl Collector for EdgeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.per_upstream(
            &mut encoder,
            "tally_edge_upstream_healthy_replicas",
            "Replicas of the upstream given requests now",
            MetricType::Gauge,
            |metrics| &metrics.healthy_replicas,
        )?;
        self.per_upstream(
            &mut encoder,
            "tally_edge_upstream_retries",
            "Attempts made after an earlier attempt of the same request failed",
            MetricType::Counter,
            |metrics| &metrics.retries,
        )?;
        self.per_upstream(
            &mut encoder,
            "tally_edge_upstream_ejections",
            "Replicas ejected by health checks or refused connections",
            MetricType::Counter,
            |metrics| &metrics.ejections,
        )?;
        self.per_upstream(
            &mut encoder,
            "tally_edge_upstream_duration_seconds",
            "Time from sending a request upstream to its response head",
            MetricType::Histogram,
            |metrics| &metrics.latency,
        )?;
        let open: usize = self.tunnels.iter().map(Tunnels::open_count).sum();
        let open = ConstGauge::new(i64::try_from(open).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "tally_edge_tunnels_open",
            "WebSocket tunnels open between clients and upstreams",
            None,
            open.metric_type(),
        )?;
        open.encode(metric)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::balance::Balance;

    #[test]
    fn pools_are_exported_by_upstream() {
        let vote = Arc::new(
            Pool::from_addresses(
                "vote",
                Balance::RoundRobin,
                &["127.0.0.1:1".parse().unwrap()],
            )
            .unwrap(),
        );
        let result = Arc::new(
            Pool::from_addresses(
                "result",
                Balance::RoundRobin,
                &["127.0.0.1:2".parse().unwrap()],
            )
            .unwrap(),
        );
        vote.metrics().retries.inc();
        vote.metrics().observe_latency(Duration::from_millis(2));
        result.metrics().ejections.inc_by(2);
        let rate_limited = Counter::default();
        rate_limited.inc();
        let mut registry = Registry::default();
        let tunnels = vec![Tunnels::new(Duration::from_secs(1))];
        register(&mut registry, [vote, result], &rate_limited, tunnels);
        let page = tally_runtime::metrics::encode(&registry).unwrap();
        for line in [
            "tally_edge_upstream_retries_total{upstream=\"vote\"} 1",
            "tally_edge_upstream_retries_total{upstream=\"result\"} 0",
            "tally_edge_upstream_ejections_total{upstream=\"result\"} 2",
            "tally_edge_upstream_duration_seconds_count{upstream=\"vote\"} 1",
            "tally_edge_upstream_duration_seconds_bucket{le=\"0.0025\",upstream=\"vote\"} 1",
            "tally_edge_upstream_healthy_replicas{upstream=\"vote\"} 1",
            "tally_edge_rate_limited_total 1",
            "tally_edge_tunnels_open 0",
        ] {
            assert!(page.contains(line), "{line} in {page}");
        }
    }
}
