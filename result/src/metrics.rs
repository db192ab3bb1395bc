//! The result service's own metrics: results cache hits and misses, live clients, live
//! messages sent and slow clients dropped. The counters live where the work is done
//! ([`crate::lookup`], [`crate::live`]); this module names them and registers them with
//! the HTTP metrics, all served on the admin port.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::ConstGauge;
use tally_runtime::Registry;

use crate::live::Live;
use crate::lookup::ResultsLookup;

/// Counts of the results cache. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct CacheCounters {
    /// Documents served from Redis.
    pub hits: Counter,
    /// Documents read from Postgres instead (absent, or Redis unavailable).
    pub misses: Counter,
}

/// Counts of the live feed. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct LiveCounters {
    /// Text messages written to live clients (results and link status).
    pub messages_sent: Counter,
    /// Sessions closed because the client did not take a message in time.
    pub slow_clients_dropped: Counter,
}

/// Registers the result service's metrics in `registry`.
pub fn register(registry: &mut Registry, lookup: &ResultsLookup, live: &Live) {
    let cache = lookup.counters();
    registry.register(
        "tally_result_cache_hits",
        "Results documents served from the Redis cache",
        cache.hits.clone(),
    );
    registry.register(
        "tally_result_cache_misses",
        "Results documents read from Postgres because the cache had none or was down",
        cache.misses.clone(),
    );
    let counters = live.counters();
    registry.register(
        "tally_live_messages_sent",
        "Messages written to live WebSocket clients",
        counters.messages_sent.clone(),
    );
    registry.register(
        "tally_live_slow_clients_dropped",
        "Live clients closed (1008) for not taking a message within the send timeout",
        counters.slow_clients_dropped.clone(),
    );
    registry.register_collector(Box::new(LiveClients(live.clone())));
}

/// `tally_live_clients`, read from the live feed's client slots at each scrape.
#[derive(Debug)]
struct LiveClients(Live);

impl Collector for LiveClients {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let clients = ConstGauge::new(i64::try_from(self.0.clients()).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "tally_live_clients",
            "Live WebSocket clients connected now",
            None,
            clients.metric_type(),
        )?;
        clients.encode(metric)
    }
}
