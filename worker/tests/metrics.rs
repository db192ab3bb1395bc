//! The worker's metrics against real Redis and Postgres: every bounded series at 0 on a
//! fresh start; batches read and applied,
//! entries applied by kind, entries reclaimed from a consumer that left them pending
//! (and those of them that changed nothing), dead letters, the stream's length and the
//! lag while entries wait; all on the admin port, none on the public one.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tally_model::keys::CONSUMER_GROUP;
use tally_model::{Keys, StatusEntry, VoteEntry};
use tally_runtime::exposition::{get, labelled, not_at_zero, scrape, value};
use tally_runtime::Ports;
use tally_testkit::{eventually, shared_postgres, shared_redis, unique_prefix, InProcess};
use tally_worker::metrics::KINDS;
use tally_worker::StartError;

const WAIT: Duration = Duration::from_secs(30);

/// Entries left pending this long are taken over; long enough to see them lag first.
const CLAIM_IDLE: &str = "2s";

fn vote(voter: &str, option: &str) -> Vec<(&'static str, String)> {
    VoteEntry {
        vote_id: format!("{voter}-{option}"),
        poll: "default".into(),
        options: vec![option.into()],
        voter: voter.into(),
        at_ms: tally_model::timestamp::now_ms(),
        words: false,
    }
    .to_fields()
    .to_vec()
}

async fn xadd(
    redis: &mut redis::aio::MultiplexedConnection,
    keys: &Keys,
    fields: &[(&str, String)],
) {
    let mut command = redis::cmd("XADD");
    command.arg(keys.vote_stream()).arg("*");
    for (name, value) in fields {
        command.arg(*name).arg(value);
    }
    let _: String = command.query_async(redis).await.unwrap();
}

async fn metric(admin: SocketAddr, series: &str) -> Option<f64> {
    value(&scrape(admin).await.unwrap(), series)
}

/// Starts a worker on free ports, reading `keys`' stream into `database_url`.
async fn start(redis_url: &str, keys: &Keys, database_url: &str) -> InProcess<StartError> {
    let config = tally_worker::Config::try_parse_from([
        "tally-worker",
        "--redis-url",
        redis_url,
        "--redis-key-prefix",
        keys.prefix(),
        "--database-url",
        database_url,
        "--block",
        "100ms",
        "--housekeeping-interval",
        "100ms",
        "--claim-idle",
        CLAIM_IDLE,
    ])
    .unwrap();
    InProcess::start(|public, admin, stop| {
        let admin = Some(admin);
        tally_worker::run(Ports { public, admin }, config, stop)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bounded_series_is_exported_from_the_start() {
    let database = shared_postgres().fresh_database().await;
    let keys = Keys::new(unique_prefix());
    let running = start(&shared_redis().url(), &keys, &database.worker_url()).await;

    let page = scrape(running.admin).await.unwrap();
    let mut series = labelled("tally_worker_entries_applied_total", "kind", &KINDS);
    let routes = ["other", "healthz", "readyz"];
    series.extend(labelled(
        "http_request_duration_seconds_count",
        "route",
        &routes,
    ));
    series.extend(
        [
            "tally_worker_entries_redelivered_total",
            "tally_worker_entries_reclaimed_total",
            "tally_worker_entries_dead_lettered_total",
            "tally_worker_apply_duration_seconds_count",
            "tally_worker_lag_seconds",
        ]
        .map(String::from),
    );
    assert_eq!(not_at_zero(&page, &series), Vec::<String>::new(), "{page}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_reclaims_dead_letters_and_lag_are_exported() {
    let database = shared_postgres().fresh_database().await;
    let redis_url = shared_redis().url();
    let keys = Keys::new(unique_prefix());
    let mut redis = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    // A consumer that read two votes and died: they stay pending under its name.
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(keys.vote_stream())
        .arg(CONSUMER_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut redis)
        .await
        .unwrap();
    xadd(&mut redis, &keys, &vote("ann", "a")).await;
    xadd(&mut redis, &keys, &vote("bob", "a")).await;
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(CONSUMER_GROUP)
        .arg("ghost")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg(keys.vote_stream())
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    // Then: a newer ballot of ann's, two more voters, a close, and an entry that can
    // never be applied.
    xadd(&mut redis, &keys, &vote("ann", "b")).await;
    xadd(&mut redis, &keys, &vote("carl", "a")).await;
    xadd(&mut redis, &keys, &vote("dave", "b")).await;
    let close = StatusEntry {
        poll: "default".into(),
        open: false,
        at_ms: tally_model::timestamp::now_ms(),
    };
    xadd(&mut redis, &keys, &close.to_fields()).await;
    xadd(&mut redis, &keys, &[("kind", "nonsense".to_owned())]).await;

    let worker = start(&redis_url, &keys, &database.worker_url()).await;
    let (public_addr, admin_addr) = (worker.public, worker.admin);

    eventually(WAIT, "the pending entries show as lag", || async {
        let lag = metric(admin_addr, "tally_worker_lag_seconds").await?;
        (lag >= 0.5).then_some(())
    })
    .await;
    eventually(
        WAIT,
        "the dead consumer's entries are reclaimed",
        || async {
            let reclaimed = metric(admin_addr, "tally_worker_entries_reclaimed_total").await?;
            (reclaimed == 2.0).then_some(())
        },
    )
    .await;
    eventually(WAIT, "nothing waits any more", || async {
        let lag = metric(admin_addr, "tally_worker_lag_seconds").await?;
        (lag == 0.0).then_some(())
    })
    .await;

    let page = scrape(admin_addr).await.unwrap();
    let at = |series: &str| value(&page, series);
    assert_eq!(
        at("tally_worker_entries_applied_total{kind=\"vote\"}"),
        Some(5.0),
        "{page}"
    );
    assert_eq!(
        at("tally_worker_entries_applied_total{kind=\"close\"}"),
        Some(1.0)
    );
    assert_eq!(at("tally_worker_entries_dead_lettered_total"), Some(1.0));
    assert_eq!(
        at("tally_worker_entries_redelivered_total"),
        Some(1.0),
        "ann's older ballot, reclaimed after her newer one, changed nothing"
    );
    assert_eq!(
        at("tally_worker_batch_size_sum"),
        Some(7.0),
        "every entry read once"
    );
    let batches = at("tally_worker_batch_size_count").unwrap();
    assert!(batches >= 2.0, "{batches}");
    assert_eq!(
        at("tally_worker_apply_duration_seconds_count"),
        Some(batches)
    );
    let length: i64 = redis::cmd("XLEN")
        .arg(keys.vote_stream())
        .query_async(&mut redis)
        .await
        .unwrap();
    eventually(WAIT, "the sampled length is the stream's", || async {
        let sampled = metric(admin_addr, "tally_stream_length").await?;
        (sampled == length as f64).then_some(())
    })
    .await;
    assert_eq!(get(public_addr, "/metrics").await.unwrap().0, 404);
    assert_eq!(get(admin_addr, "/readyz").await.unwrap().0, 200);

    worker.stop().await.unwrap();
}
