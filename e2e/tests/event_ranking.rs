//! Ranking questions through the edge with every service running: an event whose first
//! question orders four talks; ballots from the JSON API and from a form without
//! JavaScript, some voters changing their minds; Borda scores and the per-place
//! distribution equal a recount of the ballots the test cast (from the worker's cache
//! and from Postgres alike), in the CSV export too; and malformed rankings refused with
//! a clear error and nothing queued.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use serde_json::{json, Value};
use tally_e2e::event_api::{
    create_event, create_event_ready, create_poll, event_command, last_entry_id, owner_csv,
    post_ballot_form, results_from_postgres, results_where, show_first_question, ACCEPT_JSON, JSON,
};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;

/// The talks to rank, as options `a` to `d`.
const TALKS: [&str; 4] = [
    "Rust in production",
    "Go at scale",
    "Zig for C people",
    "C, still",
];

async fn rank(voter: &Client, poll: &str, order: &[&str]) -> Reply {
    let body = json!({"poll": poll, "options": order}).to_string();
    voter
        .send(Method::POST, "/vote", &[JSON, ACCEPT_JSON], body)
        .await
}

/// Per option: how many ballots put it at each place, and its Borda score.
fn recount(ballots: &[Vec<&str>]) -> BTreeMap<String, (Vec<i64>, i64)> {
    let n = TALKS.len();
    let mut counted: BTreeMap<String, (Vec<i64>, i64)> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| ((*id).to_owned(), (vec![0; n], 0)))
        .collect();
    for ballot in ballots {
        for (place, option) in ballot.iter().enumerate() {
            let (places, score) = counted.get_mut(*option).unwrap();
            places[place] += 1;
            *score += (n - 1 - place) as i64;
        }
    }
    counted
}

fn counted_in(document: &Value) -> BTreeMap<String, (Vec<i64>, i64)> {
    document["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|option| {
            let places = option["places"]
                .as_array()
                .unwrap_or_else(|| panic!("places in {option}"))
                .iter()
                .map(|count| count.as_i64().unwrap())
                .collect();
            (
                option["id"].as_str().unwrap().to_owned(),
                (places, option["score"].as_i64().unwrap()),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_ranking_is_counted_by_borda_count_exactly_as_a_recount() {
    let stack = Stack::builder().start().await;
    let presenter = Client::new(stack.edge());

    // Events that cannot hold a ranking, and a poll of its own asking for one.
    let before = last_entry_id(&stack).await;
    for (question, status) in [
        (
            json!({"question": "Q?", "choice": "ranking", "options": ["Only"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"question": "Q?", "choice": "ranking", "scale": {}}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"question": "Q?", "choice": "rank", "options": ["A", "B"]}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let body = json!({"title": "T", "questions": [question]});
        let reply = create_event(&presenter, &body).await;
        assert_eq!(reply.status, status, "{question}: {:?}", reply.body);
        assert!(!reply.error().is_empty(), "{question}: a message says why");
    }
    let poll_of_its_own = create_poll(
        &presenter,
        &json!({"question": "Q?", "choice": "ranking", "options": ["A", "B"]}),
    )
    .await;
    assert_eq!(poll_of_its_own.status, StatusCode::BAD_REQUEST);
    assert!(
        poll_of_its_own.error().contains("choice"),
        "{}",
        poll_of_its_own.error()
    );
    assert_eq!(
        last_entry_id(&stack).await,
        before,
        "nothing refused is queued"
    );

    let event = create_event_ready(
        &presenter,
        &json!({"title": "Programme committee", "questions": [
            {"question": "Which talk should open the day?", "choice": "ranking", "options": TALKS},
            {"question": "Lunch?", "options": ["Yes", "No"]},
        ]}),
    )
    .await;
    let poll = event.questions[0].clone();
    let state = show_first_question(&presenter, &event).await;
    assert_eq!(state["current"]["choice"], "ranking", "{state}");

    // Twelve voters; the first four change their minds, and the new ranking replaces
    // the old one whole.
    let orders = [
        ["a", "b", "c", "d"],
        ["b", "a", "d", "c"],
        ["c", "a", "b", "d"],
        ["a", "c", "d", "b"],
        ["d", "c", "b", "a"],
        ["a", "d", "b", "c"],
    ];
    let voters = Client::visitors(stack.edge(), &format!("/e/{}", event.code), 12).await;
    let mut ballots: Vec<Vec<&str>> = Vec::new();
    for (index, voter) in voters.iter().enumerate() {
        let order = orders[index % orders.len()];
        let reply = eventually(WAIT, "the shown question takes ballots", || async {
            let reply = rank(voter, &poll, &order).await;
            (reply.status != StatusCode::CONFLICT).then_some(reply)
        })
        .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
        ballots.push(order.to_vec());
    }
    for (index, voter) in voters.iter().take(4).enumerate() {
        let changed = orders[(index + 3) % orders.len()];
        let reply = rank(voter, &poll, &changed).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
        ballots[index] = changed.to_vec();
    }

    // Without JavaScript: one select per place, posted as `option` once per place.
    let phone = Client::new(stack.edge());
    let page = phone.get(&format!("/e/{}", event.code)).await;
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert_eq!(
        html.matches(r#"<select name="option" required>"#).count(),
        4,
        "{html}"
    );
    assert!(html.contains("1st") && html.contains("4th"));
    let form = post_ballot_form(
        &phone,
        format!("poll={poll}&option=c&option=a&option=d&option=b"),
    )
    .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER, "{:?}", form.body);
    ballots.push(vec!["c", "a", "d", "b"]);

    // Rankings that leave an option out, repeat one, or name one the question lacks.
    let before = last_entry_id(&stack).await;
    let stranger = Client::new(stack.edge());
    for bad in [
        &["a", "b", "c"][..],
        &["a", "b", "c", "c"],
        &["a", "b", "c", "z"],
        &["a", "b", "c", "d", "a"],
        &["a"],
    ] {
        let reply = rank(&stranger, &poll, bad).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}: {:?}",
            reply.body
        );
        assert!(!reply.error().is_empty(), "{bad:?}: a message says why");
    }
    let mangled = rank(&stranger, &poll, &["a", "b", "c", "d,a"]).await;
    assert_eq!(
        mangled.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        mangled.body
    );
    assert_eq!(
        last_entry_id(&stack).await,
        before,
        "no refused ranking is queued"
    );

    let want = recount(&ballots);
    let results_path = format!("/results/{poll}");
    let counted = results_where(&presenter, &results_path, &[], "every ranking", |r| {
        r["total"] == ballots.len() && counted_in(r) == want
    })
    .await;
    assert_eq!(counted["choice"], "ranking");

    // The same document when Redis has lost its copy: rebuilt from Postgres.
    let rebuilt = results_from_postgres(&stack, &presenter, &poll).await;
    assert_eq!(counted_in(&rebuilt), want, "{rebuilt}");

    // The owner's export: a score and a count per place for every option.
    let csv = owner_csv(&presenter, &event, &poll).await;
    let mut expected = String::from("option,label,score,place_1,place_2,place_3,place_4\r\n");
    for (id, label) in ["a", "b", "c", "d"].iter().zip(TALKS) {
        let (places, score) = &want[*id];
        let label = if label.contains(',') {
            format!("\"{label}\"")
        } else {
            label.to_owned()
        };
        let places: Vec<String> = places.iter().map(i64::to_string).collect();
        expected.push_str(&format!("{id},{label},{score},{}\r\n", places.join(",")));
    }
    assert_eq!(csv, expected);

    // Hidden from the room: no scores and no places, while the owner still sees them.
    event_command(&presenter, &event, "hide").await;
    let hidden = results_where(&presenter, &results_path, &[], "hidden", |r| {
        r["hidden"] == true
    })
    .await;
    assert!(
        hidden["options"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["score"].is_null() && o["places"].is_null()),
        "{hidden}"
    );
}
