//! The live feed (`GET /live/<poll>`, WebSocket) in-process against real Redis and
//! Postgres from the test kit, with a real WebSocket client: snapshot first, published
//! updates, coalescing, the client cap, unknown polls, a Redis restart, a client that
//! never reads, and shutdown.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use support::{next_close, next_json, redis_connection, Service, WAIT};
use tally_model::STORE_RESULTS_LUA;
use tally_testkit::{eventually, shared_postgres, shared_redis, RedisServer};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// A database with every migration and one poll, `lunch` (version 9, 5 votes for pizza);
/// returns the reader's URL.
async fn seeded_database() -> String {
    let database = shared_postgres().fresh_database().await;
    let (mut client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    tally_worker::migrate::migrate(&mut client).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO polls (id, question, choice, ballots, version, updated_at)
                  VALUES ('lunch', 'Lunch?', 'single', 5, 9, '2026-01-02T03:04:05.678Z');
             INSERT INTO poll_options (poll_id, id, label, position)
                  VALUES ('lunch', 'pizza', 'Pizza', 1), ('lunch', 'salad', 'Salad', 2);
             INSERT INTO tallies (poll_id, option_id, votes) VALUES ('lunch', 'pizza', 5);",
        )
        .await
        .unwrap();
    database.reader_url()
}

/// A results document for `poll` at `version` with `votes` for option `a`.
fn document(poll: &str, version: i64, votes: i64) -> Value {
    json!({
        "poll": poll, "question": "Tea or coffee?",
        "options": [{"id": "a", "label": "Tea", "votes": votes}, {"id": "b", "label": "Coffee", "votes": 0}],
        "total": votes, "updated_at": "2026-01-01T00:00:00.000Z", "version": version,
    })
}

/// Whether a new client on `poll` is served (gets results) rather than closed.
async fn is_served(service: &Service, poll: &str) -> Option<()> {
    let mut socket = service.connect(poll).await;
    match tokio::time::timeout(WAIT, socket.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => {
            let message: Value = serde_json::from_str(&text).unwrap();
            (message["type"] == "results").then_some(())
        }
        _ => None,
    }
}

fn version_of(message: &Value) -> i64 {
    assert_eq!(message["type"], "results", "{message}");
    message["results"]["version"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_comes_first_then_published_updates() {
    let service = Service::start(&shared_redis().url(), &seeded_database().await, &[]).await;
    service.publish(&document("tea", 10, 3)).await;
    let mut socket = service.connect("tea").await;

    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "results");
    assert_eq!(snapshot["results"]["version"], 10);
    assert_eq!(snapshot["results"]["options"][0]["votes"], 3);

    service.publish(&document("tea", 11, 4)).await;
    let update = next_json(&mut socket).await;
    assert_eq!(version_of(&update), 11);
    assert_eq!(update["results"]["total"], 4);

    // An older document published late never replaces a newer one.
    service.publish(&document("tea", 12, 5)).await;
    assert_eq!(version_of(&next_json(&mut socket).await), 12);
    let mut redis = redis_connection(&service.redis_url).await.unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(service.keys.tally_channel("tea"))
        .arg(document("tea", 7, 1).to_string())
        .query_async(&mut redis)
        .await
        .unwrap();
    service.publish(&document("tea", 13, 6)).await;
    assert_eq!(version_of(&next_json(&mut socket).await), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_from_postgres_is_the_public_view() {
    let service = Service::start(&shared_redis().url(), &seeded_database().await, &[]).await;
    let mut socket = service.connect("lunch").await;
    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["results"]["version"], 9);
    assert_eq!(snapshot["results"]["options"][0]["votes"], 5);

    // Hidden results stay hidden in the live feed too.
    let mut hidden = document("lunch", 10, 6);
    hidden["hide_results"] = json!(true);
    service.publish(&hidden).await;
    let update = next_json(&mut socket).await;
    assert_eq!(version_of(&update), 10);
    assert_eq!(update["results"]["hidden"], true);
    assert_eq!(update["results"]["total"], Value::Null);
    assert_eq!(update["results"]["options"][0]["votes"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_updates_are_coalesced_and_the_last_always_arrives() {
    const RATE: f64 = 10.0;
    const UPDATES: i64 = 100;
    let service = Service::start(
        &shared_redis().url(),
        &seeded_database().await,
        &["--live-max-updates-per-second=10"],
    )
    .await;
    service.publish(&document("burst", 1, 0)).await;
    let mut socket = service.connect("burst").await;
    assert_eq!(version_of(&next_json(&mut socket).await), 1);

    let started = Instant::now();
    let publisher = {
        let (keys, url) = (service.keys.clone(), service.redis_url.clone());
        tokio::spawn(async move {
            let mut redis = redis_connection(&url).await.unwrap();
            let script = redis::Script::new(STORE_RESULTS_LUA);
            for version in 2..=UPDATES + 1 {
                let _: i64 = script
                    .key(keys.results_cache("burst"))
                    .arg(version)
                    .arg(document("burst", version, version).to_string())
                    .arg("1")
                    .arg(keys.tally_channel("burst"))
                    .invoke_async(&mut redis)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut versions = Vec::new();
    loop {
        let version = version_of(&next_json(&mut socket).await);
        versions.push(version);
        if version == UPDATES + 1 {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    publisher.await.unwrap();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "versions only grow: {versions:?}"
    );
    let most = (RATE * elapsed).ceil() as usize + 1;
    assert!(
        versions.len() <= most,
        "{} updates in {elapsed:.2}s exceed {most}: {versions:?}",
        versions.len()
    );
    assert!(
        versions.len() < UPDATES as usize / 2,
        "coalesced: {versions:?}"
    );

    // Nothing more follows the last state.
    let quiet = tokio::time::timeout(Duration::from_millis(300), socket.next()).await;
    assert!(quiet.is_err(), "no further message: {quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_over_the_cap_are_closed_with_1013() {
    let service = Service::start(
        &shared_redis().url(),
        &seeded_database().await,
        &["--live-max-clients=1"],
    )
    .await;
    service.publish(&document("cap", 1, 1)).await;
    let mut first = service.connect("cap").await;
    assert_eq!(version_of(&next_json(&mut first).await), 1);

    let mut second = service.connect("cap").await;
    let (code, reason) = next_close(&mut second).await;
    assert_eq!(u16::from(code), 1013);
    assert_eq!(reason, "too many live clients");

    // A client leaving frees its place.
    first.close(None).await.unwrap();
    eventually(WAIT, "a place frees up", || is_served(&service, "cap")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_poll_is_closed_with_4404() {
    let service = Service::start(&shared_redis().url(), &seeded_database().await, &[]).await;
    let mut socket = service.connect("nosuchpoll").await;
    let (code, reason) = next_close(&mut socket).await;
    assert_eq!(u16::from(code), 4404);
    assert_eq!(reason, "no such poll");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_request_is_told_to_upgrade() {
    let service = Service::start(&shared_redis().url(), &seeded_database().await, &[]).await;
    let mut stream = TcpStream::connect(service.address).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /live/lunch HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    assert!(answer.contains("{\"error\":"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_is_announced_and_the_socket_stays_open() {
    let redis = RedisServer::start();
    let service = Service::start(&redis.url(), &seeded_database().await, &[]).await;
    let mut socket = service.connect("lunch").await;
    assert_eq!(version_of(&next_json(&mut socket).await), 9);

    let restarted = tokio::task::spawn_blocking(move || {
        redis.restart();
        redis
    });
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type": "status", "state": "reconnecting"})
    );
    let redis = restarted.await.unwrap();
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type": "status", "state": "live"})
    );
    let fresh = next_json(&mut socket).await;
    assert_eq!(version_of(&fresh), 9, "a fresh snapshot follows");

    // Still live: updates published on the restarted Redis arrive.
    service.wait_subscribed().await;
    let mut update = document("lunch", 10, 6);
    update["options"][0]["id"] = json!("pizza");
    service.publish(&update).await;
    assert_eq!(version_of(&next_json(&mut socket).await), 10);
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped() {
    const DOCUMENTS: i64 = 60;
    let service = Service::start(
        &shared_redis().url(),
        &seeded_database().await,
        &[
            "--live-max-clients=1",
            "--live-send-timeout=500ms",
            "--live-max-updates-per-second=100",
        ],
    )
    .await;
    // Documents of half a megabyte fill the socket buffers after a few sends.
    let big = |version: i64| {
        let mut document = document("slow", version, version);
        document["question"] = json!("q".repeat(512 * 1024));
        document
    };
    service.publish(&big(1)).await;
    let mut slow = service.connect("slow").await;
    assert_eq!(version_of(&next_json(&mut slow).await), 1);

    // From here on the client reads nothing.
    for version in 2..=DOCUMENTS {
        service.publish(&big(version)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The server let go of it: its one place is free again.
    eventually(WAIT, "the slow client's place frees up", || {
        is_served(&service, "slow")
    })
    .await;

    // What the slow client finds when it reads at last: some of the documents, then the
    // end of the connection, not all of them.
    let mut received = 0;
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Text(_))) => received += 1,
                Some(Ok(Message::Close(frame))) => break frame.map(|frame| u16::from(frame.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break None,
            }
        }
    })
    .await;
    let code = ended.expect("the connection ends");
    assert!(code.is_none() || code == Some(1008), "closed with {code:?}");
    assert!(
        received < DOCUMENTS - 1,
        "the server stopped sending: {received} of {} arrived",
        DOCUMENTS - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_answers_pings_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let service = Service::start(
        &shared_redis().url(),
        &seeded_database().await,
        &["--live-ping-interval=200ms"],
    )
    .await;
    // A raw client: it completes the handshake, then reads bytes and never writes (a
    // WebSocket library would answer the pings by itself).
    let mut stream = TcpStream::connect(service.address).await.unwrap();
    stream
        .write_all(
            b"GET /live/lunch HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n\
              sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(
        text.contains(r#"{"type":"results""#),
        "a snapshot first: {text}"
    );
    // A ping frame (0x89) went out, then a close frame (0x88) with 1001 "no pong".
    assert!(received.contains(&0x89), "pinged");
    let close = received
        .iter()
        .rposition(|b| *b == 0x88)
        .expect("a close frame");
    assert_eq!(&received[close + 2..close + 4], &1001u16.to_be_bytes());
    assert_eq!(&received[close + 4..], b"no pong");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "two intervals"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_with_1001() {
    let service = Service::start(&shared_redis().url(), &seeded_database().await, &[]).await;
    let mut socket = service.connect("lunch").await;
    assert_eq!(version_of(&next_json(&mut socket).await), 9);
    let closing = tokio::spawn(async move { next_close(&mut socket).await });
    service.stop().await;
    let (code, reason) = closing.await.unwrap();
    assert_eq!(u16::from(code), 1001);
    assert_eq!(reason, "server shutting down");
}
