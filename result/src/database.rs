//! Results read from Postgres through a pool of read-only connections, for cache misses.

use std::time::Duration;

use deadpool_postgres::{Pool, PoolError};
use tally_connect::PostgresPool;
use tally_model::{PollResults, ResultsRow, Scale, Words, SELECT_POLL_RESULTS};

/// Time to open, wait for, create or recycle a connection: a dead database gives a
/// fast 503, not a hang.
const POOL_TIMEOUT: Duration = Duration::from_secs(2);

/// Time one query may take; a result read is one indexed join over a handful of rows.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Time the ballots export may take: it reads every ballot of a poll, tens of thousands
/// at a large event.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every ballot of a poll, from the view without voters; `$1` is the poll id.
const SELECT_BALLOTS: &str = "\
    SELECT to_char(cast_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), options \
      FROM ballot_answers WHERE poll_id = $1 ORDER BY cast_at, options";

/// One ballot as the owner's export lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotRow {
    /// When it was cast, to the minute (RFC 3339, UTC, seconds always `00`).
    pub cast_at: String,
    /// Its answers, in the voter's order.
    pub answers: Vec<String>,
}

/// Name the connections carry in `pg_stat_activity`.
const APPLICATION_NAME: &str = "tally-result";

/// Why Postgres could not answer.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// No connection could be had from the pool.
    #[error("no postgres connection: {0}")]
    Pool(#[from] PoolError),
    /// The query failed.
    #[error("postgres query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// The query did not finish in time.
    #[error("postgres did not answer within {QUERY_TIMEOUT:?}")]
    Timeout,
}

/// Reads results documents from Postgres.
#[derive(Clone)]
pub struct ResultsDatabase {
    pool: Pool,
}

impl std::fmt::Debug for ResultsDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsDatabase")
            .field("status", &self.pool.status())
            .finish()
    }
}

impl ResultsDatabase {
    /// A pool of at most `max_size` connections to `config`. It connects lazily, so the
    /// service starts (and answers from the cache) while Postgres is down.
    pub fn new(
        config: tokio_postgres::Config,
        max_size: usize,
    ) -> Result<Self, deadpool_postgres::BuildError> {
        let pool = PostgresPool {
            config,
            max_size,
            timeout: POOL_TIMEOUT,
            application_name: APPLICATION_NAME,
        }
        .build()?;
        Ok(ResultsDatabase { pool })
    }

    /// `poll`'s current results, or `None` when there is no such poll.
    pub async fn read(&self, poll: &str) -> Result<Option<PollResults>, DatabaseError> {
        let client = self.pool.get().await?;
        let rows = tokio::time::timeout(QUERY_TIMEOUT, async {
            let statement = client.prepare_cached(SELECT_POLL_RESULTS).await?;
            client.query(&statement, &[&poll]).await
        })
        .await
        .map_err(|_| DatabaseError::Timeout)??;
        let rows = rows
            .iter()
            .map(|row| -> Result<ResultsRow, tokio_postgres::Error> {
                Ok(ResultsRow {
                    question: row.try_get(0)?,
                    ballots: row.try_get(1)?,
                    version: row.try_get(2)?,
                    updated_at: row.try_get(3)?,
                    option_id: row.try_get(4)?,
                    label: row.try_get(5)?,
                    votes: row.try_get(6)?,
                    open: row.try_get(7)?,
                    closes_at: row.try_get(8)?,
                    choice: row.try_get(9)?,
                    hide_results: row.try_get(10)?,
                    event: row.try_get(11)?,
                    scale: Scale::from_columns(
                        row.try_get(12)?,
                        row.try_get(13)?,
                        row.try_get(14)?,
                        row.try_get(15)?,
                    ),
                    places: row.try_get(16)?,
                    words: row.try_get(17)?,
                    word_counts: row.try_get(18)?,
                    word_limits: Words::from_columns(row.try_get(19)?, row.try_get(20)?),
                    identity: row.try_get(21)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PollResults::from_rows(poll, rows))
    }

    /// Every ballot of `poll`, without its voter: when it was cast and its answers (option
    /// ids in the voter's order, or a word cloud's answers), oldest first.
    pub async fn ballots(&self, poll: &str) -> Result<Vec<BallotRow>, DatabaseError> {
        let client = self.pool.get().await?;
        let rows = tokio::time::timeout(EXPORT_TIMEOUT, async {
            let statement = client.prepare_cached(SELECT_BALLOTS).await?;
            client.query(&statement, &[&poll]).await
        })
        .await
        .map_err(|_| DatabaseError::Timeout)??;
        rows.iter()
            .map(|row| {
                Ok(BallotRow {
                    cast_at: row.try_get(0)?,
                    answers: row.try_get(1)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(DatabaseError::from)
    }

    /// A connection from the pool, for the other reads of this role (events).
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, DatabaseError> {
        Ok(self.pool.get().await?)
    }

    /// Whether Postgres answers `SELECT 1` through the pool.
    pub async fn ping(&self) -> Result<(), DatabaseError> {
        let client = self.pool.get().await?;
        tokio::time::timeout(QUERY_TIMEOUT, client.simple_query("SELECT 1"))
            .await
            .map_err(|_| DatabaseError::Timeout)??;
        Ok(())
    }
}
