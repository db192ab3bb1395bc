//! The event API as tests drive it: create an event, wait for it, send the presenter's
//! commands, and wait for a results document that satisfies a test.

use http::{Method, StatusCode};
use redis::AsyncCommands;
use serde_json::Value;
use tally_testkit::eventually;

use crate::stack::WAIT;
use crate::{Client, Reply, Stack};

/// `Content-Type` of the JSON API.
pub const JSON: (&str, &str) = ("content-type", "application/json");

/// Asks for JSON answers (errors included) rather than pages.
pub const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

/// An event as its creator holds it.
#[derive(Debug, Clone)]
pub struct OwnedEvent {
    /// The join code.
    pub code: String,
    /// The owner's token.
    pub token: String,
    /// The questions' poll ids, in order.
    pub questions: Vec<String>,
    /// A `code` event's voter codes, as the creation answer listed them.
    pub voter_codes: Vec<String>,
}

impl OwnedEvent {
    /// The owner's `Authorization` header value.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// `POST /events` with `body` as JSON.
pub async fn create_event(client: &Client, body: &Value) -> Reply {
    client
        .send(
            Method::POST,
            "/events",
            &[JSON, ACCEPT_JSON],
            body.to_string(),
        )
        .await
}

/// The owner's CSV export of the results of `poll`, a question of `event` (asserting
/// `200`).
pub async fn owner_csv(client: &Client, event: &OwnedEvent, poll: &str) -> String {
    let authorization = event.authorization();
    let csv = client
        .send(
            Method::GET,
            &format!("/results/{poll}/csv"),
            &[("authorization", &authorization)],
            "",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{:?}", csv.body);
    String::from_utf8_lossy(&csv.body).into_owned()
}

/// `POST /vote` as a browser without JavaScript posts its form (`body` urlencoded).
pub async fn post_ballot_form(client: &Client, body: String) -> Reply {
    client
        .send(
            Method::POST,
            "/vote",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", "text/html"),
            ],
            body,
        )
        .await
}

/// `POST /polls` with `body` as JSON: a poll of its own.
pub async fn create_poll(client: &Client, body: &Value) -> Reply {
    client
        .send(
            Method::POST,
            "/polls",
            &[JSON, ACCEPT_JSON],
            body.to_string(),
        )
        .await
}

/// Creates the event `body` describes (asserting `202`) and waits until its owner can
/// command it.
pub async fn create_event_ready(client: &Client, body: &Value) -> OwnedEvent {
    let reply = create_event(client, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let answer = reply.json();
    let text = |value: &Value| value.as_str().expect("a string").to_owned();
    let event = OwnedEvent {
        code: text(&answer["code"]),
        token: text(&answer["owner_token"]),
        questions: answer["questions"]
            .as_array()
            .expect("question ids")
            .iter()
            .map(text)
            .collect(),
        voter_codes: answer["voter_codes"]
            .as_array()
            .map(|codes| codes.iter().map(text).collect())
            .unwrap_or_default(),
    };
    // The owner's view comes from the Redis copy only (the read-only role cannot see
    // the owner's hash), which is also what the vote service checks commands against;
    // the room's view may come from Postgres a moment before that copy is written.
    eventually(WAIT, "the event appears", || async {
        let reply = owner_view(client, &event).await;
        (reply.status == StatusCode::OK && reply.json()["questions_list"].is_array()).then_some(())
    })
    .await;
    event
}

/// `GET /events/<code>` as the owner: the state with every question.
pub async fn owner_view(client: &Client, event: &OwnedEvent) -> Reply {
    let authorization = event.authorization();
    client
        .send(
            Method::GET,
            &format!("/events/{}", event.code),
            &[ACCEPT_JSON, ("authorization", &authorization)],
            "",
        )
        .await
}

/// Sends the presenter's `action` with `body` (JSON) and the owner's token.
pub async fn send_command(
    client: &Client,
    event: &OwnedEvent,
    action: &str,
    body: &Value,
) -> Reply {
    let authorization = event.authorization();
    client
        .send(
            Method::POST,
            &format!("/events/{}/{action}", event.code),
            &[JSON, ACCEPT_JSON, ("authorization", &authorization)],
            body.to_string(),
        )
        .await
}

/// Sends the presenter's `action` (an empty JSON body) and asserts `202`.
pub async fn event_command(client: &Client, event: &OwnedEvent, action: &str) {
    let reply = send_command(client, event, action, &serde_json::json!({})).await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "{action}: {:?}",
        reply.body
    );
}

/// Shows the event's first question (`next`) and waits until the room's view has it;
/// returns that view.
pub async fn show_first_question(client: &Client, event: &OwnedEvent) -> Value {
    event_command(client, event, "next").await;
    eventually(WAIT, "the first question is shown", || async {
        let state = client.get(&format!("/events/{}", event.code)).await.json();
        (state["current"]["position"] == 0).then_some(state)
    })
    .await
}

/// Waits until `GET path` (with `headers`) answers a document for which `done` holds.
pub async fn results_where(
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

/// `poll`'s results document as the result service rebuilds it from Postgres: the
/// stream drained, then Redis's cached copy deleted before the read.
pub async fn results_from_postgres(stack: &Stack, client: &Client, poll: &str) -> Value {
    stack.wait_drained().await;
    let _: i64 = stack
        .redis()
        .await
        .del(stack.keys.results_cache(poll))
        .await
        .expect("DEL");
    client.get(&format!("/results/{poll}")).await.json()
}

/// The id of the last entry ever appended to the vote stream: unlike its length, which
/// falls as the worker trims applied entries, it moves only when something is queued.
pub async fn last_entry_id(stack: &Stack) -> String {
    let info: redis::streams::StreamInfoStreamReply = stack
        .redis()
        .await
        .xinfo_stream(stack.keys.vote_stream())
        .await
        .expect("XINFO STREAM");
    info.last_generated_id
}

/// Entries in the vote stream, to show that a refused request queued nothing (where no
/// worker trims it meanwhile; see [`last_entry_id`]).
pub async fn stream_length(stack: &Stack) -> i64 {
    stack
        .redis()
        .await
        .xlen(stack.keys.vote_stream())
        .await
        .expect("XLEN")
}
