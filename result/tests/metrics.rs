//! The result service's metrics against real Redis and Postgres, with real HTTP and
//! WebSocket clients: every route's latency series at 0 on a fresh start; a cache miss
//! then hits, a live client connected and sent
//! messages, a slow client dropped; all on the admin port, none on the public one.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use serde_json::json;
use tally_model::{Keys, STORE_RESULTS_LUA};
use tally_result::StartError;
use tally_runtime::exposition::{get, labelled, not_at_zero, scrape, value};
use tally_runtime::Ports;
use tally_testkit::{eventually, shared_postgres, shared_redis, unique_prefix, InProcess};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

/// A database with one poll, `lunch`; returns the reader's URL.
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

/// Caches and publishes a document of about half a megabyte for `poll`, as the worker
/// would: a client that does not read fills its socket buffers after a few of them.
async fn publish_big(redis_url: &str, keys: &Keys, poll: &str, version: i64) {
    let document = json!({
        "poll": poll, "question": "q".repeat(512 * 1024),
        "options": [{"id": "a", "label": "Tea", "votes": version}],
        "total": version, "updated_at": "2026-01-01T00:00:00.000Z", "version": version,
    });
    let mut redis = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = redis::Script::new(STORE_RESULTS_LUA)
        .key(keys.results_cache(poll))
        .arg(version)
        .arg(document.to_string())
        .arg("1")
        .arg(keys.tally_channel(poll))
        .invoke_async(&mut redis)
        .await
        .unwrap();
}

async fn metric(admin: SocketAddr, series: &str) -> Option<f64> {
    value(&scrape(admin).await.unwrap(), series)
}

/// Starts the result service on free ports, reading `keys` in Redis and a seeded database.
async fn start(redis_url: &str, keys: &Keys) -> InProcess<StartError> {
    let config = tally_result::Config::try_parse_from([
        "tally-result".to_owned(),
        format!("--redis-url={redis_url}"),
        format!("--redis-key-prefix={}", keys.prefix()),
        format!("--database-url={}", seeded_database().await),
        "--live-send-timeout=500ms".to_owned(),
        "--live-max-updates-per-second=100".to_owned(),
    ])
    .unwrap();
    InProcess::start(|public, admin, stop| {
        let admin = Some(admin);
        tally_result::run(Ports { public, admin }, config, stop)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bounded_series_is_exported_from_the_start() {
    let running = start(&shared_redis().url(), &Keys::new(unique_prefix())).await;

    let page = scrape(running.admin).await.unwrap();
    let routes = [
        "results",
        "results_csv",
        "results_ballots",
        "live",
        "poll_page",
        "other",
        "healthz",
        "readyz",
    ];
    let mut series = labelled("http_request_duration_seconds_count", "route", &routes);
    series.extend(
        [
            "tally_result_cache_hits_total",
            "tally_result_cache_misses_total",
            "tally_live_clients",
            "tally_live_messages_sent_total",
            "tally_live_slow_clients_dropped_total",
        ]
        .map(String::from),
    );
    assert_eq!(not_at_zero(&page, &series), Vec::<String>::new(), "{page}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_live_clients_and_slow_clients_are_exported() {
    let redis_url = shared_redis().url();
    let keys = Keys::new(unique_prefix());
    let running = start(&redis_url, &keys).await;
    let (result, admin_addr) = (running.public, running.admin);

    for _ in 0..3 {
        assert_eq!(get(result, "/results/lunch").await.unwrap().0, 200);
    }
    assert_eq!(get(result, "/metrics").await.unwrap().0, 404, "not public");
    let page = scrape(admin_addr).await.unwrap();
    assert_eq!(
        value(&page, "tally_result_cache_misses_total"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(value(&page, "tally_result_cache_hits_total"), Some(2.0));
    assert_eq!(value(&page, "tally_live_clients"), Some(0.0));
    let results_200 = "http_requests_total{route=\"results\",status=\"200\"}";
    assert_eq!(value(&page, results_200), Some(3.0));
    assert_eq!(
        value(&page, "http_requests_total{route=\"other\",status=\"404\"}"),
        Some(1.0)
    );

    // A live client: connected, and sent its snapshot.
    let (mut viewer, _) = tokio_tungstenite::connect_async(format!("ws://{result}/live/lunch"))
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, viewer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(first, Message::Text(_)), "{first:?}");
    assert_eq!(metric(admin_addr, "tally_live_clients").await, Some(1.0));
    assert!(
        metric(admin_addr, "tally_live_messages_sent_total")
            .await
            .unwrap()
            >= 1.0
    );
    let upgrades = "http_requests_total{route=\"live\",status=\"101\"}";
    assert_eq!(metric(admin_addr, upgrades).await, Some(1.0));

    // A client that stops reading while big documents keep coming is dropped.
    publish_big(&redis_url, &keys, "slow", 1).await;
    let (mut slow, _) = tokio_tungstenite::connect_async(format!("ws://{result}/live/slow"))
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, slow.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(first, Message::Text(_)), "{first:?}");
    assert_eq!(metric(admin_addr, "tally_live_clients").await, Some(2.0));
    for version in 2..=60 {
        publish_big(&redis_url, &keys, "slow", version).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        if metric(admin_addr, "tally_live_slow_clients_dropped_total").await == Some(1.0) {
            break;
        }
    }
    eventually(WAIT, "the slow client is dropped and counted", || async {
        let dropped = metric(admin_addr, "tally_live_slow_clients_dropped_total").await?;
        let clients = metric(admin_addr, "tally_live_clients").await?;
        (dropped == 1.0 && clients == 1.0).then_some(())
    })
    .await;
    drop(slow);

    viewer.close(None).await.unwrap();
    eventually(
        WAIT,
        "a client that leaves is no longer counted",
        || async { (metric(admin_addr, "tally_live_clients").await? == 0.0).then_some(()) },
    )
    .await;
    let page = scrape(admin_addr).await.unwrap();
    assert!(
        !page.contains("lunch") && !page.contains("/results/"),
        "no poll ids or paths as labels"
    );
    running.stop().await.unwrap();
}
