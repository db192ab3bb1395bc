//! An event in real browsers (headless Chromium through chromedriver) through the edge
//! of a whole in-process Tally with real Redis and Postgres: the creator writes and
//! orders questions on /new-event, presents from the private link, a phone joins with
//! the code typed on the home page and follows the presenter without reloading, the
//! projector view follows too, hidden results stay hidden from the room, a phone without
//! JavaScript votes by form post, and a lock closes every ballot. The presenter and the
//! projector are photographed for CI's artifacts.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tally_e2e::browser::{Browser, BrowserOptions, Chromedriver, PAGE_WAIT, PHONE, PROJECTOR};
use tally_e2e::Stack;

/// The promise: when the presenter moves on, every phone follows within a second.
const FOLLOW_WITHIN: Duration = Duration::from_secs(1);

const TITLE: &str = "Friday all hands";
/// The questions as typed, in the order typed; the third is then moved up to second.
const FIRST: (&str, &[&str]) = ("Which colour for the new logo?", &["Red", "Green", "Blue"]);
/// A scale question, 0 to 10 with labelled ends.
const TYPED_SECOND: &str = "How ready do you feel for the launch?";
const TYPED_THIRD: (&str, &[&str]) = ("Pizza for lunch?", &["Yes", "No"]);

fn spaced(code: &str) -> String {
    format!("{} {}", &code[..4], &code[4..])
}

/// Whether the element matching `selector` exists and is rendered.
async fn shown(browser: &Browser, selector: &str) -> bool {
    let selector = serde_json::to_string(selector).unwrap();
    browser
        .eval(&format!(
            "const e = document.querySelector({selector}); \
             return !!e && e.getClientRects().length > 0;"
        ))
        .await
        .as_bool()
        .unwrap_or(false)
}

/// Waits until `selector`'s text is `wanted`; returns how long that took.
async fn until_text(browser: &Browser, selector: &str, wanted: &str, what: &str) -> Duration {
    let started = Instant::now();
    browser
        .until(PAGE_WAIT, what, || async {
            let now = browser
                .eval(&format!(
                    "const e = document.querySelector({}); return e ? e.textContent.trim() : null;",
                    serde_json::to_string(selector).unwrap()
                ))
                .await;
            (now.as_str() == Some(wanted)).then_some(())
        })
        .await;
    started.elapsed()
}

async fn until_shown(browser: &Browser, selector: &str, what: &str) {
    browser
        .until(PAGE_WAIT, what, || async {
            shown(browser, selector).await.then_some(())
        })
        .await;
}

/// Fills question card `key` (the page's own numbering of cards, kept across moves).
async fn fill_question(browser: &Browser, key: usize, (question, options): (&str, &[&str])) {
    browser.type_into(&format!("#q{key}-text"), question).await;
    for (index, option) in options.iter().enumerate() {
        browser
            .type_into(&format!("#q{key}-option-{}", index + 1), option)
            .await;
    }
}

/// Creates the event on /new-event with JavaScript; returns its join code.
async fn create_event(browser: &Browser) -> String {
    browser.goto("/new-event").await;
    browser.type_into("#title", TITLE).await;
    fill_question(browser, 1, FIRST).await;
    browser.click("#add-question").await;
    browser.type_into("#q2-text", TYPED_SECOND).await;
    browser.click("input[name='kind-2'][value='scale']").await;
    assert!(
        !shown(browser, ".question-card:nth-child(2) .option-group").await,
        "a scale has no written answers"
    );
    browser
        .find("#q2-scale-min")
        .await
        .select_by_value("0")
        .await
        .unwrap();
    browser
        .find("#q2-scale-max")
        .await
        .select_by_value("10")
        .await
        .unwrap();
    browser.type_into("#q2-scale-min-label", "Not at all").await;
    browser.type_into("#q2-scale-max-label", "Completely").await;
    browser.click("#add-question").await;
    fill_question(browser, 3, TYPED_THIRD).await;
    assert_eq!(
        browser
            .text(".question-card:nth-child(3) .question-legend")
            .await,
        "Question 3"
    );
    // The lunch question goes before the offsite one.
    browser.click(".question-card:nth-child(3) .move-up").await;
    assert_eq!(
        browser
            .eval("return document.querySelector('.question-card:nth-child(2) .question-text').value;")
            .await,
        TYPED_THIRD.0
    );
    assert!(
        !shown(browser, ".question-card:nth-child(1) .move-up").await,
        "the first card offers no Move up"
    );
    browser.screenshot("event-new.png").await;
    browser.click("#create-event button[type=submit]").await;
    until_shown(browser, "#created", "the page shows the new event").await;
    assert!(
        !shown(browser, "#create-event").await,
        "the form makes way for the event"
    );
    let spaced_code = browser.text("#created-code").await;
    let code: String = spaced_code.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 8, "an 8-digit join code: {spaced_code:?}");
    assert_eq!(spaced_code, spaced(&code), "shown in two groups of four");
    let presenter = browser
        .eval("return document.getElementById('created-presenter').value;")
        .await;
    let presenter = presenter.as_str().unwrap();
    assert!(
        presenter.starts_with(&browser.url(&format!("/e/{code}/present#"))),
        "a private presenter link with the key in the fragment: {presenter}"
    );
    assert_eq!(
        browser
            .find("#created-screen")
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap(),
        format!("/e/{code}/screen")
    );
    // The QR code is retried until the worker has applied the event.
    browser
        .until(PAGE_WAIT, "the QR code of the event loads", || async {
            let loaded = browser
                .eval("const i = document.getElementById('created-qr'); return i.complete && i.naturalWidth > 0;")
                .await;
            (loaded.as_bool() == Some(true)).then_some(())
        })
        .await;
    code
}

/// The agenda's questions, in the order the presenter sees them.
async fn agenda(browser: &Browser) -> Vec<String> {
    let texts = browser
        .eval("return Array.from(document.querySelectorAll('#agenda .agenda-question')).map((e) => e.textContent);")
        .await;
    texts
        .as_array()
        .unwrap()
        .iter()
        .map(|text| text.as_str().unwrap().to_owned())
        .collect()
}

/// Presses a presenter button once it can be pressed.
async fn press(browser: &Browser, id: &str) {
    let selector = format!("#{id}");
    browser
        .until(PAGE_WAIT, &format!("{selector} can be pressed"), || async {
            let button = browser.find(&selector).await;
            let usable = button.is_enabled().await.unwrap() && button.is_displayed().await.unwrap();
            usable.then_some(())
        })
        .await;
    browser.click(&selector).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_paces_phones_and_a_projector_through_an_event() {
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = format!("http://{}", stack.edge());
    let presenter = Browser::open(&driver, &base, BrowserOptions::default()).await;

    let code = create_event(&presenter).await;
    presenter.click("#open-presenter").await;
    until_text(
        &presenter,
        "#title",
        TITLE,
        "the presenter view loads the event",
    )
    .await;
    assert_eq!(
        agenda(&presenter).await,
        [FIRST.0, TYPED_THIRD.0, TYPED_SECOND],
        "the questions in the order the creator left them"
    );
    assert_eq!(presenter.text("#join-code").await, spaced(&code));
    presenter
        .until(PAGE_WAIT, "the key leaves the address bar", || async {
            let url = presenter.current_url().await;
            (!url.contains('#')).then_some(())
        })
        .await;

    // A phone types the code, spaced as on the screen, into the home page's join box.
    let phone = Browser::open(
        &driver,
        &base,
        BrowserOptions {
            window: PHONE,
            ..BrowserOptions::default()
        },
    )
    .await;
    phone.goto("/").await;
    phone.type_into("#join-code", &spaced(&code)).await;
    phone.click("form.join button[type=submit]").await;
    phone
        .until(PAGE_WAIT, "joining lands on the event page", || async {
            let url = phone.current_url().await;
            url.ends_with(&format!("/e/{code}")).then_some(())
        })
        .await;
    until_shown(&phone, "#waiting", "the phone waits for the first question").await;
    assert!(
        !shown(&phone, "#ballot").await,
        "no ballot before a question"
    );
    phone.eval("window.sameDocument = true; return true;").await;

    let projector = Browser::open(
        &driver,
        &base,
        BrowserOptions {
            window: PROJECTOR,
            ..BrowserOptions::default()
        },
    )
    .await;
    projector.goto(&format!("/e/{code}/screen")).await;
    until_text(
        &projector,
        "#join-code",
        &spaced(&code),
        "the projector shows the code",
    )
    .await;
    until_text(
        &projector,
        "#question",
        "Waiting for the presenter…",
        "the projector waits too",
    )
    .await;

    // The presenter shows the first question: the phone and the projector follow.
    press(&presenter, "next").await;
    let phone_followed = until_text(&phone, "#question", FIRST.0, "the phone follows").await;
    let screen_followed =
        until_text(&projector, "#question", FIRST.0, "the projector follows").await;
    println!(
        "first question: phone {} ms, projector {} ms after the press returned",
        phone_followed.as_millis(),
        (phone_followed + screen_followed).as_millis()
    );
    assert!(
        phone_followed <= FOLLOW_WITHIN,
        "the phone followed in {phone_followed:?}"
    );
    until_shown(&phone, "#ballot", "the phone shows the ballot").await;
    assert_eq!(phone.text("#position").await, "Question 1 of 3");

    // The phone votes "Green"; the presenter's count and the projector's bars move.
    phone.click("#ballot label.option:nth-of-type(2)").await;
    phone.click("#ballot button[type=submit]").await;
    phone
        .until(
            PAGE_WAIT,
            "the phone hears its vote was received",
            || async {
                let status = phone.text("#status").await;
                status.contains("received").then_some(())
            },
        )
        .await;
    until_text(
        &presenter,
        "#total",
        "1 vote",
        "the presenter counts the vote",
    )
    .await;
    until_text(
        &projector,
        "#total",
        "1 vote",
        "the projector counts the vote",
    )
    .await;
    until_text(
        &presenter,
        "#participants",
        "1 participant",
        "one participant",
    )
    .await;
    until_text(
        &projector,
        "#results .result:nth-child(2) .result-pct",
        "100.0%",
        "the projector's Green bar holds the vote",
    )
    .await;

    // Hidden results: the room sees no count, the presenter still does.
    press(&presenter, "hide").await;
    until_shown(
        &phone,
        "#results-hidden",
        "the phone says results are hidden",
    )
    .await;
    until_text(
        &projector,
        "#total",
        "Results hidden",
        "the projector hides them",
    )
    .await;
    assert!(
        projector
            .eval(
                "return document.getElementById('results').classList.contains('results--hidden');"
            )
            .await
            .as_bool()
            .unwrap(),
        "the projector's bars give nothing away"
    );
    assert_eq!(presenter.text("#total").await, "1 vote");

    // Next: the phone switches question in the same document, no reload.
    press(&presenter, "next").await;
    let moved = until_text(&phone, "#question", TYPED_THIRD.0, "the phone moves on").await;
    println!(
        "second question: phone {} ms after the press returned",
        moved.as_millis()
    );
    assert!(moved <= FOLLOW_WITHIN, "the phone followed in {moved:?}");
    assert_eq!(
        phone.eval("return window.sameDocument === true;").await,
        true,
        "the phone did not reload"
    );
    until_text(
        &projector,
        "#question",
        TYPED_THIRD.0,
        "the projector moves on",
    )
    .await;
    assert_eq!(phone.text("#position").await, "Question 2 of 3");
    until_text(
        &presenter,
        "#now-question",
        TYPED_THIRD.0,
        "the presenter moves on",
    )
    .await;
    until_text(
        &presenter,
        "#total",
        "0 votes",
        "a new question starts at zero",
    )
    .await;

    // A phone without JavaScript: the page shows the question now and its form posts.
    let plain = Browser::open(
        &driver,
        &base,
        BrowserOptions {
            javascript: false,
            window: PHONE,
            ..BrowserOptions::default()
        },
    )
    .await;
    plain.goto(&format!("/e/{code}")).await;
    assert_eq!(plain.text("#question").await, TYPED_THIRD.0);
    plain.click("#ballot label.option:nth-of-type(1)").await;
    plain.click("#ballot button[type=submit]").await;
    plain
        .until(
            PAGE_WAIT,
            "the form post comes back to the event",
            || async {
                let url = plain.current_url().await;
                url.ends_with(&format!("/e/{code}#voted")).then_some(())
            },
        )
        .await;
    until_text(
        &presenter,
        "#total",
        "1 vote",
        "the presenter counts the form post",
    )
    .await;
    until_text(
        &presenter,
        "#participants",
        "2 participants",
        "two participants",
    )
    .await;
    plain.close().await;

    // A reload lands on the question shown now; the presenter's reload keeps its key.
    phone.goto(&format!("/e/{code}")).await;
    until_text(
        &phone,
        "#question",
        TYPED_THIRD.0,
        "a reloaded phone lands on it",
    )
    .await;
    presenter.goto(&format!("/e/{code}/present")).await;
    until_text(
        &presenter,
        "#now-question",
        TYPED_THIRD.0,
        "the presenter reloads",
    )
    .await;

    // The lock closes every ballot in the room.
    press(&presenter, "lock").await;
    until_shown(&phone, "#voting-closed", "the phone says voting is closed").await;
    assert!(!shown(&phone, "#ballot").await, "no ballot once locked");
    until_shown(&presenter, "#unlock", "the presenter can unlock").await;
    assert_eq!(
        presenter
            .text("#agenda .agenda-item:nth-child(3) .agenda-kind")
            .await,
        "Scale 0–10"
    );

    // Unlocked, revealed, on to the scale: eleven points, the ends' meaning, and the
    // projector's mean and median.
    press(&presenter, "unlock").await;
    press(&presenter, "reveal").await;
    press(&presenter, "next").await;
    until_text(
        &phone,
        "#question",
        TYPED_SECOND,
        "the phone shows the scale",
    )
    .await;
    until_text(
        &phone,
        "#scale-ends",
        "0 = Not at all · 10 = Completely",
        "the phone says what the ends mean",
    )
    .await;
    until_shown(&phone, "#ballot", "the scale takes ballots").await;
    let points = phone
        .eval("return document.querySelectorAll('#ballot label.option--point').length;")
        .await;
    assert_eq!(points, 11, "0 to 10");
    phone.click("#ballot label.option:nth-of-type(9)").await;
    phone.click("#ballot button[type=submit]").await;
    until_text(
        &projector,
        "#total",
        "1 vote",
        "the projector counts the point",
    )
    .await;
    until_text(
        &projector,
        "#summary",
        "Mean 8 · median 8",
        "the projector summarises the scale",
    )
    .await;
    until_text(
        &presenter,
        "#summary",
        "Mean 8 · median 8",
        "so does the presenter",
    )
    .await;

    presenter.screenshot("event-presenter.png").await;
    projector.screenshot("event-projector.png").await;
    phone.screenshot("event-phone.png").await;
    presenter.close().await;
    projector.close().await;
    phone.close().await;
    driver.stop().await;
}
