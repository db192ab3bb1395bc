//! The worker's metrics: batch sizes and apply latency, entries applied by kind,
//! redelivered, reclaimed and dead-lettered; and, sampled from Redis, the stream's
//! length and the age of the oldest entry not yet applied (the lag). Served with the
//! HTTP metrics on the admin port.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use redis::aio::ConnectionManager;
use redis::Value;
use tally_model::keys::CONSUMER_GROUP;
use tally_model::timestamp::now_ms;
use tally_model::{EntryId, Keys};
use tally_runtime::Registry;
use tokio::sync::watch;

use crate::apply::{Batch, BatchOutcome};

/// Batch size buckets, in entries: 1 to 10,000 (the largest `WORKER_BATCH_SIZE`).
const BATCH_SIZE_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10_000.0,
];

/// Apply latency buckets, in seconds: a small batch commits in about a millisecond; a
/// batch retried while Postgres is away takes seconds.
const APPLY_SECONDS_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// Every `kind` of entry applied, created at 0 on start so that `rate()` sees the first
/// entry of each kind (a series that appears with its first event has no earlier
/// sample to rise from).
pub const KINDS: [&str; 6] = ["vote", "create", "close", "reopen", "event_create", "event"];

/// Labels of `tally_worker_entries_applied_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct KindLabel {
    /// `vote`, `create`, `close` or `reopen`.
    pub kind: &'static str,
}

/// The worker's metrics. Cloning shares them.
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    batch_size: Histogram,
    apply_seconds: Histogram,
    applied: Family<KindLabel, Counter>,
    redelivered: Counter,
    reclaimed: Counter,
    dead_lettered: Counter,
    stream_length: Gauge,
    lag_seconds: Gauge<f64, AtomicU64>,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics {
            batch_size: Histogram::new(BATCH_SIZE_BUCKETS),
            apply_seconds: Histogram::new(APPLY_SECONDS_BUCKETS),
            applied: Family::default(),
            redelivered: Counter::default(),
            reclaimed: Counter::default(),
            dead_lettered: Counter::default(),
            stream_length: Gauge::default(),
            lag_seconds: Gauge::default(),
        }
    }
}

impl WorkerMetrics {
    /// Registers the worker's metrics in `registry`.
    pub fn register(registry: &mut Registry) -> WorkerMetrics {
        let metrics = WorkerMetrics::default();
        registry.register(
            "tally_worker_batch_size",
            "Entries per batch read from the stream",
            metrics.batch_size.clone(),
        );
        registry.register(
            "tally_worker_apply_duration_seconds",
            "Time to apply one batch in one transaction, retries included",
            metrics.apply_seconds.clone(),
        );
        registry.register(
            "tally_worker_entries_applied",
            "Stream entries committed to Postgres, by kind",
            metrics.applied.clone(),
        );
        registry.register(
            "tally_worker_entries_redelivered",
            "Reclaimed entries that an earlier delivery had already applied (no effect)",
            metrics.redelivered.clone(),
        );
        registry.register(
            "tally_worker_entries_reclaimed",
            "Entries taken over (XAUTOCLAIM) after a consumer left them pending",
            metrics.reclaimed.clone(),
        );
        registry.register(
            "tally_worker_entries_dead_lettered",
            "Entries that can never be applied, moved to the dead-letter stream",
            metrics.dead_lettered.clone(),
        );
        registry.register(
            "tally_stream_length",
            "Entries in the votes stream (XLEN), sampled",
            metrics.stream_length.clone(),
        );
        registry.register(
            "tally_worker_lag_seconds",
            "Age of the oldest entry pending or not yet read by the consumer group, sampled",
            metrics.lag_seconds.clone(),
        );
        for kind in KINDS {
            let _created = metrics.applied.get_or_create(&KindLabel { kind });
        }
        metrics
    }

    /// Records a batch read: its size, and whether it was taken over from another consumer.
    pub fn batch_read(&self, entries: usize, reclaimed: bool) {
        self.batch_size.observe(entries as f64);
        if reclaimed {
            self.reclaimed.inc_by(entries as u64);
        }
    }

    /// Records a committed batch: how long it took, what it applied, and for a reclaimed
    /// batch how many entries changed nothing because they had been applied before.
    pub fn batch_applied(
        &self,
        batch: &Batch,
        outcome: &BatchOutcome,
        took: Duration,
        reclaimed: bool,
    ) {
        self.apply_seconds.observe(took.as_secs_f64());
        let rejected: BTreeSet<EntryId> = outcome.rejected.iter().map(|(id, _)| *id).collect();
        let kept = |id: &EntryId| !rejected.contains(id);
        let votes = batch.votes.iter().filter(|v| kept(&v.id)).count();
        let creates = batch.creates.iter().filter(|c| kept(&c.id)).count();
        let (reopens, closes): (Vec<_>, Vec<_>) = batch
            .statuses
            .iter()
            .filter(|s| kept(&s.id))
            .partition(|s| s.entry.open);
        let event_creates = batch.event_creates.iter().filter(|c| kept(&c.id)).count();
        let event_commands = batch.event_commands.iter().filter(|c| kept(&c.id)).count();
        let counts = [
            votes,
            creates,
            closes.len(),
            reopens.len(),
            event_creates,
            event_commands,
        ];
        for (kind, count) in KINDS.into_iter().zip(counts) {
            if count > 0 {
                self.applied
                    .get_or_create(&KindLabel { kind })
                    .inc_by(count as u64);
            }
        }
        if reclaimed {
            self.redelivered.inc_by(outcome.unchanged as u64);
        }
    }

    /// Counts entries moved to the dead-letter stream.
    pub fn dead_lettered(&self, entries: usize) {
        self.dead_lettered.inc_by(entries as u64);
    }
}

/// Samples the stream's length and the lag every `interval` until `stop` turns true.
pub async fn sample(
    redis: ConnectionManager,
    keys: Keys,
    metrics: WorkerMetrics,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match measure(&mut redis.clone(), &keys).await {
            Ok((length, lag)) => {
                metrics
                    .stream_length
                    .set(i64::try_from(length).unwrap_or(i64::MAX));
                metrics.lag_seconds.set(lag.as_secs_f64());
            }
            Err(error) => tracing::debug!(%error, "sampling the stream failed"),
        }
    }
}

/// The stream's length, and the age of its oldest entry that the group has not
/// acknowledged: the oldest pending one, or the first one not yet delivered.
async fn measure(
    redis: &mut ConnectionManager,
    keys: &Keys,
) -> redis::RedisResult<(u64, Duration)> {
    let stream = keys.vote_stream();
    let length: u64 = redis::cmd("XLEN").arg(&stream).query_async(redis).await?;
    // XPENDING summary: [count, smallest id, greatest id, consumers].
    let pending: Value = redis::cmd("XPENDING")
        .arg(&stream)
        .arg(CONSUMER_GROUP)
        .query_async(redis)
        .await
        .unwrap_or(Value::Nil);
    let oldest_pending = match &pending {
        Value::Array(fields) => fields.get(1).and_then(entry_id),
        _ => None,
    };
    let groups: Vec<HashMap<String, Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&stream)
        .query_async(redis)
        .await
        .unwrap_or_default();
    let last_delivered = groups
        .iter()
        .find(|group| group.get("name").and_then(text).as_deref() == Some(CONSUMER_GROUP))
        .and_then(|group| group.get("last-delivered-id").and_then(text));
    // The first entry after the last delivered one (an exclusive range, Redis 6.2+).
    let start = last_delivered.map_or_else(|| "-".to_owned(), |id| format!("({id}"));
    let next: Value = redis::cmd("XRANGE")
        .arg(&stream)
        .arg(start)
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(redis)
        .await?;
    let oldest_unread = match &next {
        Value::Array(entries) => entries.first().and_then(|entry| match entry {
            Value::Array(parts) => parts.first().and_then(entry_id),
            _ => None,
        }),
        _ => None,
    };
    let oldest = [oldest_pending, oldest_unread].into_iter().flatten().min();
    let lag = oldest.map_or(Duration::ZERO, |id| {
        Duration::from_millis(now_ms().saturating_sub(id.ms))
    });
    Ok((length, lag))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

fn entry_id(value: &Value) -> Option<EntryId> {
    text(value)?.parse().ok()
}
