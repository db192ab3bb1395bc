//! Poll definitions as the worker cached them in Redis, kept in process for a short
//! time so that a busy poll costs one Redis read per interval, not one per vote.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tally_model::{Keys, PollDefinition};

use crate::error::VoteError;

/// Entries kept before the cache starts over; bounds memory under a flood of unknown ids.
const MAX_CACHED_POLLS: usize = 10_000;

/// How long "no such poll" is remembered, at most: a poll created a moment ago is
/// readable (its results) as soon as the worker commits, and its definition follows a
/// millisecond later; a miss remembered for the full TTL would refuse its first votes.
const MISS_TTL: Duration = Duration::from_millis(100);

/// A definition (or the fact that there is none) and when it was read.
type Cached = (Instant, Option<Arc<PollDefinition>>);

/// Reads poll definitions through a short-lived in-process cache.
#[derive(Debug)]
pub struct PollDefinitions {
    redis: ConnectionManager,
    keys: Keys,
    ttl: Duration,
    cache: RwLock<HashMap<String, Cached>>,
}

impl PollDefinitions {
    /// A cache over `redis` whose entries live for `ttl`.
    pub fn new(redis: ConnectionManager, keys: Keys, ttl: Duration) -> Self {
        PollDefinitions {
            redis,
            keys,
            ttl,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The poll's definition, or `None` when no such poll exists.
    pub async fn get(&self, poll: &str) -> Result<Option<Arc<PollDefinition>>, VoteError> {
        if let Some(found) = self.cached(poll) {
            return Ok(found);
        }
        let json: Option<String> = self
            .redis
            .clone()
            .get(self.keys.poll_definition(poll))
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading a poll definition from Redis failed");
                VoteError::QueueUnavailable
            })?;
        let definition = match json.map(|json| serde_json::from_str::<PollDefinition>(&json)) {
            None => None,
            Some(Ok(definition)) => Some(Arc::new(definition)),
            Some(Err(error)) => {
                tracing::error!(%error, poll, "the cached poll definition is not valid JSON");
                return Err(VoteError::QueueUnavailable);
            }
        };
        self.remember(poll, definition.clone());
        Ok(definition)
    }

    fn cached(&self, poll: &str) -> Option<Option<Arc<PollDefinition>>> {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (read_at, definition) = cache.get(poll)?;
        let ttl = match definition {
            Some(_) => self.ttl,
            None => self.ttl.min(MISS_TTL),
        };
        (read_at.elapsed() < ttl).then(|| definition.clone())
    }

    fn remember(&self, poll: &str, definition: Option<Arc<PollDefinition>>) {
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= MAX_CACHED_POLLS {
            cache.clear();
        }
        cache.insert(poll.to_owned(), (Instant::now(), definition));
    }
}
