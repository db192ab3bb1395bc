//! WebSocket pass-through on the live path: echo through the edge, idle periods longer
//! than the HTTP idle timeout, the tunnel's own idle timeout, closing, and shutdown.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::{wait_until, Edge, Replica, PATIENCE};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The HTTP idle (header-read) timeout the edge gets in these tests.
const HTTP_IDLE: &str = "--header-read-timeout=200ms";

async fn open(edge: &Edge) -> Socket {
    let (socket, response) = connect_async(edge.ws_url("/live/default"))
        .await
        .expect("WebSocket through the edge");
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    socket
}

async fn round_trip(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.expect("send");
    let echoed = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("echo in time");
    let echoed = echoed.expect("open").expect("a message");
    assert_eq!(echoed.to_text().expect("text"), text);
}

/// Whether the socket was closed by the other end within [`PATIENCE`].
async fn closed_by_peer(socket: &mut Socket) -> bool {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await {
            Err(_elapsed) => return false,
            Ok(None | Some(Err(_))) => return true,
            Ok(Some(Ok(message))) if message.is_close() => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test]
async fn websocket_echo_survives_idle_longer_than_the_http_idle_timeout() {
    let vote = Replica::start("vote").await;
    let result = Replica::start("result").await;
    let edge = Edge::start(
        &[vote.address],
        &[result.address],
        &[HTTP_IDLE, "--tunnel-idle-timeout=30s"],
    )
    .await;

    let mut socket = open(&edge).await;
    round_trip(&mut socket, "hello").await;
    // The idle period is what is under test: four times the HTTP idle timeout.
    tokio::time::sleep(Duration::from_millis(800)).await;
    round_trip(&mut socket, "still here").await;
    let big = "x".repeat(256 * 1024);
    round_trip(&mut socket, &big).await;
    assert_eq!(
        result.received(),
        1,
        "one upgrade request reached the result service"
    );
}

#[tokio::test]
async fn an_idle_tunnel_is_closed_on_both_sides() {
    let vote = Replica::start("vote").await;
    let result = Replica::start("result").await;
    let edge = Edge::start(
        &[vote.address],
        &[result.address],
        &["--tunnel-idle-timeout=300ms"],
    )
    .await;

    let mut socket = open(&edge).await;
    round_trip(&mut socket, "hello").await;
    assert!(
        closed_by_peer(&mut socket).await,
        "the edge closed the idle tunnel"
    );
    wait_until("the upstream side closed too", || async {
        result
            .counts
            .sockets_closed
            .load(std::sync::atomic::Ordering::SeqCst)
            == 1
    })
    .await;
}

#[tokio::test]
async fn closing_the_client_closes_the_upstream() {
    let vote = Replica::start("vote").await;
    let result = Replica::start("result").await;
    let edge = Edge::start(&[vote.address], &[result.address], &[]).await;

    let mut socket = open(&edge).await;
    round_trip(&mut socket, "bye soon").await;
    socket.close(None).await.expect("close");
    wait_until("the upstream side closed", || async {
        result
            .counts
            .sockets_closed
            .load(std::sync::atomic::Ordering::SeqCst)
            == 1
    })
    .await;
}

#[tokio::test]
async fn shutdown_lets_a_tunnel_finish_within_the_grace_period() {
    let vote = Replica::start("vote").await;
    let result = Replica::start("result").await;
    let mut edge = Edge::start(
        &[vote.address],
        &[result.address],
        &["--shutdown-grace=10s"],
    )
    .await;

    let mut socket = open(&edge).await;
    edge.shut_down();
    round_trip(&mut socket, "after shutdown began").await;
    assert!(
        !edge.stopped.is_finished(),
        "the edge waits for the open tunnel"
    );
    socket.close(None).await.expect("close");
    tokio::time::timeout(PATIENCE, &mut edge.stopped)
        .await
        .expect("the edge stopped once the tunnel ended")
        .expect("ran");
}

#[tokio::test]
async fn shutdown_closes_tunnels_still_open_when_the_grace_period_ends() {
    let vote = Replica::start("vote").await;
    let result = Replica::start("result").await;
    let mut edge = Edge::start(
        &[vote.address],
        &[result.address],
        &["--shutdown-grace=300ms"],
    )
    .await;

    let mut socket = open(&edge).await;
    round_trip(&mut socket, "hello").await;
    edge.shut_down();
    tokio::time::timeout(PATIENCE, &mut edge.stopped)
        .await
        .expect("the edge stopped at the end of the grace period")
        .expect("ran");
    assert!(closed_by_peer(&mut socket).await, "the tunnel was closed");
}
