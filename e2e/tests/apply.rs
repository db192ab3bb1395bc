//! The worker's batch application against a real Postgres: redelivery changes nothing,
//! order by stream id decides, multiple-choice ballots are replaced whole, and
//! entries that can never apply are rejected rather than blocking the queue.

use std::collections::BTreeMap;

use tally_model::{EntryId, VoteEntry};
use tally_testkit::shared_postgres;
use tally_worker::apply::{apply_batch, StreamVote};
use tally_worker::migrate::migrate;
use tally_worker::polls::{ensure_default_poll, DefaultPoll};

async fn prepared_database() -> tokio_postgres::Client {
    let database = shared_postgres().fresh_database().await;
    let (mut client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .expect("connect");
    tokio::spawn(connection);
    migrate(&mut client).await.expect("migrate");
    let poll = DefaultPoll {
        question: "Cats vs Dogs".into(),
        option_a: "Cats".into(),
        option_b: "Dogs".into(),
    };
    ensure_default_poll(&mut client, &poll)
        .await
        .expect("default poll");
    client
}

fn vote(ms: u64, voter: &str, options: &[&str]) -> StreamVote {
    vote_in("default", ms, voter, options)
}

fn vote_in(poll: &str, ms: u64, voter: &str, options: &[&str]) -> StreamVote {
    StreamVote {
        id: EntryId { ms, seq: 0 },
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

async fn tallies(client: &tokio_postgres::Client, poll: &str) -> BTreeMap<String, i64> {
    client
        .query(
            "SELECT option_id, votes FROM tallies WHERE poll_id = $1",
            &[&poll],
        )
        .await
        .expect("tallies")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test]
async fn the_same_batch_applied_twice_counts_once() {
    let mut client = prepared_database().await;
    let batch = [
        vote(1, "alice", &["a"]),
        vote(2, "bob", &["b"]),
        vote(3, "carol", &["a"]),
    ];
    let first = apply_batch(&mut client, &batch).await.expect("first");
    assert_eq!(first.created, 3);
    let second = apply_batch(&mut client, &batch).await.expect("second");
    assert_eq!(
        (second.created, second.replaced, second.unchanged),
        (0, 0, 3)
    );
    assert_eq!(
        tallies(&client, "default").await,
        counts(&[("a", 2), ("b", 1)])
    );
    let ballots: i64 = client
        .query_one("SELECT ballots FROM polls WHERE id = 'default'", &[])
        .await
        .expect("ballots")
        .get(0);
    assert_eq!(ballots, 3);
}

#[tokio::test]
async fn an_older_entry_never_overwrites_a_newer_one() {
    let mut client = prepared_database().await;
    apply_batch(&mut client, &[vote(10, "alice", &["b"])])
        .await
        .expect("newer");
    let late = apply_batch(&mut client, &[vote(5, "alice", &["a"])])
        .await
        .expect("older");
    assert_eq!(late.unchanged, 1);
    assert_eq!(
        tallies(&client, "default").await,
        counts(&[("a", 0), ("b", 1)])
    );

    // Within one batch too, whatever the order the entries come in.
    apply_batch(
        &mut client,
        &[vote(30, "bob", &["a"]), vote(20, "bob", &["b"])],
    )
    .await
    .expect("mixed");
    assert_eq!(
        tallies(&client, "default").await,
        counts(&[("a", 1), ("b", 1)])
    );

    // A newer entry does replace the ballot, moving one vote.
    let changed = apply_batch(&mut client, &[vote(40, "alice", &["a"])])
        .await
        .expect("change");
    assert_eq!(changed.replaced, 1);
    assert_eq!(
        tallies(&client, "default").await,
        counts(&[("a", 2), ("b", 0)])
    );
}

#[tokio::test]
async fn multiple_choice_ballots_are_replaced_whole() {
    let mut client = prepared_database().await;
    client
        .batch_execute(
            "INSERT INTO polls (id, question, choice) VALUES ('langs', 'Languages?', 'multiple');
             INSERT INTO poll_options VALUES ('langs','rust','Rust',0),('langs','go','Go',1),('langs','zig','Zig',2);
             INSERT INTO tallies (poll_id, option_id) VALUES ('langs','rust'),('langs','go'),('langs','zig');",
        )
        .await
        .expect("poll");
    apply_batch(
        &mut client,
        &[
            vote_in("langs", 1, "ann", &["rust", "go"]),
            vote_in("langs", 2, "ben", &["go"]),
        ],
    )
    .await
    .expect("first ballots");
    apply_batch(&mut client, &[vote_in("langs", 3, "ann", &["zig"])])
        .await
        .expect("change");
    assert_eq!(
        tallies(&client, "langs").await,
        counts(&[("go", 1), ("rust", 0), ("zig", 1)])
    );
}

#[tokio::test]
async fn entries_that_cannot_apply_are_rejected_and_the_rest_commit() {
    let mut client = prepared_database().await;
    let outcome = apply_batch(
        &mut client,
        &[
            vote(1, "alice", &["a"]),
            vote(2, "bob", &["z"]),
            vote_in("nope", 3, "carol", &["a"]),
            vote(4, "dan", &["a", "b"]),
        ],
    )
    .await
    .expect("batch");
    let rejected: Vec<u64> = outcome.rejected.iter().map(|(id, _)| id.ms).collect();
    assert_eq!(rejected, [2, 3, 4]);
    assert_eq!(outcome.created, 1);
    assert_eq!(
        tallies(&client, "default").await,
        counts(&[("a", 1), ("b", 0)])
    );
}

#[tokio::test]
async fn migrations_are_safe_to_run_concurrently_and_again() {
    let database = shared_postgres().fresh_database().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let url = database.worker_url();
        tasks.spawn(async move {
            let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            migrate(&mut client).await.expect("migrate")
        });
    }
    let mut applied = 0;
    while let Some(count) = tasks.join_next().await {
        applied += count.expect("task");
    }
    assert_eq!(
        applied,
        tally_worker::migrate::MIGRATIONS.len(),
        "each migration applied once"
    );
}

#[tokio::test]
async fn the_result_role_can_read_counts_but_not_write_or_see_ballots() {
    let database = shared_postgres().fresh_database().await;
    let (mut owner, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .expect("owner");
    tokio::spawn(connection);
    migrate(&mut owner).await.expect("migrate");
    let (reader, connection) =
        tokio_postgres::connect(&database.reader_url(), tokio_postgres::NoTls)
            .await
            .expect("reader");
    tokio::spawn(connection);
    reader
        .query("SELECT * FROM tallies", &[])
        .await
        .expect("reader reads tallies");
    let write = reader
        .execute("UPDATE tallies SET votes = votes + 1", &[])
        .await;
    assert!(write.is_err(), "reader must not write");
    let ballots = reader.query("SELECT * FROM ballots", &[]).await;
    assert!(ballots.is_err(), "reader must not read ballots");
}
