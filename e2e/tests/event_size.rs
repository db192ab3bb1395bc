//! The largest event a presenter may write passes the edge: 30 questions of 10 options,
//! every label at its 200-character limit in four-byte characters (about 250 KB, far over
//! the edge's 64 KiB limit for other requests), while a ballot of that size is still
//! refused at the edge and an event body over the event limit gets a clear `413`.

#![allow(clippy::unwrap_used)]

use http::{Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::event_api::{create_event, create_event_ready, stream_length, ACCEPT_JSON, JSON};
use tally_e2e::{Client, Reply, Stack};
use tally_model::event::MAX_EVENT_QUESTIONS;
use tally_model::new_poll::{MAX_LABEL_CHARS, MAX_OPTIONS};

/// The edge's default limit for every request but `POST /events` (`EDGE_MAX_BODY_BYTES`).
const EDGE_DEFAULT_LIMIT: usize = 64 * 1024;

/// The edge's default limit for `POST /events` (`EDGE_MAX_EVENT_BODY_BYTES`).
const EDGE_EVENT_LIMIT: usize = 512 * 1024;

/// A label of `MAX_LABEL_CHARS` characters, four bytes each in UTF-8, told apart by `n`.
fn widest_label(n: usize) -> String {
    let tag = format!("{n:03}");
    let fill = "🗳".repeat(MAX_LABEL_CHARS - tag.chars().count());
    format!("{tag}{fill}")
}

/// The largest event the model accepts.
fn largest_event() -> Value {
    let questions: Vec<Value> = (0..MAX_EVENT_QUESTIONS)
        .map(|q| {
            let options: Vec<String> = (0..MAX_OPTIONS)
                .map(|o| widest_label(q * MAX_OPTIONS + o))
                .collect();
            json!({"question": format!("Question {q}"), "options": options})
        })
        .collect();
    json!({"title": "The whole agenda", "questions": questions})
}

/// Asserts `reply` is a `413` whose JSON error says why.
fn assert_too_large(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{:?}",
        reply.body
    );
    assert!(!reply.error().is_empty(), "a message says why");
}

#[tokio::test]
async fn the_largest_event_passes_the_edge_and_larger_bodies_are_refused() {
    let stack = Stack::builder().start().await;
    let presenter = Client::new(stack.edge());

    let body = largest_event();
    let size = body.to_string().len();
    assert!(
        size > 3 * EDGE_DEFAULT_LIMIT && size < EDGE_EVENT_LIMIT,
        "the event is {size} bytes"
    );
    let event = create_event_ready(&presenter, &body).await;
    assert_eq!(event.questions.len(), MAX_EVENT_QUESTIONS);
    let reply = presenter
        .send(
            Method::GET,
            &format!("/events/{}", event.code),
            &[ACCEPT_JSON, ("authorization", &event.authorization())],
            "",
        )
        .await;
    let questions = reply.json()["questions_list"].clone();
    assert_eq!(questions.as_array().unwrap().len(), MAX_EVENT_QUESTIONS);

    // Over the event limit: the edge answers 413 with a JSON error and queues nothing.
    let before = stream_length(&stack).await;
    let oversized = json!({"title": "Too much", "padding": "x".repeat(EDGE_EVENT_LIMIT)});
    let reply = create_event(&presenter, &oversized).await;
    assert_too_large(&reply);

    // A ballot as large as the event above is still refused at the default limit.
    let ballot = json!({"poll": event.questions[0], "vote": "x".repeat(EDGE_DEFAULT_LIMIT + 1)});
    let reply = presenter
        .send(
            Method::POST,
            "/vote",
            &[JSON, ACCEPT_JSON],
            ballot.to_string(),
        )
        .await;
    assert_too_large(&reply);
    assert_eq!(
        stream_length(&stack).await,
        before,
        "nothing refused is queued"
    );
}
