//! A room of twenty phones in real browsers (headless Chromium, each its own profile and
//! so its own voter, through the edge of a whole in-process Tally with real Redis and
//! Postgres): every phone joins by typing the code on the home page; the presenter
//! shows a choice question, then a scale, then a word cloud; every phone has each new
//! question within a second of the presenter's command, without a reload; every phone
//! votes; and the projector counts all twenty ballots within a second of the last.
//!
//! Each phone records for itself when a question's heading appeared (a
//! MutationObserver, `Date.now()`), so twenty pages are timed exactly however long the
//! test takes to read them.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tally_e2e::browser::{Browser, Chromedriver, PAGE_WAIT, PHONE, PROJECTOR};
use tally_e2e::event_api::{create_event_ready, event_command};
use tally_e2e::{Client, Stack};
use tally_model::event::spaced_join_code;

/// The promise: every phone follows the presenter within a second, and the
/// projector counts within a second.
const WITHIN: Duration = Duration::from_secs(1);

/// Phones in the room.
const PHONES: usize = 20;

const QUESTIONS: [&str; 3] = [
    "Which city for the offsite?",
    "How was the quarter?",
    "One word for next quarter?",
];

/// Remembers, in the page, when each question heading first appeared.
const WATCH_HEADINGS: &str = "window.seenAt = window.seenAt || {}; \
    const note = () => { const q = document.getElementById('question'); \
      if (q && !(q.textContent in window.seenAt)) window.seenAt[q.textContent] = Date.now(); }; \
    new MutationObserver(note).observe(document.body, \
      {subtree: true, childList: true, characterData: true}); \
    note(); return true;";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Shows the next question and asserts that every phone had it within [`WITHIN`];
/// returns the slowest phone's delay.
async fn next_and_follow(
    api: &Client,
    event: &tally_e2e::event_api::OwnedEvent,
    phones: &[Browser],
    question: &str,
) -> u64 {
    let pressed = now_ms();
    event_command(api, event, "next").await;
    let script = format!(
        "return window.seenAt[{}] || null;",
        serde_json::to_string(question).unwrap()
    );
    let mut slowest = 0;
    for (index, phone) in phones.iter().enumerate() {
        let seen = phone
            .until(PAGE_WAIT, "the phone shows the new question", || async {
                phone.eval(&script).await.as_u64()
            })
            .await;
        let delay = seen.saturating_sub(pressed);
        assert!(
            delay < WITHIN.as_millis() as u64,
            "phone {index} showed {question:?} {delay} ms after the presenter's command"
        );
        slowest = slowest.max(delay);
    }
    slowest
}

/// Waits until the projector's total says `count`, and asserts it took under
/// [`WITHIN`] from `since`; returns the time it took.
async fn projector_counts(projector: &Browser, count: u64, since: Instant) -> Duration {
    projector
        .until(PAGE_WAIT, "the projector counts every ballot", || async {
            let total = projector
                .eval("return Number(document.getElementById('total').dataset.total);")
                .await;
            (total.as_u64() == Some(count)).then_some(())
        })
        .await;
    let took = since.elapsed();
    assert!(
        took < WITHIN,
        "the projector counted {count} after {took:?}"
    );
    took
}

/// Sends the ballot the phone's form holds and waits for the page to say it arrived.
async fn send(phone: &Browser) {
    phone.click("#ballot button[type=submit]").await;
    phone
        .until(PAGE_WAIT, "the phone says its ballot arrived", || async {
            phone
                .text("#status")
                .await
                .contains("received")
                .then_some(())
        })
        .await;
}

#[tokio::test]
async fn twenty_phones_follow_three_questions_and_the_projector_counts_them() {
    let driver = Chromedriver::start().await;
    let stack = Stack::builder().start().await;
    let api = Client::new(stack.edge());
    let event = create_event_ready(
        &api,
        &json!({"title": "Quarterly review", "questions": [
            {"question": QUESTIONS[0], "options": ["Lisbon", "Krakow", "Valencia"]},
            {"question": QUESTIONS[1], "scale": {"min": 1, "max": 5, "min_label": "Bad", "max_label": "Great"}},
            {"question": QUESTIONS[2], "choice": "words"},
        ]}),
    )
    .await;
    let base = format!("http://{}", stack.edge());

    // Twenty phones join by typing the code as the projector shows it.
    let mut phones = Vec::with_capacity(PHONES);
    for _ in 0..PHONES {
        let phone = Browser::open_as(&driver, &base, PHONE, false, true).await;
        phone.goto("/").await;
        phone
            .type_into("#join-code", &spaced_join_code(&event.code))
            .await;
        phone.click("form.join button[type=submit]").await;
        phone
            .until(PAGE_WAIT, "the phone lands on the event", || async {
                let waiting = phone
                    .eval("const w = document.getElementById('waiting'); return !!w && !w.hidden;")
                    .await;
                (waiting == json!(true)).then_some(())
            })
            .await;
        phone.eval(WATCH_HEADINGS).await;
        phones.push(phone);
    }
    let projector = Browser::open_as(&driver, &base, PROJECTOR, false, true).await;
    projector.goto(&format!("/e/{}/screen", event.code)).await;

    // Question 1: a choice among three cities.
    let first = next_and_follow(&api, &event, &phones, QUESTIONS[0]).await;
    for (index, phone) in phones.iter().enumerate() {
        let option = ["a", "b", "c"][index % 3];
        phone
            .click(&format!("#ballot input[value='{option}']"))
            .await;
        send(phone).await;
    }
    let counted_1 = projector_counts(&projector, PHONES as u64, Instant::now()).await;

    // Question 2: a scale; question 3: a word cloud. Every phone follows each.
    let second = next_and_follow(&api, &event, &phones, QUESTIONS[1]).await;
    for (index, phone) in phones.iter().enumerate() {
        let point = 1 + index % 5;
        let option = ["a", "b", "c", "d", "e"][point - 1];
        phone
            .click(&format!("#ballot input[value='{option}']"))
            .await;
        send(phone).await;
    }
    let counted_2 = projector_counts(&projector, PHONES as u64, Instant::now()).await;
    let third = next_and_follow(&api, &event, &phones, QUESTIONS[2]).await;
    for (index, phone) in phones.iter().enumerate() {
        let word = ["Growth", "focus!", "GROWTH"][index % 3];
        phone.type_into("#ballot input[name=word]", word).await;
        send(phone).await;
    }
    let counted_3 = projector_counts(&projector, PHONES as u64, Instant::now()).await;
    projector
        .until(PAGE_WAIT, "the projector's cloud", || async {
            let growth = projector
                .eval("const w = document.querySelector('.cloud-word[data-word=growth]'); return w && w.dataset.count;")
                .await;
            (growth == json!("13")).then_some(())
        })
        .await;
    println!(
        "{PHONES} phones: slowest to follow {first} / {second} / {third} ms; \
         projector counted all in {counted_1:?} / {counted_2:?} / {counted_3:?}"
    );

    for phone in phones {
        phone.close().await;
    }
    projector.close().await;
    driver.stop().await;
}
