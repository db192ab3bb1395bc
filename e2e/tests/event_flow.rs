//! An event through the edge with every service running, as its presenter and its room
//! use it through the API: creation, the room waiting, "next", ballots on the current
//! question only, results hidden and revealed, closing a question, locking, participants
//! counted once each, the live feed following the presenter, and presenter commands
//! refused without the owner's token. Tallies always equal a recount.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;
use tokio_tungstenite::tungstenite::Message;

const JSON: (&str, &str) = ("content-type", "application/json");
const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

/// The presenter's moves must reach the room within this (the promise).
const FOLLOW_WITHIN: Duration = Duration::from_secs(1);

/// An event as its creator got it back.
struct Created {
    code: String,
    token: String,
    questions: Vec<String>,
}

async fn create(client: &Client) -> Created {
    let body = json!({
        "title": "Quarterly all hands",
        "questions": [
            {"question": "Which colour?", "options": ["Red", "Green", "Blue"]},
            {"question": "Which days?", "options": ["Mon", "Tue", "Wed"], "choice": "multiple"},
            {"question": "Lunch?", "options": ["Yes", "No"]},
        ],
    });
    let reply = client
        .send(
            Method::POST,
            "/events",
            &[JSON, ACCEPT_JSON],
            body.to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let answer = reply.json();
    let code = answer["code"].as_str().unwrap().to_owned();
    let token = answer["owner_token"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(answer["join_path"], format!("/j/{code}"));
    assert_eq!(
        answer["presenter_path"],
        format!("/e/{code}/present#{token}")
    );
    let questions: Vec<String> = answer["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(questions.len(), 3);
    Created {
        code,
        token,
        questions,
    }
}

async fn command(client: &Client, event: &Created, action: &str, body: Value) -> Reply {
    let authorization = format!("Bearer {}", event.token);
    client
        .send(
            Method::POST,
            &format!("/events/{}/{action}", event.code),
            &[JSON, ACCEPT_JSON, ("authorization", &authorization)],
            body.to_string(),
        )
        .await
}

async fn accepted(client: &Client, event: &Created, action: &str) {
    let reply = command(client, event, action, json!({})).await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "{action}: {:?}",
        reply.body
    );
}

/// Waits until the public state satisfies `done`; returns it.
async fn state_where(
    client: &Client,
    code: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(WAIT, what, || async {
        let reply = client.get(&format!("/events/{code}")).await;
        (reply.status == StatusCode::OK && done(&reply.json())).then(|| reply.json())
    })
    .await
}

async fn shows(client: &Client, code: &str, position: u64) -> Value {
    state_where(client, code, "the event shows the question", |state| {
        state["current"]["position"] == position
    })
    .await
}

/// Waits until the poll's public results satisfy `done`.
async fn results_where(
    client: &Client,
    poll: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(WAIT, what, || async {
        let reply = client.get(&format!("/results/{poll}")).await;
        (reply.status == StatusCode::OK && done(&reply.json())).then(|| reply.json())
    })
    .await
}

#[tokio::test]
async fn a_presenter_paces_the_room_through_an_event() {
    let stack = Stack::builder().start().await;
    let presenter = Client::new(stack.edge());
    let event = create(&presenter).await;
    let before = state_where(&presenter, &event.code, "the event appears", |_| true).await;
    assert_eq!(before["questions"], 3);
    assert_eq!(before["current"], Value::Null);
    assert_eq!(before["title"], "Quarterly all hands");
    assert!(before.get("owner_hash").is_none() && before.get("questions_list").is_none());

    let room = Client::visitors(stack.edge(), &format!("/e/{}", event.code), 3).await;
    let length = entries_added(&stack).await;
    let early = room[0].vote_json(&event.questions[0], "a").await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{:?}", early.body);
    assert!(early.error().contains("current"), "{}", early.error());
    assert_eq!(
        entries_added(&stack).await,
        length,
        "a refused ballot queues nothing"
    );

    // The room follows over the live feed.
    let url = format!("ws://{}/live/e/{}", stack.edge(), event.code);
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let first = next_event_frame(&mut socket).await;
    assert_eq!(first["current"], Value::Null);

    let pressed = Instant::now();
    accepted(&presenter, &event, "next").await;
    let frame = next_event_frame(&mut socket).await;
    assert_eq!(frame["current"]["position"], 0);
    assert_eq!(frame["current"]["poll"], event.questions[0]);
    let followed = pressed.elapsed();
    println!("the live feed showed question 1 {followed:?} after next");
    assert!(followed < FOLLOW_WITHIN, "{followed:?}");
    shows(&presenter, &event.code, 0).await;

    // Ballots on the current question; one voter changes theirs.
    for (voter, option) in room.iter().zip(["a", "a", "b"]) {
        let reply = eventually(WAIT, "the shown question takes ballots", || async {
            let reply = voter.vote_json(&event.questions[0], option).await;
            (reply.status != StatusCode::CONFLICT).then_some(reply)
        })
        .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    }
    assert_eq!(
        room[1].vote_json(&event.questions[0], "c").await.status,
        StatusCode::ACCEPTED
    );
    let results = results_where(
        &presenter,
        &event.questions[0],
        "three ballots counted",
        |r| r["total"] == 3 && r["options"][2]["votes"] == 1,
    )
    .await;
    assert!(results["event"].is_string(), "{results}");
    let counts: Vec<i64> = results["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["votes"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 1, 1]);
    stack.wait_drained().await;
    assert_eq!(
        stack.tallies(&event.questions[0]).await,
        stack.recount(&event.questions[0]).await
    );

    // Hidden from the room, not from the owner; then revealed.
    accepted(&presenter, &event, "hide").await;
    let hidden = results_where(&presenter, &event.questions[0], "results hidden", |r| {
        r["hidden"] == true
    })
    .await;
    assert_eq!(hidden["total"], Value::Null);
    let authorization = format!("Bearer {}", event.token);
    let owner = presenter
        .send(
            Method::GET,
            &format!("/results/{}", event.questions[0]),
            &[("authorization", &authorization)],
            "",
        )
        .await;
    assert_eq!(owner.json()["total"], 3, "the owner still sees the counts");
    state_where(&presenter, &event.code, "results hidden", |s| {
        s["results_visible"] == false
    })
    .await;
    accepted(&presenter, &event, "reveal").await;
    results_where(&presenter, &event.questions[0], "results revealed", |r| {
        r["total"] == 3
    })
    .await;

    // Next: the old question refuses ballots, the new one takes them.
    accepted(&presenter, &event, "next").await;
    shows(&presenter, &event.code, 1).await;
    let stale = eventually(WAIT, "the old question refuses ballots", || async {
        let reply = room[2].vote_json(&event.questions[0], "a").await;
        (reply.status == StatusCode::CONFLICT).then_some(reply)
    })
    .await;
    assert!(stale.error().contains("current"), "{}", stale.error());
    let multiple = room[2]
        .send(
            Method::POST,
            "/vote",
            &[JSON, ACCEPT_JSON],
            json!({"poll": event.questions[1], "options": ["a", "c"]}).to_string(),
        )
        .await;
    assert_eq!(multiple.status, StatusCode::ACCEPTED, "{:?}", multiple.body);
    let participants = state_where(&presenter, &event.code, "participants counted", |s| {
        s["participants"] == 3
    })
    .await;
    assert_eq!(
        participants["participants"], 3,
        "the third voter voted twice, counted once"
    );

    // Closing the current question; locking the event.
    accepted(&presenter, &event, "close").await;
    eventually(WAIT, "the closed question refuses ballots", || async {
        let reply = room[0].vote_json(&event.questions[1], "b").await;
        (reply.status == StatusCode::CONFLICT && reply.error().contains("closed")).then_some(())
    })
    .await;
    accepted(&presenter, &event, "reopen").await;
    accepted(&presenter, &event, "lock").await;
    state_where(&presenter, &event.code, "the event locked", |s| {
        s["locked"] == true
    })
    .await;
    eventually(WAIT, "the locked event refuses ballots", || async {
        let reply = room[0].vote_json(&event.questions[1], "b").await;
        (reply.status == StatusCode::CONFLICT && reply.error().contains("locked")).then_some(())
    })
    .await;
    accepted(&presenter, &event, "unlock").await;

    // Past the end, before the start, to a position; without the token.
    accepted(&presenter, &event, "next").await;
    shows(&presenter, &event.code, 2).await;
    let past = eventually(WAIT, "next past the last question is refused", || async {
        let reply = command(&presenter, &event, "next", json!({})).await;
        (reply.status == StatusCode::CONFLICT).then_some(reply)
    })
    .await;
    assert!(!past.error().is_empty());
    let show = command(&presenter, &event, "show", json!({"position": 0})).await;
    assert_eq!(show.status, StatusCode::ACCEPTED, "{:?}", show.body);
    shows(&presenter, &event.code, 0).await;
    let beyond = command(&presenter, &event, "show", json!({"position": 3})).await;
    assert_eq!(
        beyond.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        beyond.body
    );

    let length = entries_added(&stack).await;
    let path = format!("/events/{}/next", event.code);
    let anonymous = presenter.send(Method::POST, &path, &[JSON], "{}").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let stranger = presenter
        .send(
            Method::POST,
            &path,
            &[JSON, ("authorization", "Bearer not-the-token")],
            "{}",
        )
        .await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    let unknown = presenter
        .send(
            Method::POST,
            "/events/00000000/next",
            &[JSON, ("authorization", &authorization)],
            "{}",
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        presenter.get("/events/00000000").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        entries_added(&stack).await,
        length,
        "refused commands queue nothing"
    );
    for poll in &event.questions {
        // The recount has no row for an option nobody chose; the tallies keep it at 0.
        let mut tallies = stack.tallies(poll).await;
        tallies.retain(|_, votes| *votes != 0);
        assert_eq!(tallies, stack.recount(poll).await, "{poll}");
    }
}

/// The next `{"type":"event"}` frame's event, within the follow promise.
async fn next_event_frame<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == "event" {
                        return frame["event"].clone();
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the live feed ended: {other:?}"),
            }
        }
    })
    .await
    .expect("an event frame arrives")
}

/// Entries ever appended to the vote stream (trimming acknowledged ones lowers `XLEN`,
/// never this), so "queues nothing" holds whatever the workers' housekeeping does.
async fn entries_added(stack: &Stack) -> i64 {
    let info: std::collections::HashMap<String, redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stack.keys.vote_stream())
        .query_async(&mut stack.redis().await)
        .await
        .unwrap();
    match info.get("entries-added") {
        Some(redis::Value::Int(added)) => *added,
        other => panic!("XINFO STREAM has no entries-added: {other:?}"),
    }
}
