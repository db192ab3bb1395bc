//! Event definitions as the worker wrote them to Redis (`event:<id>`, a hash whose
//! `body` is the JSON of [`EventDefinition`]) and the join codes that name them
//! (`eventcode:<code>`).
//!
//! Ballots read the definition through a short-lived in-process cache, like poll
//! definitions; a cached copy that would refuse a ballot (not the current question,
//! locked) is read again first, so a vote cast right after the presenter moves on is
//! not refused for a whole TTL. Presenter commands read everything fresh: "next" must
//! start from the latest state.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tally_model::event::is_event_id;
use tally_model::{EventBallotError, EventDefinition, Keys};

use crate::error::VoteError;

/// Entries kept before the cache starts over; bounds memory under a flood of events.
const MAX_CACHED_EVENTS: usize = 10_000;

/// The field of the event hash that holds the definition's JSON.
const BODY_FIELD: &str = "body";

/// A definition (or the fact that there is none) and when it was read.
type Cached = (Instant, Option<Arc<EventDefinition>>);

/// What an event says of a ballot on one of its questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotGate {
    /// The event's join code, for the page a browser is sent back to; `None` while the
    /// worker has not written the event yet.
    pub code: Option<String>,
    /// Whether the ballot may be taken now.
    pub verdict: Result<(), EventBallotError>,
}

/// Reads event definitions, cached for ballots and fresh for commands.
#[derive(Debug)]
pub struct EventDefinitions {
    redis: ConnectionManager,
    keys: Keys,
    ttl: Duration,
    cache: RwLock<HashMap<String, Cached>>,
}

impl EventDefinitions {
    /// Definitions over `redis`, cached for ballots for `ttl`.
    pub fn new(redis: ConnectionManager, keys: Keys, ttl: Duration) -> Self {
        EventDefinitions {
            redis,
            keys,
            ttl,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// Whether a ballot on `poll`, a question of `event`, may be taken now. A refusal
    /// from the cached copy is checked again against a fresh one.
    pub async fn gate(&self, event: &str, poll: &str) -> Result<BallotGate, VoteError> {
        let judge = |definition: &Option<Arc<EventDefinition>>| BallotGate {
            code: definition.as_ref().map(|d| d.code.clone()),
            // An event not written yet shows nothing: no question is current.
            verdict: definition
                .as_ref()
                .map_or(Err(EventBallotError::NotCurrent), |d| {
                    d.check_ballot_poll(poll)
                }),
        };
        if let Some(cached) = self.cached(event) {
            let gate = judge(&cached);
            if gate.verdict.is_ok() {
                return Ok(gate);
            }
        }
        Ok(judge(&self.fresh(event).await?))
    }

    /// The event's definition read from Redis now (and remembered for ballots).
    pub async fn fresh(&self, event: &str) -> Result<Option<Arc<EventDefinition>>, VoteError> {
        if !is_event_id(event) {
            return Ok(None);
        }
        let json: Option<String> = self
            .redis
            .clone()
            .hget(self.keys.event_definition(event), BODY_FIELD)
            .await
            .map_err(unavailable)?;
        let definition = match json.map(|json| serde_json::from_str::<EventDefinition>(&json)) {
            None => None,
            Some(Ok(definition)) => Some(Arc::new(definition)),
            Some(Err(error)) => {
                tracing::error!(%error, event, "the cached event definition is not valid JSON");
                return Err(VoteError::QueueUnavailable);
            }
        };
        self.remember(event, definition.clone());
        Ok(definition)
    }

    /// The definition of the event the join code `code` names, read fresh; `None` when
    /// no event has that code (or the worker has not written it yet).
    pub async fn by_code(&self, code: &str) -> Result<Option<Arc<EventDefinition>>, VoteError> {
        let event: Option<String> = self
            .redis
            .clone()
            .get(self.keys.event_code(code))
            .await
            .map_err(unavailable)?;
        let Some(event) = event else {
            return Ok(None);
        };
        // A definition under another code would let one code command another event.
        Ok(self.fresh(&event).await?.filter(|d| d.code == code))
    }

    fn cached(&self, event: &str) -> Option<Option<Arc<EventDefinition>>> {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (read_at, definition) = cache.get(event)?;
        (read_at.elapsed() < self.ttl).then(|| definition.clone())
    }

    fn remember(&self, event: &str, definition: Option<Arc<EventDefinition>>) {
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= MAX_CACHED_EVENTS {
            cache.clear();
        }
        cache.insert(event.to_owned(), (Instant::now(), definition));
    }
}

fn unavailable(error: redis::RedisError) -> VoteError {
    tracing::warn!(%error, "reading an event from Redis failed");
    VoteError::QueueUnavailable
}
