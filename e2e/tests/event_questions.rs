//! Changing an event's questions through the edge with every service running: a
//! question added while the event runs is shown and voted on like the others, an edited
//! question gets a new poll in the old one's place (the old poll is gone from Postgres,
//! Redis and `/results`), a removed one leaves the rest renumbered, a new order keeps
//! the shown question shown, a question the room has seen can be moved but never edited
//! or removed, and refused changes say why and queue nothing.

#![allow(clippy::unwrap_used)]

use http::{Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::event_api::{
    create_event_ready, last_entry_id, owner_view, send_command, show_first_question, OwnedEvent,
    ACCEPT_JSON, JSON,
};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Stack};
use tally_testkit::eventually;

/// The owner's view once `done` holds for it.
async fn owner_view_where(
    client: &Client,
    event: &OwnedEvent,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(WAIT, what, || async {
        let view = owner_view(client, event).await.json();
        done(&view).then_some(view)
    })
    .await
}

/// The polls of the owner's list, in order.
fn polls(view: &Value) -> Vec<String> {
    view["questions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["poll"].as_str().unwrap().to_owned())
        .collect()
}

async fn change(client: &Client, event: &OwnedEvent, action: &str, body: Value) -> Value {
    let reply = send_command(client, event, action, &body).await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "{action}: {:?}",
        reply.body
    );
    reply.json()
}

#[tokio::test]
async fn questions_change_while_the_event_runs_until_the_room_has_seen_them() {
    let stack = Stack::builder().start().await;
    let client = Client::new(stack.edge());
    let event = create_event_ready(
        &client,
        &json!({"title": "Team day", "questions": [
            {"question": "Lunch?", "options": ["Pizza", "Salad"]},
            {"question": "Typo quetsion?", "options": ["A", "B"]},
            {"question": "Drop me?", "options": ["A", "B"]}
        ]}),
    )
    .await;
    let [first, second, third] = [0, 1, 2].map(|i| event.questions[i].clone());
    show_first_question(&client, &event).await;

    // Add one at the end; edit the second; remove the third.
    let added = change(
        &client,
        &event,
        "add-question",
        json!({"question": "How was it?", "scale": {"min": 1, "max": 5}}),
    )
    .await["poll"]
        .as_str()
        .unwrap()
        .to_owned();
    let edited = change(
        &client,
        &event,
        "edit-question",
        json!({"poll": second, "question": "Typo question?", "options": ["A", "B", "C"]}),
    )
    .await["poll"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(edited, second);
    change(&client, &event, "remove-question", json!({"poll": third})).await;
    let view = owner_view_where(&client, &event, "three changes applied", |view| {
        view["questions"] == 3 && polls(view).contains(&added) && !polls(view).contains(&third)
    })
    .await;
    assert_eq!(polls(&view), [first.clone(), edited.clone(), added.clone()]);
    assert_eq!(view["questions_list"][1]["question"], "Typo question?");
    assert_eq!(view["questions_list"][0]["shown"], true);
    assert!(view["questions_list"][1].get("shown").is_none());

    // The old polls are gone everywhere; the new one has its three options.
    for gone in [&second, &third] {
        let reply = client
            .send(Method::GET, &format!("/results/{gone}"), &[ACCEPT_JSON], "")
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{gone}: {:?}",
            reply.body
        );
        let rows = stack
            .postgres()
            .await
            .query("SELECT 1 FROM polls WHERE id = $1", &[gone])
            .await
            .unwrap();
        assert!(rows.is_empty(), "{gone} left in Postgres");
        let mut redis = stack.redis().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("*{gone}*"))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(keys.is_empty(), "{gone} left in Redis: {keys:?}");
    }
    let results = client.get(&format!("/results/{edited}")).await.json();
    assert_eq!(results["options"].as_array().unwrap().len(), 3);

    // Put the added question first: the first stays shown, now at position 1.
    change(
        &client,
        &event,
        "order",
        json!({"polls": [added.clone(), first.clone(), edited.clone()]}),
    )
    .await;
    let room = eventually(WAIT, "the room's view follows the order", || async {
        let state = client.get(&format!("/events/{}", event.code)).await.json();
        (state["current"]["position"] == 1).then_some(state)
    })
    .await;
    assert_eq!(room["current"]["poll"].as_str(), Some(first.as_str()));

    // The added question is shown and voted on like any other.
    let shown = change(&client, &event, "show", json!({"position": 0})).await;
    assert_eq!(shown["poll"].as_str(), Some(added.as_str()));
    eventually(WAIT, "the added question is shown", || async {
        let state = client.get(&format!("/events/{}", event.code)).await.json();
        (state["current"]["poll"].as_str() == Some(added.as_str())).then_some(())
    })
    .await;
    let voter = Client::visitor(stack.edge(), &format!("/e/{}", event.code)).await;
    let ballot = voter
        .send(
            Method::POST,
            "/vote",
            &[JSON, ACCEPT_JSON],
            json!({"poll": added, "options": ["d"]}).to_string(),
        )
        .await;
    assert_eq!(ballot.status, StatusCode::ACCEPTED, "{:?}", ballot.body);
    eventually(WAIT, "the ballot is counted", || async {
        let results = client.get(&format!("/results/{added}")).await.json();
        (results["total"] == 1).then_some(())
    })
    .await;

    // Seen questions stand; refusals say why and queue nothing.
    owner_view_where(
        &client,
        &event,
        "the added question is marked shown",
        |view| view["questions_list"][0]["shown"] == true,
    )
    .await;
    let before = last_entry_id(&stack).await;
    for (action, body, status) in [
        (
            "edit-question",
            json!({"poll": added, "question": "Changed?", "options": ["a", "b"]}),
            StatusCode::CONFLICT,
        ),
        (
            "remove-question",
            json!({"poll": first}),
            StatusCode::CONFLICT,
        ),
        (
            "remove-question",
            json!({"poll": third}),
            StatusCode::CONFLICT,
        ),
        (
            "order",
            json!({"polls": [added, first]}),
            StatusCode::CONFLICT,
        ),
        (
            "order",
            json!({"polls": [added, first, edited, edited]}),
            StatusCode::CONFLICT,
        ),
        (
            "add-question",
            json!({"question": "Q\u{202e}?", "options": ["a", "b"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "add-question",
            json!({"question": "Q?", "options": ["a".repeat(201), "b"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "add-question",
            json!({"question": "Q?", "options": "a"}),
            StatusCode::BAD_REQUEST,
        ),
        ("add-question", json!([]), StatusCode::BAD_REQUEST),
    ] {
        let reply = send_command(&client, &event, action, &body).await;
        assert_eq!(reply.status, status, "{action} {body}: {:?}", reply.body);
        assert!(reply.json()["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()));
    }
    let huge = json!({"question": "Q?", "options": ["x".repeat(200_000), "b"]});
    let reply = send_command(&client, &event, "add-question", &huge).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{:?}",
        reply.body
    );
    let stranger = OwnedEvent {
        token: "not-the-owner".into(),
        ..event.clone()
    };
    let reply = send_command(
        &client,
        &stranger,
        "add-question",
        &json!({"question": "Q?", "options": ["a", "b"]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert_eq!(last_entry_id(&stack).await, before, "nothing queued");
}
