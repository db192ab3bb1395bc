//! Postgres and Redis going away under load: every vote the service accepted is counted
//! once they return, and the services carry on by themselves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Stack};
use tally_testkit::{eventually, PostgresServer, RedisServer};

/// Votes from `voters` voters in a loop until `stop`; returns each voter's last
/// accepted option and how many votes were refused.
async fn vote_until(
    stack: &Stack,
    voters: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<Option<&'static str>>, usize) {
    let clients: Vec<Client> = (0..voters).map(|_| Client::new(stack.edge())).collect();
    let mut last = vec![None; voters];
    let mut refused = 0;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        for (index, client) in clients.iter().enumerate() {
            let option = if (index + round) % 3 == 0 { "b" } else { "a" };
            let reply = client.vote_json("default", option).await;
            match reply.status {
                StatusCode::ACCEPTED => last[index] = Some(option),
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(
                        reply.headers.contains_key("retry-after"),
                        "503 says when to retry"
                    );
                    refused += 1;
                }
                other => panic!("unexpected {other}: {:?}", reply.body),
            }
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (last, refused)
}

fn expected_counts(last: &[Option<&str>]) -> BTreeMap<String, i64> {
    let mut expected = BTreeMap::from([("a".to_owned(), 0), ("b".to_owned(), 0)]);
    for option in last.iter().flatten() {
        *expected.get_mut(*option).expect("option") += 1;
    }
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_accepted_while_postgres_is_down_are_counted_when_it_returns() {
    let postgres = PostgresServer::start();
    let stack = Stack::builder()
        .database(postgres.fresh_database().await)
        .start()
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let outage = {
        let (stop, postgres) = (stop.clone(), &postgres);
        async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            postgres.stop();
            tokio::time::sleep(Duration::from_secs(3)).await;
            postgres.restart();
            tokio::time::sleep(Duration::from_millis(700)).await;
            stop.store(true, Ordering::Relaxed);
        }
    };
    let ((last, refused), ()) = tokio::join!(vote_until(&stack, 20, stop.clone()), outage);
    assert_eq!(refused, 0, "votes do not depend on Postgres");
    let expected = expected_counts(&last);
    assert_eq!(expected.values().sum::<i64>(), 20);
    stack.wait_drained().await;
    assert_eq!(stack.tallies("default").await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_reconnect_after_redis_restarts() {
    let redis = RedisServer::start();
    let stack = Stack::builder().redis(redis.url()).start().await;
    let voter = Client::new(stack.edge());
    assert_eq!(
        voter.vote_json("default", "a").await.status,
        StatusCode::ACCEPTED
    );
    stack.wait_drained().await;

    redis.stop();
    let refused = voter.vote_json("default", "b").await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
    redis.restart();

    // The restarted Redis is empty: the worker writes the poll definitions and the
    // consumer group again, and the vote service's connection comes back by itself.
    let reply = eventually(WAIT, "votes are accepted again", || async {
        let reply = voter.vote_json("default", "b").await;
        (reply.status == StatusCode::ACCEPTED).then_some(reply)
    })
    .await;
    assert_eq!(reply.json()["status"], "queued");
    stack.wait_drained().await;
    assert_eq!(
        stack.tallies("default").await,
        BTreeMap::from([("a".to_owned(), 0), ("b".to_owned(), 1)]),
        "the voter's newer vote replaced the older one"
    );
    let results = Client::new(stack.edge());
    eventually(WAIT, "results served again", || async {
        let reply = results.get("/results").await;
        (reply.status == StatusCode::OK && reply.json()["options"][1]["votes"] == 1).then_some(())
    })
    .await;
}
