//! Applying a batch of stream entries to Postgres in one transaction.
//!
//! The rules that keep counts exact whatever the delivery order or how often an entry
//! arrives:
//! - one ballot per (poll, voter); it remembers the stream entry id it came from;
//! - an entry replaces a ballot only if its id is larger, so a redelivered entry (same
//!   id) or an older one changes nothing;
//! - tallies move by the difference between the old and the new ballot, in the same
//!   transaction, so they always equal a recount (for a ranking, so do the per-place
//!   counts of `rank_tallies`).
//!
//! Poll and event commands go in the same transaction (see [`crate::commands`] and
//! [`crate::events`]): creations first, so that votes later in the batch find their
//! poll; closes and reopens, then presenter commands, last, in stream order. Votes are counted whether or not the poll has closed since: the vote service
//! answered them `202` while it was open.
//!
//! Rows are locked in (poll, voter) order, then polls by id, then tallies in (poll,
//! option) order, rank tallies in (poll, option, place) order and word tallies in (poll,
//! answer) order (an owner's hide or show of an answer comes after them, its poll locked
//! with the others), then events by id, so concurrent workers cannot deadlock on each
//! other.

use std::collections::{BTreeMap, HashMap, HashSet};

use tally_model::vote_entry::WORD_SEPARATOR;
use tally_model::{Choice, EntryId, PollDefinition, VoteEntry};
use tokio_postgres::Client;

use crate::commands::{create_polls, lock_polls, set_statuses, StreamCreate, StreamStatus};
use crate::events::{
    apply_commands, apply_moderation, count_participants, create_events, lock_events,
    polls_to_lock, EventOutcome, StreamEventCommand, StreamEventCreate,
};

/// A vote read from the stream, with the id of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamVote {
    /// The stream entry id.
    pub id: EntryId,
    /// The vote.
    pub entry: VoteEntry,
}

/// A batch of decoded stream entries, by kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Poll creations.
    pub creates: Vec<StreamCreate>,
    /// Closes and reopens.
    pub statuses: Vec<StreamStatus>,
    /// Ballots.
    pub votes: Vec<StreamVote>,
    /// Event creations.
    pub event_creates: Vec<StreamEventCreate>,
    /// Presenter commands.
    pub event_commands: Vec<StreamEventCommand>,
}

impl Batch {
    /// A batch of ballots only.
    pub fn of_votes(votes: &[StreamVote]) -> Self {
        Batch {
            votes: votes.to_vec(),
            ..Batch::default()
        }
    }

    /// Entries in the batch.
    pub fn len(&self) -> usize {
        self.creates.len()
            + self.statuses.len()
            + self.votes.len()
            + self.event_creates.len()
            + self.event_commands.len()
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a committed batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Polls whose results changed (counts, status, or new), to refresh in the cache.
    pub changed_polls: Vec<String>,
    /// Polls created or closed or reopened: their Redis definitions must be rewritten.
    pub redefined_polls: Vec<String>,
    /// Polls deleted with the questions they carried: their Redis copies must go.
    pub removed_polls: Vec<String>,
    /// Polls created by this batch (a redelivered creation is not counted).
    pub polls_created: usize,
    /// Events created, changed by a command, or with new participants: their Redis
    /// copies must be rewritten and published.
    pub changed_events: Vec<String>,
    /// Events created by this batch.
    pub events_created: usize,
    /// Ballots created.
    pub created: usize,
    /// Ballots replaced by a newer entry.
    pub replaced: usize,
    /// Entries that changed nothing (redelivered, older, or superseded in the batch).
    pub unchanged: usize,
    /// Entries that can never be applied, with the reason, for the dead-letter stream.
    pub rejected: Vec<(EntryId, String)>,
    /// Tries rolled back because a question was added while they took their locks.
    pub lock_set_retries: u32,
}

/// Applies `votes` in one transaction and commits.
pub async fn apply_batch(
    client: &mut Client,
    votes: &[StreamVote],
) -> Result<BatchOutcome, tokio_postgres::Error> {
    apply_entries(client, &Batch::of_votes(votes)).await
}

/// Applies every entry of `batch` in one transaction and commits.
pub async fn apply_entries(
    client: &mut Client,
    batch: &Batch,
) -> Result<BatchOutcome, tokio_postgres::Error> {
    let mut attempt = 1;
    loop {
        let last = attempt >= LOCK_SET_ATTEMPTS;
        if let Some(mut outcome) = apply_once(client, batch, last).await? {
            outcome.lock_set_retries = attempt - 1;
            return Ok(outcome);
        }
        attempt += 1;
    }
}

/// Tries of a batch whose event-wide poll locks missed a question added meanwhile (see
/// [`apply_once`]). Additions are rare and each try sees the last one's, so a second try
/// nearly always holds; the last one goes on regardless, leaving a deadlock, if one
/// ever formed, to Postgres's detector and the batch's retry.
const LOCK_SET_ATTEMPTS: u32 = 3;

/// One try of [`apply_entries`]. Commands on every question of an event (reveal, hide,
/// show, changes to the questions) lock those polls before the event row, from a list
/// read before any lock; a question another worker added since would then be locked
/// after the event row, out of order. Once the event rows are locked no question can
/// be added, so the list is read again there: when it grew, the try is rolled back and
/// `None` returned (unless `last`).
async fn apply_once(
    client: &mut Client,
    batch: &Batch,
    last: bool,
) -> Result<Option<BatchOutcome>, tokio_postgres::Error> {
    let mut outcome = BatchOutcome::default();
    let transaction = client.transaction().await?;

    let mut created_polls = create_polls(&transaction, &batch.creates).await?;
    outcome.polls_created = created_polls.len();
    outcome.unchanged += batch.creates.len() - created_polls.len();
    let mut events = EventOutcome::default();
    create_events(&transaction, &batch.event_creates, &mut events).await?;
    outcome.events_created = events.created.len();
    created_polls.extend(events.question_polls.iter().cloned());

    let votes = batch.votes.as_slice();
    let definitions = load_definitions(&transaction, votes).await?;
    let mut valid = Vec::with_capacity(votes.len());
    for vote in votes {
        match definitions.get(&vote.entry.poll) {
            None => outcome
                .rejected
                .push((vote.id, format!("no poll {:?}", vote.entry.poll))),
            Some(poll) => match poll.check_answers(&vote.entry.options, vote.entry.words) {
                Ok(()) => valid.push(vote),
                Err(error) => outcome.rejected.push((vote.id, error.to_string())),
            },
        }
    }
    let newest = newest_per_voter(&valid);
    outcome.unchanged += valid.len() - newest.len();

    let mut deltas = TallyDeltas::for_polls(definitions.values());
    let created = insert_new_ballots(&transaction, &newest).await?;
    for vote in newest.iter().filter(|v| created.contains(&key_of(v))) {
        deltas.add_ballot(&vote.entry, 1);
    }
    outcome.created = created.len();

    let existing: Vec<&StreamVote> = newest
        .iter()
        .copied()
        .filter(|v| !created.contains(&key_of(v)))
        .collect();
    let replacements = lock_and_compare(&transaction, &existing, &mut deltas).await?;
    outcome.replaced = replacements.len();
    outcome.unchanged += existing.len() - replacements.len();
    replace_ballots(&transaction, &replacements).await?;

    let revealed = polls_to_lock(&transaction, &batch.event_commands).await?;
    let mut locked: Vec<&str> = deltas.ballots.keys().map(String::as_str).collect();
    locked.extend(batch.statuses.iter().map(|s| s.entry.poll.as_str()));
    locked.extend(revealed.iter().map(String::as_str));
    locked.sort_unstable();
    locked.dedup();
    lock_polls(&transaction, &locked).await?;
    deltas.apply(&transaction).await?;
    apply_moderation(&transaction, &batch.event_commands, &mut events).await?;
    let statuses = set_statuses(&transaction, &batch.statuses).await?;
    outcome.unchanged += statuses.unchanged;
    outcome.rejected.extend(statuses.rejected);

    let participants: Vec<(&str, &str)> = newest
        .iter()
        .filter_map(|vote| {
            let event = definitions.get(&vote.entry.poll)?.event.as_deref()?;
            Some((event, vote.entry.voter.as_str()))
        })
        .collect();
    let mut locked_events: Vec<&str> = participants.iter().map(|(event, _)| *event).collect();
    locked_events.extend(batch.event_commands.iter().map(|c| c.entry.event.as_str()));
    locked_events.sort_unstable();
    locked_events.dedup();
    lock_events(&transaction, &locked_events).await?;
    if !last {
        let wanted = polls_to_lock(&transaction, &batch.event_commands).await?;
        if wanted.iter().any(|poll| !locked.contains(&poll.as_str())) {
            tracing::debug!("a question was added while the batch took its locks; trying again");
            transaction.rollback().await?;
            return Ok(None);
        }
    }
    let joined = count_participants(&transaction, &participants).await?;
    apply_commands(&transaction, &batch.event_commands, &mut events).await?;
    outcome.unchanged += events.unchanged;
    outcome
        .rejected
        .extend(std::mem::take(&mut events.rejected));
    let mut changed_events = std::mem::take(&mut events.changed);
    changed_events.extend(joined);
    changed_events.sort_unstable();
    changed_events.dedup();
    outcome.changed_events = changed_events;

    let mut redefined = created_polls;
    redefined.extend(statuses.changed);
    redefined.extend(events.revealed_polls);
    redefined.extend(std::mem::take(&mut events.question_changes.added));
    outcome.removed_polls = std::mem::take(&mut events.question_changes.removed);
    // A question added and removed in one batch leaves nothing to copy.
    redefined.retain(|poll| !outcome.removed_polls.contains(poll));
    redefined.sort_unstable();
    redefined.dedup();
    let mut changed = deltas.changed_polls();
    changed.extend(redefined.iter().cloned());
    changed.sort_unstable();
    changed.dedup();
    outcome.changed_polls = changed;
    outcome.redefined_polls = redefined;
    transaction.commit().await?;
    Ok(Some(outcome))
}

/// The newest entry per (poll, voter), in (poll, voter) order: the locking order.
pub fn newest_per_voter<'v>(votes: &[&'v StreamVote]) -> Vec<&'v StreamVote> {
    let mut newest: BTreeMap<(&str, &str), &StreamVote> = BTreeMap::new();
    for vote in votes {
        let key = (vote.entry.poll.as_str(), vote.entry.voter.as_str());
        match newest.get(&key) {
            Some(kept) if kept.id >= vote.id => {}
            _ => {
                newest.insert(key, vote);
            }
        }
    }
    newest.into_values().collect()
}

fn key_of(vote: &StreamVote) -> (String, String) {
    (vote.entry.poll.clone(), vote.entry.voter.clone())
}

async fn load_definitions(
    transaction: &tokio_postgres::Transaction<'_>,
    votes: &[StreamVote],
) -> Result<HashMap<String, PollDefinition>, tokio_postgres::Error> {
    let mut polls: Vec<&str> = votes.iter().map(|v| v.entry.poll.as_str()).collect();
    polls.sort_unstable();
    polls.dedup();
    let definitions = crate::polls::load_definitions(transaction, Some(&polls)).await?;
    Ok(definitions
        .into_iter()
        .map(|definition| (definition.id.clone(), definition))
        .collect())
}

/// Column arrays for `unnest`, one element per vote. A ballot's answers are joined with
/// [`WORD_SEPARATOR`] (`chr(31)` in SQL): option ids and written answers never hold it.
struct Columns {
    polls: Vec<String>,
    voters: Vec<String>,
    options: Vec<String>,
    entry_ms: Vec<i64>,
    entry_seq: Vec<i64>,
    vote_ids: Vec<String>,
    at_ms: Vec<i64>,
}

impl Columns {
    fn of(votes: &[&StreamVote]) -> Self {
        Columns {
            polls: votes.iter().map(|v| v.entry.poll.clone()).collect(),
            voters: votes.iter().map(|v| v.entry.voter.clone()).collect(),
            options: votes
                .iter()
                .map(|v| v.entry.options.join(&WORD_SEPARATOR.to_string()))
                .collect(),
            entry_ms: votes.iter().map(|v| v.id.ms as i64).collect(),
            entry_seq: votes.iter().map(|v| v.id.seq as i64).collect(),
            vote_ids: votes.iter().map(|v| v.entry.vote_id.clone()).collect(),
            at_ms: votes.iter().map(|v| v.entry.at_ms as i64).collect(),
        }
    }
}

/// Inserts ballots for voters who have none; returns the (poll, voter) pairs inserted.
async fn insert_new_ballots(
    transaction: &tokio_postgres::Transaction<'_>,
    votes: &[&StreamVote],
) -> Result<std::collections::HashSet<(String, String)>, tokio_postgres::Error> {
    if votes.is_empty() {
        return Ok(Default::default());
    }
    let c = Columns::of(votes);
    let rows = transaction
        .query(
            "INSERT INTO ballots (poll_id, voter, options, entry_ms, entry_seq, vote_id, cast_at)
             SELECT p, v, string_to_array(o, chr(31)), ms, seq, id, to_timestamp(at / 1000.0)
               FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[], $7::int8[])
                    AS t(p, v, o, ms, seq, id, at)
              ORDER BY p, v
             ON CONFLICT (poll_id, voter) DO NOTHING
             RETURNING poll_id, voter",
            &[&c.polls, &c.voters, &c.options, &c.entry_ms, &c.entry_seq, &c.vote_ids, &c.at_ms],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Locks the existing ballots of `votes` and keeps the votes newer than their ballot,
/// recording the tally difference of each replacement.
async fn lock_and_compare<'v>(
    transaction: &tokio_postgres::Transaction<'_>,
    votes: &[&'v StreamVote],
    deltas: &mut TallyDeltas,
) -> Result<Vec<&'v StreamVote>, tokio_postgres::Error> {
    if votes.is_empty() {
        return Ok(Vec::new());
    }
    let c = Columns::of(votes);
    let rows = transaction
        .query(
            "SELECT b.poll_id, b.voter, b.options, b.entry_ms, b.entry_seq
               FROM ballots b
               JOIN unnest($1::text[], $2::text[]) AS t(p, v) ON b.poll_id = t.p AND b.voter = t.v
              ORDER BY b.poll_id, b.voter
                FOR UPDATE OF b",
            &[&c.polls, &c.voters],
        )
        .await?;
    let mut current: HashMap<(String, String), (Vec<String>, EntryId)> = HashMap::new();
    for row in rows {
        let id = EntryId {
            ms: row.get::<_, i64>(3) as u64,
            seq: row.get::<_, i64>(4) as u64,
        };
        current.insert((row.get(0), row.get(1)), (row.get(2), id));
    }
    let mut newer = Vec::new();
    for vote in votes {
        let Some((old_options, old_id)) = current.get(&key_of(vote)) else {
            continue;
        };
        if vote.id > *old_id {
            deltas.add_options(&vote.entry.poll, old_options, -1);
            deltas.add_options(&vote.entry.poll, &vote.entry.options, 1);
            newer.push(*vote);
        }
    }
    Ok(newer)
}

async fn replace_ballots(
    transaction: &tokio_postgres::Transaction<'_>,
    votes: &[&StreamVote],
) -> Result<(), tokio_postgres::Error> {
    if votes.is_empty() {
        return Ok(());
    }
    let c = Columns::of(votes);
    transaction
        .execute(
            "UPDATE ballots b
                SET options = string_to_array(t.o, chr(31)), entry_ms = t.ms, entry_seq = t.seq,
                    vote_id = t.id, cast_at = to_timestamp(t.at / 1000.0)
               FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[], $7::int8[])
                    AS t(p, v, o, ms, seq, id, at)
              WHERE b.poll_id = t.p AND b.voter = t.v",
            &[&c.polls, &c.voters, &c.options, &c.entry_ms, &c.entry_seq, &c.vote_ids, &c.at_ms],
        )
        .await?;
    Ok(())
}

/// Count changes gathered over a batch, applied in lock order at the end.
#[derive(Debug, Default)]
struct TallyDeltas {
    options: BTreeMap<(String, String), i64>,
    /// (poll, option, place) of ranking polls.
    places: BTreeMap<(String, String, i32), i64>,
    /// (poll, answer) of word cloud polls.
    words: BTreeMap<(String, String), i64>,
    ballots: BTreeMap<String, i64>,
    /// The polls of the batch that are rankings: their ballots move places too.
    rankings: HashSet<String>,
    /// The polls of the batch that are word clouds: their ballots move answers, not
    /// options.
    clouds: HashSet<String>,
}

impl TallyDeltas {
    /// Deltas for ballots on `polls`.
    fn for_polls<'p>(polls: impl IntoIterator<Item = &'p PollDefinition>) -> Self {
        let mut deltas = TallyDeltas::default();
        for poll in polls {
            match poll.choice {
                Choice::Ranking => deltas.rankings.insert(poll.id.clone()),
                Choice::Words => deltas.clouds.insert(poll.id.clone()),
                Choice::Single | Choice::Multiple => false,
            };
        }
        deltas
    }

    fn add_ballot(&mut self, entry: &VoteEntry, sign: i64) {
        self.add_options(&entry.poll, &entry.options, sign);
        *self.ballots.entry(entry.poll.clone()).or_default() += sign;
    }

    fn add_options(&mut self, poll: &str, options: &[String], sign: i64) {
        // Record the poll even when the ballot count does not move: it changed.
        self.ballots.entry(poll.to_owned()).or_default();
        if self.clouds.contains(poll) {
            for word in options {
                *self
                    .words
                    .entry((poll.to_owned(), word.clone()))
                    .or_default() += sign;
            }
            return;
        }
        for option in options {
            *self
                .options
                .entry((poll.to_owned(), option.clone()))
                .or_default() += sign;
        }
        if self.rankings.contains(poll) {
            for (place, option) in (0..).zip(options) {
                *self
                    .places
                    .entry((poll.to_owned(), option.clone(), place))
                    .or_default() += sign;
            }
        }
    }

    fn changed_polls(&self) -> Vec<String> {
        self.ballots.keys().cloned().collect()
    }

    async fn apply(
        &self,
        transaction: &tokio_postgres::Transaction<'_>,
    ) -> Result<(), tokio_postgres::Error> {
        let moved: Vec<(&(String, String), &i64)> = self
            .options
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .collect();
        if !moved.is_empty() {
            let polls: Vec<&str> = moved.iter().map(|((p, _), _)| p.as_str()).collect();
            let options: Vec<&str> = moved.iter().map(|((_, o), _)| o.as_str()).collect();
            let deltas: Vec<i64> = moved.iter().map(|(_, d)| **d).collect();
            transaction
                .execute(
                    "UPDATE tallies t SET votes = t.votes + d.delta
                       FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[]) AS u(p, o, delta)
                              ORDER BY p, o) AS d
                      WHERE t.poll_id = d.p AND t.option_id = d.o",
                    &[&polls, &options, &deltas],
                )
                .await?;
        }
        let moved: Vec<(&(String, String, i32), &i64)> = self
            .places
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .collect();
        if !moved.is_empty() {
            let polls: Vec<&str> = moved.iter().map(|((p, _, _), _)| p.as_str()).collect();
            let options: Vec<&str> = moved.iter().map(|((_, o, _), _)| o.as_str()).collect();
            let places: Vec<i32> = moved.iter().map(|((_, _, r), _)| *r).collect();
            let deltas: Vec<i64> = moved.iter().map(|(_, d)| **d).collect();
            transaction
                .execute(
                    "UPDATE rank_tallies t SET votes = t.votes + d.delta
                       FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[])
                                AS u(p, o, r, delta)
                              ORDER BY p, o, r) AS d
                      WHERE t.poll_id = d.p AND t.option_id = d.o AND t.place = d.r",
                    &[&polls, &options, &places, &deltas],
                )
                .await?;
        }
        let moved: Vec<(&(String, String), &i64)> = self
            .words
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .collect();
        if !moved.is_empty() {
            // Two steps, not one upsert: Postgres checks `votes >= 0` on the row an
            // INSERT proposes before it sees the conflict, so a negative delta (a voter
            // taking an answer back) cannot travel as an insert. New answers get a row at
            // zero first; then every delta is added, in key order like the other tallies.
            let polls: Vec<&str> = moved.iter().map(|((p, _), _)| p.as_str()).collect();
            let words: Vec<&str> = moved.iter().map(|((_, w), _)| w.as_str()).collect();
            let deltas: Vec<i64> = moved.iter().map(|(_, d)| **d).collect();
            transaction
                .execute(
                    "INSERT INTO word_tallies (poll_id, word, votes)
                     SELECT p, w, 0 FROM unnest($1::text[], $2::text[]) AS u(p, w)
                      ORDER BY p, w
                     ON CONFLICT (poll_id, word) DO NOTHING",
                    &[&polls, &words],
                )
                .await?;
            transaction
                .execute(
                    "UPDATE word_tallies t SET votes = t.votes + d.delta
                       FROM (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[]) AS u(p, w, delta)
                              ORDER BY p, w) AS d
                      WHERE t.poll_id = d.p AND t.word = d.w",
                    &[&polls, &words, &deltas],
                )
                .await?;
        }
        if !self.ballots.is_empty() {
            let polls: Vec<&str> = self.ballots.keys().map(String::as_str).collect();
            let counts: Vec<i64> = self.ballots.values().copied().collect();
            transaction
                .execute(
                    "UPDATE polls p SET ballots = p.ballots + d.n, version = p.version + 1, updated_at = now()
                       FROM unnest($1::text[], $2::int8[]) AS d(id, n)
                      WHERE p.id = d.id",
                    &[&polls, &counts],
                )
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(ms: u64, poll: &str, voter: &str, option: &str) -> StreamVote {
        StreamVote {
            id: EntryId { ms, seq: 0 },
            entry: VoteEntry {
                vote_id: format!("v{ms}"),
                poll: poll.into(),
                options: vec![option.into()],
                words: false,
                voter: voter.into(),
                at_ms: ms,
            },
        }
    }

    #[test]
    fn newest_entry_per_voter_wins_in_lock_order() {
        let votes = [
            vote(3, "p", "bob", "a"),
            vote(1, "p", "alice", "a"),
            vote(2, "p", "alice", "b"),
            vote(1, "p", "bob", "b"),
            vote(4, "o", "bob", "a"),
        ];
        let refs: Vec<&StreamVote> = votes.iter().collect();
        let kept: Vec<(&str, &str, u64)> = newest_per_voter(&refs)
            .iter()
            .map(|v| (v.entry.poll.as_str(), v.entry.voter.as_str(), v.id.ms))
            .collect();
        assert_eq!(kept, [("o", "bob", 4), ("p", "alice", 2), ("p", "bob", 3)]);
    }

    #[test]
    fn deltas_of_a_changed_ballot_cancel_out_on_the_ballot_count() {
        let mut deltas = TallyDeltas::default();
        deltas.add_options("p", &["a".into()], -1);
        deltas.add_options("p", &["b".into()], 1);
        assert_eq!(deltas.options[&("p".into(), "a".into())], -1);
        assert_eq!(deltas.options[&("p".into(), "b".into())], 1);
        assert_eq!(deltas.ballots["p"], 0);
        assert_eq!(deltas.changed_polls(), ["p"]);
    }

    #[test]
    fn a_changed_ranking_moves_each_option_between_places() {
        let mut deltas = TallyDeltas {
            rankings: ["r".to_owned()].into(),
            ..TallyDeltas::default()
        };
        deltas.add_options("r", &["a".into(), "b".into()], -1);
        deltas.add_options("r", &["b".into(), "a".into()], 1);
        deltas.add_options("p", &["a".into()], 1);
        let moved: Vec<_> = deltas
            .places
            .iter()
            .map(|((poll, option, place), delta)| (poll.as_str(), option.as_str(), *place, *delta))
            .collect();
        assert_eq!(
            moved,
            [
                ("r", "a", 0, -1),
                ("r", "a", 1, 1),
                ("r", "b", 0, 1),
                ("r", "b", 1, -1)
            ],
            "a poll that is not a ranking has no places"
        );
    }
}
