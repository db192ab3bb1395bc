//! The access log through the running edge: one JSON line per request, with the replica
//! that answered a proxied one and the request's id. Its own test binary, because the
//! edge's worker threads log through the process's global subscriber.

mod support;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use support::{client, Edge, Replica};
use tally_testkit::CapturedLog;
use tracing_subscriber::EnvFilter;

/// The access lines `log` holds, parsed.
fn access_lines(log: &CapturedLog) -> Vec<Value> {
    log.text()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON line"))
        .filter(|line| line["target"] == "access")
        .collect()
}

#[tokio::test]
async fn every_request_gets_a_line_with_its_replica_and_id() {
    let captured = CapturedLog::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(EnvFilter::new("warn,access=info"))
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("the only subscriber of this test binary");

    let vote = Replica::start("vote-1").await;
    let result = Replica::start("result-1").await;
    let edge = Edge::start(&[vote.address], &[result.address], &[]).await;
    let client = client();
    for (method, path, id) in [
        (Method::POST, "/vote", "access-vote-1"),
        (Method::GET, "/", "access-page-1"),
    ] {
        let body = if method == Method::POST { "vote=a" } else { "" };
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", edge.address))
            .header("x-request-id", id)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .expect("request");
        let response = client.request(request).await.expect("edge answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    support::wait_until("both access lines are written", || {
        let lines = access_lines(&captured);
        async move { lines.len() >= 2 }
    })
    .await;
    let lines = access_lines(&captured);
    let line = |id: &str| {
        lines
            .iter()
            .find(|line| line["fields"]["request_id"] == id)
            .unwrap_or_else(|| panic!("a line for {id} in {lines:?}"))
            .clone()
    };
    let vote_line = line("access-vote-1");
    assert_eq!(vote_line["fields"]["method"], "POST");
    assert_eq!(vote_line["fields"]["path"], "/vote");
    assert_eq!(vote_line["fields"]["route"], "vote");
    assert!(StatusCode::from_u16(
        u16::try_from(vote_line["fields"]["status"].as_u64().expect("status")).expect("u16")
    )
    .expect("status")
    .is_success());
    assert_eq!(vote_line["fields"]["upstream"], vote.address.to_string());
    assert!(
        vote_line["fields"]["duration_ms"]
            .as_f64()
            .expect("duration")
            >= 0.0
    );

    let page_line = line("access-page-1");
    assert_eq!(page_line["fields"]["route"], "static");
    assert_eq!(page_line["fields"]["status"], 200);
    assert_eq!(page_line["fields"]["upstream"], "-");
}
