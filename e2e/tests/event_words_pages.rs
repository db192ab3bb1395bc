//! A word cloud question in real browsers (headless Chromium through the edge of a whole
//! in-process Tally with real Redis and Postgres): made on /new-event with its limits and
//! a block list;
//! a phone writes its answers in the fields the question offers, is told when one is
//! blocked, and sends them; the projector draws the cloud, larger the
//! more people gave an answer, and follows other participants live; the presenter hides
//! an answer with one button and it leaves the projector and the phone, then shows it
//! again, and adds an answer to the block list in its box; a phone without JavaScript answers with the plain form. Phone, projector and
//! presenter are photographed, light and dark, for CI's artifacts.

#![allow(clippy::unwrap_used)]

use http::StatusCode;
use serde_json::{json, Value};
use tally_e2e::browser::{Browser, Chromedriver, PAGE_WAIT, PHONE, PROJECTOR};
use tally_e2e::event_api::{event_command, OwnedEvent, ACCEPT_JSON, JSON};
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Reply, Stack};
use tally_testkit::eventually;

/// A laptop's window, for the presenter.
const LAPTOP: (u32, u32) = (1280, 900);

/// The cloud as drawn: answer → count, in a sorted object.
async fn shown_cloud(browser: &Browser) -> Value {
    browser
        .eval(
            "const out = {}; \
             for (const w of document.querySelectorAll('#results .cloud-word')) \
               out[w.dataset.word] = Number(w.dataset.count); \
             return out;",
        )
        .await
}

async fn until_cloud(browser: &Browser, wanted: &Value, what: &str) {
    browser
        .until(PAGE_WAIT, what, || async {
            (shown_cloud(browser).await == *wanted).then_some(())
        })
        .await;
}

/// Sends `words` as a participant of its own (whose browser opened the front page,
/// which hands out the voter cookie as every voting page does), through the API.
async fn send_answers(stack: &Stack, poll: &str, words: &[&str]) -> Reply {
    Client::visitor(stack.edge(), "/")
        .await
        .send(
            http::Method::POST,
            "/vote",
            &[JSON, ACCEPT_JSON],
            json!({"poll": poll, "words": words}).to_string(),
        )
        .await
}

/// Writes `words` as a participant of its own, and asserts they are taken.
async fn participant(stack: &Stack, poll: &str, words: &[&str]) {
    let reply = send_answers(stack, poll, words).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
}

#[tokio::test]
async fn a_phone_writes_answers_the_projector_draws_the_cloud_and_the_presenter_hides_one() {
    let driver = Chromedriver::start().await;
    let stack = Stack::builder().start().await;
    let api = Client::new(stack.edge());
    let base = format!("http://{}", stack.edge());

    // The event is made on /new-event: a word cloud of two answers, one word blocked.
    let maker = Browser::open_as(&driver, &base, LAPTOP, false, true).await;
    maker.goto("/new-event").await;
    maker.type_into("#title", "Kick-off").await;
    maker
        .type_into("#q1-text", "Two words for the year ahead?")
        .await;
    maker.click("input[name='kind'][value='words']").await;
    maker
        .find("#q1-words-max")
        .await
        .select_by_value("2")
        .await
        .unwrap();
    maker.type_into("#q1-words-chars", "30").await;
    maker.type_into("#blocked-words", "Boring\nmeh").await;
    maker.click("#create-event button[type=submit]").await;
    let presenter_link = maker
        .until(PAGE_WAIT, "the new event's presenter link", || async {
            let link = maker
                .eval("return document.getElementById('created-presenter').value;")
                .await;
            link.as_str().filter(|l| l.contains('#')).map(str::to_owned)
        })
        .await;
    maker.close().await;
    let (address, token) = presenter_link.split_once('#').unwrap();
    let code: String = address
        .trim_end_matches("/present")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let event = OwnedEvent {
        code,
        token: token.to_owned(),
        questions: Vec::new(),
        voter_codes: Vec::new(),
    };
    let owner = eventually(WAIT, "the event appears", || async {
        let reply = api
            .send(
                http::Method::GET,
                &format!("/events/{}", event.code),
                &[ACCEPT_JSON, ("authorization", &event.authorization())],
                "",
            )
            .await;
        (reply.status == StatusCode::OK).then(|| reply.json())
    })
    .await;
    let question = &owner["questions_list"][0];
    assert_eq!(question["choice"], "words", "{owner}");
    assert_eq!(question["words"], json!({"max_words": 2, "max_chars": 30}));
    let poll = question["poll"].as_str().unwrap().to_owned();
    event_command(&api, &event, "next").await;

    // The phone: two fields, as the question takes two answers.
    let phone = Browser::open_as(&driver, &base, PHONE, false, true).await;
    phone.goto(&format!("/e/{}", event.code)).await;
    phone
        .until(PAGE_WAIT, "two answer fields", || async {
            let n = phone
                .eval("return document.querySelectorAll('#ballot input[name=word]').length;")
                .await;
            (n == 2).then_some(())
        })
        .await;
    assert_eq!(
        phone
            .eval("return document.querySelector('#ballot button[type=submit]').textContent;")
            .await,
        json!("Send")
    );
    // A blocked word is refused, and the phone says so.
    phone
        .type_into("#ballot .word-field:nth-of-type(1) input", "so boring")
        .await;
    phone.click("#ballot button[type=submit]").await;
    phone
        .until(
            PAGE_WAIT,
            "the phone says the answer is refused",
            || async {
                phone
                    .text("#status")
                    .await
                    .contains("not accepted")
                    .then_some(())
            },
        )
        .await;
    phone
        .eval("document.querySelector('#ballot .word-field input').value = ''; return null;")
        .await;
    phone
        .type_into("#ballot .word-field:nth-of-type(1) input", "Growth!")
        .await;
    phone
        .type_into("#ballot .word-field:nth-of-type(2) input", " Focus ")
        .await;
    phone.click("#ballot button[type=submit]").await;
    phone
        .until(PAGE_WAIT, "the phone says its answers arrived", || async {
            let said = phone.text("#status").await;
            said.contains("answers were received").then_some(())
        })
        .await;

    // The projector draws the cloud and follows two more participants live.
    let projector = Browser::open_as(&driver, &base, PROJECTOR, false, true).await;
    projector.goto(&format!("/e/{}/screen", event.code)).await;
    until_cloud(
        &projector,
        &json!({"growth": 1, "focus": 1}),
        "the projector draws the phone's answers",
    )
    .await;
    participant(&stack, &poll, &["growth", "Calm"]).await;
    participant(&stack, &poll, &["GROWTH", "spam"]).await;
    let everyone = json!({"growth": 3, "focus": 1, "calm": 1, "spam": 1});
    until_cloud(&projector, &everyone, "the projector follows live").await;
    until_cloud(&phone, &everyone, "the phone shows the cloud too").await;
    // Once the sizes have settled, the most given answer is drawn far larger.
    let sizes = "const px = (w) => parseFloat(getComputedStyle(document.querySelector( \
                   '#results .cloud-word[data-word=\"' + w + '\"]')).fontSize); \
                 return px('growth') / px('calm');";
    projector
        .until(PAGE_WAIT, "the most given answer drawn larger", || async {
            let ratio = projector.eval(sizes).await.as_f64().unwrap_or(0.0);
            (ratio > 1.5).then_some(())
        })
        .await;
    phone.screenshot("event-words-phone.png").await;
    projector.screenshot("event-words-projector.png").await;

    // The presenter hides "spam": it leaves every screen; shown again, it comes back.
    let presenter = Browser::open_as(&driver, &base, LAPTOP, false, true).await;
    presenter
        .goto(&format!("/e/{}/present#{}", event.code, event.token))
        .await;
    let hide = "#answers button[aria-label='Hide: spam']";
    presenter
        .until(PAGE_WAIT, "the presenter lists the answers", || async {
            presenter.exists(hide).await.then_some(())
        })
        .await;
    presenter.screenshot("event-words-presenter.png").await;
    presenter.click(hide).await;
    let without = json!({"growth": 3, "focus": 1, "calm": 1});
    until_cloud(
        &projector,
        &without,
        "the hidden answer leaves the projector",
    )
    .await;
    until_cloud(&phone, &without, "and the phone").await;
    let show = "#hidden-answers button[aria-label='Show again: spam']";
    presenter
        .until(PAGE_WAIT, "the presenter lists it as hidden", || async {
            presenter.exists(show).await.then_some(())
        })
        .await;
    presenter.click(show).await;
    until_cloud(&projector, &everyone, "shown again on the projector").await;

    // The presenter's block list box holds the list made on /new-event; saved with one
    // more line, it refuses that answer from then on and shows the list as kept.
    let block_box = "return document.getElementById('blocked-words').value;";
    presenter
        .until(PAGE_WAIT, "the block list as created", || async {
            (presenter.eval(block_box).await == json!("boring\nmeh")).then_some(())
        })
        .await;
    presenter
        .type_into("#blocked-words", "boring\nmeh\nSynergy!")
        .await;
    presenter.click("#save-block-list").await;
    presenter
        .until(
            PAGE_WAIT,
            "the presenter hears the list is saved",
            || async {
                let said = presenter.text("#status").await;
                said.contains("3 answers are refused").then_some(())
            },
        )
        .await;
    let refused = eventually(WAIT, "the new list refuses synergy", || async {
        let reply = send_answers(&stack, &poll, &["SYNERGY"]).await;
        (reply.status == StatusCode::UNPROCESSABLE_ENTITY).then_some(reply)
    })
    .await;
    assert!(
        refused.error().contains("not accepted"),
        "{}",
        refused.error()
    );
    presenter
        .until(PAGE_WAIT, "the box shows the list as kept", || async {
            (presenter.eval(block_box).await == json!("boring\nmeh\nsynergy")).then_some(())
        })
        .await;
    phone.close().await;
    projector.close().await;
    presenter.close().await;

    // Dark, on a phone, a projector and the presenter's laptop.
    for (name, window, path) in [
        (
            "event-words-phone-dark.png",
            PHONE,
            format!("/e/{}", event.code),
        ),
        (
            "event-words-projector-dark.png",
            PROJECTOR,
            format!("/e/{}/screen", event.code),
        ),
        (
            "event-words-presenter-dark.png",
            LAPTOP,
            format!("/e/{}/present#{}", event.code, event.token),
        ),
    ] {
        let browser = Browser::open_as(&driver, &base, window, true, true).await;
        browser.goto(&path).await;
        until_cloud(&browser, &everyone, "the dark page's cloud").await;
        browser.screenshot(name).await;
        browser.close().await;
    }

    // Without JavaScript: the plain form's fields post, and the page lists the answers.
    let plain = Browser::open_as(&driver, &base, PHONE, false, false).await;
    plain.goto(&format!("/e/{}", event.code)).await;
    assert_eq!(
        plain
            .eval("return document.querySelectorAll('input[name=word]').length;")
            .await,
        json!(2)
    );
    plain.type_into("input[name=word]", "Focus.").await;
    plain.click("#ballot button[type=submit]").await;
    plain
        .until(PAGE_WAIT, "the form post is counted", || async {
            (plain.current_url().await.ends_with("#voted")).then_some(())
        })
        .await;
    plain
        .until(PAGE_WAIT, "the page lists the answer counted", || async {
            plain.goto(&format!("/e/{}", event.code)).await;
            let focus = plain
                .eval("const w = document.querySelector('.cloud-word[data-word=focus]'); return w && w.dataset.count;")
                .await;
            (focus == json!("2")).then_some(())
        })
        .await;
    plain.close().await;
    driver.stop().await;
}
