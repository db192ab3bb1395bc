//! Back-pressure: when more votes wait than the high-water mark, new votes get 503 with
//! Retry-After instead of growing Redis without bound; once the worker catches up,
//! votes are accepted again.

use std::time::Duration;

use http::StatusCode;
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Stack};
use tally_testkit::eventually;

const HIGH_WATER: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_until_the_worker_catches_up() {
    let mut stack = Stack::builder()
        .without_worker()
        .vote_arg("--queue-high-water", &HIGH_WATER.to_string())
        .vote_arg("--backlog-interval", "20ms")
        .start()
        .await;
    for _ in 0..=HIGH_WATER {
        let reply = Client::new(stack.edge()).vote_json("default", "a").await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }
    let refused = eventually(WAIT, "the vote service notices the backlog", || async {
        let reply = Client::new(stack.edge()).vote_json("default", "b").await;
        (reply.status == StatusCode::SERVICE_UNAVAILABLE).then_some(reply)
    })
    .await;
    assert_eq!(refused.headers["retry-after"], "1");
    assert!(refused.error().contains("try again"), "{}", refused.error());

    let worker = stack.start_worker(&[]).await;
    stack.workers.push(worker);
    stack.wait_drained().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = eventually(WAIT, "votes are accepted again", || async {
        let reply = Client::new(stack.edge()).vote_json("default", "b").await;
        (reply.status == StatusCode::ACCEPTED).then_some(reply)
    })
    .await;
    assert_eq!(reply.json()["status"], "queued");
    stack.wait_drained().await;
    let tallies = stack.tallies("default").await;
    assert_eq!(
        tallies["a"],
        HIGH_WATER as i64 + 1,
        "every accepted vote counted"
    );
    assert!(tallies["b"] >= 1, "{tallies:?}");
}
