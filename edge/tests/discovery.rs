//! Replicas found by DNS: the edge follows changed answers (new replicas used,
//! removed ones drained) and keeps the last good answer when lookups fail. The
//! resolver is scripted; the replicas are real servers on real ports.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use http::{Method, StatusCode};
use support::{client, get, send, wait_until, wait_until_checked, Edge, Replica, ScriptedDns};

const VOTE: &str = "vote.test:8081";
const RESULT: &str = "result.test:8082";

#[tokio::test]
async fn dns_changes_are_followed_and_removed_replicas_drained() {
    let old = Replica::start("old").await;
    let b = Replica::start("b").await;
    let c = Replica::start("c").await;
    let dns = ScriptedDns::default();
    dns.answer(VOTE, &[old.address]);
    dns.answer(RESULT, &[c.address]);
    let edge = Edge::start_named(
        VOTE,
        RESULT,
        &["--resolve-interval=50ms"],
        Arc::new(dns.clone()),
    )
    .await;

    // A request in flight on the replica about to disappear.
    let held = {
        let edge_client = client();
        let edge = Arc::new(edge);
        let in_flight = edge.clone();
        let request =
            tokio::spawn(
                async move { send(&edge_client, &in_flight, Method::GET, "/vote/hold").await },
            );
        wait_until("the held request reached the old replica", || async {
            old.received() == 1
        })
        .await;
        (edge, request)
    };
    let (edge, request) = held;

    dns.answer(VOTE, &[b.address, c.address]);
    let moved = || async { get(&edge, "/vote").await.upstream.as_deref() != Some("old") };
    wait_until("requests go to the new replicas", moved).await;
    let reached_old = old.received();
    let mut seen = BTreeSet::new();
    for _ in 0..30 {
        let answer = get(&edge, "/vote").await;
        assert_eq!(answer.status, StatusCode::OK);
        seen.insert(answer.upstream.expect("named"));
    }
    assert_eq!(
        seen,
        BTreeSet::from(["b".to_owned(), "c".to_owned()]),
        "both new replicas used, the old one never"
    );

    // The removed replica finishes what it had.
    old.gate.add_permits(1);
    let drained = request.await.expect("ran").expect("answered");
    assert_eq!(drained.status, StatusCode::OK);
    assert_eq!(drained.upstream.as_deref(), Some("old"));
    assert_eq!(
        old.received(),
        reached_old,
        "nothing new reached the removed replica"
    );

    // A failing lookup keeps the last good answer.
    dns.fail(VOTE);
    let lookups = dns.lookups(VOTE);
    wait_until("two lookups have failed", || async {
        dns.lookups(VOTE) >= lookups + 2
    })
    .await;
    for _ in 0..10 {
        let answer = get(&edge, "/vote").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_ne!(answer.upstream.as_deref(), Some("old"));
    }
}

#[tokio::test]
async fn one_name_with_several_addresses_is_several_replicas() {
    let replicas = [
        Replica::start("r1").await,
        Replica::start("r2").await,
        Replica::start("r3").await,
    ];
    let dns = ScriptedDns::default();
    let addresses: Vec<_> = replicas.iter().map(|r| r.address).collect();
    dns.answer(VOTE, &addresses);
    dns.answer(RESULT, &addresses);
    let edge = Edge::start_named(
        VOTE,
        RESULT,
        &["--balance=round-robin", "--health-interval=100ms"],
        Arc::new(dns),
    )
    .await;
    // Both pools hold all three: two checks from each mean every first result is in.
    wait_until_checked(&replicas.iter().collect::<Vec<_>>(), 4).await;

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(get(&edge, "/results").await.upstream.expect("named"));
    }
    assert_eq!(seen, ["r1", "r2", "r3", "r1", "r2", "r3"]);
}
