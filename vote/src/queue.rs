//! The Redis stream side of the vote service: appending ballots as durably as
//! configured, and watching how many wait to be counted so that the service can push
//! back before Redis fills up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Value;
use tally_model::keys::CONSUMER_GROUP;
use tally_model::{Keys, VoteEntry};

use crate::durability::FsyncCheck;
use crate::error::VoteError;
use crate::replicated::ReplicatedAppender;

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

/// How an entry is appended, by the configured durability.
#[derive(Debug, Clone)]
pub enum Appending {
    /// `XADD` on the shared connection; answered once Redis has it.
    Written,
    /// `XADD` on the shared connection, refused while Redis is not seen to fsync every
    /// write (it fsyncs before it answers then).
    Fsync(Arc<FsyncCheck>),
    /// In groups, each confirmed by the replicas (`WAIT`).
    Replicated(ReplicatedAppender),
}

/// Appends ballots to the vote stream.
#[derive(Debug, Clone)]
pub struct Queue {
    redis: ConnectionManager,
    keys: Keys,
    appending: Appending,
}

impl Queue {
    /// A queue writing to the stream named by `keys`, as `appending` says.
    pub fn new(redis: ConnectionManager, keys: Keys, appending: Appending) -> Self {
        Queue {
            redis,
            keys,
            appending,
        }
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
        match &self.appending {
            Appending::Written => {}
            Appending::Fsync(check) => check.verdict().map_err(VoteError::NotDurable)?,
            Appending::Replicated(appender) => return appender.append(fields).await,
        }
        xadd_fields(&self.keys, fields)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(|error| {
                tracing::warn!(%error, "XADD failed");
                VoteError::QueueUnavailable
            })
    }

    /// Why the queue cannot keep its durability promise now, if it cannot: Redis not
    /// seen to fsync every write, or fewer replicas connected than each vote waits for.
    pub async fn durability_problem(&self) -> Option<String> {
        match &self.appending {
            Appending::Written => None,
            Appending::Fsync(check) => check.verdict().err().map(str::to_owned),
            Appending::Replicated(appender) => {
                let info: redis::RedisResult<String> = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut self.redis.clone())
                    .await;
                let connected = info.ok().and_then(|info| connected_replicas(&info));
                let wanted = appender.replicas();
                match connected {
                    Some(connected) if connected >= wanted => None,
                    Some(connected) => Some(format!(
                        "{connected} Redis replicas connected; each vote waits for {wanted}"
                    )),
                    None => Some("Redis's replication state could not be read".to_owned()),
                }
            }
        }
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

/// `connected_slaves` from the text of `INFO replication`.
fn connected_replicas(info: &str) -> Option<u32> {
    info.lines()
        .find_map(|line| line.strip_prefix("connected_slaves:"))
        .and_then(|count| count.trim().parse().ok())
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
