//! The result service in-process against real Redis and Postgres from the test kit:
//! cache hits byte for byte, misses read Postgres and fill the cache, and each of the
//! two being down degrades the way the design says.

use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tally_model::Keys;
use tally_testkit::{shared_postgres, shared_redis, unique_prefix};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const SEED: &str = "
    INSERT INTO polls (id, question, choice, ballots, version, updated_at)
         VALUES ('lunch', 'Lunch?', 'single', 5, 9, '2026-01-02T03:04:05.678Z');
    INSERT INTO poll_options (poll_id, id, label, position)
         VALUES ('lunch', 'pizza', 'Pizza', 1), ('lunch', 'salad', 'Salad', 2);
    INSERT INTO tallies (poll_id, option_id, votes) VALUES ('lunch', 'pizza', 5);
";

/// A database with the schema and one poll; returns the reader's URL.
async fn seeded_database() -> String {
    seeded().await.reader_url()
}

/// A database with the schema and one poll.
async fn seeded() -> tally_testkit::TestDatabase {
    let database = shared_postgres().fresh_database().await;
    let (mut client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .expect("connect as owner");
    tokio::spawn(connection);
    tally_worker::migrate::migrate(&mut client)
        .await
        .expect("schema");
    client.batch_execute(SEED).await.expect("seed");
    database
}

async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

struct Service {
    address: SocketAddr,
    prefix: String,
    _stop: oneshot::Sender<()>,
}

async fn start(redis_url: &str, database_url: &str) -> Service {
    let prefix = unique_prefix();
    let config = tally_result::Config::try_parse_from([
        "tally-result",
        &format!("--redis-url={redis_url}"),
        &format!("--redis-key-prefix={prefix}"),
        &format!("--database-url={database_url}"),
    ])
    .expect("config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        tally_result::run(listener, config, shutdown)
            .await
            .expect("runs");
    });
    Service {
        address,
        prefix,
        _stop: stop,
    }
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(shared_redis().url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

async fn request(service: &Service, method: Method, path: &str) -> (StatusCode, HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", service.address))
        .body(Empty::new())
        .expect("request");
    let response = client.request(request).await.expect("answer");
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.expect("body").to_bytes(),
    )
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("JSON")
}

#[tokio::test]
async fn a_miss_reads_postgres_and_fills_the_cache() {
    let service = start(&shared_redis().url(), &seeded_database().await).await;
    let (status, headers, body) = request(&service, Method::GET, "/results/lunch").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        json(&body),
        serde_json::json!({
            "poll": "lunch", "question": "Lunch?",
            "options": [
                {"id": "pizza", "label": "Pizza", "votes": 5},
                {"id": "salad", "label": "Salad", "votes": 0}
            ],
            "total": 5, "updated_at": "2026-01-02T03:04:05.678Z", "version": 9,
            "open": true, "closes_at": null, "choice": "single",
            "hide_results": false, "hidden": false, "identity": "open"
        })
    );

    let cache_key = Keys::new(service.prefix.clone()).results_cache("lunch");
    let (version, cached): (i64, Vec<u8>) = redis::cmd("HMGET")
        .arg(&cache_key)
        .arg("version")
        .arg("body")
        .query_async(&mut redis().await)
        .await
        .expect("cache filled");
    assert_eq!(version, 9);
    assert_eq!(cached, body);
}

#[tokio::test]
async fn a_hit_returns_the_cached_bytes_unchanged() {
    let service = start(&shared_redis().url(), &seeded_database().await).await;
    let cache_key = Keys::new(service.prefix.clone()).results_cache("lunch");
    // Spacing no serialiser would produce: the bytes are the cache's, not a re-encoding.
    let cached = r#"{"poll":"lunch",  "question":"From the cache?","options":[],"total":0,
        "updated_at":"2026-01-01T00:00:00.000Z","version":100,"open":true,"closes_at":null,
        "choice":"single","hide_results":false,"hidden":false}"#;
    let () = redis::cmd("HSET")
        .arg(&cache_key)
        .arg("version")
        .arg(100)
        .arg("body")
        .arg(cached)
        .query_async(&mut redis().await)
        .await
        .expect("seed cache");
    let (status, _, body) = request(&service, Method::GET, "/results/lunch").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, cached.as_bytes());
}

#[tokio::test]
async fn unknown_polls_paths_and_methods() {
    let service = start(&shared_redis().url(), &seeded_database().await).await;

    let (status, _, body) = request(&service, Method::GET, "/results/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        json(&body),
        serde_json::json!({"error": "no poll \"nope\""})
    );

    let (status, _, body) = request(&service, Method::GET, "/results/a.b").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        json(&body),
        serde_json::json!({"error": "no such endpoint"})
    );

    let (status, headers, _) = request(&service, Method::POST, "/results/lunch").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET, HEAD");

    let (_, _, full) = request(&service, Method::GET, "/results/lunch").await;
    let (status, headers, body) = request(&service, Method::HEAD, "/results/lunch").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        full.len().to_string().as_str()
    );

    let (status, _, body) = request(&service, Method::GET, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn redis_down_falls_back_to_postgres() {
    let redis_url = format!("redis://{}/", closed_port().await);
    let service = start(&redis_url, &seeded_database().await).await;
    let (status, _, body) = request(&service, Method::GET, "/results/lunch").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["version"], 9);

    let (status, _, body) = request(&service, Method::GET, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let reason = json(&body)["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        reason.starts_with("redis:") && !reason.contains("postgres"),
        "{reason}"
    );
}

#[tokio::test]
async fn both_down_on_a_miss_is_503_with_retry_after() {
    let redis_url = format!("redis://{}/", closed_port().await);
    let database_url = format!("postgres://tally_result@{}/tally", closed_port().await);
    let service = start(&redis_url, &database_url).await;
    let (status, headers, body) = request(&service, Method::GET, "/results").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "2");
    assert!(json(&body)["error"].is_string());
}

const CACHED_DEFAULT: &str = r#"{"poll":"default","question":"Cats vs Dogs","options":[],"total":0,"updated_at":"2026-01-01T00:00:00.000Z","version":1}"#;

#[tokio::test]
async fn postgres_down_still_serves_cached_results() {
    let database_url = format!("postgres://tally_result@{}/tally", closed_port().await);
    let service = start(&shared_redis().url(), &database_url).await;
    let cache_key = Keys::new(service.prefix.clone()).results_cache("default");
    let () = redis::cmd("HSET")
        .arg(&cache_key)
        .arg("version")
        .arg(1)
        .arg("body")
        .arg(CACHED_DEFAULT)
        .query_async(&mut redis().await)
        .await
        .expect("seed cache");
    let (status, _, body) = request(&service, Method::GET, "/results").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, CACHED_DEFAULT.as_bytes());
}

#[tokio::test]
async fn connects_postgres_at_start_before_any_request() {
    // A reader that connected only on its first request would find names that stopped
    // resolving (podman's DNS while containers join) and answer 503; warm, it does not.
    let database = seeded().await;
    let _service = start(&shared_redis().url(), &database.reader_url()).await;
    let (client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .expect("connect as owner");
    tokio::spawn(connection);
    tally_testkit::eventually(
        std::time::Duration::from_secs(10),
        "the result service's own Postgres connection",
        || async {
            let row = client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                      WHERE datname = $1 AND application_name = 'tally-result'",
                    &[&database.name],
                )
                .await
                .ok()?;
            (row.get::<_, i64>(0) >= 1).then_some(())
        },
    )
    .await;
}
