//! Events in the batch transaction against a real Postgres (and their Redis copies
//! against a real Redis): a creation makes the event and its questions once; presenter
//! commands follow stream order per field, whatever the delivery order; revealing and
//! hiding moves every question's `hide_results`; participants are counted once each;
//! tallies equal a recount; a word cloud follows changed answers across batches and a
//! block list changed later; the reader role cannot see the owner's hash.

#![allow(clippy::unwrap_used)]

use tally_model::words::Words;
use tally_model::{Choice, EventAction, EventDefinition, Keys};
use tally_testkit::{shared_redis, unique_prefix};
use tally_worker::apply::{Batch, StreamVote};
use tally_worker::polls::{load_definitions, RedisCopies};

mod support;

use support::*;

#[tokio::test]
async fn a_creation_makes_the_event_and_its_questions_once() {
    let (mut client, _database) = database().await;
    let creation = create_event(1, EVENT, CODE, &QUESTIONS);
    let outcome = apply(
        &mut client,
        Batch {
            event_creates: vec![creation.clone()],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!(outcome.events_created, 1);
    assert_eq!(outcome.changed_events, [EVENT]);
    assert_eq!(outcome.redefined_polls, QUESTIONS);

    let definition = event(&client).await;
    let mut expected = creation.entry.definition();
    expected.version = 0;
    assert_eq!(definition, expected);

    let polls = load_definitions(&client, Some(&QUESTIONS)).await.unwrap();
    assert_eq!(polls, creation.entry.poll_definitions());

    let again = apply(
        &mut client,
        Batch {
            event_creates: vec![creation],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!((again.events_created, again.unchanged), (0, 1));
    assert!(again.changed_events.is_empty() && again.rejected.is_empty());
}

#[tokio::test]
async fn a_code_or_a_question_id_held_elsewhere_refuses_the_creation() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    let same_code = create_event(2, "an0therEv1", CODE, &["Qu3st10n09"]);
    let same_poll = create_event(3, "an0therEv2", "11112222", &["Qu3st10n01"]);
    let outcome = apply(
        &mut client,
        Batch {
            event_creates: vec![same_code, same_poll],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!(outcome.events_created, 0);
    let reasons: Vec<(u64, &str)> = outcome
        .rejected
        .iter()
        .map(|(id, reason)| (id.ms, reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (2, "join code 20261205 is held by another event"),
            (3, "a question's poll id is taken")
        ]
    );
    let polls: i64 = client
        .query_one("SELECT count(*) FROM polls WHERE event_id IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(polls, 3, "nothing of the refused events was written");
}

#[tokio::test]
async fn each_field_follows_stream_order_whatever_the_delivery_order() {
    let (mut client, _database) = database().await;
    created(&mut client).await;

    // Shown 2 (entry 30) is delivered before show 1 (entry 20): 2 stays.
    commands(&mut client, vec![command(30, show(2))]).await;
    let late = commands(&mut client, vec![command(20, show(1))]).await;
    assert_eq!(late.unchanged, 1);
    assert!(late.changed_events.is_empty());
    assert_eq!(event(&client).await.current, Some(2));

    // A lock older than the latest show still applies: another field.
    let lock = commands(&mut client, vec![command(25, EventAction::Lock)]).await;
    assert_eq!(lock.changed_events, [EVENT]);
    let state = event(&client).await;
    assert!(state.locked);
    assert_eq!(state.current, Some(2));

    // In one batch, stream order decides: unlock (41) then lock (40) leaves it unlocked.
    commands(
        &mut client,
        vec![
            command(41, EventAction::Unlock),
            command(40, EventAction::Lock),
        ],
    )
    .await;
    assert!(!event(&client).await.locked);

    // Redelivery changes nothing, and the version moves only with changes.
    let version = event(&client).await.version;
    let redelivered = commands(&mut client, vec![command(41, EventAction::Unlock)]).await;
    assert_eq!(redelivered.unchanged, 1);
    assert_eq!(event(&client).await.version, version);
}

#[tokio::test]
async fn hiding_and_revealing_set_every_questions_results() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    let hidden = commands(&mut client, vec![command(10, EventAction::Hide)]).await;
    assert_eq!(hidden.redefined_polls, QUESTIONS);
    assert_eq!(hidden.changed_polls, QUESTIONS);
    let polls = load_definitions(&client, Some(&QUESTIONS)).await.unwrap();
    assert!(polls.iter().all(|p| p.hide_results));
    assert!(!event(&client).await.results_visible);

    let overtaken = commands(&mut client, vec![command(5, EventAction::Reveal)]).await;
    assert_eq!(overtaken.unchanged, 1);
    assert!(overtaken.changed_polls.is_empty());

    commands(&mut client, vec![command(11, EventAction::Reveal)]).await;
    let polls = load_definitions(&client, Some(&QUESTIONS)).await.unwrap();
    assert!(polls.iter().all(|p| !p.hide_results));
    assert!(event(&client).await.results_visible);
}

#[tokio::test]
async fn commands_about_missing_events_or_questions_are_rejected() {
    let (mut client, _database) = database().await;
    let nothing = commands(&mut client, vec![command(1, EventAction::Lock)]).await;
    assert_eq!(nothing.rejected.len(), 1);
    assert!(nothing.rejected[0].1.contains("no event"));
    created(&mut client).await;
    let past_the_end = commands(&mut client, vec![command(2, show(3))]).await;
    assert_eq!(
        past_the_end.rejected,
        [(id(2), "event has no question at position 3".to_owned())]
    );
    assert_eq!(event(&client).await.current, None);
}

#[tokio::test]
async fn participants_are_counted_once_and_tallies_equal_a_recount() {
    let (mut client, _database) = database().await;
    // The creation and the first ballots in one batch: the ballots find their polls.
    let outcome = apply(
        &mut client,
        Batch {
            event_creates: vec![create_event(1, EVENT, CODE, &QUESTIONS)],
            votes: vec![
                vote(2, QUESTIONS[0], "ann", &["a"]),
                vote(3, QUESTIONS[0], "bob", &["b"]),
            ],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!((outcome.created, outcome.rejected.len()), (2, 0));
    assert_eq!(event(&client).await.participants, 2);

    let votes = vec![
        vote(4, QUESTIONS[1], "ann", &["a", "c"]),
        vote(5, QUESTIONS[1], "cat", &["b"]),
        vote(6, QUESTIONS[0], "ann", &["c"]),
        vote(3, QUESTIONS[0], "bob", &["b"]),
    ];
    let outcome = apply(
        &mut client,
        Batch {
            votes: votes.clone(),
            ..Batch::default()
        },
    )
    .await;
    assert_eq!(outcome.changed_events, [EVENT]);
    assert_eq!(event(&client).await.participants, 3, "ann, bob and cat");

    let version = event(&client).await.version;
    let again = apply(
        &mut client,
        Batch {
            votes,
            ..Batch::default()
        },
    )
    .await;
    assert!(again.changed_events.is_empty());
    assert_eq!(event(&client).await.version, version);

    let mismatches: i64 = client
        .query_one(
            "SELECT count(*) FROM tallies t
               JOIN polls p ON p.id = t.poll_id
              WHERE p.event_id = $1
                AND t.votes <> (SELECT count(*) FROM ballots b
                                 WHERE b.poll_id = t.poll_id AND t.option_id = ANY(b.options))",
            &[&EVENT],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(mismatches, 0, "every tally equals a recount of its ballots");
    let first: Vec<(String, i64)> = client
        .query(
            "SELECT option_id, votes FROM tallies WHERE poll_id = $1 ORDER BY option_id",
            &[&QUESTIONS[0]],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        first,
        [("a".into(), 0), ("b".into(), 1), ("c".into(), 1)],
        "ann changed her ballot from a to c"
    );
}

#[tokio::test]
async fn the_reader_role_sees_events_but_not_the_owner_hash_nor_voters() {
    let (mut client, database) = database().await;
    created(&mut client).await;
    let (reader, connection) =
        tokio_postgres::connect(&database.reader_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    for forbidden in [
        "SELECT owner_hash FROM events",
        "SELECT voter FROM event_participants",
    ] {
        let error = reader.query(forbidden, &[]).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{forbidden}"
        );
    }
    let row = reader
        .query_one(
            "SELECT e.code, count(p.id) FROM events e JOIN polls p ON p.event_id = e.id
              GROUP BY e.code",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, i64>(1)),
        (CODE.to_owned(), 3)
    );
}

#[tokio::test]
async fn the_redis_copy_never_goes_back_to_an_older_version() {
    let keys = Keys::new(unique_prefix());
    let client = redis::Client::open(shared_redis().url()).unwrap();
    let manager = redis::aio::ConnectionManager::new(client.clone())
        .await
        .unwrap();
    let copies = RedisCopies::new(manager, keys.clone());
    let mut definition = create_event(1, EVENT, CODE, &QUESTIONS).entry.definition();
    definition.version = 5;
    definition.current = Some(1);
    copies
        .write_events(std::slice::from_ref(&definition), true)
        .await
        .unwrap();
    let mut older = definition.clone();
    older.version = 4;
    older.current = Some(0);
    copies.write_events(&[older], true).await.unwrap();

    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let body: String = redis::cmd("HGET")
        .arg(keys.event_definition(EVENT))
        .arg("body")
        .query_async(&mut redis)
        .await
        .unwrap();
    let stored: EventDefinition = serde_json::from_str(&body).unwrap();
    assert_eq!(stored, definition);
    let event: String = redis::cmd("GET")
        .arg(keys.event_code(CODE))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(event, EVENT);
}

fn answers(ms: u64, voter: &str, words: &[&str]) -> StreamVote {
    let mut ballot = vote(ms, QUESTIONS[2], voter, words);
    ballot.entry.words = true;
    ballot
}

async fn cloud(client: &tokio_postgres::Client) -> Vec<(String, i64)> {
    client
        .query(
            "SELECT word, votes FROM word_tallies WHERE poll_id = $1 ORDER BY word",
            &[&QUESTIONS[2]],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test]
async fn a_word_cloud_follows_changed_answers_and_a_later_block_list() {
    let (mut client, _database) = database().await;
    let mut creation = create_event(1, EVENT, CODE, &QUESTIONS);
    let words = &mut creation.entry.questions[2].new_poll;
    words.choice = Choice::Words;
    words.labels.clear();
    words.words = Some(Words::default());
    let outcome = apply(
        &mut client,
        Batch {
            event_creates: vec![creation],
            votes: vec![
                answers(2, "ann", &["cats", "dogs"]),
                answers(3, "bob", &["cats"]),
            ],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!((outcome.created, outcome.rejected.len()), (2, 0));
    assert_eq!(
        cloud(&client).await,
        [("cats".into(), 2), ("dogs".into(), 1)]
    );

    // In a later batch both change their minds: an answer loses votes it was counted
    // with (a negative change), one gains, one is new.
    let outcome = apply(
        &mut client,
        Batch {
            votes: vec![
                answers(4, "ann", &["dogs", "owls"]),
                answers(5, "bob", &["dogs"]),
            ],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!((outcome.replaced, outcome.rejected.len()), (2, 0));
    assert_eq!(
        cloud(&client).await,
        [("cats".into(), 0), ("dogs".into(), 2), ("owls".into(), 1)]
    );

    // The owner blocks "owls"; an older list arriving late does not undo it. A ballot
    // the vote service accepted before the block is still counted by the worker.
    let block = |ms, list: &[&str]| {
        command(
            ms,
            EventAction::BlockWords(list.iter().map(|w| (*w).to_owned()).collect()),
        )
    };
    let outcome = commands(&mut client, vec![block(7, &["owls"]), block(6, &["cats"])]).await;
    assert!(outcome.redefined_polls.contains(&QUESTIONS[2].to_owned()));
    assert_eq!(event(&client).await.blocked_words, ["owls"]);
    let outcome = apply(
        &mut client,
        Batch {
            votes: vec![answers(6, "cat", &["owls"])],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!((outcome.created, outcome.rejected.len()), (1, 0));
    assert_eq!(
        cloud(&client).await,
        [("cats".into(), 0), ("dogs".into(), 2), ("owls".into(), 2)]
    );
}
