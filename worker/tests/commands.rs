//! Poll commands in the batch transaction against a real Postgres: a creation makes
//! the poll with its options and zero tallies, and a redelivered one changes nothing;
//! close and reopen follow stream order, whatever order they are delivered in; votes
//! in the same batch as their poll's creation count; the reader cannot see admin hashes.

#![allow(clippy::unwrap_used)]

use tally_model::admin_token::hash_token;
use tally_model::{Choice, CreateEntry, EntryId, NewPoll, StatusEntry, VoteEntry};
use tally_testkit::shared_postgres;
use tally_worker::apply::{apply_entries, Batch, StreamVote};
use tally_worker::commands::{close_expired, StreamCreate, StreamStatus};
use tally_worker::migrate::migrate;
use tally_worker::polls::load_definitions;

const POLL: &str = "aB3dE5gH9k";

async fn database() -> (tokio_postgres::Client, tally_testkit::TestDatabase) {
    let database = shared_postgres().fresh_database().await;
    let (mut client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    migrate(&mut client).await.unwrap();
    (client, database)
}

fn id(ms: u64) -> EntryId {
    EntryId { ms, seq: 0 }
}

fn create(ms: u64) -> StreamCreate {
    StreamCreate {
        id: id(ms),
        entry: CreateEntry {
            poll: POLL.into(),
            new_poll: NewPoll {
                question: "Tea or coffee?".into(),
                choice: Choice::Multiple,
                labels: vec!["Tea".into(), "Coffee".into(), "Water".into()],
                closes_at: Some(1_800_000_000_250),
                hide_results: true,
                scale: None,
                words: None,
                identity: tally_model::Identity::Browser,
                voter_codes: 0,
            },
            admin_hash: hash_token("token"),
            code_hashes: Vec::new(),
            passcode_hash: None,
            at_ms: ms,
        },
    }
}

fn status(ms: u64, open: bool) -> StreamStatus {
    StreamStatus {
        id: id(ms),
        entry: StatusEntry {
            poll: POLL.into(),
            open,
            at_ms: ms,
        },
    }
}

fn vote(ms: u64, voter: &str, options: &[&str]) -> StreamVote {
    StreamVote {
        id: id(ms),
        entry: VoteEntry {
            vote_id: format!("v{ms}"),
            poll: POLL.into(),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            voter: voter.into(),
            at_ms: ms,
            words: false,
        },
    }
}

async fn open_and_version(client: &tokio_postgres::Client) -> (bool, i64) {
    let row = client
        .query_one("SELECT open, version FROM polls WHERE id = $1", &[&POLL])
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_creation_makes_the_poll_once_and_its_votes_in_the_same_batch_count() {
    let (mut client, _database) = database().await;
    let batch = Batch {
        creates: vec![create(1)],
        votes: vec![vote(2, "ann", &["a", "c"]), vote(3, "bob", &["b"])],
        ..Batch::default()
    };
    let first = apply_entries(&mut client, &batch).await.unwrap();
    assert_eq!(first.polls_created, 1);
    assert_eq!(first.created, 2, "both ballots count");
    assert_eq!(first.redefined_polls, [POLL]);
    assert_eq!(first.changed_polls, [POLL]);

    let again = apply_entries(&mut client, &batch).await.unwrap();
    assert_eq!(
        (again.polls_created, again.created, again.unchanged),
        (0, 0, 3)
    );
    assert!(again.redefined_polls.is_empty());

    let definitions = load_definitions(&client, Some(&[POLL])).await.unwrap();
    let definition = &definitions[0];
    assert_eq!(definition.choice, Choice::Multiple);
    assert_eq!(definition.closes_at, Some(1_800_000_000_250));
    assert!(definition.hide_results && definition.open);
    assert_eq!(
        definition.admin_hash.as_deref(),
        Some(hash_token("token").as_str())
    );
    let labels: Vec<(&str, &str)> = definition
        .options
        .iter()
        .map(|o| (o.id.as_str(), o.label.as_str()))
        .collect();
    assert_eq!(labels, [("a", "Tea"), ("b", "Coffee"), ("c", "Water")]);
    assert_eq!(definition.identity, tally_model::Identity::Browser);
    assert!(definition.voter_code_hashes.is_empty());

    let tallies: Vec<(String, i64)> = client
        .query(
            "SELECT option_id, votes FROM tallies WHERE poll_id = $1 ORDER BY option_id",
            &[&POLL],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(tallies, [("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]);
}

#[tokio::test]
async fn a_code_polls_code_hashes_are_kept_and_come_back_sorted() {
    let (mut client, _database) = database().await;
    let mut creation = create(1);
    creation.entry.new_poll.identity = tally_model::Identity::Code;
    creation.entry.new_poll.voter_codes = 3;
    creation.entry.code_hashes = ["c", "a", "b"].iter().map(|t| hash_token(t)).collect();
    let batch = Batch {
        creates: vec![creation.clone()],
        ..Batch::default()
    };
    apply_entries(&mut client, &batch).await.unwrap();
    apply_entries(&mut client, &batch).await.unwrap();
    let definitions = load_definitions(&client, Some(&[POLL])).await.unwrap();
    let mut expected = creation.entry.code_hashes.clone();
    expected.sort();
    assert_eq!(definitions[0].identity, tally_model::Identity::Code);
    assert_eq!(definitions[0].voter_code_hashes, expected, "once, sorted");
    assert_eq!(definitions[0], creation.entry.definition());
}

#[tokio::test]
async fn close_and_reopen_follow_stream_order_whatever_the_delivery_order() {
    let (mut client, _database) = database().await;
    let creation = Batch {
        creates: vec![create(1)],
        ..Batch::default()
    };
    apply_entries(&mut client, &creation).await.unwrap();
    let (_, created_version) = open_and_version(&client).await;

    let close = Batch {
        statuses: vec![status(10, false)],
        ..Batch::default()
    };
    let closed = apply_entries(&mut client, &close).await.unwrap();
    assert_eq!(closed.redefined_polls, [POLL]);
    assert_eq!(
        open_and_version(&client).await,
        (false, created_version + 1)
    );

    let reopen = Batch {
        statuses: vec![status(20, true)],
        ..Batch::default()
    };
    apply_entries(&mut client, &reopen).await.unwrap();
    assert_eq!(open_and_version(&client).await, (true, created_version + 2));

    // The close is delivered again after the reopen: it is older, so nothing changes.
    let redelivered = apply_entries(&mut client, &close).await.unwrap();
    assert_eq!(redelivered.unchanged, 1);
    assert!(redelivered.redefined_polls.is_empty() && redelivered.changed_polls.is_empty());
    assert_eq!(open_and_version(&client).await, (true, created_version + 2));

    // Both in one batch, listed out of order: the later entry wins.
    let both = Batch {
        statuses: vec![status(40, true), status(30, false)],
        ..Batch::default()
    };
    apply_entries(&mut client, &both).await.unwrap();
    assert!(
        open_and_version(&client).await.0,
        "reopen (40) is after close (30)"
    );
}

#[tokio::test]
async fn commands_about_missing_polls_are_rejected() {
    let (mut client, _database) = database().await;
    let batch = Batch {
        statuses: vec![status(5, false)],
        votes: vec![vote(6, "ann", &["a"])],
        ..Batch::default()
    };
    let outcome = apply_entries(&mut client, &batch).await.unwrap();
    let rejected: Vec<u64> = outcome.rejected.iter().map(|(id, _)| id.ms).collect();
    assert_eq!(rejected.len(), 2);
    assert!(rejected.contains(&5) && rejected.contains(&6));
}

#[tokio::test]
async fn the_reader_role_cannot_read_admin_hashes() {
    let (mut client, database) = database().await;
    apply_entries(
        &mut client,
        &Batch {
            creates: vec![create(1)],
            ..Batch::default()
        },
    )
    .await
    .unwrap();
    let (reader, connection) =
        tokio_postgres::connect(&database.reader_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let error = reader
        .query("SELECT admin_hash FROM polls", &[])
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    let row = reader
        .query_one(
            "SELECT question, hide_results, closes_at IS NOT NULL FROM polls WHERE id = $1",
            &[&POLL],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Tea or coffee?");
    assert!(row.get::<_, bool>(1) && row.get::<_, bool>(2));
}

#[tokio::test]
async fn polls_past_their_closing_time_close_once_and_a_reopen_drops_the_time() {
    let (mut client, _database) = database().await;
    let mut expired = create(1);
    expired.entry.new_poll.closes_at = Some(1_000);
    apply_entries(
        &mut client,
        &Batch {
            creates: vec![expired],
            ..Batch::default()
        },
    )
    .await
    .unwrap();
    let (_, version) = open_and_version(&client).await;
    assert_eq!(close_expired(&client).await.unwrap(), [POLL]);
    assert_eq!(open_and_version(&client).await, (false, version + 1));
    assert!(
        close_expired(&client).await.unwrap().is_empty(),
        "only once"
    );

    let mut reopen = status(50, true);
    reopen.entry.at_ms = 2_000;
    apply_entries(
        &mut client,
        &Batch {
            statuses: vec![reopen],
            ..Batch::default()
        },
    )
    .await
    .unwrap();
    assert!(open_and_version(&client).await.0);
    let definitions = load_definitions(&client, Some(&[POLL])).await.unwrap();
    assert_eq!(
        definitions[0].closes_at, None,
        "the passed closing time is gone"
    );
    assert!(definitions[0].is_open_at(u64::MAX));
    assert!(close_expired(&client).await.unwrap().is_empty());
}
