//! The results cache in Redis: a hash per poll with `version` and `body`, written by the
//! worker after each commit and by this service after a miss.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{RedisError, Script};
use tally_model::{Keys, PollDefinition, STORE_RESULTS_LUA};

/// Time one cache read or write may take before Redis counts as down for this request.
/// Redis answers in well under a millisecond; waiting longer only delays the fallback
/// to Postgres (the connection manager may be stuck reconnecting).
const CACHE_BUDGET: Duration = Duration::from_millis(500);

/// After a failed cache call, requests skip Redis for this long instead of each waiting
/// out [`CACHE_BUDGET`] while the connection manager reconnects.
const COOL_DOWN: Duration = Duration::from_secs(1);

/// `ARGV[3]` of [`STORE_RESULTS_LUA`]: do not publish. Only the worker publishes, so
/// subscribers see each version once and in order.
const NO_PUBLISH: &str = "0";

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Redis answered with an error or the connection failed.
    #[error(transparent)]
    Redis(#[from] RedisError),
    /// Redis did not answer within the budget.
    #[error("redis did not answer within {CACHE_BUDGET:?}")]
    Timeout,
    /// Redis failed moments ago; not asked again yet.
    #[error("redis failed less than {COOL_DOWN:?} ago")]
    CoolingDown,
    /// A poll's or an event's definition in Redis is not valid JSON of one.
    #[error("a cached definition is unreadable: {0}")]
    BadDefinition(#[from] serde_json::Error),
}

/// When Redis last failed, so that requests stop waiting on it for a while.
#[derive(Debug)]
struct Failures {
    epoch: Instant,
    /// Milliseconds after `epoch` until which Redis is skipped (0: not skipped).
    skip_until_ms: AtomicU64,
}

impl Failures {
    fn cooling_down(&self) -> bool {
        self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed)
    }

    /// Records `result`; a failure starts a cool-down.
    fn record<T>(&self, result: Result<T, CacheError>) -> Result<T, CacheError> {
        if result.is_err() {
            let until = self.now_ms() + COOL_DOWN.as_millis() as u64;
            self.skip_until_ms.store(until, Ordering::Relaxed);
        }
        result
    }

    fn now_ms(&self) -> u64 {
        // +1 so that "not skipped" (0) is always in the past.
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn new() -> Self {
        Failures {
            epoch: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
        }
    }
}

/// Reads and fills cached results documents.
#[derive(Clone)]
pub struct ResultsCache {
    redis: ConnectionManager,
    keys: Keys,
    store_script: Script,
    failures: Arc<Failures>,
}

impl std::fmt::Debug for ResultsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsCache")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl ResultsCache {
    /// A cache in `redis` under `keys`.
    pub fn new(redis: ConnectionManager, keys: Keys) -> Self {
        ResultsCache {
            redis,
            keys,
            store_script: Script::new(STORE_RESULTS_LUA),
            failures: Arc::new(Failures::new()),
        }
    }

    /// The cached JSON body of `poll`'s results, exactly as stored; `None` on a miss.
    /// Fails at once while Redis is cooling down after a failure.
    pub async fn get(&self, poll: &str) -> Result<Option<Bytes>, CacheError> {
        if self.failures.cooling_down() {
            return Err(CacheError::CoolingDown);
        }
        let body = self.failures.record(self.read(poll).await)?;
        Ok(body.map(Bytes::from))
    }

    async fn read(&self, poll: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut command = redis::cmd("HGET");
        command.arg(self.keys.results_cache(poll)).arg("body");
        self.within_budget(&command).await
    }

    /// Runs `command` within [`CACHE_BUDGET`], failing at once while cooling down and
    /// starting a cool-down when it fails: for reads other modules make (events).
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, CacheError> {
        if self.failures.cooling_down() {
            return Err(CacheError::CoolingDown);
        }
        self.failures.record(self.within_budget(command).await)
    }

    /// The keys this cache reads under.
    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    async fn within_budget<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, CacheError> {
        let mut redis = self.redis.clone();
        let read = command.query_async::<T>(&mut redis);
        Ok(tokio::time::timeout(CACHE_BUDGET, read)
            .await
            .map_err(|_| CacheError::Timeout)??)
    }

    /// Stores `body` as version `version` of `poll`'s results, unless the cache already
    /// holds that version or a newer one. Never publishes.
    pub async fn fill(&self, poll: &str, version: i64, body: &[u8]) -> Result<(), CacheError> {
        self.failures.record(self.write(poll, version, body).await)
    }

    async fn write(&self, poll: &str, version: i64, body: &[u8]) -> Result<(), CacheError> {
        let mut redis = self.redis.clone();
        let mut invocation = self.store_script.key(self.keys.results_cache(poll));
        invocation
            .arg(version)
            .arg(body)
            .arg(NO_PUBLISH)
            .arg(self.keys.tally_channel(poll));
        let write = invocation.invoke_async::<i64>(&mut redis);
        tokio::time::timeout(CACHE_BUDGET, write)
            .await
            .map_err(|_| CacheError::Timeout)??;
        Ok(())
    }

    /// The poll's definition as the worker wrote it (it holds the admin token's hash,
    /// which the read-only database role cannot see); `None` when there is none.
    pub async fn definition(&self, poll: &str) -> Result<Option<PollDefinition>, CacheError> {
        let mut command = redis::cmd("GET");
        command.arg(self.keys.poll_definition(poll));
        let json: Option<Vec<u8>> = self.query(&command).await?;
        Ok(json
            .map(|json| serde_json::from_slice::<PollDefinition>(&json))
            .transpose()?)
    }

    /// Whether Redis answers a PING (asked even while cooling down).
    pub async fn ping(&self) -> Result<(), CacheError> {
        let mut redis = self.redis.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut redis);
        tokio::time::timeout(CACHE_BUDGET, ping)
            .await
            .map_err(|_| CacheError::Timeout)??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_starts_a_cool_down_and_success_does_not() {
        let failures = Failures::new();
        assert!(!failures.cooling_down());
        assert!(failures.record(Ok::<_, CacheError>(())).is_ok());
        assert!(!failures.cooling_down());
        assert!(failures.record(Err::<(), _>(CacheError::Timeout)).is_err());
        assert!(failures.cooling_down());
    }
}
