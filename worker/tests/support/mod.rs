//! What the worker's event tests share: a migrated database, an event of three
//! questions, and stream entries built by their time.

#![allow(clippy::unwrap_used, dead_code)]

use tally_model::admin_token::hash_token;
use tally_model::event_entry::NewQuestion;
use tally_model::{
    Choice, EntryId, EventAction, EventCommandEntry, EventCreateEntry, EventDefinition, NewPoll,
    VoteEntry,
};
use tally_testkit::shared_postgres;
use tally_worker::apply::{apply_entries, Batch, BatchOutcome, StreamVote};
use tally_worker::events::{load_event_definitions, StreamEventCommand, StreamEventCreate};
use tally_worker::migrate::migrate;

pub(crate) const EVENT: &str = "eV3nt00001";
pub(crate) const CODE: &str = "20261205";
pub(crate) const QUESTIONS: [&str; 3] = ["Qu3st10n01", "Qu3st10n02", "Qu3st10n03"];

pub(crate) async fn database() -> (tokio_postgres::Client, tally_testkit::TestDatabase) {
    let database = shared_postgres().fresh_database().await;
    let (mut client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    migrate(&mut client).await.unwrap();
    (client, database)
}

pub(crate) fn id(ms: u64) -> EntryId {
    EntryId { ms, seq: 0 }
}

pub(crate) fn create_event(ms: u64, event: &str, code: &str, polls: &[&str]) -> StreamEventCreate {
    StreamEventCreate {
        id: id(ms),
        entry: EventCreateEntry {
            event: event.into(),
            code: code.into(),
            title: "All hands".into(),
            owner_hash: hash_token("owner"),
            questions: polls
                .iter()
                .enumerate()
                .map(|(index, poll)| NewQuestion {
                    poll: (*poll).into(),
                    new_poll: NewPoll {
                        question: format!("Question {}?", index + 1),
                        choice: if index == 1 {
                            Choice::Multiple
                        } else {
                            Choice::Single
                        },
                        labels: vec!["Red".into(), "Green".into(), "Blue".into()],
                        closes_at: None,
                        hide_results: false,
                        scale: None,
                        words: None,
                        identity: tally_model::Identity::Browser,
                        voter_codes: 0,
                    },
                })
                .collect(),
            at_ms: ms,
            blocked_words: Vec::new(),
            identity: tally_model::Identity::Browser,
            passcode_hash: None,
            code_hashes: Vec::new(),
        },
    }
}

pub(crate) fn command(ms: u64, action: EventAction) -> StreamEventCommand {
    StreamEventCommand {
        id: id(ms),
        entry: EventCommandEntry {
            event: EVENT.into(),
            action,
            at_ms: ms,
        },
    }
}

pub(crate) fn vote(ms: u64, poll: &str, voter: &str, options: &[&str]) -> StreamVote {
    StreamVote {
        id: id(ms),
        entry: VoteEntry {
            vote_id: format!("v{ms}"),
            poll: poll.into(),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            voter: voter.into(),
            at_ms: ms,
            words: false,
        },
    }
}

pub(crate) async fn apply(client: &mut tokio_postgres::Client, batch: Batch) -> BatchOutcome {
    apply_entries(client, &batch).await.unwrap()
}

pub(crate) async fn commands(
    client: &mut tokio_postgres::Client,
    list: Vec<StreamEventCommand>,
) -> BatchOutcome {
    apply(
        client,
        Batch {
            event_commands: list,
            ..Batch::default()
        },
    )
    .await
}

pub(crate) async fn event(client: &tokio_postgres::Client) -> EventDefinition {
    let mut events = load_event_definitions(client, Some(&[EVENT]))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    events.remove(0)
}

pub(crate) async fn created(client: &mut tokio_postgres::Client) {
    let outcome = apply(
        client,
        Batch {
            event_creates: vec![create_event(1, EVENT, CODE, &QUESTIONS)],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!(outcome.events_created, 1);
}

/// A `show` by position only, as entries written before questions could move.
pub(crate) fn show(position: usize) -> EventAction {
    EventAction::Show {
        position,
        poll: None,
    }
}
