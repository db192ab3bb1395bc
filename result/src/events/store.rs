//! Finding an event by its join code: the definition the worker wrote to Redis
//! (`eventcode:<code>` names the id, `event:<id>` holds the body), or, when Redis cannot
//! answer or has lost the keys, the events row and its questions in Postgres through the
//! read-only role. That role cannot read the owner token's hash, so an event found in
//! Postgres serves the public view only.

use std::time::Duration;

use tally_model::event::{EventDefinition, EventQuestion};
use tally_model::poll::Choice;
use tally_model::{Scale, Words};

use crate::cache::{CacheError, ResultsCache};
use crate::database::ResultsDatabase;
use crate::error::ResultError;

/// Time one Postgres read of an event may take: two indexed lookups.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The event row by code, and its questions in order (none yet: the LEFT JOIN keeps the
/// row). The columns are those `tally_reader` is granted.
const SELECT_EVENT: &str = "\
    SELECT e.id, e.title, e.current_position, e.results_visible, e.locked, \
           e.participants, e.version, p.id, p.question, p.choice, \
           p.scale_min, p.scale_max, p.scale_min_label, p.scale_max_label, \
           p.words_max, p.word_max_chars \
      FROM events e LEFT JOIN polls p ON p.event_id = e.id \
     WHERE e.code = $1 \
     ORDER BY p.event_position";

/// An event as found, and whether the owner's hash came with it.
#[derive(Debug, Clone)]
pub struct FoundEvent {
    /// The definition; its `owner_hash` is empty when read from Postgres.
    pub definition: EventDefinition,
    /// Whether the definition came from Redis, with the owner's hash.
    pub owner_known: bool,
}

/// Reads events from the cache, falling back to Postgres.
#[derive(Debug, Clone)]
pub struct EventStore {
    cache: ResultsCache,
    database: ResultsDatabase,
}

impl EventStore {
    /// A store over the results cache's Redis and the read-only database.
    pub fn new(cache: ResultsCache, database: ResultsDatabase) -> Self {
        EventStore { cache, database }
    }

    /// The event whose join code is `code`; `UnknownEvent` when there is none,
    /// `Unavailable` when neither Redis nor Postgres could say.
    pub async fn by_code(&self, code: &str) -> Result<FoundEvent, ResultError> {
        match self.read_redis(code).await {
            Ok(Some(definition)) => {
                return Ok(FoundEvent {
                    definition,
                    owner_known: true,
                })
            }
            Ok(None) => {}
            Err(CacheError::CoolingDown) => {}
            Err(error) => tracing::warn!(%error, code, "event cache unavailable; reading Postgres"),
        }
        match self.read_postgres(code).await {
            Ok(Some(definition)) => Ok(FoundEvent {
                definition,
                owner_known: false,
            }),
            Ok(None) => Err(ResultError::UnknownEvent(code.to_owned())),
            Err(error) => {
                tracing::warn!(%error, code, "reading the event from Postgres failed");
                Err(ResultError::Unavailable)
            }
        }
    }

    /// The id the code names in Redis (`None` when Redis has no such code).
    pub async fn id_in_redis(&self, code: &str) -> Result<Option<String>, CacheError> {
        let mut command = redis::cmd("GET");
        command.arg(self.cache.keys().event_code(code));
        self.cache.query(&command).await
    }

    /// The definition of event `id` in Redis.
    pub async fn definition_in_redis(
        &self,
        id: &str,
    ) -> Result<Option<EventDefinition>, CacheError> {
        let mut command = redis::cmd("HGET");
        command
            .arg(self.cache.keys().event_definition(id))
            .arg("body");
        let body: Option<Vec<u8>> = self.cache.query(&command).await?;
        Ok(body
            .map(|body| serde_json::from_slice::<EventDefinition>(&body))
            .transpose()?)
    }

    async fn read_redis(&self, code: &str) -> Result<Option<EventDefinition>, CacheError> {
        let Some(id) = self.id_in_redis(code).await? else {
            return Ok(None);
        };
        let definition = self.definition_in_redis(&id).await?;
        // A code whose event was replaced in Redis is not this event any more.
        Ok(definition.filter(|definition| definition.code == code))
    }

    async fn read_postgres(&self, code: &str) -> Result<Option<EventDefinition>, DatabaseRead> {
        let client = self.database.client().await?;
        let rows = tokio::time::timeout(QUERY_TIMEOUT, async {
            let statement = client.prepare_cached(SELECT_EVENT).await?;
            client.query(&statement, &[&code]).await
        })
        .await
        .map_err(|_| DatabaseRead::Timeout)??;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let current: Option<i32> = first.try_get(2)?;
        let mut questions = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(poll) = row.try_get::<_, Option<String>>(7)? else {
                continue;
            };
            let choice: String = row.try_get(9)?;
            questions.push(EventQuestion {
                poll,
                question: row.try_get(8)?,
                choice: Choice::from_name(&choice).unwrap_or(Choice::Single),
                scale: Scale::from_columns(
                    row.try_get(10)?,
                    row.try_get(11)?,
                    row.try_get(12)?,
                    row.try_get(13)?,
                ),
                words: Words::from_columns(row.try_get(14)?, row.try_get(15)?),
                // Only the owner sees them, and the owner's view comes from Redis.
                hidden_words: Vec::new(),
                shown: false,
            });
        }
        Ok(Some(EventDefinition {
            id: first.try_get(0)?,
            code: code.to_owned(),
            title: first.try_get(1)?,
            owner_hash: String::new(),
            questions,
            current: current.and_then(|position| usize::try_from(position).ok()),
            results_visible: first.try_get(3)?,
            locked: first.try_get(4)?,
            participants: first.try_get(5)?,
            version: first.try_get(6)?,
            // Like hidden answers, for the owner only.
            blocked_words: Vec::new(),
        }))
    }
}

/// Why Postgres could not give the event.
#[derive(Debug, thiserror::Error)]
enum DatabaseRead {
    #[error(transparent)]
    Database(#[from] crate::database::DatabaseError),
    #[error("postgres query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    #[error("postgres did not answer within {QUERY_TIMEOUT:?}")]
    Timeout,
}
