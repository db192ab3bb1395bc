//! Workers that die: after committing but before acknowledging, before committing, or
//! killed mid-stream. Another worker claims what they left, and nothing is lost or
//! counted twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::StatusCode;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;
use tally_e2e::{Client, Stack};
use tally_model::keys::CONSUMER_GROUP;
use tally_worker::apply::apply_batch;
use tally_worker::consume::decode;
use tally_worker::stream::RawEntry;

/// Idle time after which the surviving worker claims a dead one's entries: short, for the test.
const CLAIM_IDLE: &str = "300ms";

/// Casts one vote per voter (`voters` voters) through the edge; returns the expected counts.
async fn cast(stack: &Stack, voters: usize) -> BTreeMap<String, i64> {
    let mut expected = BTreeMap::from([("a".to_owned(), 0), ("b".to_owned(), 0)]);
    for index in 0..voters {
        let option = if index % 3 == 0 { "b" } else { "a" };
        let reply = Client::new(stack.edge()).vote_json("default", option).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        *expected.get_mut(option).expect("option") += 1;
    }
    expected
}

/// Reads every new entry as a consumer that will never acknowledge them.
async fn read_as_doomed_consumer(stack: &Stack) -> Vec<RawEntry> {
    let options = StreamReadOptions::default()
        .group(CONSUMER_GROUP, "doomed")
        .count(10_000);
    let reply: StreamReadReply = stack
        .redis()
        .await
        .xread_options(&[stack.keys.vote_stream()], &[">"], &options)
        .await
        .expect("XREADGROUP");
    reply
        .keys
        .into_iter()
        .flat_map(|key| key.ids)
        .map(RawEntry::from)
        .collect()
}

async fn assert_exact(stack: &Stack, expected: &BTreeMap<String, i64>) {
    stack.wait_drained().await;
    assert_eq!(&stack.tallies("default").await, expected, "tallies");
    let recount = stack.recount("default").await;
    for (option, votes) in expected {
        assert_eq!(
            recount.get(option).copied().unwrap_or(0),
            *votes,
            "recount of {option}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_died_after_commit_before_ack_counts_nothing_twice() {
    let mut stack = Stack::builder().without_worker().start().await;
    let expected = cast(&stack, 60).await;

    let entries = read_as_doomed_consumer(&stack).await;
    assert_eq!(entries.len(), 60);
    let (votes, malformed) = decode(&entries);
    assert!(malformed.is_empty());
    let mut client = stack.postgres().await;
    apply_batch(&mut client, &votes)
        .await
        .expect("the doomed worker commits");
    // ...and dies here, before XACK: all 60 entries stay pending.
    assert_eq!(stack.backlog().await, Some(60));

    let survivor = stack.start_worker(&["--claim-idle", CLAIM_IDLE]).await;
    stack.workers.push(survivor);
    assert_exact(&stack, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_died_before_commit_has_its_entries_claimed_and_counted_once() {
    let mut stack = Stack::builder().without_worker().start().await;
    let expected = cast(&stack, 60).await;
    let entries = read_as_doomed_consumer(&stack).await;
    assert_eq!(
        entries.len(),
        60,
        "the doomed worker took them all, then died"
    );

    let survivor = stack.start_worker(&["--claim-idle", CLAIM_IDLE]).await;
    stack.workers.push(survivor);
    assert_exact(&stack, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_stream_loses_nothing() {
    let mut stack = Stack::builder()
        .worker_arg("--claim-idle", CLAIM_IDLE)
        .worker_arg("--batch-size", "7")
        .start()
        .await;
    let voters: Vec<Arc<Client>> = (0..40)
        .map(|_| Arc::new(Client::new(stack.edge())))
        .collect();
    let mut expected = BTreeMap::from([("a".to_owned(), 0), ("b".to_owned(), 0)]);
    let mut last = vec![""; voters.len()];
    for round in 0..6 {
        if round == 3 {
            stack.workers.remove(0).kill();
            let replacement = stack.start_worker(&[]).await;
            stack.workers.push(replacement);
        }
        for (index, voter) in voters.iter().enumerate() {
            let option = if (index + round) % 2 == 0 { "a" } else { "b" };
            assert_eq!(
                voter.vote_json("default", option).await.status,
                StatusCode::ACCEPTED
            );
            last[index] = option;
        }
    }
    for option in last {
        *expected.get_mut(option).expect("option") += 1;
    }
    assert_exact(&stack, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_entry_is_dead_lettered_and_does_not_block_the_queue() {
    let stack = Stack::builder().start().await;
    let mut redis = stack.redis().await;
    let _: String = redis
        .xadd(
            stack.keys.vote_stream(),
            "*",
            &[("kind", "vote"), ("poll", "default")],
        )
        .await
        .expect("XADD a malformed entry");
    let expected = cast(&stack, 10).await;
    assert_exact(&stack, &expected).await;
    let dead: Vec<redis::streams::StreamId> = {
        let reply: redis::streams::StreamRangeReply = redis
            .xrange_all(stack.keys.dead_letter_stream())
            .await
            .expect("XRANGE");
        reply.ids
    };
    assert_eq!(dead.len(), 1);
    let reason: String = dead[0].get("reason").expect("reason");
    assert!(reason.contains("vote_id"), "{reason}");
}
