//! Replicas dying and coming back under load: safe retries, passive and active
//! ejection, readmission, and the connect timeout. Real replicas on real ports.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use http::{Method, StatusCode};
use support::{client, get, send, wait_until, wait_until_checked, Edge, Replica};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Health checks fast enough for a test: a dead replica is out after two failed rounds
/// of 100 ms, a restarted one back after two passed ones.
const FAST_HEALTH: [&str; 4] = [
    "--health-interval=100ms",
    "--health-timeout=200ms",
    "--eject-after=2",
    "--readmit-after=2",
];

/// Requests of each method sent while one replica holds its share.
const HELD_PER_METHOD: usize = 12;

#[tokio::test]
async fn killing_a_replica_fails_only_the_posts_it_had_and_it_is_readmitted() {
    let first = Replica::start("r1").await;
    let mut second = Replica::start("r2").await;
    let third = Replica::start("r3").await;
    // `/hold` passes at once on r1 and r3 and waits on r2 until r2 is killed.
    first.gate.add_permits(1_000);
    third.gate.add_permits(1_000);
    let replicas = [first.address, second.address, third.address];
    let mut args = vec!["--balance=round-robin"];
    args.extend(FAST_HEALTH);
    let edge = Edge::start(&replicas, &replicas, &args).await;
    // Round robin gives r2 exactly its third once every replica is checked (both pools
    // hold all three: two checks from each).
    wait_until_checked(&[&first, &second, &third], 4).await;

    let client = client();
    let requests = (0..HELD_PER_METHOD).flat_map(|_| {
        [
            send(&client, &edge, Method::POST, "/vote/hold"),
            send(&client, &edge, Method::GET, "/results/hold"),
        ]
    });
    let kill_r2_once_it_holds_its_share = async {
        let everything_but_r2_answered = || async {
            first.answered() + third.answered() + second.received() == 2 * HELD_PER_METHOD
        };
        wait_until(
            "r1 and r3 answered and r2 holds the rest",
            everything_but_r2_answered,
        )
        .await;
        let posts_at_r2 = second.posts_received();
        second.kill().await;
        posts_at_r2
    };
    let (answers, posts_at_r2) = tokio::join!(join_all(requests), kill_r2_once_it_holds_its_share);
    assert_eq!(
        posts_at_r2,
        HELD_PER_METHOD / 3,
        "round robin gave r2 its third of the POSTs"
    );

    let (mut get_errors, mut post_errors) = (0, 0);
    for (index, answer) in answers.into_iter().enumerate() {
        let answer = answer.expect("the edge itself always answers");
        let is_post = index % 2 == 0;
        match (is_post, answer.status) {
            (_, StatusCode::OK) => assert_ne!(answer.upstream.as_deref(), Some("r2")),
            (true, StatusCode::BAD_GATEWAY) => post_errors += 1,
            (false, status) => {
                get_errors += 1;
                eprintln!("GET failed with {status}");
            }
            (true, status) => panic!("POST answered {status}"),
        }
    }
    assert_eq!(get_errors, 0, "GETs that reached r2 were retried elsewhere");
    assert_eq!(
        post_errors, posts_at_r2,
        "only the POSTs r2 had failed, none was repeated"
    );

    // With r2 down, every request of either method still succeeds: connecting to r2
    // fails, which is safe to retry, and r2 is ejected.
    for round in 0..30 {
        let method = if round % 2 == 0 {
            Method::POST
        } else {
            Method::GET
        };
        let answer = send(&client, &edge, method.clone(), "/vote")
            .await
            .expect("answers");
        assert_eq!(answer.status, StatusCode::OK, "{method} in round {round}");
    }

    second.restart().await;
    let served_by_r2 = || async {
        let answer = get(&edge, "/results").await;
        answer.status == StatusCode::OK && answer.upstream.as_deref() == Some("r2")
    };
    wait_until("r2 is readmitted and serves again", served_by_r2).await;
}

#[tokio::test]
async fn gets_and_posts_survive_a_replica_dying_under_p2c_load() {
    const WORKERS: usize = 6;
    const PER_WORKER: usize = 40;
    let delay = Duration::from_millis(5);
    let first = Replica::start_with_delay("r1", delay).await;
    let mut second = Replica::start_with_delay("r2", delay).await;
    let third = Replica::start_with_delay("r3", delay).await;
    let replicas = [first.address, second.address, third.address];
    let edge = Edge::start(&replicas, &replicas, &FAST_HEALTH).await;

    let edge = std::sync::Arc::new(edge);
    let workers = (0..WORKERS).map(|worker| {
        let edge = edge.clone();
        tokio::spawn(async move {
            let client = client();
            let mut outcomes = Vec::with_capacity(PER_WORKER);
            for round in 0..PER_WORKER {
                let (method, path) = if (worker + round) % 2 == 0 {
                    (Method::POST, "/vote")
                } else {
                    (Method::GET, "/results")
                };
                let answer = send(&client, &edge, method.clone(), path)
                    .await
                    .expect("answers");
                outcomes.push((method, answer.status));
            }
            outcomes
        })
    });
    let load = tokio::spawn(join_all(workers));
    wait_until("r2 has served part of the load", || async {
        second.answered() >= 10
    })
    .await;
    second.kill().await;
    let in_flight_bound = WORKERS;

    let mut post_errors = 0;
    for outcomes in load.await.expect("load ran") {
        for (method, status) in outcomes.expect("worker ran") {
            match (method, status) {
                (_, StatusCode::OK) => {}
                (Method::POST, StatusCode::BAD_GATEWAY) => post_errors += 1,
                (method, status) => panic!("{method} answered {status}"),
            }
        }
    }
    assert!(
        post_errors <= in_flight_bound,
        "{post_errors} POSTs failed; at most {in_flight_bound} were in flight"
    );
    assert!(first.answered() > 0 && third.answered() > 0);
}

/// A listening socket whose accept queue is full, so the kernel drops new SYNs and a
/// connection attempt hangs until it times out. The streams keep the queue full.
async fn black_hole() -> (SocketAddr, (TcpListener, Vec<TcpStream>)) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let address = listener.local_addr().expect("address");
    let mut queued = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(address)).await {
            Ok(Ok(stream)) => queued.push(stream),
            _ => return (address, (listener, queued)),
        }
    }
    panic!("the accept queue never filled");
}

#[tokio::test]
async fn a_replica_that_does_not_accept_is_given_up_after_the_connect_timeout() {
    let (hole, _queued) = black_hole().await;
    let live = Replica::start("live").await;
    let args = [
        "--connect-timeout=300ms",
        "--upstream-timeout=5s",
        "--balance=round-robin",
    ];

    let only_the_hole = Edge::start(&[hole], &[live.address], &args).await;
    let started = Instant::now();
    let answer = send(&client(), &only_the_hole, Method::POST, "/vote")
        .await
        .expect("answers");
    let took = started.elapsed();
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(
        took >= Duration::from_millis(300),
        "gave up after {took:?}, before the connect timeout"
    );
    assert!(
        took < Duration::from_secs(3),
        "gave up after {took:?}, the upstream timeout was not what ended it"
    );

    let with_a_live_one = Edge::start(&[hole, live.address], &[live.address], &args).await;
    for _ in 0..4 {
        let answer = send(&client(), &with_a_live_one, Method::POST, "/vote")
            .await
            .expect("answers");
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "the POST moved on to the live replica"
        );
        assert_eq!(answer.upstream.as_deref(), Some("live"));
    }
}

#[tokio::test]
async fn a_slow_upstream_is_504_after_the_header_timeout_and_not_retried() {
    let first = Replica::start("r1").await;
    let second = Replica::start("r2").await;
    let replicas = [first.address, second.address];
    let edge = Edge::start(&replicas, &replicas, &["--upstream-timeout=300ms"]).await;

    let started = Instant::now();
    let answer = get(&edge, "/results/slow").await;
    let took = started.elapsed();
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        took >= Duration::from_millis(300) && took < support::SLOW,
        "{took:?}"
    );
    assert_eq!(
        first.received() + second.received(),
        1,
        "a timed-out request is not sent again"
    );
}
