//! Scale questions through the edge with every service running: an event with a 0–10
//! question and labelled ends, ballots counted per point, the mean and median in the
//! results document (from the worker's cache and from Postgres alike), withheld from the
//! room while the presenter hides the results, and malformed scales refused with a
//! clear error and nothing queued.

#![allow(clippy::unwrap_used)]

use http::{Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::event_api::{
    create_event as create, create_event_ready, event_command, results_from_postgres,
    results_where, stream_length,
};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Stack};
use tally_testkit::eventually;

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

    let event = create_event_ready(
        &presenter,
        &json!({"title": "Town hall", "questions": [
            {"question": "How likely are you to recommend us?",
             "scale": {"min": 0, "max": 10, "min_label": "Not at all", "max_label": "Certainly"}},
            {"question": "Lunch?", "options": ["Yes", "No"]},
        ]}),
    )
    .await;
    let code = event.code.clone();
    let poll = event.questions[0].clone();
    event_command(&presenter, &event, "next").await;
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
        let voter = Client::visitor(stack.edge(), &format!("/e/{code}")).await;
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

    // The page without JavaScript says what the ends mean, and the mean and median.
    let page = Client::new(stack.edge()).get(&format!("/e/{code}")).await;
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(
        html.contains(r#"<p class="scale-ends">0 = Not at all · 10 = Certainly</p>"#),
        "{html}"
    );
    assert!(html.contains("Mean 6.8 · median 8.5"), "{html}");

    // The same document when Redis has lost its copy: rebuilt from Postgres.
    let rebuilt = results_from_postgres(&stack, &presenter, &poll).await;
    assert_eq!(rebuilt["summary"], counted["summary"]);
    assert_eq!(rebuilt["scale"], counted["scale"]);

    // Hidden: the room sees the scale, not the summary; the owner still does.
    event_command(&presenter, &event, "hide").await;
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
    let authorization = event.authorization();
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
