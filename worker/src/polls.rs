//! Polls in Postgres and their copies in Redis: the default poll that exists from the
//! first start, the definitions the vote service validates against, and the results
//! cache the result service reads first.

use redis::aio::ConnectionManager;
use tally_model::{
    Choice, EventDefinition, Keys, PollDefinition, PollOption, PollResults, ResultsRow,
    DEFAULT_POLL_ID, SELECT_POLL_RESULTS, STORE_RESULTS_LUA,
};
use tally_model::{Identity, Scale, Words};
use tokio_postgres::{Client, GenericClient};

/// The default poll's question and option labels (the classic app's OPTION_A/OPTION_B).
#[derive(Debug, Clone)]
pub struct DefaultPoll {
    /// The question.
    pub question: String,
    /// Label of option `a`.
    pub option_a: String,
    /// Label of option `b`.
    pub option_b: String,
}

/// Creates the default poll, or updates its question and labels to the configured ones.
pub async fn ensure_default_poll(
    client: &mut Client,
    poll: &DefaultPoll,
) -> Result<(), tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction
        .execute(
            "INSERT INTO polls (id, question, choice) VALUES ($1, $2, 'single')
             ON CONFLICT (id) DO UPDATE SET question = EXCLUDED.question, version = polls.version + 1
              WHERE polls.question IS DISTINCT FROM EXCLUDED.question",
            &[&DEFAULT_POLL_ID, &poll.question],
        )
        .await?;
    for (position, (id, label)) in [("a", &poll.option_a), ("b", &poll.option_b)]
        .into_iter()
        .enumerate()
    {
        let changed = transaction
            .execute(
                "INSERT INTO poll_options (poll_id, id, label, position) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (poll_id, id) DO UPDATE SET label = EXCLUDED.label
                  WHERE poll_options.label IS DISTINCT FROM EXCLUDED.label",
                &[&DEFAULT_POLL_ID, &id, label, &(position as i32)],
            )
            .await?;
        if changed > 0 {
            transaction
                .execute(
                    "UPDATE polls SET version = version + 1 WHERE id = $1",
                    &[&DEFAULT_POLL_ID],
                )
                .await?;
        }
        transaction
            .execute(
                "INSERT INTO tallies (poll_id, option_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&DEFAULT_POLL_ID, &id],
            )
            .await?;
    }
    transaction.commit().await
}

/// The definitions of the polls in `only`, or of every poll when `only` is `None`.
pub async fn load_definitions(
    client: &impl GenericClient,
    only: Option<&[&str]>,
) -> Result<Vec<PollDefinition>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT p.id, p.question, p.choice, p.open, o.id, o.label,
                    (extract(epoch FROM p.closes_at) * 1000)::int8, p.hide_results, p.admin_hash,
                    p.event_id, p.words_max, p.word_max_chars, e.blocked_words, p.identity,
                    (SELECT array_agg(c.code_hash ORDER BY c.code_hash)
                       FROM (SELECT code_hash FROM poll_voter_codes WHERE poll_id = p.id
                             UNION ALL
                             SELECT code_hash FROM event_voter_codes
                              WHERE event_id = p.event_id) c),
                    p.passcode_hash
               FROM polls p
               LEFT JOIN poll_options o ON o.poll_id = p.id
               LEFT JOIN events e ON e.id = p.event_id AND p.choice = 'words'
              WHERE $1::text[] IS NULL OR p.id = ANY($1)
              ORDER BY p.id, o.position",
            &[&only],
        )
        .await?;
    let mut definitions: Vec<PollDefinition> = Vec::new();
    for row in rows {
        let id: String = row.get(0);
        if definitions.last().is_none_or(|last| last.id != id) {
            definitions.push(PollDefinition {
                id,
                question: row.get(1),
                choice: Choice::from_name(row.get(2)).unwrap_or(Choice::Single),
                open: row.get(3),
                options: Vec::new(),
                closes_at: row
                    .get::<_, Option<i64>>(6)
                    .and_then(|ms| u64::try_from(ms).ok()),
                hide_results: row.get(7),
                admin_hash: row.get(8),
                event: row.get(9),
                words: Words::from_columns(row.get(10), row.get(11)),
                blocked_words: row.get::<_, Option<Vec<String>>>(12).unwrap_or_default(),
                identity: Identity::from_name(row.get(13)).unwrap_or_default(),
                voter_code_hashes: row.get::<_, Option<Vec<String>>>(14).unwrap_or_default(),
                passcode_hash: row.get(15),
            });
        }
        let option: (Option<String>, Option<String>) = (row.get(4), row.get(5));
        if let (Some(definition), (Some(id), Some(label))) = (definitions.last_mut(), option) {
            definition.options.push(PollOption { id, label });
        }
    }
    Ok(definitions)
}

/// A poll's current results from Postgres; `None` when there is no such poll.
pub async fn read_results(
    client: &deadpool_postgres::Client,
    poll: &str,
) -> Result<Option<PollResults>, tokio_postgres::Error> {
    let statement = client.prepare_cached(SELECT_POLL_RESULTS).await?;
    let rows = client.query(&statement, &[&poll]).await?;
    Ok(PollResults::from_rows(
        poll,
        rows.iter().map(|row| ResultsRow {
            question: row.get(0),
            ballots: row.get(1),
            version: row.get(2),
            updated_at: row.get(3),
            option_id: row.get(4),
            label: row.get(5),
            votes: row.get(6),
            open: row.get(7),
            closes_at: row.get(8),
            choice: row.get(9),
            hide_results: row.get(10),
            event: row.get(11),
            scale: Scale::from_columns(row.get(12), row.get(13), row.get(14), row.get(15)),
            places: row.get(16),
            words: row.get(17),
            word_counts: row.get(18),
            word_limits: Words::from_columns(row.get(19), row.get(20)),
            identity: row.get(21),
        }),
    ))
}

/// Writes poll definitions and results to Redis.
#[derive(Debug, Clone)]
pub struct RedisCopies {
    redis: ConnectionManager,
    keys: Keys,
    store_results: redis::Script,
}

impl RedisCopies {
    /// Copies written under `keys`.
    pub fn new(redis: ConnectionManager, keys: Keys) -> Self {
        RedisCopies {
            redis,
            keys,
            store_results: redis::Script::new(STORE_RESULTS_LUA),
        }
    }

    /// Whether Redis still holds the definitions written last time (it loses them when
    /// it restarts without persistence).
    pub async fn definitions_present(&self) -> redis::RedisResult<bool> {
        redis::cmd("EXISTS")
            .arg(self.keys.definitions_marker())
            .query_async(&mut self.redis.clone())
            .await
    }

    /// Writes every definition, then the marker that says they are all there.
    pub async fn write_definitions(
        &self,
        definitions: &[PollDefinition],
    ) -> redis::RedisResult<()> {
        let mut pipe = self.definitions_pipe(definitions);
        pipe.set(self.keys.definitions_marker(), 1).ignore();
        pipe.query_async(&mut self.redis.clone()).await
    }

    /// Rewrites some definitions (polls just created, closed or reopened); the marker
    /// is left alone, since these alone do not make the copies complete.
    pub async fn rewrite_definitions(
        &self,
        definitions: &[PollDefinition],
    ) -> redis::RedisResult<()> {
        if definitions.is_empty() {
            return Ok(());
        }
        self.definitions_pipe(definitions)
            .query_async(&mut self.redis.clone())
            .await
    }

    /// Deletes the definitions and cached results of `polls` (removed questions).
    pub async fn forget_polls(&self, polls: &[String]) -> redis::RedisResult<()> {
        let mut command = redis::cmd("DEL");
        for poll in polls {
            command
                .arg(self.keys.poll_definition(poll))
                .arg(self.keys.results_cache(poll));
        }
        command.query_async(&mut self.redis.clone()).await
    }

    /// Forgets that the definitions are complete, so housekeeping rewrites them all.
    pub async fn mark_definitions_incomplete(&self) -> redis::RedisResult<()> {
        redis::cmd("DEL")
            .arg(self.keys.definitions_marker())
            .query_async(&mut self.redis.clone())
            .await
    }

    fn definitions_pipe(&self, definitions: &[PollDefinition]) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        for definition in definitions {
            let json = serde_json::to_string(definition).unwrap_or_default();
            pipe.set(self.keys.poll_definition(&definition.id), json)
                .ignore();
        }
        pipe
    }

    /// Writes `events` to Redis unless a copy holds the same or a newer version (then
    /// their join codes), and, when `publish`, announces each stored one on its
    /// channel. A join code is written after its event, so a code always leads to one.
    pub async fn write_events(
        &self,
        events: &[EventDefinition],
        publish: bool,
    ) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        for event in events {
            let body = serde_json::to_string(event).unwrap_or_default();
            let _stored: i64 = self
                .store_results
                .key(self.keys.event_definition(&event.id))
                .arg(event.version)
                .arg(body)
                .arg(if publish { "1" } else { "0" })
                .arg(self.keys.event_channel(&event.id))
                .invoke_async(&mut redis)
                .await?;
            redis::cmd("SET")
                .arg(self.keys.event_code(&event.code))
                .arg(&event.id)
                .query_async::<()>(&mut redis)
                .await?;
        }
        Ok(())
    }

    /// Caches `results` unless the cache holds a newer version, and publishes them on
    /// the poll's channel when they were stored.
    pub async fn publish_results(&self, results: &PollResults) -> redis::RedisResult<bool> {
        let body = serde_json::to_string(results).unwrap_or_default();
        let stored: i64 = self
            .store_results
            .key(self.keys.results_cache(&results.poll))
            .arg(results.version)
            .arg(body)
            .arg("1")
            .arg(self.keys.tally_channel(&results.poll))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(stored == 1)
    }
}
