//! Polls and events behind a room passcode, through the edge with every service running.
//! A ballot must bring the passcode (typed any way: case and extra spaces do not
//! matter) and, as on a `browser` poll, the voter cookie its page handed out; a missing
//! or wrong passcode is refused with a clear JSON error and a `reason` a page can act
//! on, or, for a page without JavaScript, a redirect to a notice. Nothing refused is
//! queued. An event's passcode holds on every question, also one added later.

use http::{header, Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::event_api::{
    create_event_ready, create_poll, last_entry_id, post_ballot_form, send_command,
    show_first_question, ACCEPT_JSON, JSON,
};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;

/// A JSON ballot for `option` on `poll`, with `passcode` when given.
async fn ballot(client: &Client, poll: &str, option: &str, passcode: Option<&str>) -> Reply {
    let mut body = json!({"poll": poll, "option": option});
    if let Some(passcode) = passcode {
        body["passcode"] = json!(passcode);
    }
    client
        .send(
            Method::POST,
            "/vote",
            &[JSON, ACCEPT_JSON],
            body.to_string(),
        )
        .await
}

/// `POST /polls` as a browser without JavaScript posts the creation form.
async fn create_poll_form(client: &Client, body: &str) -> Reply {
    let form = ("content-type", "application/x-www-form-urlencoded");
    let headers = [form, ("accept", "text/html")];
    client
        .send(Method::POST, "/polls", &headers, body.to_owned())
        .await
}

/// Asserts a 403 whose `reason` is `reason`.
fn assert_refused(reply: &Reply, reason: &str) {
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "{reason}: {:?}",
        reply.body
    );
    assert_eq!(reply.json()["reason"], reason, "{:?}", reply.body);
    assert!(!reply.error().is_empty());
}

/// Waits until `/results/<poll>` answers; returns the document.
async fn results(client: &Client, poll: &str) -> Value {
    eventually(WAIT, "the poll appears", || async {
        let reply = client.get(&format!("/results/{poll}")).await;
        (reply.status == StatusCode::OK).then(|| reply.json())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passcode_poll_counts_one_ballot_per_browser_that_knows_the_passcode() {
    let stack = Stack::builder().start().await;
    let owner = Client::new(stack.edge());
    let body = json!({"question": "Tea or coffee?", "options": ["Tea", "Coffee"],
                      "identity": "passcode", "passcode": "  Tiger   Lake "});
    let reply = create_poll(&owner, &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    assert_eq!(
        reply.json()["passcode"],
        "tiger lake",
        "as voters may type it"
    );
    let poll = reply.json()["poll"].as_str().expect("poll").to_owned();
    assert_eq!(results(&owner, &poll).await["identity"], "passcode");

    // The page asks for the passcode, and hands out the cookie.
    let page = owner.get(&format!("/p/{poll}")).await;
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("name=\"passcode\""), "{html}");
    let voter = Client::visitor(stack.edge(), &format!("/p/{poll}")).await;
    assert!(voter.cookie().is_some(), "the page gave a voter cookie");

    let before = last_entry_id(&stack).await;
    assert_refused(&ballot(&voter, &poll, "a", None).await, "passcode_required");
    assert_refused(
        &ballot(&voter, &poll, "a", Some("   ")).await,
        "passcode_required",
    );
    assert_refused(
        &ballot(&voter, &poll, "a", Some("tiger")).await,
        "wrong_passcode",
    );
    assert_refused(
        &ballot(&voter, &poll, "a", Some("tiger lakes")).await,
        "wrong_passcode",
    );
    // The passcode is no cookie: a script that knows it still needs the page's cookie.
    let script = Client::cookieless(stack.edge());
    let right = Some("tiger lake");
    assert_refused(
        &ballot(&script, &poll, "a", right).await,
        "voter_cookie_required",
    );
    // A page without JavaScript is sent to the notice that says what to type.
    for (typed, anchor) in [("", "passcode-required"), ("lion", "wrong-passcode")] {
        let form = post_ballot_form(&voter, format!("poll={poll}&option=a&passcode={typed}"));
        let reply = form.await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let location = reply.headers.get(header::LOCATION).expect("a redirect");
        assert_eq!(location, &format!("/p/{poll}#{anchor}"));
    }
    assert_eq!(
        last_entry_id(&stack).await,
        before,
        "nothing refused was queued"
    );

    // Typed any way, it opens the poll; the same browser again replaces its ballot.
    let reply = ballot(&voter, &poll, "a", Some("TIGER LAKE")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let reply = ballot(&voter, &poll, "b", Some("tiger  lake")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let form = post_ballot_form(&voter, format!("poll={poll}&option=b&passcode=Tiger+Lake"));
    assert_eq!(form.await.status, StatusCode::SEE_OTHER);
    let other = Client::visitor(stack.edge(), &format!("/p/{poll}")).await;
    assert_eq!(
        ballot(&other, &poll, "a", right).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(stack.ballot_count(&poll).await, 2, "one per browser");
    let tallies = stack.tallies(&poll).await;
    assert_eq!((tallies.get("a"), tallies.get("b")), (Some(&1), Some(&1)));
    assert_eq!(stack.recount(&poll).await, tallies);

    // A passcode is only for a passcode poll, and must be typeable.
    let elsewhere = ballot(&voter, "default", "a", right).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    assert!(
        elsewhere.error().contains("takes no passcode"),
        "{}",
        elsewhere.error()
    );
    for (bad, status) in [
        (
            json!({"identity": "browser", "passcode": "tiger"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"identity": "passcode", "passcode": "abc"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"identity": "passcode", "passcode": 7}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let mut body = json!({"question": "Q", "options": ["a", "b"]});
        body.as_object_mut()
            .expect("object")
            .extend(bad.as_object().expect("object").clone());
        let reply = create_poll(&owner, &body).await;
        assert_eq!(reply.status, status, "{bad}: {:?}", reply.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drawn_passcode_is_shown_to_its_creator_and_a_form_must_type_one() {
    let stack = Stack::builder().start().await;
    let owner = Client::new(stack.edge());
    let body = json!({"question": "Q", "options": ["a", "b"], "identity": "passcode"});
    let reply = create_poll(&owner, &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let drawn = reply.json()["passcode"].as_str().expect("drawn").to_owned();
    assert_eq!(drawn.chars().count(), 6, "{drawn}");
    let poll = reply.json()["poll"].as_str().expect("poll").to_owned();
    results(&owner, &poll).await;
    let voter = Client::visitor(stack.edge(), &format!("/p/{poll}")).await;
    let typed = drawn.to_uppercase();
    let reply = ballot(&voter, &poll, "a", Some(&typed)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);

    // A page without JavaScript is redirected to the admin page and would never see a
    // drawn passcode: it must type one.
    let form = create_poll_form(&owner, "question=Q&option=a&option=b&identity=passcode").await;
    assert_eq!(form.status, StatusCode::BAD_REQUEST);
    assert!(
        form.error().contains("type the room's passcode"),
        "{}",
        form.error()
    );
    let form = create_poll_form(
        &owner,
        "question=Q&option=a&option=b&identity=passcode&passcode=aurora",
    )
    .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER, "{:?}", form.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_passcode_holds_on_every_question_also_one_added_later() {
    let stack = Stack::builder().start().await;
    let owner = Client::new(stack.edge());
    let body = json!({"title": "All hands", "identity": "passcode", "passcode": "Aurora",
                      "questions": [{"question": "Lunch?", "options": ["Pizza", "Salad"]}]});
    let event = create_event_ready(&owner, &body).await;
    show_first_question(&owner, &event).await;
    let first = &event.questions[0];
    let member = Client::visitor(stack.edge(), &format!("/e/{}", event.code)).await;
    assert_refused(
        &ballot(&member, first, "a", None).await,
        "passcode_required",
    );
    assert_refused(
        &ballot(&member, first, "a", Some("borealis")).await,
        "wrong_passcode",
    );
    let reply = ballot(&member, first, "a", Some("aurora")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    // The no-JS audience page asks for it too.
    let page = member.get(&format!("/e/{}", event.code)).await;
    assert!(String::from_utf8_lossy(&page.body).contains("name=\"passcode\""));
    let form = post_ballot_form(&member, format!("poll={first}&option=a&passcode=x"));
    let location = form.await.headers.get(header::LOCATION).cloned();
    assert_eq!(
        location.expect("a redirect"),
        format!("/e/{}#wrong-passcode", event.code).as_str()
    );

    let added = send_command(
        &owner,
        &event,
        "add-question",
        &json!({"question": "Dessert?", "options": ["Cake", "Fruit"]}),
    )
    .await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{:?}", added.body);
    let added = added.json()["poll"].as_str().expect("poll").to_owned();
    assert_eq!(results(&owner, &added).await["identity"], "passcode");
    send_command(&owner, &event, "show", &json!({"position": 1})).await;
    eventually(
        WAIT,
        "the added question takes the event's passcode",
        || async {
            let reply = ballot(&member, &added, "a", Some("AURORA")).await;
            (reply.status == StatusCode::ACCEPTED).then_some(())
        },
    )
    .await;
    assert_refused(
        &ballot(&member, &added, "a", None).await,
        "passcode_required",
    );
    assert_eq!(stack.ballot_count(first).await, 1);
    assert_eq!(stack.ballot_count(&added).await, 1);

    // A code event names how many codes; a passcode is only for a passcode event.
    let question = json!([{"question": "Q", "options": ["a", "b"]}]);
    for (bad, status) in [
        (
            json!({"title": "T", "identity": "code", "questions": question}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"title": "T", "passcode": "aurora", "questions": question}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let reply = tally_e2e::event_api::create_event(&owner, &bad).await;
        assert_eq!(reply.status, status, "{bad}: {:?}", reply.body);
    }
}
