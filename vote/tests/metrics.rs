//! The vote service's metrics against a real Redis: every bounded series at 0 on a fresh
//! start; after real requests, accepted ballots, refusals by reason (back-pressure
//! included), poll commands, HTTP requests by route and status; all on the admin port,
//! none on the public one.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tally_model::{Choice, Keys, PollDefinition, PollOption};
use tally_runtime::exposition::{get, labelled, not_at_zero, scrape, value};
use tally_runtime::Ports;
use tally_testkit::{eventually, shared_redis, unique_prefix, InProcess};
use tally_vote::metrics::{COMMANDS, REASONS};

const KEY: &str = "metrics-test-cookie-key-0123456789abcdef";

async fn define_default_poll(redis_url: &str, keys: &Keys) {
    let poll = PollDefinition {
        id: "default".into(),
        question: "Cats vs Dogs".into(),
        choice: Choice::Single,
        open: true,
        options: vec![
            PollOption {
                id: "a".into(),
                label: "Cats".into(),
            },
            PollOption {
                id: "b".into(),
                label: "Dogs".into(),
            },
        ],
        closes_at: None,
        hide_results: false,
        admin_hash: None,
        event: None,
        blocked_words: Vec::new(),
        words: None,
        identity: Default::default(),
        voter_code_hashes: Vec::new(),
        passcode_hash: None,
    };
    let mut redis = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(keys.poll_definition("default"))
        .arg(serde_json::to_string(&poll).unwrap())
        .query_async(&mut redis)
        .await
        .unwrap();
}

async fn post(address: SocketAddr, path: &str, content_type: &str, body: &'static str) -> u16 {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = http::Request::post(format!("http://{address}{path}"))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    client.request(request).await.unwrap().status().as_u16()
}

/// Starts the vote service on free ports with `queue_high_water`.
async fn start(redis_url: &str, keys: &Keys, queue_high_water: &str) -> Running {
    let config = tally_vote::Config::try_parse_from([
        "tally-vote",
        "--redis-url",
        redis_url,
        "--redis-key-prefix",
        keys.prefix(),
        "--cookie-key",
        KEY,
        "--queue-high-water",
        queue_high_water,
        "--backlog-interval",
        "10ms",
        // The kit's Redis keeps no files.
        "--durability",
        "written",
    ])
    .unwrap();
    InProcess::start(|public, admin, stop| {
        let admin = Some(admin);
        tally_vote::run(Ports { public, admin }, config, stop)
    })
    .await
}

/// A vote service running in-process.
type Running = InProcess<tally_vote::StartError>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bounded_series_is_exported_from_the_start() {
    let keys = Keys::new(unique_prefix());
    let running = start(&shared_redis().url(), &keys, "100").await;

    let page = scrape(running.admin).await.unwrap();
    let mut series = labelled("tally_votes_rejected_total", "reason", &REASONS);
    series.extend(labelled("tally_polls_commands_total", "command", &COMMANDS));
    let routes = [
        "vote",
        "polls",
        "poll_command",
        "events",
        "event_command",
        "other",
        "healthz",
        "readyz",
    ];
    series.extend(labelled(
        "http_request_duration_seconds_count",
        "route",
        &routes,
    ));
    series.extend(["tally_votes_accepted_total", "http_connections_open"].map(String::from));
    assert_eq!(not_at_zero(&page, &series), Vec::<String>::new(), "{page}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_accepted_and_refused_are_counted_on_the_admin_port() {
    let redis_url = shared_redis().url();
    let keys = Keys::new(unique_prefix());
    define_default_poll(&redis_url, &keys).await;
    let running = start(&redis_url, &keys, "3").await;
    let (vote, admin_addr) = (running.public, running.admin);

    let json = "application/json";
    for _ in 0..3 {
        assert_eq!(
            post(vote, "/vote", json, r#"{"poll":"default","option":"a"}"#).await,
            202
        );
    }
    assert_eq!(
        post(vote, "/vote", json, r#"{"poll":"default","option":"z"}"#).await,
        422
    );
    assert_eq!(
        post(vote, "/vote", json, r#"{"poll":"default","#).await,
        400
    );
    assert_eq!(post(vote, "/vote", "text/plain", "vote=a").await, 415);
    assert_eq!(
        post(vote, "/vote", json, r#"{"poll":"nope","option":"a"}"#).await,
        404
    );
    // The stream holds 3 entries and no worker reads it: the next votes are refused.
    // (The backlog is measured every 10 ms, so a vote or two may still get in.)
    let accepted = std::sync::atomic::AtomicU32::new(3);
    eventually(
        Duration::from_secs(10),
        "back-pressure refuses a vote",
        || async {
            match post(vote, "/vote", json, r#"{"poll":"default","option":"b"}"#).await {
                503 => Some(()),
                202 => {
                    accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    None
                }
                other => panic!("unexpected {other}"),
            }
        },
    )
    .await;
    let accepted = f64::from(accepted.into_inner());
    assert_eq!(
        get(vote, "/metrics").await.unwrap().0,
        404,
        "not on the public port"
    );

    let page = scrape(admin_addr).await.unwrap();
    let at = |series: &str| value(&page, series);
    assert_eq!(at("tally_votes_accepted_total"), Some(accepted), "{page}");
    for reason in [
        "unknown_option",
        "malformed",
        "unsupported_media_type",
        "unknown_poll",
    ] {
        let series = format!("tally_votes_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(at(&series), Some(1.0), "{series}");
    }
    assert!(at("tally_votes_rejected_total{reason=\"busy\"}").unwrap() >= 1.0);
    let answered_202 = at("http_requests_total{route=\"vote\",status=\"202\"}");
    assert_eq!(answered_202, Some(accepted));
    assert_eq!(
        at("http_requests_total{route=\"vote\",status=\"422\"}"),
        Some(1.0)
    );
    assert_eq!(
        at("http_requests_total{route=\"other\",status=\"404\"}"),
        Some(1.0)
    );
    assert!(at("http_request_duration_seconds_count{route=\"vote\"}").unwrap() >= 8.0);
    assert!(
        !page.contains("voter=\"") && !page.contains("voter_id"),
        "no voter ids in labels"
    );

    running.stop().await.unwrap();
}
