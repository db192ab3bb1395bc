//! Cache first, Postgres on a miss: the body of `GET /results/<poll>`.

use bytes::Bytes;

use crate::cache::{CacheError, ResultsCache};
use crate::database::ResultsDatabase;
use crate::error::ResultError;
use crate::metrics::CacheCounters;

/// Finds results in the cache, or reads them from Postgres and fills the cache.
#[derive(Debug, Clone)]
pub struct ResultsLookup {
    cache: ResultsCache,
    database: ResultsDatabase,
    counters: CacheCounters,
}

impl ResultsLookup {
    /// A lookup over `cache` and `database`.
    pub fn new(cache: ResultsCache, database: ResultsDatabase) -> Self {
        ResultsLookup {
            cache,
            database,
            counters: CacheCounters::default(),
        }
    }

    /// Its hits and misses, for the metrics.
    pub fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    /// The cache, for readiness checks.
    pub fn cache(&self) -> &ResultsCache {
        &self.cache
    }

    /// The database, for readiness checks.
    pub fn database(&self) -> &ResultsDatabase {
        &self.database
    }

    /// The JSON body of `poll`'s results. A cached body is returned byte for byte; a
    /// Redis that is down costs a Postgres read, never the request.
    pub async fn body(&self, poll: &str) -> Result<Bytes, ResultError> {
        let redis_up = match self.cache.get(poll).await {
            Ok(Some(body)) => {
                self.counters.hits.inc();
                return Ok(body);
            }
            Ok(None) => true,
            Err(CacheError::CoolingDown) => false,
            Err(error) => {
                tracing::warn!(%error, poll, "results cache unavailable; reading Postgres");
                false
            }
        };
        self.counters.misses.inc();
        let results = match self.database.read(poll).await {
            Ok(Some(results)) => results,
            Ok(None) => return Err(ResultError::UnknownPoll(poll.to_owned())),
            Err(error) => {
                tracing::warn!(%error, poll, "reading results from Postgres failed");
                return Err(ResultError::Unavailable);
            }
        };
        let body = Bytes::from(serde_json::to_vec(&results).map_err(|error| {
            tracing::error!(%error, poll, "results did not serialise");
            ResultError::Unavailable
        })?);
        if redis_up {
            if let Err(error) = self.cache.fill(poll, results.version, &body).await {
                tracing::warn!(%error, poll, "filling the results cache failed");
            }
        }
        Ok(body)
    }
}
