//! The edge's worker threads on a port bound shared, as the binary binds it: each worker
//! listens with a socket of its own, and nothing queued or sent to any of them is lost.

mod support;

use std::sync::Arc;

use http::{Method, StatusCode};
use support::{client, send, Edge, Replica};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Clients at once: enough that the kernel sends some to each worker's socket (all to
/// one has odds of 2^-63 with two workers).
const CLIENTS: usize = 64;

#[tokio::test]
async fn every_worker_socket_answers_and_early_clients_are_kept() {
    let vote = Replica::start("vote-1").await;
    let result = Replica::start("result-1").await;
    let listener =
        tally_runtime::bind_shared_listener("127.0.0.1:0".parse().expect("address")).expect("bind");
    let address = listener.local_addr().expect("address");
    // Connected before the edge runs: queued on the socket the first worker keeps.
    let mut early = TcpStream::connect(address).await.expect("connect early");
    let edge = Arc::new(
        Edge::start_on(
            listener,
            &vote.address.to_string(),
            &result.address.to_string(),
            &["--worker-threads=2"],
            Arc::new(tally_edge::resolve::SystemResolver),
        )
        .await,
    );

    early
        .write_all(b"GET / HTTP/1.1\r\nhost: tally\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    early.read_to_end(&mut answer).await.expect("read");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Each on a new connection of its own, so the kernel spreads them over the sockets.
    let mut answers = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let edge = edge.clone();
        answers.spawn(async move { send(&client(), &edge, Method::GET, "/").await });
    }
    let mut answered = 0;
    // A socket no worker served would leave its clients waiting: bounded here.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(answer) = answers.join_next().await {
            let answer = answer.expect("task").expect("edge answers");
            assert_eq!(answer.status, StatusCode::OK);
            answered += 1;
        }
    })
    .await
    .expect("every client answered in time");
    assert_eq!(answered, CLIENTS);
}
