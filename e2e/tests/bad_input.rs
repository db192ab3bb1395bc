//! Every public endpoint tried with malformed, oversized, missing and hostile input:
//! each gets its status and a JSON error, and nothing reaches the vote stream.

use std::net::SocketAddr;
use std::time::Duration;

use http::{Method, StatusCode};
use redis::AsyncCommands;
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Stack};
use tally_testkit::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const JSON: (&str, &str) = ("content-type", "application/json");
/// One bad request: method, path, headers, body, and the status it must get.
type Case<'a> = (Method, &'a str, Vec<(&'a str, &'a str)>, String, StatusCode);

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// Opens a closed poll and a multiple-choice one, and waits until the vote service can see them.
async fn add_polls(stack: &Stack) {
    stack
        .postgres()
        .await
        .batch_execute(
            "INSERT INTO polls (id, question, choice, open) VALUES ('closed', 'Over?', 'single', false);
             INSERT INTO poll_options VALUES ('closed','x','X',0),('closed','y','Y',1);
             INSERT INTO tallies (poll_id, option_id) VALUES ('closed','x'),('closed','y');",
        )
        .await
        .expect("closed poll");
    let mut redis = stack.redis().await;
    let _: () = redis
        .del(stack.keys.definitions_marker())
        .await
        .expect("DEL marker");
    eventually(WAIT, "the worker republishes the definitions", || async {
        let exists: bool = stack
            .redis()
            .await
            .exists(stack.keys.poll_definition("closed"))
            .await
            .ok()?;
        exists.then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_votes_get_clear_errors_and_change_nothing() {
    let stack = Stack::builder().start().await;
    add_polls(&stack).await;
    let huge = format!(
        r#"{{"poll":"default","option":"a","pad":"{}"}}"#,
        "x".repeat(100_000)
    );
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/vote",
            vec![JSON],
            "{".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            "".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            "null".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":7,"option":"a"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","option":true}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","option":"a","extra":1}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"x'; DROP TABLE ballots;--","option":"a"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","option":"a\r\nx: y"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","option":"<script>"}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![FORM],
            "vote=".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![FORM],
            "vote=a&vote=%ZZ".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/",
            vec![FORM],
            "nothing=here".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            huge.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"nope","option":"a"}"#.into(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","option":"c"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","options":["a","b"]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","options":[]}"#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/vote",
            vec![JSON],
            r#"{"poll":"closed","option":"x"}"#.into(),
            StatusCode::CONFLICT,
        ),
        (
            Method::POST,
            "/vote",
            vec![("content-type", "text/plain")],
            "vote=a".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::POST,
            "/vote",
            vec![],
            "vote=a".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Method::GET,
            "/vote",
            vec![],
            "".into(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::PUT,
            "/vote",
            vec![JSON],
            r#"{"poll":"default","option":"a"}"#.into(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::DELETE,
            "/results",
            vec![],
            "".into(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            "/results/nope",
            vec![],
            "".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/results/..%2f..%2fetc",
            vec![],
            "".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/results/a%00b",
            vec![],
            "".into(),
            StatusCode::NOT_FOUND,
        ),
    ];
    // Through the edge, as the public sees it, and straight at the services behind it.
    let edge = Client::new(stack.edge());
    for (method, path, headers, body, status) in &cases {
        let reply = edge.send(method.clone(), path, headers, body.clone()).await;
        assert_eq!(
            reply.status, *status,
            "{method} {path} {body:.80}: {:?}",
            reply.body
        );
        assert!(
            !reply.error().is_empty(),
            "{method} {path}: JSON error body"
        );
    }
    let vote = Client::new(stack.vote());
    for (method, path, headers, body, status) in cases
        .iter()
        .filter(|case| case.1 != "/results" && !case.1.starts_with("/results/"))
    {
        let reply = vote.send(method.clone(), path, headers, body.clone()).await;
        assert_eq!(reply.status, *status, "vote: {method} {path} {body:.80}");
        assert!(!reply.error().is_empty());
    }
    assert_eq!(
        vote.send(Method::GET, "/vote", &[], "").await.headers["allow"],
        "POST",
        "405 says which method to use"
    );
    let chunked = chunked_post(stack.vote(), 64 * 1024).await;
    assert!(
        chunked.starts_with("HTTP/1.1 413"),
        "a chunked body over the limit: {chunked:.200}"
    );

    let length: u64 = stack
        .redis()
        .await
        .xlen(stack.keys.vote_stream())
        .await
        .expect("XLEN");
    assert_eq!(length, 0, "no bad vote reached the stream");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tallies = stack.tallies("default").await;
    assert!(tallies.values().all(|votes| *votes == 0), "{tallies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_voter_cookie_counts_as_no_cookie() {
    let stack = Stack::builder().start().await;
    let honest = Client::new(stack.edge());
    assert_eq!(
        honest.vote_json("default", "a").await.status,
        StatusCode::ACCEPTED
    );
    let honest_cookie = honest.cookie().expect("a voter cookie was set");
    let (_, signed) = honest_cookie.split_once('=').expect("name=value");
    let (voter, signature) = signed.split_once('.').expect("voter.signature");

    // Someone copies the honest voter's id with a made-up signature, hoping to change that vote.
    let forger = Client::new(stack.edge());
    forger.set_cookie(Some(format!(
        "tally_voter={voter}.{}",
        signature.replace(['A', 'B'], "C") + "x"
    )));
    let reply = forger.vote_json("default", "b").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let issued = forger.cookie().expect("the forger got a cookie of its own");
    assert!(!issued.contains(voter), "a fresh voter id was issued");

    stack.wait_drained().await;
    let voters: Vec<String> = stack
        .postgres()
        .await
        .query(
            "SELECT voter FROM ballots ORDER BY entry_ms, entry_seq",
            &[],
        )
        .await
        .expect("ballots")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        voters.len(),
        2,
        "two ballots: the honest vote was not overwritten"
    );
    assert_eq!(voters[0], voter);
    assert_eq!(stack.tallies("default").await.values().sum::<i64>(), 2);
}

/// Sends a chunked POST of `size` bytes without Content-Length; returns the raw response head.
async fn chunked_post(addr: SocketAddr, size: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = "POST /vote HTTP/1.1\r\nhost: tally\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b' '; 4096];
    for _ in 0..size / chunk.len() {
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the server may stop reading once the limit is passed
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = vec![0u8; 1024];
    let read = tokio::time::timeout(WAIT, stream.read(&mut response))
        .await
        .expect("answered")
        .unwrap_or(0);
    String::from_utf8_lossy(&response[..read]).into_owned()
}
