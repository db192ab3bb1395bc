//! Poll commands inside the batch transaction.
//!
//! - A creation inserts the poll, its options and their zero tallies. It is idempotent:
//!   the poll id is the key, so a redelivered creation changes nothing.
//! - A close or reopen sets `open` and bumps the version, but only when its stream
//!   entry is newer than the one that last set the poll's status (kept in the row), so a
//!   redelivered close cannot undo a later reopen, whatever the delivery order. A reopen
//!   of a poll whose closing time had passed (when the admin asked) drops that time.
//! - A poll whose closing time passes is closed by housekeeping ([`close_expired`]), so
//!   that its results are published again (hidden counts revealed) without a vote.

use tally_model::{Choice, CreateEntry, EntryId, NewPoll, Scale, StatusEntry, Words};
use tokio_postgres::Transaction;

/// A poll creation read from the stream, with the id of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCreate {
    /// The stream entry id.
    pub id: EntryId,
    /// The creation.
    pub entry: CreateEntry,
}

/// A close or reopen read from the stream, with the id of its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStatus {
    /// The stream entry id.
    pub id: EntryId,
    /// The status change.
    pub entry: StatusEntry,
}

/// Creates the polls that do not exist yet; returns the ids of those created.
pub async fn create_polls(
    transaction: &Transaction<'_>,
    creates: &[StreamCreate],
) -> Result<Vec<String>, tokio_postgres::Error> {
    let mut created = Vec::new();
    for create in creates {
        let entry = &create.entry;
        let poll = NewPollRow {
            id: &entry.poll,
            poll: &entry.new_poll,
            admin_hash: &entry.admin_hash,
            passcode_hash: entry.passcode_hash.as_deref(),
            event: None,
            entry: create.id,
        };
        if insert_poll(transaction, &poll).await? {
            if !entry.code_hashes.is_empty() {
                transaction
                    .execute(
                        "INSERT INTO poll_voter_codes (poll_id, code_hash)
                         SELECT $1, unnest($2::text[])",
                        &[&entry.poll, &entry.code_hashes],
                    )
                    .await?;
            }
            created.push(entry.poll.clone());
        }
    }
    Ok(created)
}

/// A poll to insert: a created poll, or a question of an event.
#[derive(Debug, Clone, Copy)]
pub struct NewPollRow<'a> {
    /// Its id.
    pub id: &'a str,
    /// What its creator asked for.
    pub poll: &'a NewPoll,
    /// SHA-256 (hex) of the token that administers it.
    pub admin_hash: &'a str,
    /// The hash of the room passcode, for a poll whose identity is `passcode`.
    pub passcode_hash: Option<&'a str>,
    /// The event and position (0-based) of a question; `None` for a poll of its own.
    pub event: Option<(&'a str, i32)>,
    /// The stream entry that creates it (its first status).
    pub entry: EntryId,
}

/// Inserts a poll with its options and zero tallies unless its id exists; returns
/// whether it was inserted.
pub async fn insert_poll(
    transaction: &Transaction<'_>,
    row: &NewPollRow<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let poll = row.poll;
    let closes_at = poll.closes_at.map(|ms| ms as i64);
    let (event, position) = row.event.unzip();
    let scale = Scale::to_columns(poll.scale.as_ref());
    let (words_max, word_max_chars) = Words::to_columns(poll.words);
    let inserted = transaction
        .execute(
            "INSERT INTO polls (id, question, choice, closes_at, hide_results, admin_hash,
                                status_entry_ms, status_entry_seq, event_id, event_position,
                                scale_min, scale_max, scale_min_label, scale_max_label,
                                words_max, word_max_chars, identity, passcode_hash)
             VALUES ($1, $2, $3, to_timestamp($4::int8 / 1000.0), $5, $6, $7, $8, $9, $10,
                     $11, $12, $13, $14, $15, $16, $17, $18)
             ON CONFLICT (id) DO NOTHING",
            &[
                &row.id,
                &poll.question,
                &poll.choice.name(),
                &closes_at,
                &poll.hide_results,
                &row.admin_hash,
                &(row.entry.ms as i64),
                &(row.entry.seq as i64),
                &event,
                &position,
                &scale.min,
                &scale.max,
                &scale.min_label,
                &scale.max_label,
                &words_max,
                &word_max_chars,
                &poll.identity.name(),
                &row.passcode_hash,
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    let options = poll.options();
    let ids: Vec<&str> = options.iter().map(|o| o.id.as_str()).collect();
    let labels: Vec<&str> = options.iter().map(|o| o.label.as_str()).collect();
    transaction
        .execute(
            "INSERT INTO poll_options (poll_id, id, label, position)
             SELECT $1, o.id, o.label, o.position::int4 - 1
               FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS o(id, label, position)",
            &[&row.id, &ids, &labels],
        )
        .await?;
    transaction
        .execute(
            "INSERT INTO tallies (poll_id, option_id) SELECT $1, unnest($2::text[])",
            &[&row.id, &ids],
        )
        .await?;
    if poll.choice == Choice::Ranking {
        // Every option can take every place.
        transaction
            .execute(
                "INSERT INTO rank_tallies (poll_id, option_id, place)
                 SELECT $1, o.id, p.place
                   FROM unnest($2::text[]) AS o(id),
                        generate_series(0, cardinality($2::text[]) - 1) AS p(place)",
                &[&row.id, &ids],
            )
            .await?;
    }
    Ok(true)
}

/// What [`set_statuses`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatusOutcome {
    /// Polls whose status was set (their definition and results must be rewritten).
    pub changed: Vec<String>,
    /// Entries older than the poll's last status change (redelivered or overtaken).
    pub unchanged: usize,
    /// Entries about polls that do not exist, with the reason.
    pub rejected: Vec<(EntryId, String)>,
}

/// Applies closes and reopens in stream order. Call it after the votes' tally updates:
/// like them it locks poll rows, and polls are the last rows a batch locks.
pub async fn set_statuses(
    transaction: &Transaction<'_>,
    statuses: &[StreamStatus],
) -> Result<StatusOutcome, tokio_postgres::Error> {
    let mut outcome = StatusOutcome::default();
    let mut ordered: Vec<&StreamStatus> = statuses.iter().collect();
    ordered.sort_by_key(|status| status.id);
    for status in ordered {
        let updated = transaction
            .execute(
                "UPDATE polls SET open = $2, version = version + 1,
                                  status_entry_ms = $3, status_entry_seq = $4,
                                  closes_at = CASE WHEN $2 AND closes_at <= to_timestamp($5::int8 / 1000.0)
                                                   THEN NULL ELSE closes_at END
                  WHERE id = $1 AND (status_entry_ms, status_entry_seq) < ($3, $4)",
                &[
                    &status.entry.poll,
                    &status.entry.open,
                    &(status.id.ms as i64),
                    &(status.id.seq as i64),
                    &(status.entry.at_ms as i64),
                ],
            )
            .await?;
        if updated > 0 {
            if !outcome.changed.contains(&status.entry.poll) {
                outcome.changed.push(status.entry.poll.clone());
            }
            continue;
        }
        let exists = transaction
            .query_opt("SELECT 1 FROM polls WHERE id = $1", &[&status.entry.poll])
            .await?
            .is_some();
        if exists {
            outcome.unchanged += 1;
        } else {
            outcome
                .rejected
                .push((status.id, format!("no poll {:?}", status.entry.poll)));
        }
    }
    Ok(outcome)
}

/// Locks the rows of `polls` in id order, so that every worker takes poll locks in
/// the same order and none waits on another in a cycle.
pub async fn lock_polls(
    transaction: &Transaction<'_>,
    polls: &[&str],
) -> Result<(), tokio_postgres::Error> {
    if polls.is_empty() {
        return Ok(());
    }
    transaction
        .query(
            "SELECT id FROM polls WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            &[&polls],
        )
        .await?;
    Ok(())
}

/// Closes the open polls whose closing time has passed and bumps their version; returns
/// their ids. Idempotent: a closed poll is not touched again.
pub async fn close_expired(
    client: &impl tokio_postgres::GenericClient,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "UPDATE polls SET open = false, version = version + 1
              WHERE open AND closes_at <= now()
             RETURNING id",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
