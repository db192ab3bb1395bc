//! The worker's loop: read a batch (new entries, or stale ones a dead consumer left),
//! apply it in one transaction, then acknowledge, then refresh the cache and publish.
//! Acknowledging only after the commit is what makes a crash lose nothing; applying
//! idempotently is what makes the redelivery that follows count nothing twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tally_model::{EntryId, StreamEntry};
use tokio::sync::watch;

use crate::apply::{apply_entries, Batch, BatchOutcome, StreamVote};
use crate::commands::{close_expired, StreamCreate, StreamStatus};
use crate::events::{load_event_definitions, StreamEventCommand, StreamEventCreate};
use crate::metrics::WorkerMetrics;
use crate::polls::{load_definitions, read_results, RedisCopies};
use crate::stream::{RawEntry, VoteStream};

/// First pause after a failure; doubled after each further failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Longest pause between retries while Postgres or Redis is away.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Tries to acknowledge a committed batch: with the backoff, about 11 s, long enough
/// for Redis to restart.
const ACK_ATTEMPTS: u32 = 8;

/// How the loop paces itself.
#[derive(Debug, Clone)]
pub struct ConsumeSettings {
    /// Entries per batch (one transaction).
    pub batch_size: usize,
    /// How long one read waits for new entries.
    pub block: Duration,
    /// Pause after a batch that was not full: entries arriving meanwhile make the next
    /// batch larger instead of being a transaction of their own.
    pub linger: Duration,
    /// Entries pending longer than this are taken over from their consumer.
    pub claim_idle: Duration,
    /// How often the stream is trimmed of acknowledged entries and the Redis copies
    /// of the poll definitions are checked.
    pub housekeeping_interval: Duration,
}

/// The consume loop and what it works with.
#[derive(Debug)]
pub struct Consumer {
    /// The vote stream, as this consumer.
    pub stream: VoteStream,
    /// Postgres, as the read/write role.
    pub pool: Pool,
    /// The Redis copies of definitions and results.
    pub copies: RedisCopies,
    /// Pacing.
    pub settings: ConsumeSettings,
    /// Set when rewriting some definitions failed: housekeeping then rewrites them all.
    pub definitions_stale: AtomicBool,
    /// Where batches, entries and dead letters are counted.
    pub metrics: WorkerMetrics,
}

/// The loop was told to stop while it waited.
#[derive(Debug)]
pub struct Stopped;

/// Why applying a batch failed (it will be retried).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had.
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("postgres: {0}")]
    Db(#[from] tokio_postgres::Error),
}

impl Consumer {
    /// Runs until `stop` becomes true. A batch in progress is finished (committed and
    /// acknowledged) first, unless Postgres is down, in which case its entries stay
    /// pending for another worker to claim.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let mut next_housekeeping = Instant::now();
        let mut next_claim = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut linger = false;
        tracing::info!(
            consumer = self.stream.consumer(),
            "consuming the vote stream"
        );
        while !*stop.borrow() {
            if std::mem::take(&mut linger) && pause(&mut stop, self.settings.linger).await.is_err()
            {
                break;
            }
            if Instant::now() >= next_housekeeping {
                self.housekeeping().await;
                next_housekeeping = Instant::now() + self.settings.housekeeping_interval;
            }
            let result = if Instant::now() >= next_claim {
                next_claim = Instant::now() + self.settings.claim_idle / 2;
                self.claim_all_stale(&mut stop).await
            } else {
                match self
                    .stream
                    .read_new(self.settings.batch_size, self.settings.block)
                    .await
                {
                    Ok(entries) if entries.is_empty() => Ok(Ok(())),
                    Ok(entries) => {
                        linger = entries.len() < self.settings.batch_size
                            && !self.settings.linger.is_zero();
                        Ok(self.process(entries, &mut stop).await)
                    }
                    Err(error) => Err(error),
                }
            };
            match result {
                Ok(Ok(())) => backoff = FIRST_BACKOFF,
                Ok(Err(Stopped)) => break,
                Err(error) => {
                    if error.code() == Some("NOGROUP") {
                        tracing::warn!(
                            "the consumer group is gone (Redis lost its data?); creating it again"
                        );
                        if let Err(error) = self.stream.ensure_group().await {
                            tracing::warn!(%error, "creating the consumer group failed");
                        }
                        continue;
                    }
                    tracing::warn!(%error, "reading the vote stream failed; retrying");
                    if pause(&mut stop, backoff).await.is_err() {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        tracing::info!("consumer stopped");
    }

    /// Claims and applies, chunk by chunk, every entry idle past `claim_idle`.
    async fn claim_all_stale(
        &self,
        stop: &mut watch::Receiver<bool>,
    ) -> redis::RedisResult<Result<(), Stopped>> {
        let mut cursor = "0-0".to_owned();
        loop {
            let (entries, next) = self
                .stream
                .claim_stale(self.settings.claim_idle, &cursor, self.settings.batch_size)
                .await?;
            if !entries.is_empty() {
                tracing::info!(
                    entries = entries.len(),
                    "claimed entries left pending by another consumer"
                );
                if let Err(stopped) = self.process_batch(entries, stop, true).await {
                    return Ok(Err(stopped));
                }
            }
            if next == "0-0" {
                return Ok(Ok(()));
            }
            cursor = next;
        }
    }

    /// Applies one batch, retrying until it commits, then dead-letters, acks and publishes.
    pub async fn process(
        &self,
        entries: Vec<RawEntry>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Stopped> {
        self.process_batch(entries, stop, false).await
    }

    /// [`Consumer::process`]; `reclaimed` when the entries were taken over from a
    /// consumer that left them pending.
    async fn process_batch(
        &self,
        entries: Vec<RawEntry>,
        stop: &mut watch::Receiver<bool>,
        reclaimed: bool,
    ) -> Result<(), Stopped> {
        self.metrics.batch_read(entries.len(), reclaimed);
        let (batch, mut dead) = decode_batch(&entries);
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let outcome = loop {
            match self.apply(&batch).await {
                Ok(outcome) => break outcome,
                Err(error) => {
                    tracing::warn!(%error, entries = batch.len(), "applying a batch failed; retrying");
                    pause(stop, backoff).await?;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        self.metrics
            .batch_applied(&batch, &outcome, started.elapsed(), reclaimed);
        // Definitions first: a poll whose results can be read must also take votes.
        self.rewrite_definitions(&outcome).await;
        tracing::debug!(
            polls_created = outcome.polls_created,
            created = outcome.created,
            replaced = outcome.replaced,
            unchanged = outcome.unchanged,
            rejected = outcome.rejected.len(),
            "batch committed"
        );
        dead.extend(
            outcome
                .rejected
                .iter()
                .map(|(id, reason)| (id.to_string(), reason.clone())),
        );
        let undeliverable = self.dead_letter(&entries, &dead).await;
        self.metrics
            .dead_lettered(dead.len().saturating_sub(undeliverable.len()));
        let done: Vec<String> = entries
            .iter()
            .map(|entry| entry.id.clone())
            .filter(|id| !undeliverable.contains(id))
            .collect();
        self.ack_committed(&done, stop).await;
        self.publish(&outcome).await;
        Ok(())
    }

    /// Acknowledges the entries of a committed batch, retrying while Redis is away for
    /// a restart's length: left unacknowledged, they would wait `claim_idle` to be claimed
    /// again (and change nothing then), holding the backlog up meanwhile.
    async fn ack_committed(&self, done: &[String], stop: &mut watch::Receiver<bool>) {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ACK_ATTEMPTS {
            match self.stream.ack(done).await {
                Ok(_) => return,
                // Redis came back without its data: there is nothing left to acknowledge.
                Err(error) if error.code() == Some("NOGROUP") => return,
                Err(error) if attempt == ACK_ATTEMPTS => {
                    tracing::warn!(%error, "acknowledging a committed batch failed; it will be redelivered");
                }
                Err(error) => {
                    tracing::debug!(%error, attempt, "acknowledging a committed batch failed; retrying");
                    if pause(stop, backoff).await.is_err() {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn apply(&self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        let mut client = self.pool.get().await?;
        Ok(apply_entries(&mut client, batch).await?)
    }

    /// Copies the definitions of polls the batch created, closed or reopened to Redis,
    /// then those of the events it changed (published too: the room follows them). On
    /// failure, housekeeping rewrites every definition once Redis answers again.
    async fn rewrite_definitions(&self, outcome: &BatchOutcome) {
        if !outcome.removed_polls.is_empty() {
            // Left behind, they would only waste memory: the vote service takes ballots
            // on an event's current question only, which a removed one never is.
            if let Err(error) = self.copies.forget_polls(&outcome.removed_polls).await {
                tracing::warn!(%error, "forgetting removed questions' polls failed");
            }
        }
        if outcome.redefined_polls.is_empty() && outcome.changed_events.is_empty() {
            return;
        }
        let polls: Vec<&str> = outcome.redefined_polls.iter().map(String::as_str).collect();
        let events: Vec<&str> = outcome.changed_events.iter().map(String::as_str).collect();
        let written = async {
            let client = self.pool.get().await?;
            if !polls.is_empty() {
                let definitions = load_definitions(&**client, Some(&polls)).await?;
                self.copies.rewrite_definitions(&definitions).await?;
            }
            if !events.is_empty() {
                let definitions = load_event_definitions(&**client, Some(&events)).await?;
                self.copies.write_events(&definitions, true).await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }
        .await;
        if let Err(error) = written {
            tracing::warn!(%error, "rewriting poll definitions failed; all will be rewritten");
            self.definitions_stale.store(true, Ordering::Relaxed);
            // Best effort: other workers' housekeeping then rewrites them too.
            let _ = self.copies.mark_definitions_incomplete().await;
        }
    }

    /// Moves entries that can never be applied to the dead-letter stream; returns the
    /// ids that could not be moved (left pending, to be tried again).
    async fn dead_letter(
        &self,
        entries: &[RawEntry],
        dead: &[(String, String)],
    ) -> HashSet<String> {
        let mut failed = HashSet::new();
        for (id, reason) in dead {
            let Some(entry) = entries.iter().find(|entry| &entry.id == id) else {
                continue;
            };
            tracing::warn!(entry = %id, reason, "dead-lettering an entry that cannot be applied");
            if let Err(error) = self.stream.dead_letter(entry, reason).await {
                tracing::warn!(%error, "writing to the dead-letter stream failed");
                failed.insert(id.clone());
            }
        }
        failed
    }

    /// Refreshes the results cache of every changed poll and publishes the new counts.
    async fn publish(&self, outcome: &BatchOutcome) {
        if outcome.changed_polls.is_empty() {
            return;
        }
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "cannot read fresh results to publish");
                return;
            }
        };
        for poll in &outcome.changed_polls {
            match read_results(&client, poll).await {
                Ok(Some(results)) => {
                    if let Err(error) = self.copies.publish_results(&results).await {
                        tracing::warn!(%error, poll, "publishing results failed");
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, poll, "reading results failed"),
            }
        }
    }

    /// Trims acknowledged entries and rewrites the poll definitions if Redis lost them.
    async fn housekeeping(&self) {
        let stale = self.definitions_stale.load(Ordering::Relaxed);
        match self.copies.definitions_present().await {
            Ok(true) if !stale => {}
            Ok(_) => match self.write_definitions().await {
                Ok(()) => self.definitions_stale.store(false, Ordering::Relaxed),
                Err(error) => tracing::warn!(%error, "writing poll definitions to Redis failed"),
            },
            Err(error) => tracing::debug!(%error, "checking poll definitions in Redis failed"),
        }
        if let Err(error) = self.stream.trim_acknowledged().await {
            tracing::debug!(%error, "trimming the vote stream failed");
        }
        self.close_expired().await;
    }

    /// Closes polls whose closing time has passed, then rewrites and publishes them.
    async fn close_expired(&self) {
        let closed = match self.pool.get().await {
            Ok(client) => close_expired(&**client).await,
            Err(error) => {
                tracing::debug!(%error, "cannot check for polls past their closing time");
                return;
            }
        };
        match closed {
            Ok(polls) if polls.is_empty() => {}
            Ok(polls) => {
                tracing::info!(?polls, "closed polls past their closing time");
                let outcome = BatchOutcome {
                    changed_polls: polls.clone(),
                    redefined_polls: polls,
                    ..BatchOutcome::default()
                };
                self.rewrite_definitions(&outcome).await;
                self.publish(&outcome).await;
            }
            Err(error) => tracing::warn!(%error, "closing polls past their closing time failed"),
        }
    }

    /// Copies every poll and event definition from Postgres to Redis; the marker that
    /// says the copies are complete is written with the polls, after the events.
    pub async fn write_definitions(&self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let client = self.pool.get().await?;
        let events = load_event_definitions(&**client, None).await?;
        self.copies.write_events(&events, false).await?;
        let definitions = load_definitions(&**client, None).await?;
        self.copies.write_definitions(&definitions).await?;
        tracing::info!(
            polls = definitions.len(),
            events = events.len(),
            "poll and event definitions written to Redis"
        );
        Ok(())
    }
}

/// The votes among `entries` and the entries that are malformed (with the reason);
/// poll commands are left out (see [`decode_batch`]).
pub fn decode(entries: &[RawEntry]) -> (Vec<StreamVote>, Vec<(String, String)>) {
    let (batch, malformed) = decode_batch(entries);
    (batch.votes, malformed)
}

/// Splits raw entries by kind, and the malformed ones (with the reason) aside.
pub fn decode_batch(entries: &[RawEntry]) -> (Batch, Vec<(String, String)>) {
    let mut batch = Batch::default();
    let mut malformed = Vec::new();
    for entry in entries {
        let id = match entry.id.parse::<EntryId>() {
            Ok(id) => id,
            Err(error) => {
                malformed.push((entry.id.clone(), error.to_string()));
                continue;
            }
        };
        match StreamEntry::from_fields(entry.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Ok(StreamEntry::Vote(vote)) => batch.votes.push(StreamVote { id, entry: vote }),
            Ok(StreamEntry::Create(create)) => {
                batch.creates.push(StreamCreate { id, entry: create })
            }
            Ok(StreamEntry::Status(status)) => {
                batch.statuses.push(StreamStatus { id, entry: status })
            }
            Ok(StreamEntry::EventCreate(create)) => batch
                .event_creates
                .push(StreamEventCreate { id, entry: create }),
            Ok(StreamEntry::EventCommand(command)) => batch
                .event_commands
                .push(StreamEventCommand { id, entry: command }),
            Err(error) => malformed.push((entry.id.clone(), error.to_string())),
        }
    }
    (batch, malformed)
}

/// Waits `duration`, or less if told to stop (then `Err`).
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) -> Result<(), Stopped> {
    if *stop.borrow() {
        return Err(Stopped);
    }
    tokio::select! {
        () = tokio::time::sleep(duration) => Ok(()),
        _ = stop.wait_for(|stopped| *stopped) => Err(Stopped),
    }
}
