//! A vote's whole journey through the edge: many voters, many changed minds, and counts
//! that come out exact in the tallies, in a recount of the ballots, and in /results.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::StatusCode;
use rand::Rng;
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Stack};
use tally_testkit::eventually;

const VOTERS: usize = 100;
const VOTES_PER_VOTER: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_votes_from_a_hundred_voters_count_each_voters_last_choice() {
    let stack = Stack::builder().start().await;
    let voters: Vec<Arc<Client>> = (0..VOTERS)
        .map(|_| Arc::new(Client::new(stack.edge())))
        .collect();

    // Each voter votes ten times in sequence, all voters at once; half post the classic
    // form, half use the JSON API.
    let mut tasks = tokio::task::JoinSet::new();
    for (index, voter) in voters.iter().enumerate() {
        let voter = voter.clone();
        tasks.spawn(async move {
            let mut last = "";
            for _ in 0..VOTES_PER_VOTER {
                let option = if rand::rng().random_bool(0.5) {
                    "a"
                } else {
                    "b"
                };
                let reply = if index % 2 == 0 {
                    let reply = voter.vote_form(option).await;
                    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
                    assert_eq!(
                        reply.headers["location"],
                        format!("/#voted-{option}").as_str()
                    );
                    reply
                } else {
                    let reply = voter.vote_json("default", option).await;
                    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
                    assert_eq!(reply.json()["status"], "queued");
                    reply
                };
                assert!(reply.headers.contains_key("x-tally-replica"));
                last = option;
            }
            last
        });
    }
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    while let Some(last) = tasks.join_next().await {
        *expected
            .entry(last.expect("voter task").to_owned())
            .or_default() += 1;
    }
    for option in ["a", "b"] {
        expected.entry(option.to_owned()).or_default();
    }

    stack.wait_drained().await;
    assert_eq!(stack.tallies("default").await, expected, "tallies");
    let recount: BTreeMap<String, i64> = stack.recount("default").await;
    for (option, votes) in &expected {
        assert_eq!(
            recount.get(option).copied().unwrap_or(0),
            *votes,
            "recount of {option}"
        );
    }

    let reader = Client::new(stack.edge());
    let results = eventually(WAIT, "/results shows every ballot", || async {
        let reply = reader.get("/results").await;
        assert_eq!(reply.status, StatusCode::OK);
        let results = reply.json();
        (results["total"] == VOTERS as i64).then_some(results)
    })
    .await;
    assert_eq!(results["poll"], "default");
    assert_eq!(results["question"], "Cats vs Dogs");
    for option in results["options"].as_array().expect("options") {
        let id = option["id"].as_str().expect("id");
        assert_eq!(option["votes"], expected[id], "results for {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_serves_the_page_and_health_endpoints_answer() {
    let stack = Stack::builder().start().await;
    let client = Client::new(stack.edge());
    let page = client.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&page.body).contains("<form"),
        "index.html is served"
    );
    for service in [
        stack.edge(),
        stack.vote(),
        stack.result(),
        stack.workers[0].addr,
    ] {
        let client = Client::new(service);
        assert_eq!(
            client.get("/healthz").await.status,
            StatusCode::OK,
            "{service} healthz"
        );
        let ready = eventually(WAIT, "readyz", || async {
            let reply = client.get("/readyz").await;
            (reply.status == StatusCode::OK).then_some(reply)
        })
        .await;
        assert_eq!(ready.json()["status"], "ready");
    }
}
