//! Changes to an event's questions inside the batch transaction: add one, replace one,
//! remove one, put them in a new order.
//!
//! - A question the room has been shown (`event_shown`) may take ballots, so it is never
//!   replaced or removed: its answers stand. A question never shown has none (the vote
//!   service takes ballots on the question shown only, and the worker counts only polls
//!   that exist), so replacing or removing it loses nothing.
//! - Replacing puts a new poll in the old one's place rather than changing the old one:
//!   a poll's options never change under a cached definition or a ballot in flight.
//! - Additions and replacements are keyed by their new poll's id, removals by the poll
//!   removed, and a removed poll is remembered (`event_removed_questions`), so each is
//!   applied once whatever the delivery order, and a redelivered addition never brings
//!   back a question removed since.
//! - An order is the whole list, applied only when its entry is newer than the one that
//!   set the order last; questions it does not name (added meanwhile) follow in their
//!   order. The question shown stays the one shown, wherever it moves.
//! - A replaced poll remembers its replacement, so an order or a show that names it
//!   (asked before the edit, applied after it) goes to the question in its place.
//! - Positions stay 0, 1, 2…: the position is what `show` and the definitions count by.
//!
//! Call these with the event's polls and then its row locked (see
//! [`crate::events::polls_to_lock`]).

use tally_model::event::MAX_EVENT_QUESTIONS;
use tally_model::event_entry::NewQuestion;
use tally_model::{EntryId, EventAction, Identity};
use tokio_postgres::Transaction;

use crate::commands::{insert_poll, NewPollRow};

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuestionChange {
    /// It changed the event's questions.
    Applied,
    /// It had been applied before (a redelivery), or was overtaken by a later order.
    Unchanged,
    /// It can never be applied, for this reason.
    Rejected(String),
}

/// The polls a change added and removed, for the Redis copies.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ChangedPolls {
    /// Polls created as new questions.
    pub added: Vec<String>,
    /// Polls deleted with their questions.
    pub removed: Vec<String>,
}

/// One question of the event as Postgres holds it.
struct QuestionRow {
    poll: String,
    position: i32,
    shown: bool,
    ballots: i64,
}

/// Whether `action` changes an event's questions (and is applied here).
pub fn changes_questions(action: &EventAction) -> bool {
    matches!(
        action,
        EventAction::AddQuestion(_)
            | EventAction::ReplaceQuestion { .. }
            | EventAction::RemoveQuestion(_)
            | EventAction::Order(_)
    )
}

/// Applies one change of `event`'s questions from the stream entry `entry`.
pub async fn apply_question_change(
    transaction: &Transaction<'_>,
    event: &str,
    entry: EntryId,
    action: &EventAction,
    polls: &mut ChangedPolls,
) -> Result<QuestionChange, tokio_postgres::Error> {
    let Some(row) = transaction
        .query_opt(
            "SELECT owner_hash, results_visible, identity, passcode_hash
               FROM events WHERE id = $1",
            &[&event],
        )
        .await?
    else {
        return Ok(QuestionChange::Rejected(format!("no event {event:?}")));
    };
    let owner = Owner {
        event,
        hash: row.get(0),
        results_visible: row.get(1),
        identity: Identity::from_name(row.get(2)).unwrap_or_default(),
        passcode_hash: row.get(3),
        entry,
    };
    let questions = questions(transaction, event).await?;
    match action {
        EventAction::AddQuestion(question) => {
            add(transaction, &owner, &questions, question, polls).await
        }
        EventAction::ReplaceQuestion { old, new } => {
            replace(transaction, &owner, &questions, old, new, polls).await
        }
        EventAction::RemoveQuestion(poll) => {
            remove(transaction, &owner, &questions, poll, polls).await
        }
        EventAction::Order(order) => reorder(transaction, &owner, &questions, order).await,
        _ => Ok(QuestionChange::Rejected(
            "not a change of the questions".to_owned(),
        )),
    }
}

/// What a new question's poll takes from its event.
struct Owner<'a> {
    event: &'a str,
    hash: String,
    results_visible: bool,
    /// Who counts as a voter at this event: its new questions' identity too.
    identity: Identity,
    /// Its room passcode's hash, when the identity is `passcode`.
    passcode_hash: Option<String>,
    entry: EntryId,
}

async fn questions(
    transaction: &Transaction<'_>,
    event: &str,
) -> Result<Vec<QuestionRow>, tokio_postgres::Error> {
    let rows = transaction
        .query(
            "SELECT id, event_position, event_shown, ballots FROM polls
              WHERE event_id = $1 ORDER BY event_position",
            &[&event],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| QuestionRow {
            poll: row.get(0),
            position: row.get(1),
            shown: row.get(2),
            ballots: row.get(3),
        })
        .collect())
}

/// Whether the new question's poll was applied before (it exists in this event, or was
/// removed from it since), is taken by another poll (`Err`), or is new (`Ok(None)`).
async fn earlier_use(
    transaction: &Transaction<'_>,
    event: &str,
    questions: &[QuestionRow],
    poll: &str,
) -> Result<Option<QuestionChange>, tokio_postgres::Error> {
    if questions.iter().any(|question| question.poll == poll) || removed(transaction, poll).await? {
        return Ok(Some(QuestionChange::Unchanged));
    }
    let taken = transaction
        .query_opt("SELECT 1 FROM polls WHERE id = $1", &[&poll])
        .await?
        .is_some();
    Ok(taken.then(|| {
        QuestionChange::Rejected(format!("poll id {poll:?} is taken, not by event {event:?}"))
    }))
}

async fn removed(transaction: &Transaction<'_>, poll: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(transaction
        .query_opt(
            "SELECT 1 FROM event_removed_questions WHERE poll_id = $1",
            &[&poll],
        )
        .await?
        .is_some())
}

async fn insert_question(
    transaction: &Transaction<'_>,
    owner: &Owner<'_>,
    question: &NewQuestion,
    position: i32,
) -> Result<(), tokio_postgres::Error> {
    let mut new_poll = question.new_poll.clone();
    // It joins the others: counts hidden from the room while the presenter hides them.
    new_poll.hide_results = !owner.results_visible;
    new_poll.identity = owner.identity;
    let row = NewPollRow {
        id: &question.poll,
        poll: &new_poll,
        admin_hash: &owner.hash,
        passcode_hash: owner.passcode_hash.as_deref(),
        event: Some((owner.event, position)),
        entry: owner.entry,
    };
    insert_poll(transaction, &row).await?;
    Ok(())
}

async fn add(
    transaction: &Transaction<'_>,
    owner: &Owner<'_>,
    questions: &[QuestionRow],
    question: &NewQuestion,
    polls: &mut ChangedPolls,
) -> Result<QuestionChange, tokio_postgres::Error> {
    if let Some(change) = earlier_use(transaction, owner.event, questions, &question.poll).await? {
        return Ok(change);
    }
    if questions.len() >= MAX_EVENT_QUESTIONS {
        return Ok(QuestionChange::Rejected(format!(
            "the event has {MAX_EVENT_QUESTIONS} questions, the most it may have"
        )));
    }
    insert_question(transaction, owner, question, questions.len() as i32).await?;
    polls.added.push(question.poll.clone());
    Ok(QuestionChange::Applied)
}

/// The question of `poll` if the room has never seen it, or why it may not change.
async fn unseen<'q>(
    transaction: &Transaction<'_>,
    questions: &'q [QuestionRow],
    poll: &str,
) -> Result<Result<&'q QuestionRow, QuestionChange>, tokio_postgres::Error> {
    let Some(question) = questions.iter().find(|question| question.poll == poll) else {
        return Ok(Err(if removed(transaction, poll).await? {
            QuestionChange::Unchanged
        } else {
            QuestionChange::Rejected(format!("the event has no question {poll:?}"))
        }));
    };
    if question.shown || question.ballots > 0 {
        return Ok(Err(QuestionChange::Rejected(format!(
            "question {} has been shown to the room: its answers stand",
            question.position + 1
        ))));
    }
    Ok(Ok(question))
}

/// The poll that stands for `poll` in `event` now: `poll` itself, or the last of the
/// questions that replaced it, one after the other.
pub async fn standing_for(
    transaction: &Transaction<'_>,
    event: &str,
    poll: &str,
) -> Result<String, tokio_postgres::Error> {
    let row = transaction
        .query_one(
            "WITH RECURSIVE chain (poll, depth) AS (
                 SELECT $2::text, 0
                 UNION ALL
                 SELECT r.replaced_by, c.depth + 1
                   FROM chain c
                   JOIN event_removed_questions r ON r.poll_id = c.poll AND r.event_id = $1
                  WHERE r.replaced_by IS NOT NULL AND c.depth < $3
             )
             SELECT poll FROM chain ORDER BY depth DESC LIMIT 1",
            &[&event, &poll, &MAX_REPLACEMENTS],
        )
        .await?;
    Ok(row.get(0))
}

/// Replacements followed at most: far more edits than one question gets, and a bound
/// on the walk should the table ever hold a cycle.
const MAX_REPLACEMENTS: i32 = 1_000;

/// Deletes a question's poll (its options and zero tallies go with it) and remembers it,
/// with the poll that replaces it, if any.
async fn delete_question(
    transaction: &Transaction<'_>,
    event: &str,
    poll: &str,
    replaced_by: Option<&str>,
    polls: &mut ChangedPolls,
) -> Result<(), tokio_postgres::Error> {
    transaction
        .execute("DELETE FROM polls WHERE id = $1", &[&poll])
        .await?;
    transaction
        .execute(
            "INSERT INTO event_removed_questions (poll_id, event_id, replaced_by)
             VALUES ($1, $2, $3)",
            &[&poll, &event, &replaced_by],
        )
        .await?;
    polls.removed.push(poll.to_owned());
    Ok(())
}

async fn replace(
    transaction: &Transaction<'_>,
    owner: &Owner<'_>,
    questions: &[QuestionRow],
    old: &str,
    new: &NewQuestion,
    polls: &mut ChangedPolls,
) -> Result<QuestionChange, tokio_postgres::Error> {
    if let Some(change) = earlier_use(transaction, owner.event, questions, &new.poll).await? {
        return Ok(change);
    }
    let position = match unseen(transaction, questions, old).await? {
        Ok(question) => question.position,
        // The question it replaced is gone: another change got there first.
        Err(QuestionChange::Unchanged) => {
            return Ok(QuestionChange::Rejected(format!(
                "question {old:?} was removed or replaced before"
            )))
        }
        Err(change) => return Ok(change),
    };
    delete_question(transaction, owner.event, old, Some(&new.poll), polls).await?;
    insert_question(transaction, owner, new, position).await?;
    polls.added.push(new.poll.clone());
    Ok(QuestionChange::Applied)
}

async fn remove(
    transaction: &Transaction<'_>,
    owner: &Owner<'_>,
    questions: &[QuestionRow],
    poll: &str,
    polls: &mut ChangedPolls,
) -> Result<QuestionChange, tokio_postgres::Error> {
    let position = match unseen(transaction, questions, poll).await? {
        Ok(question) => question.position,
        Err(change) => return Ok(change),
    };
    if questions.len() == 1 {
        return Ok(QuestionChange::Rejected(
            "an event keeps at least one question".to_owned(),
        ));
    }
    delete_question(transaction, owner.event, poll, None, polls).await?;
    transaction
        .execute(
            "UPDATE polls SET event_position = event_position - 1
              WHERE event_id = $1 AND event_position > $2",
            &[&owner.event, &position],
        )
        .await?;
    transaction
        .execute(
            "UPDATE events SET current_position = current_position - 1
              WHERE id = $1 AND current_position > $2",
            &[&owner.event, &position],
        )
        .await?;
    Ok(QuestionChange::Applied)
}

async fn reorder(
    transaction: &Transaction<'_>,
    owner: &Owner<'_>,
    questions: &[QuestionRow],
    order: &[String],
) -> Result<QuestionChange, tokio_postgres::Error> {
    let (ms, seq) = (owner.entry.ms as i64, owner.entry.seq as i64);
    let newer = transaction
        .execute(
            "UPDATE events SET order_entry_ms = $2, order_entry_seq = $3
              WHERE id = $1 AND (order_entry_ms, order_entry_seq) < ($2, $3)",
            &[&owner.event, &ms, &seq],
        )
        .await?;
    if newer == 0 {
        return Ok(QuestionChange::Unchanged);
    }
    let mut polls: Vec<String> = Vec::with_capacity(questions.len());
    for named in order {
        let poll = standing_for(transaction, owner.event, named).await?;
        let held = questions.iter().any(|question| question.poll == poll);
        if held && !polls.contains(&poll) {
            polls.push(poll);
        }
    }
    for question in questions {
        if !polls.contains(&question.poll) {
            polls.push(question.poll.clone());
        }
    }
    let current: Option<String> = transaction
        .query_opt(
            "SELECT p.id FROM events e
               JOIN polls p ON p.event_id = e.id AND p.event_position = e.current_position
              WHERE e.id = $1",
            &[&owner.event],
        )
        .await?
        .map(|row| row.get(0));
    transaction
        .execute(
            "UPDATE polls SET event_position = o.position::int4 - 1
               FROM unnest($2::text[]) WITH ORDINALITY AS o(id, position)
              WHERE polls.id = o.id AND polls.event_id = $1
                AND polls.event_position <> o.position::int4 - 1",
            &[&owner.event, &polls],
        )
        .await?;
    if let Some(current) = current {
        transaction
            .execute(
                "UPDATE events SET current_position =
                        (SELECT event_position FROM polls WHERE id = $2)
                  WHERE id = $1",
                &[&owner.event, &current],
            )
            .await?;
    }
    Ok(QuestionChange::Applied)
}
