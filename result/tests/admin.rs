//! Hidden results and the admin token against real Redis and Postgres: the public sees
//! `null` counts while a hiding poll is open, the token's holder sees them and alone
//! exports CSV; the token is checked against the definition in Redis.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tally_model::admin_token::hash_token;
use tally_model::{Choice, Keys, PollDefinition, PollOption};
use tally_testkit::{shared_postgres, shared_redis, unique_prefix};
use tokio::net::TcpListener;

const TOKEN: &str = "the-admin-token";

/// `hid` hides its results and is open; `shut` hides them and closed by hand.
const SEED: &str = "
    INSERT INTO polls (id, question, choice, ballots, version, hide_results, open)
         VALUES ('hid', 'Secret?', 'multiple', 3, 4, true, true),
                ('shut', 'Over?', 'single', 1, 2, true, false);
    INSERT INTO poll_options (poll_id, id, label, position)
         VALUES ('hid', 'a', 'Yes, \"sure\"', 0), ('hid', 'b', 'No', 1), ('hid', 'c', 'Maybe', 2),
                ('shut', 'a', 'A', 0), ('shut', 'b', 'B', 1);
    INSERT INTO tallies (poll_id, option_id, votes)
         VALUES ('hid', 'a', 2), ('hid', 'b', 1), ('hid', 'c', 1), ('shut', 'a', 1), ('shut', 'b', 0);
";

async fn start() -> SocketAddr {
    let database = shared_postgres().fresh_database().await;
    let (mut client, connection) =
        tokio_postgres::connect(&database.worker_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    tally_worker::migrate::migrate(&mut client).await.unwrap();
    client.batch_execute(SEED).await.unwrap();

    let prefix = unique_prefix();
    let keys = Keys::new(prefix.clone());
    let mut redis = redis::Client::open(shared_redis().url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for (id, open) in [("hid", true), ("shut", false)] {
        let definition = PollDefinition {
            id: id.into(),
            question: "?".into(),
            choice: Choice::Single,
            open,
            options: vec![PollOption {
                id: "a".into(),
                label: "A".into(),
            }],
            closes_at: None,
            hide_results: true,
            admin_hash: Some(hash_token(TOKEN)),
            event: None,
            blocked_words: Vec::new(),
            words: None,
            identity: Default::default(),
            voter_code_hashes: Vec::new(),
            passcode_hash: None,
        };
        let () = redis::cmd("SET")
            .arg(keys.poll_definition(id))
            .arg(serde_json::to_string(&definition).unwrap())
            .query_async(&mut redis)
            .await
            .unwrap();
    }

    let config = tally_result::Config::try_parse_from([
        "tally-result".to_owned(),
        format!("--redis-url={}", shared_redis().url()),
        format!("--redis-key-prefix={prefix}"),
        format!("--database-url={}", database.reader_url()),
    ])
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tally_result::run(listener, config, std::future::pending())
            .await
            .unwrap();
    });
    address
}

async fn get(
    address: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(format!("http://{address}{path}"));
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn counts(body: &[u8]) -> (Value, Vec<Value>, Value) {
    let document: Value = serde_json::from_slice(body).unwrap();
    let votes = document["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|option| option["votes"].clone())
        .collect();
    (document["total"].clone(), votes, document["hidden"].clone())
}

#[tokio::test]
async fn hidden_counts_are_null_for_the_public_and_shown_to_the_admin() {
    let address = start().await;
    let (status, _, body) = get(address, "/results/hid", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counts(&body),
        (Value::Null, vec![Value::Null; 3], json!(true))
    );

    let (status, _, body) = get(address, "/results/hid", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counts(&body),
        (json!(3), vec![json!(2), json!(1), json!(1)], json!(false))
    );

    let (status, _, body) = get(address, "/results/hid", Some("not-the-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["error"].is_string());

    // Closed: everyone sees the final counts.
    let (_, _, body) = get(address, "/results/shut", None).await;
    assert_eq!(
        counts(&body),
        (json!(1), vec![json!(1), json!(0)], json!(false))
    );
}

#[tokio::test]
async fn csv_is_for_the_admin_only_and_exact() {
    let address = start().await;
    let (status, headers, _) = get(address, "/results/hid/csv", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    let (status, _, _) = get(address, "/results/hid/csv", Some("wrong")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = get(address, "/results/nope/csv", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let expected = "option,label,votes,percent\r\n\
                    a,\"Yes, \"\"sure\"\"\",2,66.7\r\n\
                    b,No,1,33.3\r\n\
                    c,Maybe,1,33.3\r\n";
    let (status, headers, body) = get(address, "/results/hid/csv", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"tally-hid.csv\""
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body, expected.as_bytes());

    let path = format!("/results/hid/csv?token={TOKEN}");
    let (status, _, body) = get(address, &path, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a plain download link carries the token"
    );
    assert_eq!(body, expected.as_bytes());
    // The query token is for the CSV link only.
    let (_, _, body) = get(address, &format!("/results/hid?token={TOKEN}"), None).await;
    assert_eq!(counts(&body).2, json!(true));
}
