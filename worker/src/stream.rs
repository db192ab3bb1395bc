//! The worker's side of the Redis stream: the consumer group, reading new entries,
//! claiming entries a dead consumer left pending, acknowledging, dead-lettering, and
//! trimming what every worker has acknowledged.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, RedisResult, Value};
use tally_model::keys::CONSUMER_GROUP;
use tally_model::Keys;

/// One stream entry as read, before it is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The entry id, as Redis wrote it.
    pub id: String,
    /// The field/value pairs (values that are not text are dropped, so decoding fails).
    pub fields: Vec<(String, String)>,
}

impl From<StreamId> for RawEntry {
    fn from(entry: StreamId) -> Self {
        let fields = entry
            .map
            .into_iter()
            .filter_map(|(field, value)| match value {
                Value::BulkString(bytes) => String::from_utf8(bytes).ok().map(|text| (field, text)),
                Value::SimpleString(text) => Some((field, text)),
                _ => None,
            })
            .collect();
        RawEntry {
            id: entry.id,
            fields,
        }
    }
}

/// The stream through the `workers` consumer group, as one consumer.
#[derive(Debug, Clone)]
pub struct VoteStream {
    /// For commands that return at once.
    redis: ConnectionManager,
    /// For `XREADGROUP … BLOCK`, which would hold up a shared multiplexed connection.
    blocking: ConnectionManager,
    keys: Keys,
    consumer: String,
}

impl VoteStream {
    /// The stream named by `keys`, read as `consumer`.
    pub fn new(
        redis: ConnectionManager,
        blocking: ConnectionManager,
        keys: Keys,
        consumer: String,
    ) -> Self {
        VoteStream {
            redis,
            blocking,
            keys,
            consumer,
        }
    }

    /// This consumer's name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Creates the consumer group (and the stream) if missing. A group created now
    /// starts at the beginning of the stream, so nothing written before is skipped.
    pub async fn ensure_group(&self) -> RedisResult<()> {
        let created: RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.keys.vote_stream())
            .arg(CONSUMER_GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.redis.clone())
            .await;
        match created {
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Up to `count` entries never delivered to any consumer, waiting up to `block`.
    pub async fn read_new(&self, count: usize, block: Duration) -> RedisResult<Vec<RawEntry>> {
        let options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.consumer)
            .count(count)
            .block(block.as_millis() as usize);
        let reply: Option<StreamReadReply> = self
            .blocking
            .clone()
            .xread_options(&[self.keys.vote_stream()], &[">"], &options)
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .map(RawEntry::from)
            .collect())
    }

    /// Takes over up to `count` entries pending longer than `min_idle` (their consumer
    /// died or is stuck), starting the scan at `cursor`; returns the entries and the
    /// cursor to continue from (`0-0` when the scan wrapped around).
    pub async fn claim_stale(
        &self,
        min_idle: Duration,
        cursor: &str,
        count: usize,
    ) -> RedisResult<(Vec<RawEntry>, String)> {
        let reply: StreamAutoClaimReply = self
            .redis
            .clone()
            .xautoclaim_options(
                self.keys.vote_stream(),
                CONSUMER_GROUP,
                &self.consumer,
                min_idle.as_millis() as u64,
                cursor,
                StreamAutoClaimOptions::default().count(count),
            )
            .await?;
        Ok((
            reply.claimed.into_iter().map(RawEntry::from).collect(),
            reply.next_stream_id,
        ))
    }

    /// Acknowledges `ids`: they are done and will not be delivered again.
    pub async fn ack(&self, ids: &[String]) -> RedisResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.redis
            .clone()
            .xack::<_, _, _, ()>(self.keys.vote_stream(), CONSUMER_GROUP, ids)
            .await
    }

    /// Keeps an entry that can never be applied in the dead-letter stream, with why.
    pub async fn dead_letter(&self, entry: &RawEntry, reason: &str) -> RedisResult<()> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.keys.dead_letter_stream())
            .arg("*")
            .arg("source_id")
            .arg(&entry.id)
            .arg("reason")
            .arg(reason);
        for (field, value) in &entry.fields {
            cmd.arg(field).arg(value);
        }
        cmd.query_async::<()>(&mut self.redis.clone()).await
    }

    /// Deletes entries that every consumer has acknowledged: everything older than the
    /// oldest pending entry, or than the last delivered one when nothing is pending.
    pub async fn trim_acknowledged(&self) -> RedisResult<u64> {
        let mut redis = self.redis.clone();
        let stream = self.keys.vote_stream();
        let summary: Value = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(CONSUMER_GROUP)
            .query_async(&mut redis)
            .await?;
        let oldest_pending = match summary {
            Value::Array(items) => match items.get(1) {
                Some(Value::BulkString(id)) => Some(String::from_utf8_lossy(id).into_owned()),
                _ => None,
            },
            _ => None,
        };
        let keep_from = match oldest_pending {
            Some(id) => id,
            None => {
                let groups: Vec<std::collections::HashMap<String, Value>> = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(&stream)
                    .query_async(&mut redis)
                    .await?;
                let last_delivered = groups.into_iter().find_map(|group| {
                    let is_ours = matches!(group.get("name"), Some(Value::BulkString(n)) if n == CONSUMER_GROUP.as_bytes());
                    match (is_ours, group.get("last-delivered-id")) {
                        (true, Some(Value::BulkString(id))) => Some(String::from_utf8_lossy(id).into_owned()),
                        _ => None,
                    }
                });
                match last_delivered {
                    Some(id) => id,
                    None => return Ok(0),
                }
            }
        };
        redis::cmd("XTRIM")
            .arg(&stream)
            .arg("MINID")
            .arg(keep_from)
            .query_async(&mut redis)
            .await
    }
}
