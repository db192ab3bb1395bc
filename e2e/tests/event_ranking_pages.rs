//! A ranking question in real browsers (headless Chromium through the edge of a whole
//! in-process Tally with real Redis and Postgres): a phone puts the options in order
//! with the move buttons and votes; the projector and the phone show the options by
//! Borda points, highest first, and follow a second voter's ranking live; a phone
//! without JavaScript ranks with one select per place. Phone and projector are
//! photographed, light and dark, for CI's artifacts.

#![allow(clippy::unwrap_used)]

use http::StatusCode;
use serde_json::{json, Value};
use tally_e2e::browser::{Browser, Chromedriver, PAGE_WAIT, PHONE, PROJECTOR};
use tally_e2e::event_api::{create_event_ready, event_command, ACCEPT_JSON, JSON};
use tally_e2e::{Client, Stack};

/// Options `a` to `d`.
const TALKS: [&str; 4] = [
    "Rust in production",
    "Go at scale",
    "Zig for C people",
    "C, still",
];

/// The results' labels in the order shown, each with its points.
async fn shown_scores(browser: &Browser) -> Value {
    browser
        .eval(
            "return Array.from(document.querySelectorAll('#results .result')).map((row) => \
               [row.querySelector('.result-label').textContent, \
                row.querySelector('.result-pct').textContent]);",
        )
        .await
}

async fn until_scores(browser: &Browser, wanted: &Value, what: &str) {
    browser
        .until(PAGE_WAIT, what, || async {
            (shown_scores(browser).await == *wanted).then_some(())
        })
        .await;
}

#[tokio::test]
async fn a_phone_ranks_with_move_buttons_and_the_room_sees_borda_points() {
    let driver = Chromedriver::start().await;
    let stack = Stack::builder().start().await;
    let api = Client::new(stack.edge());
    let event = create_event_ready(
        &api,
        &json!({"title": "Programme committee", "questions": [
            {"question": "Which talk should open the day?", "choice": "ranking", "options": TALKS},
        ]}),
    )
    .await;
    event_command(&api, &event, "next").await;
    let base = format!("http://{}", stack.edge());

    let phone = Browser::open_as(&driver, &base, PHONE, false, true).await;
    phone.goto(&format!("/e/{}", event.code)).await;
    phone
        .until(PAGE_WAIT, "the ranking list", || async {
            let n = phone
                .eval("return document.querySelectorAll('.ranking li').length;")
                .await;
            (n == 4).then_some(())
        })
        .await;
    let order = "return Array.from(document.querySelectorAll('.ranking li')).map((li) => \
                 li.querySelector('.rank-place').textContent + ' ' + \
                 li.querySelector('.option-label').textContent);";
    assert_eq!(
        phone.eval(order).await,
        json!([
            "1st Rust in production",
            "2nd Go at scale",
            "3rd Zig for C people",
            "4th C, still"
        ])
    );
    assert_eq!(
        phone
            .eval("return document.querySelector('.ranking li .rank-move').disabled;")
            .await,
        json!(true),
        "the first place cannot move up"
    );
    // Zig up two places, then Rust down to the last: Zig, Go, C, Rust.
    let zig_up = "[aria-label='Move Zig for C people up']";
    phone.click(zig_up).await;
    phone.click(zig_up).await;
    let focused = "return document.activeElement.getAttribute('aria-label');";
    assert_eq!(
        phone.eval(focused).await,
        json!("Move Zig for C people down"),
        "at the top, focus moves to the button that still works"
    );
    for _ in 0..2 {
        phone
            .click("[aria-label='Move Rust in production down']")
            .await;
    }
    assert_eq!(
        phone.eval(order).await,
        json!([
            "1st Zig for C people",
            "2nd Go at scale",
            "3rd C, still",
            "4th Rust in production"
        ])
    );
    assert_eq!(
        phone.eval(focused).await,
        json!("Move Rust in production up"),
        "at the bottom, focus moves to the button that still works"
    );
    phone.click("#ballot button[type=submit]").await;

    // The projector: options by points, highest first (c 3, b 2, d 1, a 0).
    let projector = Browser::open_as(&driver, &base, PROJECTOR, false, true).await;
    projector.goto(&format!("/e/{}/screen", event.code)).await;
    let after_phone = json!([
        ["Zig for C people", "3 points"],
        ["Go at scale", "2 points"],
        ["C, still", "1 point"],
        ["Rust in production", "0 points"]
    ]);
    until_scores(
        &projector,
        &after_phone,
        "the projector counts the phone's ranking",
    )
    .await;
    until_scores(&phone, &after_phone, "the phone shows the scores too").await;

    // A second voter's ranking (Rust, Go, Zig, C) moves both screens live:
    // Go 2+2, Zig 3+1 (a tie: display order first), Rust 0+3, C 1+0.
    let second = Client::visitor(stack.edge(), &format!("/e/{}", event.code)).await;
    let reply = second
        .send(
            http::Method::POST,
            "/vote",
            &[JSON, ACCEPT_JSON],
            json!({"poll": event.questions[0], "options": ["a", "b", "c", "d"]}).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let after_second = json!([
        ["Go at scale", "4 points"],
        ["Zig for C people", "4 points"],
        ["Rust in production", "3 points"],
        ["C, still", "1 point"]
    ]);
    until_scores(&projector, &after_second, "the projector follows live").await;
    until_scores(&phone, &after_second, "the phone follows live").await;
    phone.screenshot("event-ranking-phone.png").await;
    projector.screenshot("event-ranking-projector.png").await;

    // After a reload the phone's list starts from its own ranking.
    phone.goto(&format!("/e/{}", event.code)).await;
    phone
        .until(PAGE_WAIT, "the phone's own order again", || async {
            let now = phone.eval(order).await;
            (now.get(0) == Some(&json!("1st Zig for C people"))).then_some(())
        })
        .await;
    phone.close().await;
    projector.close().await;

    // Dark, on a phone and on a projector.
    for (name, window) in [
        ("event-ranking-phone-dark.png", PHONE),
        ("event-ranking-projector-dark.png", PROJECTOR),
    ] {
        let browser = Browser::open_as(&driver, &base, window, true, true).await;
        let path = if window == PHONE {
            format!("/e/{}", event.code)
        } else {
            format!("/e/{}/screen", event.code)
        };
        browser.goto(&path).await;
        until_scores(&browser, &after_second, "the dark page's scores").await;
        browser.screenshot(name).await;
        browser.close().await;
    }

    // Without JavaScript: a select per place; a ranking that repeats an option is
    // refused, a whole one counts.
    let plain = Browser::open_as(&driver, &base, PHONE, false, false).await;
    plain.goto(&format!("/e/{}", event.code)).await;
    assert_eq!(
        plain
            .eval("return document.querySelectorAll('select[name=option]').length;")
            .await,
        json!(4)
    );
    for (place, option) in ["d", "c", "b", "a"].iter().enumerate() {
        plain
            .find(&format!(".place:nth-child({}) select", place + 1))
            .await
            .select_by_value(option)
            .await
            .unwrap();
    }
    plain.click("#ballot button[type=submit]").await;
    plain
        .until(PAGE_WAIT, "the form post is counted", || async {
            (plain.current_url().await.ends_with("#voted")).then_some(())
        })
        .await;
    // Zig 4+2, Go 4+1, C 1+3, Rust 3+0, highest first, once the worker has it.
    let rows = "return Array.from(document.querySelectorAll('#results .result')).map((row) => \
                row.dataset.option + '=' + row.dataset.score);";
    plain
        .until(
            PAGE_WAIT,
            "the page shows the form's ranking counted",
            || async {
                plain.goto(&format!("/e/{}", event.code)).await;
                (plain.eval(rows).await == json!(["c=6", "b=5", "d=4", "a=3"])).then_some(())
            },
        )
        .await;
    plain.close().await;
    driver.stop().await;
}
