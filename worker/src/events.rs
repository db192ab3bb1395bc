//! Events inside the batch transaction.
//!
//! - A creation inserts the event, then each question as a poll of the event (options,
//!   zero tallies), administered with the owner's token. It is idempotent: the event id
//!   is the key, so a redelivered creation changes nothing. A join code already held by
//!   another event (the vote service reserves codes in Redis, which may have lost the
//!   reservation) or a question id already taken refuses the creation with a reason.
//! - A command sets one field of the presenter's state (the question shown, results
//!   revealed, locked), but only when its stream entry is newer than the one that last
//!   set that field, so a redelivered or overtaken command never undoes a later one and
//!   commands on different fields never cancel each other. Revealing or hiding sets
//!   `hide_results` on every question of the event, so the polls' own results follow.
//!   A `show` names its question's poll (older entries only its position), so a show
//!   asked before the questions moved still shows the question the presenter chose, and
//!   marks it shown: from then on it may take ballots, and is never edited or removed.
//! - Changes to the questions (add, replace, remove, order) are applied in stream order
//!   with the other commands; see [`crate::questions`].
//! - Participants are the distinct voters with a ballot on any question, counted once
//!   each as their first ballot commits.
//!
//! Lock order, after the batch's ballots, tallies and polls: event rows by id.

use std::collections::BTreeMap;

use tally_model::event::EventQuestion;
use tally_model::{
    Choice, EntryId, EventAction, EventCommandEntry, EventCreateEntry, EventDefinition,
};
use tally_model::{Scale, Words};
use tokio_postgres::{GenericClient, Transaction};

use crate::commands::{insert_poll, NewPollRow};
use crate::questions::{
    apply_question_change, changes_questions, standing_for, ChangedPolls, QuestionChange,
};

/// An event's creation read from the stream, with the id of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEventCreate {
    /// The stream entry id.
    pub id: EntryId,
    /// The creation.
    pub entry: EventCreateEntry,
}

/// A presenter's command read from the stream, with the id of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEventCommand {
    /// The stream entry id.
    pub id: EntryId,
    /// The command.
    pub entry: EventCommandEntry,
}

/// What the event part of a batch did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventOutcome {
    /// Events created (a redelivered creation is not counted).
    pub created: Vec<String>,
    /// Polls created as questions of those events.
    pub question_polls: Vec<String>,
    /// Events whose state changed: their Redis copy must be rewritten and published.
    pub changed: Vec<String>,
    /// Polls whose `hide_results` changed (reveal or hide), or one of whose answers was
    /// hidden or shown again.
    pub revealed_polls: Vec<String>,
    /// Moderation commands applied (see [`apply_moderation`]): their events' versions move.
    pub moderated: Vec<EntryId>,
    /// Polls added and removed by changes to the questions.
    pub question_changes: ChangedPolls,
    /// Entries that changed nothing (redelivered or overtaken).
    pub unchanged: usize,
    /// Entries that can never be applied, with the reason.
    pub rejected: Vec<(EntryId, String)>,
}

/// Creates the events that do not exist yet, with their questions.
pub async fn create_events(
    transaction: &Transaction<'_>,
    creates: &[StreamEventCreate],
    outcome: &mut EventOutcome,
) -> Result<(), tokio_postgres::Error> {
    for create in creates {
        let entry = &create.entry;
        let polls: Vec<&str> = entry.questions.iter().map(|q| q.poll.as_str()).collect();
        let existing = transaction
            .query_opt("SELECT code FROM events WHERE id = $1", &[&entry.event])
            .await?;
        if existing.is_some() {
            outcome.unchanged += 1;
            continue;
        }
        let taken = transaction
            .query_opt("SELECT 1 FROM polls WHERE id = ANY($1)", &[&polls])
            .await?;
        if taken.is_some() {
            outcome
                .rejected
                .push((create.id, "a question's poll id is taken".to_owned()));
            continue;
        }
        let inserted = transaction
            .execute(
                "INSERT INTO events (id, code, title, owner_hash, blocked_words, identity,
                                     passcode_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT DO NOTHING",
                &[
                    &entry.event,
                    &entry.code,
                    &entry.title,
                    &entry.owner_hash,
                    &entry.blocked_words,
                    &entry.identity.name(),
                    &entry.passcode_hash,
                ],
            )
            .await?;
        if inserted == 0 {
            outcome.rejected.push((
                create.id,
                format!("join code {} is held by another event", entry.code),
            ));
            continue;
        }
        if !entry.code_hashes.is_empty() {
            transaction
                .execute(
                    "INSERT INTO event_voter_codes (event_id, code_hash)
                     SELECT $1, unnest($2::text[])",
                    &[&entry.event, &entry.code_hashes],
                )
                .await?;
        }
        for (position, question) in entry.questions.iter().enumerate() {
            let row = NewPollRow {
                id: &question.poll,
                poll: &question.new_poll,
                admin_hash: &entry.owner_hash,
                passcode_hash: entry.passcode_hash.as_deref(),
                event: Some((&entry.event, position as i32)),
                entry: create.id,
            };
            insert_poll(transaction, &row).await?;
            outcome.question_polls.push(question.poll.clone());
        }
        outcome.created.push(entry.event.clone());
        outcome.changed.push(entry.event.clone());
    }
    Ok(())
}

/// The polls that `commands` change: those of the events they reveal, hide, show a
/// question of or change the questions of, and those whose answers they moderate. The
/// batch locks them with its other polls, before any event row.
pub async fn polls_to_lock(
    transaction: &Transaction<'_>,
    commands: &[StreamEventCommand],
) -> Result<Vec<String>, tokio_postgres::Error> {
    let mut polls: Vec<String> = commands
        .iter()
        .filter_map(|c| match &c.entry.action {
            EventAction::Moderate { poll, .. } => Some(poll.clone()),
            _ => None,
        })
        .collect();
    let mut events: Vec<&str> = commands
        .iter()
        .filter(|c| {
            let action = &c.entry.action;
            changes_questions(action)
                || matches!(
                    action,
                    EventAction::Reveal | EventAction::Hide | EventAction::Show { .. }
                )
        })
        .map(|c| c.entry.event.as_str())
        .collect();
    if !events.is_empty() {
        events.sort_unstable();
        events.dedup();
        let rows = transaction
            .query(
                "SELECT id FROM polls WHERE event_id = ANY($1) ORDER BY id",
                &[&events],
            )
            .await?;
        polls.extend(rows.iter().map(|row| row.get::<_, String>(0)));
    }
    polls.sort_unstable();
    polls.dedup();
    Ok(polls)
}

/// Hides or shows again the answers that moderation commands name, in stream order,
/// each only when its entry is newer than the one that last moderated that answer.
/// Call it with the answers' polls locked (see [`polls_to_lock`]) and before the
/// event rows are: a poll whose answer changed gets a new version, so its results are
/// published again without the hidden answer.
/// (Moderation is the one command whose poll rows change before the event rows lock.)
pub async fn apply_moderation(
    transaction: &Transaction<'_>,
    commands: &[StreamEventCommand],
    outcome: &mut EventOutcome,
) -> Result<(), tokio_postgres::Error> {
    for command in in_stream_order(commands) {
        let EventAction::Moderate { poll, word, hidden } = &command.entry.action else {
            continue;
        };
        let event = command.entry.event.as_str();
        let (ms, seq) = (command.id.ms as i64, command.id.seq as i64);
        let set = transaction
            .execute(
                "INSERT INTO word_tallies (poll_id, word, hidden, moderate_entry_ms, moderate_entry_seq)
                 SELECT $2, $3, $4, $5, $6
                  WHERE EXISTS (SELECT 1 FROM polls
                                 WHERE id = $2 AND event_id = $1 AND choice = 'words')
                 ON CONFLICT (poll_id, word) DO UPDATE
                    SET hidden = EXCLUDED.hidden,
                        moderate_entry_ms = EXCLUDED.moderate_entry_ms,
                        moderate_entry_seq = EXCLUDED.moderate_entry_seq
                  WHERE (word_tallies.moderate_entry_ms, word_tallies.moderate_entry_seq)
                      < (EXCLUDED.moderate_entry_ms, EXCLUDED.moderate_entry_seq)",
                &[&event, poll, word, hidden, &ms, &seq],
            )
            .await?;
        if set > 0 {
            transaction
                .execute(
                    "UPDATE polls SET version = version + 1, updated_at = now() WHERE id = $1",
                    &[poll],
                )
                .await?;
            outcome.revealed_polls.push(poll.clone());
            outcome.moderated.push(command.id);
            continue;
        }
        let cloud = transaction
            .query_opt(
                "SELECT 1 FROM polls WHERE id = $1 AND event_id = $2 AND choice = 'words'",
                &[poll, &event],
            )
            .await?;
        if cloud.is_none() {
            outcome.rejected.push((
                command.id,
                format!("event {event:?} has no word cloud question {poll:?}"),
            ));
        }
    }
    Ok(())
}

/// Locks the rows of `events` in id order (after every poll row the batch locks).
pub async fn lock_events(
    transaction: &Transaction<'_>,
    events: &[&str],
) -> Result<(), tokio_postgres::Error> {
    if events.is_empty() {
        return Ok(());
    }
    transaction
        .query(
            "SELECT id FROM events WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            &[&events],
        )
        .await?;
    Ok(())
}

/// `commands` in the order of their stream entries.
fn in_stream_order(commands: &[StreamEventCommand]) -> Vec<&StreamEventCommand> {
    let mut ordered: Vec<&StreamEventCommand> = commands.iter().collect();
    ordered.sort_by_key(|command| command.id);
    ordered
}

/// Applies presenter commands in stream order.
pub async fn apply_commands(
    transaction: &Transaction<'_>,
    commands: &[StreamEventCommand],
    outcome: &mut EventOutcome,
) -> Result<(), tokio_postgres::Error> {
    for command in in_stream_order(commands) {
        let event = command.entry.event.as_str();
        let (ms, seq) = (command.id.ms as i64, command.id.seq as i64);
        let updated = match &command.entry.action {
            EventAction::Moderate { .. } if outcome.moderated.contains(&command.id) => {
                transaction
                    .execute(
                        "UPDATE events SET version = version + 1, updated_at = now() WHERE id = $1",
                        &[&event],
                    )
                    .await?
            }
            // Refused or overtaken in apply_moderation, which said so.
            EventAction::Moderate { .. } => {
                if !outcome.rejected.iter().any(|(id, _)| *id == command.id) {
                    outcome.unchanged += 1;
                }
                continue;
            }
            EventAction::Show { position, poll } => {
                // A show asked before its question was edited shows the edited one.
                let poll = match poll {
                    Some(poll) => Some(standing_for(transaction, event, poll).await?),
                    None => None,
                };
                let shown = transaction
                    .query_opt(
                        "UPDATE events e SET current_position = p.event_position,
                                             version = e.version + 1, updated_at = now(),
                                             show_entry_ms = $3, show_entry_seq = $4
                           FROM polls p
                          WHERE e.id = $1 AND (e.show_entry_ms, e.show_entry_seq) < ($3, $4)
                            AND p.event_id = $1
                            AND (p.id = $5 OR ($5::text IS NULL AND p.event_position = $2))
                         RETURNING p.id",
                        &[&event, &(*position as i32), &ms, &seq, &poll],
                    )
                    .await?;
                match shown {
                    Some(row) => {
                        let shown_poll: String = row.get(0);
                        transaction
                            .execute(
                                "UPDATE polls SET event_shown = true WHERE id = $1 AND NOT event_shown",
                                &[&shown_poll],
                            )
                            .await?;
                        1
                    }
                    None => 0,
                }
            }
            action @ (EventAction::AddQuestion(_)
            | EventAction::ReplaceQuestion { .. }
            | EventAction::RemoveQuestion(_)
            | EventAction::Order(_)) => {
                let change = apply_question_change(
                    transaction,
                    event,
                    command.id,
                    action,
                    &mut outcome.question_changes,
                )
                .await?;
                match change {
                    QuestionChange::Applied => {
                        transaction
                            .execute(
                                "UPDATE events SET version = version + 1, updated_at = now()
                                  WHERE id = $1",
                                &[&event],
                            )
                            .await?
                    }
                    QuestionChange::Unchanged => {
                        outcome.unchanged += 1;
                        continue;
                    }
                    QuestionChange::Rejected(reason) => {
                        outcome.rejected.push((command.id, reason));
                        continue;
                    }
                }
            }
            EventAction::Reveal | EventAction::Hide => {
                let visible = command.entry.action == EventAction::Reveal;
                let updated = transaction
                    .execute(
                        "UPDATE events SET results_visible = $2, version = version + 1,
                                           updated_at = now(), reveal_entry_ms = $3, reveal_entry_seq = $4
                          WHERE id = $1 AND (reveal_entry_ms, reveal_entry_seq) < ($3, $4)",
                        &[&event, &visible, &ms, &seq],
                    )
                    .await?;
                if updated > 0 {
                    let rows = transaction
                        .query(
                            "UPDATE polls SET hide_results = $2, version = version + 1,
                                              updated_at = now()
                              WHERE event_id = $1 AND hide_results <> $2
                             RETURNING id",
                            &[&event, &!visible],
                        )
                        .await?;
                    outcome
                        .revealed_polls
                        .extend(rows.iter().map(|row| row.get::<_, String>(0)));
                }
                updated
            }
            EventAction::BlockWords(list) => {
                let updated = transaction
                    .execute(
                        "UPDATE events SET blocked_words = $2, version = version + 1,
                                           updated_at = now(), block_entry_ms = $3, block_entry_seq = $4
                          WHERE id = $1 AND (block_entry_ms, block_entry_seq) < ($3, $4)",
                        &[&event, list, &ms, &seq],
                    )
                    .await?;
                if updated > 0 {
                    // The word clouds' definitions in Redis carry the list to the vote
                    // service: rewrite them.
                    let rows = transaction
                        .query(
                            "SELECT id FROM polls WHERE event_id = $1 AND choice = 'words'",
                            &[&event],
                        )
                        .await?;
                    outcome
                        .revealed_polls
                        .extend(rows.iter().map(|row| row.get::<_, String>(0)));
                }
                updated
            }
            EventAction::Lock | EventAction::Unlock => {
                let locked = command.entry.action == EventAction::Lock;
                transaction
                    .execute(
                        "UPDATE events SET locked = $2, version = version + 1,
                                           updated_at = now(), lock_entry_ms = $3, lock_entry_seq = $4
                          WHERE id = $1 AND (lock_entry_ms, lock_entry_seq) < ($3, $4)",
                        &[&event, &locked, &ms, &seq],
                    )
                    .await?
            }
        };
        if updated > 0 {
            if !outcome.changed.iter().any(|changed| changed == event) {
                outcome.changed.push(event.to_owned());
            }
            continue;
        }
        let exists = transaction
            .query_opt("SELECT 1 FROM events WHERE id = $1", &[&event])
            .await?
            .is_some();
        match &command.entry.action {
            _ if !exists => outcome
                .rejected
                .push((command.id, format!("no event {event:?}"))),
            EventAction::Show {
                poll: Some(poll), ..
            } if !has_poll(transaction, event, poll).await? => outcome
                .rejected
                .push((command.id, format!("event has no question {poll:?}"))),
            &EventAction::Show {
                position,
                poll: None,
            } if !has_question(transaction, event, position).await? => outcome.rejected.push((
                command.id,
                format!("event has no question at position {position}"),
            )),
            _ => outcome.unchanged += 1,
        }
    }
    outcome.revealed_polls.sort_unstable();
    outcome.revealed_polls.dedup();
    Ok(())
}

async fn has_question(
    transaction: &Transaction<'_>,
    event: &str,
    position: usize,
) -> Result<bool, tokio_postgres::Error> {
    Ok(transaction
        .query_opt(
            "SELECT 1 FROM polls WHERE event_id = $1 AND event_position = $2",
            &[&event, &(position as i32)],
        )
        .await?
        .is_some())
}

async fn has_poll(
    transaction: &Transaction<'_>,
    event: &str,
    poll: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(transaction
        .query_opt(
            "SELECT 1 FROM polls WHERE event_id = $1 AND id = $2",
            &[&event, &poll],
        )
        .await?
        .is_some())
}

/// Records the voters of `ballots` (event, voter) as participants of their events and
/// raises each event's count by its new participants; returns the events whose count
/// changed. Call it with the event rows locked.
pub async fn count_participants(
    transaction: &Transaction<'_>,
    ballots: &[(&str, &str)],
) -> Result<Vec<String>, tokio_postgres::Error> {
    if ballots.is_empty() {
        return Ok(Vec::new());
    }
    let events: Vec<&str> = ballots.iter().map(|(event, _)| *event).collect();
    let voters: Vec<&str> = ballots.iter().map(|(_, voter)| *voter).collect();
    let rows = transaction
        .query(
            "INSERT INTO event_participants (event_id, voter)
             SELECT e, v FROM unnest($1::text[], $2::text[]) AS t(e, v) ORDER BY e, v
             ON CONFLICT DO NOTHING
             RETURNING event_id",
            &[&events, &voters],
        )
        .await?;
    let mut joined: BTreeMap<String, i64> = BTreeMap::new();
    for row in rows {
        *joined.entry(row.get(0)).or_default() += 1;
    }
    for (event, count) in &joined {
        transaction
            .execute(
                "UPDATE events SET participants = participants + $2, version = version + 1,
                                   updated_at = now()
                  WHERE id = $1",
                &[event, count],
            )
            .await?;
    }
    Ok(joined.into_keys().collect())
}

/// The definitions of the events in `only`, or of every event when `only` is `None`.
pub async fn load_event_definitions(
    client: &impl GenericClient,
    only: Option<&[&str]>,
) -> Result<Vec<EventDefinition>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT e.id, e.code, e.title, e.owner_hash, e.current_position, e.results_visible,
                    e.locked, e.participants, e.version, p.id, p.question, p.choice,
                    p.scale_min, p.scale_max, p.scale_min_label, p.scale_max_label,
                    p.words_max, p.word_max_chars,
                    (SELECT array_agg(w.word ORDER BY w.word) FROM word_tallies w
                      WHERE w.poll_id = p.id AND w.hidden),
                    e.blocked_words, p.event_shown
               FROM events e JOIN polls p ON p.event_id = e.id
              WHERE $1::text[] IS NULL OR e.id = ANY($1)
              ORDER BY e.id, p.event_position",
            &[&only],
        )
        .await?;
    let mut definitions: Vec<EventDefinition> = Vec::new();
    for row in rows {
        let id: String = row.get(0);
        if definitions.last().is_none_or(|last| last.id != id) {
            definitions.push(EventDefinition {
                id,
                code: row.get(1),
                title: row.get(2),
                owner_hash: row.get(3),
                questions: Vec::new(),
                current: row
                    .get::<_, Option<i32>>(4)
                    .and_then(|position| usize::try_from(position).ok()),
                results_visible: row.get(5),
                locked: row.get(6),
                participants: row.get(7),
                version: row.get(8),
                blocked_words: row.get(19),
            });
        }
        if let Some(definition) = definitions.last_mut() {
            definition.questions.push(EventQuestion {
                poll: row.get(9),
                question: row.get(10),
                choice: Choice::from_name(row.get(11)).unwrap_or(Choice::Single),
                scale: Scale::from_columns(row.get(12), row.get(13), row.get(14), row.get(15)),
                words: Words::from_columns(row.get(16), row.get(17)),
                hidden_words: row.get::<_, Option<Vec<String>>>(18).unwrap_or_default(),
                shown: row.get(20),
            });
        }
    }
    Ok(definitions)
}
