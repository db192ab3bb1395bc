//! Word cloud questions through the edge with every service running: answers written
//! any way (case, spaces, punctuation, composed or decomposed accents) count as one,
//! a changed ballot replaces its answers whole, the cloud equals a recount in the
//! worker's cache and in Postgres alike, the owner hides an answer from every view and
//! shows it again, the event's block list refuses answers and can be changed while the
//! question runs, and malformed or hostile answers, questions, moderations and block
//! lists are refused with a clear error and nothing queued.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::event_api::{
    create_event, create_event_ready, create_poll, event_command, last_entry_id, owner_csv,
    post_ballot_form, results_from_postgres, results_where, send_command, show_first_question,
    ACCEPT_JSON, JSON,
};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;

/// `POST /vote` with written answers.
async fn write(voter: &Client, poll: &str, words: &[&str]) -> Reply {
    let body = json!({"poll": poll, "words": words}).to_string();
    voter
        .send(Method::POST, "/vote", &[JSON, ACCEPT_JSON], body)
        .await
}

/// The cloud of a results document: answer → count.
fn cloud(results: &Value) -> BTreeMap<String, i64> {
    results["words"]
        .as_array()
        .unwrap_or_else(|| panic!("words in {results}"))
        .iter()
        .map(|entry| {
            (
                entry["word"].as_str().unwrap().to_owned(),
                entry["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(w, c)| ((*w).to_owned(), *c)).collect()
}

#[tokio::test]
async fn a_word_cloud_counts_normalised_answers_and_its_owner_moderates_them() {
    let stack = Stack::builder().start().await;
    let presenter = Client::new(stack.edge());

    // Word clouds that cannot be: each refused with a reason, nothing queued.
    let before = last_entry_id(&stack).await;
    for (question, status) in [
        (
            json!({"question": "Q?", "choice": "words", "options": ["A", "B"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"question": "Q?", "words": {"max_words": 11}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"question": "Q?", "words": {"max_chars": 0}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"question": "Q?", "words": {"max_words": -1}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"question": "Q?", "words": {"colour": "red"}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let body = json!({"title": "T", "questions": [question]});
        let reply = create_event(&presenter, &body).await;
        assert_eq!(reply.status, status, "{question}: {:?}", reply.body);
        assert!(!reply.error().is_empty(), "{question}: a message says why");
    }
    let hostile_list = json!({"title": "T", "blocked_words": ["ok", "a\u{202e}b"],
                              "questions": [{"question": "Q?", "choice": "words"}]});
    let reply = create_event(&presenter, &hostile_list).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reply.body
    );
    assert!(reply.error().contains("block list"), "{}", reply.error());
    let poll_of_its_own = create_poll(
        &presenter,
        &json!({"question": "Q?", "choice": "words", "options": ["A", "B"]}),
    )
    .await;
    assert_eq!(poll_of_its_own.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        last_entry_id(&stack).await,
        before,
        "nothing refused is queued"
    );

    let event = create_event_ready(
        &presenter,
        &json!({"title": "Retro", "blocked_words": ["Idiot", "dumb"], "questions": [
            {"question": "Three words for this sprint?", "words": {"max_words": 3, "max_chars": 20}},
            {"question": "Another sprint like it?", "options": ["Yes", "No"]},
        ]}),
    )
    .await;
    let poll = event.questions[0].clone();
    let state = show_first_question(&presenter, &event).await;
    assert_eq!(state["current"]["choice"], "words", "{state}");
    assert_eq!(
        state["current"]["words"],
        json!({"max_words": 3, "max_chars": 20})
    );

    // Five people; the last changes their mind, and the new answers replace the old.
    let ballots: [&[&str]; 5] = [
        &["Rust", "fast!"],
        &[" rust ", "Calm", "FAST"],
        &["RUST...", "«calm»"],
        &["Cafe\u{301}", "rust"],
        &["java"],
    ];
    let voters = Client::visitors(stack.edge(), &format!("/e/{}", event.code), 6).await;
    for (voter, words) in voters.iter().zip(ballots) {
        let reply = eventually(WAIT, "the shown question takes ballots", || async {
            let reply = write(voter, &poll, words).await;
            (reply.status != StatusCode::CONFLICT).then_some(reply)
        })
        .await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{words:?}: {:?}",
            reply.body
        );
    }
    let reply = write(&voters[4], &poll, &["Fast", "fast", "café"]).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);

    // Without JavaScript: one field per answer, posted as `word` once each, each taking
    // twice the 20 characters in UTF-16 units (an emoji is two) before trimming.
    let page = voters[5].get(&format!("/e/{}", event.code)).await;
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert_eq!(
        html.matches(r#"name="word" maxlength="40""#).count(),
        3,
        "{html}"
    );
    let form = post_ballot_form(
        &voters[5],
        format!("poll={poll}&word=Rust&word=&word=c%2B%2B"),
    )
    .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER, "{:?}", form.body);

    let want = counts(&[
        ("rust", 5),
        ("fast", 3),
        ("calm", 2),
        ("café", 2),
        ("c++", 1),
    ]);
    let results_path = format!("/results/{poll}");
    let cached = results_where(
        &presenter,
        &results_path,
        &[],
        "every answer counted",
        |r| r["total"] == 6 && r["words"].is_array() && cloud(r) == want,
    )
    .await;
    assert_eq!(cached["choice"], "words");
    assert_eq!(cached["words"][0]["word"], "rust", "the most given first");
    assert_eq!(
        cloud(&results_from_postgres(&stack, &presenter, &poll).await),
        want
    );

    // The owner's export: one row per answer, the most given first.
    let authorization = event.authorization();
    let text = owner_csv(&presenter, &event, &poll).await;
    assert!(
        text.starts_with("word,count,percent\r\nrust,5,83.3\r\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 6, "{text}");

    // The owner's export of every ballot, without voters or exact times.
    let ballots = presenter
        .send(
            Method::GET,
            &format!("{results_path}/ballots"),
            &[("authorization", &event.authorization())],
            "",
        )
        .await;
    assert_eq!(ballots.status, StatusCode::OK, "{:?}", ballots.body);
    let text = String::from_utf8_lossy(&ballots.body).into_owned();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "cast_at,word_1,word_2,word_3", "{text}");
    assert_eq!(rows.len(), 1 + 6, "{text}");
    assert!(
        rows.iter().any(|row| row.ends_with(",fast,café,")),
        "the changed ballot: {text}"
    );
    assert!(!text.contains("voter"), "{text}");
    for row in &rows[1..] {
        let cast_at = row.split(',').next().unwrap_or_default();
        assert!(
            cast_at.len() == 20 && cast_at.ends_with(":00Z"),
            "times to the minute only, so that rows cannot be matched to people: {row}"
        );
    }
    for headers in [vec![], vec![("authorization", "Bearer not-the-owner")]] {
        let refused = presenter
            .send(
                Method::GET,
                &format!("{results_path}/ballots"),
                &headers,
                "",
            )
            .await;
        assert!(
            matches!(
                refused.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ),
            "{headers:?}: {:?}",
            refused.status
        );
        assert!(!refused.error().is_empty());
    }

    // Refused answers: blocked, too many, too long, invisible, empty, options instead.
    let before = last_entry_id(&stack).await;
    let stranger = Client::visitor(stack.edge(), &format!("/e/{}", event.code)).await;
    for (bad, status) in [
        (
            json!({"poll": poll, "words": ["You IDIOT!"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"poll": poll, "words": ["dumb"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"poll": poll, "words": ["a", "b", "c", "d"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"poll": poll, "words": ["x".repeat(21)]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"poll": poll, "words": ["evil\u{202e}txt"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"poll": poll, "words": ["zero\u{200b}width"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"poll": poll, "words": ["?!"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"poll": poll, "options": ["a"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"poll": poll, "words": []}), StatusCode::BAD_REQUEST),
        (
            json!({"poll": poll, "words": "rust"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"poll": poll, "words": ["x".repeat(500)]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"poll": event.questions[1], "words": ["yes"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = stranger
            .send(Method::POST, "/vote", &[JSON, ACCEPT_JSON], bad.to_string())
            .await;
        assert_eq!(reply.status, status, "{bad}: {:?}", reply.body);
        assert!(!reply.error().is_empty(), "{bad}: a message says why");
    }
    assert_eq!(
        last_entry_id(&stack).await,
        before,
        "nothing refused is queued"
    );

    // Moderation that cannot be: no token, no answer, a question without answers.
    for (body, authorization, status) in [
        (json!({"word": "rust"}), None, StatusCode::UNAUTHORIZED),
        (
            json!({"word": "!!"}),
            Some(event.authorization()),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"answer": "rust"}),
            Some(event.authorization()),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"word": "yes", "poll": event.questions[1]}),
            Some(event.authorization()),
            StatusCode::CONFLICT,
        ),
    ] {
        let mut headers = vec![JSON, ACCEPT_JSON];
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization));
        }
        let reply = presenter
            .send(
                Method::POST,
                &format!("/events/{}/hide-word", event.code),
                &headers,
                body.to_string(),
            )
            .await;
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
        assert!(!reply.error().is_empty(), "{body}: a message says why");
    }
    assert_eq!(
        last_entry_id(&stack).await,
        before,
        "no refused moderation is queued"
    );

    // The owner hides an answer, typed any way: it leaves every view, and stays out as
    // more people give it; the owner's view lists it to show again.
    let reply = send_command(&presenter, &event, "hide-word", &json!({"word": " RUST! "})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let without = counts(&[("fast", 3), ("calm", 2), ("café", 2), ("c++", 1)]);
    results_where(&presenter, &results_path, &[], "the answer hidden", |r| {
        cloud(r) == without
    })
    .await;
    let reply = write(&stranger, &poll, &["rust"]).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    results_where(
        &presenter,
        &results_path,
        &[],
        "a seventh participant",
        |r| r["total"] == 7 && cloud(r) == without,
    )
    .await;
    assert_eq!(
        cloud(&results_from_postgres(&stack, &presenter, &poll).await),
        without
    );
    let owner = results_where(
        &presenter,
        &format!("/events/{}", event.code),
        &[ACCEPT_JSON, ("authorization", &authorization)],
        "the owner sees what is hidden",
        |state| state["questions_list"][0]["hidden_words"] == json!(["rust"]),
    )
    .await;
    let public = presenter
        .get(&format!("/events/{}", event.code))
        .await
        .json();
    assert!(public.get("questions_list").is_none(), "{public}");
    assert!(!owner.to_string().is_empty());

    // Shown again, with every ballot it was given meanwhile.
    let reply = send_command(
        &presenter,
        &event,
        "show-word",
        &json!({"word": "rust", "poll": poll}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let mut back = without.clone();
    back.insert("rust".into(), 6);
    results_where(&presenter, &results_path, &[], "the answer back", |r| {
        cloud(r) == back
    })
    .await;

    // The owner changes the block list while the question runs. A list that cannot be
    // is refused, and nothing is queued.
    let before = last_entry_id(&stack).await;
    let too_long: Vec<String> = (0..501).map(|n| format!("word{n}")).collect();
    for (body, status) in [
        (json!({"blocked_words": "calm"}), StatusCode::BAD_REQUEST),
        (json!({}), StatusCode::BAD_REQUEST),
        (
            json!({"blocked_words": ["calm"], "x": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"blocked_words": ["a\u{202e}b"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"blocked_words": too_long}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = send_command(&presenter, &event, "block-words", &body).await;
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
        assert!(
            reply.error().contains("block") || reply.error().contains("JSON"),
            "{body}: {}",
            reply.error()
        );
    }
    let reply = stranger
        .send(
            Method::POST,
            &format!("/events/{}/block-words", event.code),
            &[JSON, ACCEPT_JSON],
            json!({"blocked_words": []}).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(
        last_entry_id(&stack).await,
        before,
        "no refused list is queued"
    );

    // "calm" is refused from now on and "dumb" taken again; the answers already given
    // stay counted (hiding them is the owner's other tool). A whole list of 500 of the
    // longest answers fits through the edge.
    let reply = send_command(
        &presenter,
        &event,
        "block-words",
        &json!({"blocked_words": ["Calm!", "idiot", "calm", " "]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(reply.json()["blocked_words"], json!(["calm", "idiot"]));
    results_where(
        &presenter,
        &format!("/events/{}", event.code),
        &[ACCEPT_JSON, ("authorization", &authorization)],
        "the owner sees the new list",
        |state| state["blocked_words"] == json!(["calm", "idiot"]),
    )
    .await;
    let late = Client::visitor(stack.edge(), &format!("/e/{}", event.code)).await;
    eventually(WAIT, "the new list refuses calm", || async {
        let reply = write(&late, &poll, &["CALM"]).await;
        (reply.status == StatusCode::UNPROCESSABLE_ENTITY).then_some(())
    })
    .await;
    let reply = write(&late, &poll, &["dumb"]).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    back.insert("dumb".into(), 1);
    results_where(
        &presenter,
        &results_path,
        &[],
        "dumb counted, calm kept",
        |r| cloud(r) == back,
    )
    .await;
    let longest: Vec<String> = (0..500)
        .map(|n| format!("{n:03}{}", "\u{1F600}".repeat(37)))
        .collect();
    let reply = send_command(
        &presenter,
        &event,
        "block-words",
        &json!({"blocked_words": longest}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);

    // Hidden results withhold the whole cloud from the room.
    event_command(&presenter, &event, "hide").await;
    let hidden = results_where(&presenter, &results_path, &[], "hidden", |r| {
        r["hidden"] == true
    })
    .await;
    assert!(hidden.get("words").is_none(), "{hidden}");
}
