//! Routing by readiness (`--health-path=/readyz`): a replica that is alive (`/healthz`
//! 200) but not ready (`/readyz` 503, as a result service whose Postgres is away) gets
//! no request and is used once ready; one DNS names later is checked at once; when
//! every vote replica is unready the voter gets the replica's own JSON 503 with
//! Retry-After. Real replicas on real ports.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use support::{client, get, send, wait_until, Edge, Replica, ScriptedDns};

/// Checks fast enough for a test, on the readiness path.
const READY_CHECKS: [&str; 5] = [
    "--health-path=/readyz",
    "--health-interval=100ms",
    "--health-timeout=200ms",
    "--eject-after=2",
    "--readmit-after=2",
];

/// Requests of each method sent while one replica is not ready.
const REQUESTS: usize = 40;

/// Waits until `replica`'s first readiness check has been recorded by the edge: the
/// checks of one round are recorded before the next round asks again.
async fn first_check_recorded(replica: &Replica) {
    wait_until("the replica's first check is recorded", || async {
        replica.readiness_checks() >= 2
    })
    .await;
}

#[tokio::test]
async fn an_alive_but_unready_replica_gets_no_request_and_is_used_once_ready() {
    let ready = Replica::start("ready").await;
    let starting = Replica::start("starting").await;
    starting.set_ready(false);
    let replicas = [ready.address, starting.address];
    let mut args = vec!["--balance=round-robin"];
    args.extend(READY_CHECKS);
    let edge = Edge::start(&replicas, &replicas, &args).await;
    first_check_recorded(&starting).await;

    let client = client();
    for round in 0..REQUESTS {
        for (method, path) in [(Method::GET, "/results"), (Method::POST, "/vote")] {
            let answer = send(&client, &edge, method.clone(), path)
                .await
                .expect("the edge answers");
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{method} {path} in round {round}"
            );
            assert_eq!(answer.upstream.as_deref(), Some("ready"));
        }
    }
    assert_eq!(starting.received(), 0, "the unready replica got requests");
    let checks = starting.readiness_checks();
    wait_until("the ejected replica is still checked", || async {
        starting.readiness_checks() > checks
    })
    .await;

    starting.set_ready(true);
    let served_by_starting = || async {
        let answer = get(&edge, "/results").await;
        answer.status == StatusCode::OK && answer.upstream.as_deref() == Some("starting")
    };
    wait_until("the replica is used once ready", served_by_starting).await;
}

#[tokio::test]
async fn liveness_checks_alone_route_to_an_unready_replica() {
    // The default path: what the edge did before readiness could be asked for, and
    // still right where the platform keeps unready replicas out of DNS.
    let ready = Replica::start("ready").await;
    let starting = Replica::start("starting").await;
    starting.set_ready(false);
    let replicas = [ready.address, starting.address];
    let edge = Edge::start(
        &replicas,
        &replicas,
        &[
            "--balance=round-robin",
            "--health-interval=100ms",
            "--health-timeout=200ms",
        ],
    )
    .await;
    let mut unavailable = 0;
    for _ in 0..10 {
        if get(&edge, "/results").await.status == StatusCode::SERVICE_UNAVAILABLE {
            unavailable += 1;
        }
    }
    assert_eq!(
        unavailable, 5,
        "round robin sent half to the unready replica"
    );
    assert_eq!(starting.readiness_checks(), 0, "/readyz is never asked");
}

#[tokio::test]
async fn a_replica_named_later_is_checked_at_once_not_at_the_next_round() {
    let ready = Replica::start("ready").await;
    let late = Replica::start("late").await;
    late.set_ready(false);
    let dns = ScriptedDns::default();
    dns.answer("vote.test:80", &[ready.address]);
    dns.answer("result.test:80", &[ready.address]);
    // Full rounds every 30 s: only the check of replicas not yet checked can be quick.
    let edge = Edge::start_named(
        "vote.test:80",
        "result.test:80",
        &[
            "--health-path=/readyz",
            "--health-interval=30s",
            "--resolve-interval=50ms",
            "--balance=round-robin",
        ],
        Arc::new(dns.clone()),
    )
    .await;
    // Ready: the first replica's check passed (and was recorded).
    wait_until("the edge is ready", || async {
        get(&edge, "/readyz").await.status == StatusCode::OK
    })
    .await;

    dns.answer("result.test:80", &[ready.address, late.address]);
    // From the moment DNS names it, through its first (failed) check, it gets nothing:
    // a replica not checked yet comes after every one whose check passed.
    let client = client();
    let mut sent = 0;
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    while late.readiness_checks() == 0 || sent < REQUESTS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new replica was not checked within {:?} (full rounds: 30 s)",
            support::PATIENCE
        );
        let answer = send(&client, &edge, Method::GET, "/results")
            .await
            .expect("the edge answers");
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.upstream.as_deref(), Some("ready"));
        sent += 1;
    }
    assert_eq!(late.received(), 0, "the unready replica got requests");
}

#[tokio::test]
async fn when_no_vote_replica_is_ready_the_voter_gets_its_json_503_with_retry_after() {
    // Redis is down: every vote replica fails /readyz and refuses ballots with 503.
    let votes = [Replica::start("v1").await, Replica::start("v2").await];
    let result = Replica::start("result").await;
    for vote in &votes {
        vote.set_ready(false);
    }
    let addresses: Vec<_> = votes.iter().map(|vote| vote.address).collect();
    let edge = Edge::start(&addresses, &[result.address], &READY_CHECKS).await;
    for vote in &votes {
        first_check_recorded(vote).await;
    }

    let answer = get(&edge, "/readyz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let reason: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
    assert_eq!(
        reason,
        serde_json::json!({"error": "no healthy vote upstream"})
    );

    // Every replica is ejected, so they are all tried anyway: the vote service's own
    // answer (it knows why, and when to come back) beats the edge's 502.
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/vote", edge.address))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(b"vote=a")))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(5), client().request(request))
        .await
        .expect("answered in time")
        .expect("the edge answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert!(body["error"].is_string(), "{body}");

    // Redis is back: votes are taken again and the edge is ready.
    for vote in &votes {
        vote.set_ready(true);
    }
    wait_until("a vote replica is readmitted", || async {
        get(&edge, "/readyz").await.status == StatusCode::OK
    })
    .await;
    let answer = send(&client(), &edge, Method::POST, "/vote")
        .await
        .expect("answers");
    assert_eq!(answer.status, StatusCode::OK);
}
