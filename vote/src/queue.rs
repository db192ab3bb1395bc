//! The Redis stream side of the vote service: appending ballots, and watching how many
//! wait to be counted so that the service can push back before Redis fills up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Value;
use tally_model::keys::CONSUMER_GROUP;
use tally_model::{Keys, VoteEntry};

use crate::error::VoteError;

/// The `XADD` command that appends `entry` to the vote stream.
pub fn xadd_command(keys: &Keys, entry: &VoteEntry) -> redis::Cmd {
    xadd_fields(keys, &entry.to_fields())
}

/// The `XADD` command that appends an entry with `fields` (a vote or a poll command).
pub fn xadd_fields(keys: &Keys, fields: &[(&'static str, String)]) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(keys.vote_stream()).arg("*");
    for (field, value) in fields {
        cmd.arg(*field).arg(value);
    }
    cmd
}

/// Appends ballots to the vote stream.
#[derive(Debug, Clone)]
pub struct Queue {
    redis: ConnectionManager,
    keys: Keys,
}

impl Queue {
    /// A queue writing to the stream named by `keys`.
    pub fn new(redis: ConnectionManager, keys: Keys) -> Self {
        Queue { redis, keys }
    }

    /// Appends `entry`; returns its stream entry id.
    pub async fn append(&self, entry: &VoteEntry) -> Result<String, VoteError> {
        self.append_fields(&entry.to_fields()).await
    }

    /// Appends an entry with `fields`; returns its stream entry id.
    pub async fn append_fields(
        &self,
        fields: &[(&'static str, String)],
    ) -> Result<String, VoteError> {
        xadd_fields(&self.keys, fields)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(|error| {
                tracing::warn!(%error, "XADD failed");
                VoteError::QueueUnavailable
            })
    }

    /// Entries not yet acknowledged by the workers: the group's pending entries plus
    /// those not yet delivered (`lag`), or the stream's length when that is unknown.
    pub async fn backlog(&self) -> redis::RedisResult<u64> {
        let mut redis = self.redis.clone();
        let stream = self.keys.vote_stream();
        let groups: redis::RedisResult<Vec<std::collections::HashMap<String, Value>>> =
            redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(&stream)
                .query_async(&mut redis)
                .await;
        let from_group = groups.ok().and_then(|groups| {
            let group = groups.into_iter().find(|group| {
                matches!(group.get("name"), Some(Value::BulkString(name)) if name == CONSUMER_GROUP.as_bytes())
            })?;
            let pending = as_u64(group.get("pending")?)?;
            let lag = as_u64(group.get("lag")?)?;
            Some(pending + lag)
        });
        match from_group {
            Some(backlog) => Ok(backlog),
            None => {
                redis::cmd("XLEN")
                    .arg(&stream)
                    .query_async(&mut redis)
                    .await
            }
        }
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The backlog as last measured, refreshed in the background.
#[derive(Debug, Default)]
pub struct Backlog {
    entries: AtomicU64,
}

impl Backlog {
    /// Entries waiting at the last measurement.
    pub fn get(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    /// Measures the backlog every `interval` until the returned task is aborted.
    pub fn watch(
        self: &Arc<Self>,
        queue: Queue,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let backlog = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                match queue.backlog().await {
                    Ok(entries) => backlog.entries.store(entries, Ordering::Relaxed),
                    Err(error) => tracing::debug!(%error, "measuring the backlog failed"),
                }
            }
        })
    }
}
