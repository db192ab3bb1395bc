//! Scale questions through the edge with every service running: an event with a 0–10
//! question and labelled ends, ballots counted per point, the mean and median in the
//! results document (from the worker's cache and from Postgres alike), withheld from the
//! room while the presenter hides the results, and malformed scales refused with a
//! clear error and nothing queued.

#![allow(clippy::unwrap_used)]

use http::{Method, StatusCode};
use redis::AsyncCommands;
use serde_json::{json, Value};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;

const JSON: (&str, &str) = ("content-type", "application/json");
const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

async fn create(client: &Client, body: &Value) -> Reply {
    client
        .send(
            Method::POST,
            "/events",
            &[JSON, ACCEPT_JSON],
            body.to_string(),
        )
        .await
}

async fn command(client: &Client, code: &str, token: &str, action: &str) {
    let authorization = format!("Bearer {token}");
    let reply = client
        .send(
            Method::POST,
            &format!("/events/{code}/{action}"),
            &[JSON, ACCEPT_JSON, ("authorization", &authorization)],
            "{}",
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "{action}: {:?}",
        reply.body
    );
}

async fn results_where(
    client: &Client,
    path: &str,
    headers: &[(&str, &str)],
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(WAIT, what, || async {
        let reply = client.send(Method::GET, path, headers, "").await;
        (reply.status == StatusCode::OK && done(&reply.json())).then(|| reply.json())
    })
    .await
}

async fn stream_length(stack: &Stack) -> i64 {
    stack
        .redis()
        .await
        .xlen(stack.keys.vote_stream())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_scale_question_counts_points_and_summarises_them() {
    let stack = Stack::builder().start().await;
    let presenter = Client::new(stack.edge());

    // Malformed scales: a clear error each, nothing queued.
    let before = stream_length(&stack).await;
    for (bad, status) in [
        (json!({"max": 11}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"min": 1, "max": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"min": 2}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"max_label": "x".repeat(61)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"max": 1000}), StatusCode::BAD_REQUEST),
        (json!({"min": "one"}), StatusCode::BAD_REQUEST),
        (json!({"steps": 3}), StatusCode::BAD_REQUEST),
        (json!("1-5"), StatusCode::BAD_REQUEST),
    ] {
        let body = json!({"title": "T", "questions": [{"question": "Q?", "scale": bad}]});
        let reply = create(&presenter, &body).await;
        assert_eq!(reply.status, status, "{bad}: {:?}", reply.body);
        assert!(!reply.error().is_empty(), "{bad}: a message says why");
    }
    let written = json!({"title": "T", "questions": [
        {"question": "Q?", "options": ["Low", "High"], "scale": {}}]});
    let reply = create(&presenter, &written).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.error().contains("scale"), "{}", reply.error());
    assert_eq!(
        stream_length(&stack).await,
        before,
        "no refused event is queued"
    );

    let reply = create(
        &presenter,
        &json!({"title": "Town hall", "questions": [
            {"question": "How likely are you to recommend us?",
             "scale": {"min": 0, "max": 10, "min_label": "Not at all", "max_label": "Certainly"}},
            {"question": "Lunch?", "options": ["Yes", "No"]},
        ]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let answer = reply.json();
    let code = answer["code"].as_str().unwrap().to_owned();
    let token = answer["owner_token"].as_str().unwrap().to_owned();
    let poll = answer["questions"][0].as_str().unwrap().to_owned();
    eventually(WAIT, "the event appears", || async {
        (presenter.get(&format!("/events/{code}")).await.status == StatusCode::OK).then_some(())
    })
    .await;
    command(&presenter, &code, &token, "next").await;
    let state = eventually(WAIT, "the scale question is shown", || async {
        let state = presenter.get(&format!("/events/{code}")).await.json();
        (state["current"]["position"] == 0).then_some(state)
    })
    .await;
    assert_eq!(state["current"]["scale"]["max"], 10, "{state}");
    assert_eq!(state["current"]["scale"]["min_label"], "Not at all");

    let results_path = format!("/results/{poll}");
    let empty = results_where(
        &presenter,
        &results_path,
        &[],
        "the scale's results",
        |_| true,
    )
    .await;
    let labels: Vec<&str> = empty["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    );
    assert_eq!(empty["summary"], json!({"mean": null, "median": null}));

    // Answers 0, 7, 10, 10 (options a, h, k, k): mean 6.75, median (7 + 10) / 2.
    for option in ["a", "h", "k", "k"] {
        let voter = Client::new(stack.edge());
        let reply = eventually(WAIT, "the shown question takes ballots", || async {
            let reply = voter.vote_json(&poll, option).await;
            (reply.status != StatusCode::CONFLICT).then_some(reply)
        })
        .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    let refused = Client::new(stack.edge()).vote_json(&poll, "l").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no point 11"
    );
    let counted = results_where(&presenter, &results_path, &[], "four answers", |r| {
        r["total"] == 4
    })
    .await;
    assert_eq!(
        counted["summary"],
        json!({"mean": 6.75, "median": 8.5}),
        "{counted}"
    );
    assert_eq!(counted["options"][10]["votes"], 2);
    stack.wait_drained().await;

    // The same document when Redis has lost its copy: rebuilt from Postgres.
    let _: i64 = stack
        .redis()
        .await
        .del(stack.keys.results_cache(&poll))
        .await
        .unwrap();
    let rebuilt = presenter.get(&results_path).await.json();
    assert_eq!(rebuilt["summary"], counted["summary"]);
    assert_eq!(rebuilt["scale"], counted["scale"]);

    // Hidden: the room sees the scale, not the summary; the owner still does.
    command(&presenter, &code, &token, "hide").await;
    let hidden = results_where(
        &presenter,
        &results_path,
        &[],
        "hidden from the room",
        |r| r["hidden"] == true,
    )
    .await;
    assert_eq!(hidden["summary"], Value::Null, "{hidden}");
    assert_eq!(hidden["scale"]["max_label"], "Certainly");
    let authorization = format!("Bearer {token}");
    let owner = presenter
        .send(
            Method::GET,
            &results_path,
            &[("authorization", &authorization)],
            "",
        )
        .await
        .json();
    assert_eq!(owner["summary"]["median"], 8.5, "{owner}");
}
