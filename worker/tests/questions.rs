//! Changes to an event's questions in the batch transaction, against a real Postgres:
//! added, replaced, removed and reordered questions keep positions 0, 1, 2…, the
//! question shown stays shown wherever it moves, a question the room has seen never
//! changes, every change is applied once whatever the delivery order, and a code
//! event's codes hold on each of its questions.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;
use tally_model::event::MAX_EVENT_QUESTIONS;
use tally_model::event_entry::NewQuestion;
use tally_model::voter_code::hash_code;
use tally_model::{Choice, EventAction, Identity, NewPoll};
use tally_worker::apply::Batch;
use tally_worker::polls::load_definitions;

fn new_question(poll: &str, text: &str) -> NewQuestion {
    NewQuestion {
        poll: poll.into(),
        new_poll: NewPoll {
            question: text.into(),
            choice: Choice::Single,
            labels: vec!["Tea".into(), "Coffee".into()],
            closes_at: None,
            hide_results: false,
            scale: None,
            words: None,
            identity: Default::default(),
            voter_codes: 0,
        },
    }
}

fn show_poll(poll: &str) -> EventAction {
    EventAction::Show {
        position: 0,
        poll: Some(poll.into()),
    }
}

/// The event's questions' polls in order.
async fn order(client: &tokio_postgres::Client) -> Vec<String> {
    event(client)
        .await
        .questions
        .into_iter()
        .map(|question| question.poll)
        .collect()
}

/// The shown question's poll, as the definition says.
async fn current_poll(client: &tokio_postgres::Client) -> Option<String> {
    event(client).await.current_poll().map(str::to_owned)
}

#[tokio::test]
async fn an_added_question_comes_last_once_and_takes_the_events_state() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    commands(&mut client, vec![command(5, EventAction::Hide)]).await;
    let add = command(
        10,
        EventAction::AddQuestion(new_question("Add3d00001", "Tea?")),
    );
    let outcome = commands(&mut client, vec![add.clone()]).await;
    assert_eq!(outcome.changed_events, [EVENT]);
    assert!(outcome.redefined_polls.contains(&"Add3d00001".to_owned()));
    assert_eq!(order(&client).await[3], "Add3d00001");
    let polls = load_definitions(&client, Some(&["Add3d00001"]))
        .await
        .unwrap();
    assert!(
        polls[0].hide_results,
        "counts hidden like the event's others"
    );
    assert_eq!(polls[0].event.as_deref(), Some(EVENT));
    assert_eq!(
        polls[0].identity,
        tally_model::Identity::Browser,
        "the event's identity, though the entry names none"
    );

    let version = event(&client).await.version;
    let again = commands(&mut client, vec![add]).await;
    assert_eq!((again.unchanged, again.rejected.len()), (1, 0));
    assert_eq!(event(&client).await.version, version);
    assert_eq!(order(&client).await.len(), 4);

    let more: Vec<_> = (4..=MAX_EVENT_QUESTIONS)
        .map(|i| {
            let poll = format!("Add3d{i:05}");
            command(
                100 + i as u64,
                EventAction::AddQuestion(new_question(&poll, "More?")),
            )
        })
        .collect();
    let outcome = commands(&mut client, more).await;
    assert_eq!(order(&client).await.len(), MAX_EVENT_QUESTIONS);
    assert_eq!(outcome.rejected.len(), 1, "the 31st is refused");
    assert!(outcome.rejected[0].1.contains("the most it may have"));
}

#[tokio::test]
async fn a_code_events_questions_take_its_codes_also_one_added_later() {
    let (mut client, _database) = database().await;
    let mut create = create_event(1, EVENT, CODE, &QUESTIONS);
    create.entry.identity = Identity::Code;
    create.entry.code_hashes = ["K7P2Q9XQ4B", "M3N8R1T6VW"]
        .iter()
        .map(|code| hash_code(EVENT, code))
        .collect();
    for question in &mut create.entry.questions {
        question.new_poll.identity = Identity::Code;
        question.new_poll.voter_codes = 2;
    }
    let outcome = apply(
        &mut client,
        Batch {
            event_creates: vec![create],
            ..Batch::default()
        },
    )
    .await;
    assert_eq!(outcome.events_created, 1);
    let add = command(
        10,
        EventAction::AddQuestion(new_question("Add3d00001", "Tea?")),
    );
    commands(&mut client, vec![add]).await;
    let polls: Vec<&str> = QUESTIONS.iter().copied().chain(["Add3d00001"]).collect();
    let definitions = load_definitions(&client, Some(&polls)).await.unwrap();
    assert_eq!(definitions.len(), polls.len());
    for definition in definitions {
        assert_eq!(definition.identity, Identity::Code, "{}", definition.id);
        assert_eq!(definition.voter_code_hashes.len(), 2, "{}", definition.id);
        assert!(
            definition.voter_code("m3n8r-1t6vw").is_some(),
            "{}",
            definition.id
        );
        assert!(definition.voter_code("K7P2Q9XQ4C").is_none());
    }
}

#[tokio::test]
async fn a_replaced_question_takes_the_old_ones_place_and_never_comes_back() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    let replace = command(
        10,
        EventAction::ReplaceQuestion {
            old: QUESTIONS[1].into(),
            new: new_question("R3placed01", "Tea or coffee?"),
        },
    );
    let outcome = commands(&mut client, vec![replace.clone()]).await;
    assert_eq!(outcome.removed_polls, [QUESTIONS[1]]);
    assert_eq!(
        order(&client).await,
        [QUESTIONS[0], "R3placed01", QUESTIONS[2]]
    );
    assert_eq!(event(&client).await.questions[1].question, "Tea or coffee?");
    let gone: i64 = client
        .query_one(
            "SELECT count(*) FROM poll_options WHERE poll_id = $1",
            &[&QUESTIONS[1]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(gone, 0, "the old poll's options went with it");

    let again = commands(&mut client, vec![replace]).await;
    assert_eq!((again.unchanged, again.rejected.len()), (1, 0));
    // The old question's creation cannot be redelivered as an addition either.
    let back = command(
        11,
        EventAction::AddQuestion(new_question(QUESTIONS[1], "Back?")),
    );
    assert_eq!(commands(&mut client, vec![back]).await.unchanged, 1);
    assert_eq!(order(&client).await.len(), 3);
}

#[tokio::test]
async fn a_question_the_room_has_seen_is_never_replaced_or_removed() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    let outcome = commands(&mut client, vec![command(10, show_poll(QUESTIONS[2]))]).await;
    assert_eq!(outcome.changed_events, [EVENT]);
    assert_eq!(current_poll(&client).await.as_deref(), Some(QUESTIONS[2]));
    assert!(event(&client).await.questions[2].shown);
    // Moving on leaves it seen.
    commands(&mut client, vec![command(11, show(0))]).await;
    let outcome = commands(
        &mut client,
        vec![
            command(
                12,
                EventAction::ReplaceQuestion {
                    old: QUESTIONS[2].into(),
                    new: new_question("R3placed01", "Other?"),
                },
            ),
            command(13, EventAction::RemoveQuestion(QUESTIONS[2].into())),
            command(14, EventAction::RemoveQuestion(QUESTIONS[0].into())),
        ],
    )
    .await;
    let reasons: Vec<&str> = outcome.rejected.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons
        .iter()
        .all(|reason| reason.contains("has been shown to the room")));
    assert_eq!(order(&client).await, QUESTIONS);
}

#[tokio::test]
async fn removing_renumbers_the_rest_and_the_shown_question_stays_shown() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    commands(&mut client, vec![command(10, show_poll(QUESTIONS[2]))]).await;
    let remove = command(11, EventAction::RemoveQuestion(QUESTIONS[1].into()));
    let outcome = commands(&mut client, vec![remove.clone()]).await;
    assert_eq!(outcome.removed_polls, [QUESTIONS[1]]);
    let state = event(&client).await;
    assert_eq!(order(&client).await, [QUESTIONS[0], QUESTIONS[2]]);
    assert_eq!(state.current, Some(1));
    assert_eq!(current_poll(&client).await.as_deref(), Some(QUESTIONS[2]));

    assert_eq!(commands(&mut client, vec![remove]).await.unchanged, 1);
    let last = commands(
        &mut client,
        vec![command(
            12,
            EventAction::RemoveQuestion(QUESTIONS[0].into()),
        )],
    )
    .await;
    assert!(last.rejected.is_empty());
    let alone = commands(
        &mut client,
        vec![command(
            13,
            EventAction::RemoveQuestion(QUESTIONS[2].into()),
        )],
    )
    .await;
    assert_eq!(alone.rejected.len(), 1, "shown, and the last one too");
    assert_eq!(order(&client).await, [QUESTIONS[2]]);
}

#[tokio::test]
async fn the_latest_order_wins_and_the_shown_question_follows_it() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    commands(&mut client, vec![command(10, show_poll(QUESTIONS[0]))]).await;
    let newest = command(
        30,
        EventAction::Order(vec![QUESTIONS[2].into(), QUESTIONS[0].into()]),
    );
    let outcome = commands(&mut client, vec![newest]).await;
    assert_eq!(outcome.changed_events, [EVENT]);
    // The order did not name the second question: it follows the named ones.
    assert_eq!(
        order(&client).await,
        [QUESTIONS[2], QUESTIONS[0], QUESTIONS[1]]
    );
    assert_eq!(event(&client).await.current, Some(1));
    assert_eq!(current_poll(&client).await.as_deref(), Some(QUESTIONS[0]));

    // An older order delivered late changes nothing.
    let older = command(20, EventAction::Order(QUESTIONS.map(String::from).to_vec()));
    assert_eq!(commands(&mut client, vec![older]).await.unchanged, 1);
    assert_eq!(order(&client).await[0], QUESTIONS[2]);

    // A show asked by poll before the order moved still shows that question; one by
    // position only (an entry from before questions could move) goes by position.
    commands(&mut client, vec![command(31, show_poll(QUESTIONS[1]))]).await;
    assert_eq!(current_poll(&client).await.as_deref(), Some(QUESTIONS[1]));
    commands(&mut client, vec![command(32, show(0))]).await;
    assert_eq!(current_poll(&client).await.as_deref(), Some(QUESTIONS[2]));
    let missing = commands(&mut client, vec![command(33, show_poll("N0tHere001"))]).await;
    assert_eq!(missing.rejected.len(), 1);
}

#[tokio::test]
async fn changes_in_one_batch_apply_in_stream_order() {
    let (mut client, _database) = database().await;
    let outcome = apply(
        &mut client,
        Batch {
            event_creates: vec![create_event(1, EVENT, CODE, &QUESTIONS)],
            event_commands: vec![
                command(4, EventAction::RemoveQuestion("Add3d00001".into())),
                command(
                    3,
                    EventAction::AddQuestion(new_question("Add3d00001", "Tea?")),
                ),
                command(
                    2,
                    EventAction::Order(vec![QUESTIONS[1].into(), QUESTIONS[0].into()]),
                ),
            ],
            ..Batch::default()
        },
    )
    .await;
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(outcome.removed_polls, ["Add3d00001"]);
    assert!(
        !outcome.redefined_polls.contains(&"Add3d00001".to_owned()),
        "added and removed in one batch: nothing to copy"
    );
    assert_eq!(
        order(&client).await,
        [QUESTIONS[1], QUESTIONS[0], QUESTIONS[2]]
    );
}

#[tokio::test]
async fn an_order_or_a_show_asked_before_an_edit_goes_to_the_edited_question() {
    let (mut client, _database) = database().await;
    created(&mut client).await;
    let replace = EventAction::ReplaceQuestion {
        old: QUESTIONS[1].into(),
        new: new_question("R3placed01", "Fixed?"),
    };
    commands(&mut client, vec![command(10, replace)]).await;
    // Planned from the copy before the edit, committed after it.
    let stale_order = EventAction::Order(vec![
        QUESTIONS[2].into(),
        QUESTIONS[1].into(),
        QUESTIONS[0].into(),
    ]);
    let outcome = commands(&mut client, vec![command(11, stale_order)]).await;
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(
        order(&client).await,
        [QUESTIONS[2], "R3placed01", QUESTIONS[0]]
    );
    let outcome = commands(&mut client, vec![command(12, show_poll(QUESTIONS[1]))]).await;
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(current_poll(&client).await.as_deref(), Some("R3placed01"));
    assert!(event(&client).await.questions[1].shown);
}

#[tokio::test]
async fn a_question_added_while_a_batch_takes_its_locks_is_locked_in_order() {
    let (mut client, database) = database().await;
    created(&mut client).await;
    let connect = || async {
        let (other, connection) =
            tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        other
    };
    // Another transaction holds a question's row, so the batch below waits for it after
    // reading the event's questions and before locking them.
    let mut holder = connect().await;
    let hold = holder.transaction().await.unwrap();
    hold.query(
        "SELECT 1 FROM polls WHERE id = $1 FOR NO KEY UPDATE",
        &[&QUESTIONS[0]],
    )
    .await
    .unwrap();
    let reveal = tokio::spawn(async move {
        let outcome = commands(&mut client, vec![command(10, EventAction::Hide)]).await;
        (client, outcome)
    });
    // Wait until the batch waits on that lock, then a question joins the event.
    let watcher = connect().await;
    tally_testkit::eventually(
        std::time::Duration::from_secs(10),
        "the batch waits",
        || async {
            let waiting: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                  WHERE wait_event_type = 'Lock' AND datname = current_database()",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            (waiting > 0).then_some(())
        },
    )
    .await;
    hold.execute(
        "INSERT INTO polls (id, question, choice, event_id, event_position)
         VALUES ('L4te000001', 'Late?', 'single', $1, 3)",
        &[&EVENT],
    )
    .await
    .unwrap();
    hold.commit().await.unwrap();
    let (client, outcome) = reveal.await.unwrap();
    assert_eq!(
        outcome.lock_set_retries, 1,
        "tried again with the late question"
    );
    let polls = load_definitions(&client, Some(&["L4te000001"]))
        .await
        .unwrap();
    assert!(
        polls[0].hide_results,
        "the late question's counts are hidden too"
    );
}
