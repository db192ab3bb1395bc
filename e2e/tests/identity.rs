//! Who counts as a voter, through the edge with every service running. A created poll
//! (identity `browser`, the default) counts only ballots that bring the voter cookie its
//! page handed out: 10,000 posts without one count nothing and each gets a clear JSON
//! error, while the same 10,000 against the default poll (`open`, the classic app's
//! habit) count as 10,000 new voters. Forged and tampered cookies count as none; a poll
//! or an event created `open` takes cookieless ballots; an event's questions follow it.
//! A `code` poll counts one ballot per voter code, whoever sends it; a `code` event's
//! codes take one ballot on each of its questions.

use futures_util::{stream, StreamExt};
use http::{Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::event_api::{
    create_event_ready, create_poll, last_entry_id, post_ballot_form, show_first_question,
};
use tally_e2e::stack::{TEST_COOKIE_KEY, WAIT};
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;
use tally_voter::VoterSigner;

/// The flood of cookieless ballots, as in the issue: a script's worth.
const FLOOD: usize = 10_000;

/// Ballots in flight at once during the flood.
const IN_FLIGHT: usize = 64;

/// What the vote service says to a ballot without the voter cookie.
const LOAD_THE_PAGE: &str = "load its page first";

const JSON: (&str, &str) = ("content-type", "application/json");
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

/// Creates a poll with `extra` fields and waits until ballots on it are checked against
/// it (a voter with a cookie is taken); returns its id.
async fn created_poll(stack: &Stack, extra: Value) -> String {
    let owner = Client::new(stack.edge());
    let mut body = json!({"question": "Tea or coffee?", "options": ["Tea", "Coffee"]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let reply = create_poll(&owner, &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let poll = reply.json()["poll"].as_str().expect("poll id").to_owned();
    eventually(WAIT, "the created poll appears", || async {
        let reply = owner.get(&format!("/results/{poll}")).await;
        (reply.status == StatusCode::OK).then_some(())
    })
    .await;
    poll
}

/// A ballot for option `a` of `poll`: JSON for even `n`, an API client's form for odd.
async fn ballot(client: &Client, poll: &str, n: usize) -> Reply {
    if n % 2 == 0 {
        let body = json!({"poll": poll, "option": "a"}).to_string();
        client
            .send(Method::POST, "/vote", &[JSON, ACCEPT_JSON], body)
            .await
    } else {
        let body = format!("poll={poll}&vote=a");
        client
            .send(Method::POST, "/vote", &[FORM, ACCEPT_JSON], body)
            .await
    }
}

/// Sends [`FLOOD`] cookieless ballots on `poll`; returns each status with its error.
async fn flood(stack: &Stack, poll: &str) -> Vec<(StatusCode, String)> {
    let script = Client::cookieless(stack.edge());
    let started = std::time::Instant::now();
    let answers: Vec<(StatusCode, String)> = stream::iter(0..FLOOD)
        .map(|n| {
            let script = &script;
            async move {
                let reply = ballot(script, poll, n).await;
                let error = match reply.status {
                    StatusCode::ACCEPTED => String::new(),
                    _ => reply.error(),
                };
                (reply.status, error)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    println!(
        "{FLOOD} cookieless ballots on {poll} in {:?}",
        started.elapsed()
    );
    answers
}

/// Votes for option `a` of `poll`, as the tallies table keeps them.
async fn votes_for_a(stack: &Stack, poll: &str) -> i64 {
    stack.tallies(poll).await.get("a").copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cookieless_ballots_count_nothing_on_a_browser_poll_and_all_on_the_open_one() {
    let stack = Stack::builder().start().await;
    let poll = created_poll(&stack, json!({})).await;

    // A person opens the poll's page, gets the cookie with it, and votes.
    let person = Client::visitor(stack.edge(), &format!("/p/{poll}")).await;
    assert_eq!(ballot(&person, &poll, 0).await.status, StatusCode::ACCEPTED);

    let before = last_entry_id(&stack).await;
    let refused = flood(&stack, &poll).await;
    for (status, error) in &refused {
        assert_eq!(*status, StatusCode::FORBIDDEN, "{error}");
        assert!(error.contains(LOAD_THE_PAGE), "{error}");
    }
    assert_eq!(refused.len(), FLOOD);
    assert_eq!(last_entry_id(&stack).await, before, "nothing was queued");
    assert_eq!(
        stack.ballot_count(&poll).await,
        1,
        "only the person's ballot"
    );

    // The same script against the default poll: the classic app's seed tool still works.
    let counted_before = votes_for_a(&stack, "default").await;
    let accepted = flood(&stack, "default").await;
    assert!(
        accepted
            .iter()
            .all(|(status, _)| *status == StatusCode::ACCEPTED),
        "{:?}",
        accepted
            .iter()
            .find(|(status, _)| *status != StatusCode::ACCEPTED)
    );
    stack.wait_drained().await;
    let counted = votes_for_a(&stack, "default").await;
    assert_eq!(counted - counted_before, FLOOD as i64, "each a new voter");
    let mut tallies = stack.tallies("default").await;
    tallies.retain(|_, votes| *votes > 0);
    assert_eq!(tallies, stack.recount("default").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_tampered_cookies_count_as_none_and_a_page_without_script_says_why() {
    let stack = Stack::builder().start().await;
    let poll = created_poll(&stack, json!({"identity": "browser"})).await;
    let person = Client::visitor(stack.edge(), &format!("/p/{poll}")).await;
    let cookie = person.cookie().expect("the page's cookie");
    assert_eq!(ballot(&person, &poll, 0).await.status, StatusCode::ACCEPTED);
    let before = last_entry_id(&stack).await;

    let value = cookie.strip_prefix("tally_voter=").expect("tally_voter=…");
    let (voter, signature) = value.split_once('.').expect("<voter>.<signature>");
    let other_key = VoterSigner::new(b"not-the-vote-services-key-0123456789ab");
    let own_key = VoterSigner::new(TEST_COOKIE_KEY.as_bytes());
    let someone_else = own_key.sign("someone-else");
    let (_, their_signature) = someone_else.split_once('.').expect("signed");
    let mut flipped = signature.to_owned();
    let last = if flipped.pop() == Some('A') { 'B' } else { 'A' };
    flipped.push(last);
    for forged in [
        other_key.sign(voter),
        format!("{voter}.{flipped}"),
        format!("{voter}.{their_signature}"),
        format!("{voter}x.{signature}"),
        voter.to_owned(),
        String::new(),
    ] {
        let forger = Client::new(stack.edge());
        forger.set_cookie(Some(format!("tally_voter={forged}")));
        let reply = ballot(&forger, &poll, 0).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{forged:?}");
        assert!(reply.error().contains(LOAD_THE_PAGE), "{forged:?}");
    }

    // A browser without JavaScript that kept no cookie is sent back to the page, which
    // says why.
    let no_cookies = Client::cookieless(stack.edge());
    let reply = post_ballot_form(&no_cookies, format!("poll={poll}&vote=a")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers["location"],
        format!("/p/{poll}#cookie-required").as_str()
    );
    let page = no_cookies.get(&format!("/p/{poll}")).await;
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains(r#"id="cookie-required""#), "{html}");

    assert_eq!(last_entry_id(&stack).await, before, "nothing was queued");
    // The voter changes their mind: a ballot replaced, not added.
    let again = json!({"poll": poll, "option": "b"}).to_string();
    let reply = person
        .send(Method::POST, "/vote", &[JSON, ACCEPT_JSON], again)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(stack.ballot_count(&poll).await, 1);
    let tallies = stack.tallies(&poll).await;
    assert_eq!((tallies.get("a"), tallies.get("b")), (Some(&0), Some(&1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_and_events_created_open_take_cookieless_ballots_and_unknown_identities_are_refused()
{
    let stack = Stack::builder().start().await;
    let open = created_poll(&stack, json!({"identity": "open"})).await;
    let script = Client::cookieless(stack.edge());
    for n in 0..3 {
        assert_eq!(ballot(&script, &open, n).await.status, StatusCode::ACCEPTED);
    }
    assert_eq!(stack.ballot_count(&open).await, 3, "three strangers");

    let owner = Client::new(stack.edge());
    for identity in [json!("codes"), json!("Browser"), json!(1)] {
        let body = json!({"question": "Q", "options": ["a", "b"], "identity": identity});
        let reply = create_poll(&owner, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{identity}");
        if identity.is_string() {
            let error = reply.error();
            assert!(
                error.contains("is not one of: browser, code, open"),
                "{error}"
            );
        }
    }

    // An event's questions follow the event: `browser` by default, or `open`.
    let question = json!([{"question": "Lunch?", "options": ["Pizza", "Salad"]}]);
    for (identity, cookieless_status) in [
        (None, StatusCode::FORBIDDEN),
        (Some("open"), StatusCode::ACCEPTED),
    ] {
        let mut body = json!({"title": "All hands", "questions": question});
        if let Some(identity) = identity {
            body["identity"] = json!(identity);
        }
        let event = create_event_ready(&owner, &body).await;
        show_first_question(&owner, &event).await;
        let poll = &event.questions[0];
        assert_eq!(
            ballot(&script, poll, 0).await.status,
            cookieless_status,
            "{identity:?}"
        );
        let member = Client::visitor(stack.edge(), &format!("/e/{}", event.code)).await;
        assert_eq!(ballot(&member, poll, 1).await.status, StatusCode::ACCEPTED);
    }
}

/// Posts the creation form `body` to `path` as a browser without JavaScript does, and
/// checks it is refused: the redirect that follows could never show the codes.
async fn assert_form_cannot_get_codes(owner: &Client, path: &str, body: &str) {
    let form = owner
        .send(
            Method::POST,
            path,
            &[FORM, ("accept", "text/html")],
            body.to_owned(),
        )
        .await;
    assert_eq!(
        form.status,
        StatusCode::BAD_REQUEST,
        "{path}: {:?}",
        form.body
    );
    let error = form.error();
    assert!(
        error.contains("cannot show the voter codes"),
        "{path}: {error}"
    );
}

/// A ballot for `option` on `poll` with voter `code`, from a client of its own.
async fn code_ballot(stack: &Stack, poll: &str, option: &str, code: Option<&str>) -> Reply {
    let mut body = json!({"poll": poll, "option": option});
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    Client::cookieless(stack.edge())
        .send(
            Method::POST,
            "/vote",
            &[JSON, ACCEPT_JSON],
            body.to_string(),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_voter_code_casts_one_ballot_that_the_same_code_replaces() {
    let stack = Stack::builder().start().await;
    let owner = Client::new(stack.edge());
    let body = json!({"question": "Budget?", "options": ["Yes", "No"],
                      "identity": "code", "voter_codes": 5});
    let reply = create_poll(&owner, &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let answer = reply.json();
    let poll = answer["poll"].as_str().expect("poll").to_owned();
    let codes: Vec<String> = answer["voter_codes"]
        .as_array()
        .expect("the codes, shown once")
        .iter()
        .map(|code| code.as_str().expect("text").to_owned())
        .collect();
    assert_eq!(codes.len(), 5);
    assert!(codes
        .iter()
        .all(|code| code.len() == 11 && code.as_bytes()[5] == b'-'));
    let other = create_poll(&owner, &body).await.json();
    let other_code = other["voter_codes"][0].as_str().expect("code").to_owned();
    let other_poll = other["poll"].as_str().expect("poll").to_owned();
    eventually(WAIT, "both code polls take ballots", || async {
        let first = code_ballot(&stack, &poll, "a", Some(&codes[0])).await;
        let second = code_ballot(&stack, &other_poll, "a", Some(&other_code)).await;
        (first.status == StatusCode::ACCEPTED && second.status == StatusCode::ACCEPTED)
            .then_some(())
    })
    .await;

    // Every code votes once; typed lower case without the dash is the same code.
    for code in &codes[1..] {
        let typed = code.replace('-', "").to_lowercase();
        let reply = code_ballot(&stack, &poll, "a", Some(&typed)).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{code}: {:?}",
            reply.body
        );
    }
    // Two change their minds: their ballots are replaced, not added.
    for code in &codes[..2] {
        let reply = code_ballot(&stack, &poll, "b", Some(code)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
    }

    let before = last_entry_id(&stack).await;
    let mut unknown = codes[0].clone();
    let last = if unknown.ends_with('Z') { 'Y' } else { 'Z' };
    unknown.pop();
    unknown.push(last);
    for (code, why) in [
        (None, "this poll takes one ballot per voter code"),
        (Some(unknown.as_str()), "not one of this poll's voter codes"),
        (
            Some(other_code.as_str()),
            "not one of this poll's voter codes",
        ),
        (Some("not-a-code"), "not one of this poll's voter codes"),
        (Some(""), "this poll takes one ballot per voter code"),
    ] {
        let reply = code_ballot(&stack, &poll, "a", code).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{code:?}");
        assert!(reply.error().contains(why), "{code:?}: {}", reply.error());
    }
    // A page's cookie is no code.
    let visitor = Client::visitor(stack.edge(), &format!("/p/{poll}")).await;
    assert_eq!(
        ballot(&visitor, &poll, 0).await.status,
        StatusCode::FORBIDDEN
    );
    // A creation form without JavaScript is redirected and would never see its codes.
    let form = "question=Q&option=a&option=b&identity=code&voter_codes=3";
    assert_form_cannot_get_codes(&owner, "/polls", form).await;
    assert_eq!(last_entry_id(&stack).await, before, "nothing was queued");

    assert_eq!(stack.ballot_count(&poll).await, 5, "one per code");
    let tallies = stack.tallies(&poll).await;
    assert_eq!((tallies.get("a"), tallies.get("b")), (Some(&3), Some(&2)));
    assert_eq!(stack.recount(&poll).await, tallies);

    for bad in [
        json!({"question": "Q", "options": ["a", "b"], "identity": "code"}),
        json!({"question": "Q", "options": ["a", "b"], "identity": "code", "voter_codes": 1001}),
        json!({"question": "Q", "options": ["a", "b"], "voter_codes": 3}),
    ] {
        let reply = create_poll(&owner, &bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(reply.error().contains("voter_codes"), "{}", reply.error());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_code_casts_one_ballot_on_each_question() {
    let stack = Stack::builder().start().await;
    let owner = Client::new(stack.edge());
    let questions = json!([
        {"question": "Lunch?", "options": ["Pizza", "Salad"]},
        {"question": "Dessert?", "options": ["Cake", "Fruit"]},
    ]);
    let body = json!({"title": "Board meeting", "identity": "code", "voter_codes": 3,
                      "questions": questions});
    let event = create_event_ready(&owner, &body).await;
    assert_eq!(event.voter_codes.len(), 3, "the codes, shown once");
    let other = create_event_ready(&owner, &body).await;
    show_first_question(&owner, &event).await;
    let (first, second) = (&event.questions[0], &event.questions[1]);

    for code in &event.voter_codes {
        let reply = code_ballot(&stack, first, "a", Some(code)).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{code}: {:?}",
            reply.body
        );
    }
    let again = code_ballot(&stack, first, "b", Some(&event.voter_codes[0])).await;
    assert_eq!(
        again.status,
        StatusCode::ACCEPTED,
        "the same code changes its ballot"
    );
    let before = last_entry_id(&stack).await;
    for (code, why) in [
        (None, "this poll takes one ballot per voter code"),
        (
            Some(other.voter_codes[0].as_str()),
            "not one of this poll's voter codes",
        ),
    ] {
        let reply = code_ballot(&stack, first, "a", code).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{code:?}");
        assert!(reply.error().contains(why), "{code:?}: {}", reply.error());
    }
    assert_eq!(last_entry_id(&stack).await, before, "nothing was queued");
    eventually(WAIT, "the first question's ballots are counted", || async {
        (stack.ballot_count(first).await == 3).then_some(())
    })
    .await;
    let tallies = stack.tallies(first).await;
    assert_eq!((tallies.get("a"), tallies.get("b")), (Some(&2), Some(&1)));

    // The next question takes the same codes, each once more.
    tally_e2e::event_api::event_command(&owner, &event, "next").await;
    eventually(WAIT, "the second question takes the codes", || async {
        let reply = code_ballot(&stack, second, "b", Some(&event.voter_codes[1])).await;
        (reply.status == StatusCode::ACCEPTED).then_some(())
    })
    .await;
    eventually(WAIT, "the second question's ballot is counted", || async {
        (stack.ballot_count(second).await == 1).then_some(())
    })
    .await;

    // A form without JavaScript is redirected and would never see the codes.
    let form = "title=T&identity=code&voter_codes=3&question=Q&option=a&option=b";
    assert_form_cannot_get_codes(&owner, "/events", form).await;
}
