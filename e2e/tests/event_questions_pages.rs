//! The presenter changes the questions in a real browser (headless Chromium through the
//! edge of a whole in-process Tally with real Redis and Postgres) while a phone is in
//! the room: adds a question with the form, edits one (the form starts from its text
//! and answers), moves the new one to the top, shows it and the phone follows; a shown
//! question loses its Edit and Remove buttons, an unseen one is removed. The presenter
//! with the form open is photographed light and dark, on a laptop and on a phone, for
//! CI's artifacts.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use tally_e2e::browser::{Browser, Chromedriver, PAGE_WAIT, PHONE, PROJECTOR};
use tally_e2e::event_api::create_event_ready;
use tally_e2e::{Client, Stack};

/// A laptop's window, for the presenter.
const LAPTOP: (u32, u32) = (1280, 900);

/// The agenda's questions as drawn, in order.
async fn agenda(presenter: &Browser) -> Value {
    presenter
        .eval(
            "return Array.from(document.querySelectorAll('#agenda .agenda-question'), \
             (q) => q.textContent);",
        )
        .await
}

async fn until_agenda(presenter: &Browser, wanted: Value, what: &str) {
    presenter
        .until(PAGE_WAIT, what, || async {
            (agenda(presenter).await == wanted).then_some(())
        })
        .await;
}

/// Waits until the presenter's tools can be used again (no command on its way: they are
/// marked `aria-disabled` meanwhile, and keep the focus).
async fn until_usable(presenter: &Browser, selector: &str) {
    let probe = format!(
        "const b = document.querySelector(\"{selector}\"); \
         return !!b && !b.disabled && b.getAttribute('aria-disabled') !== 'true';"
    );
    presenter
        .until(PAGE_WAIT, selector, || async {
            (presenter.eval(&probe).await == json!(true)).then_some(())
        })
        .await;
}

#[tokio::test]
async fn the_presenter_adds_edits_moves_and_removes_questions_and_the_room_follows() {
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = format!("http://{}", stack.edge());
    let event = create_event_ready(
        &Client::new(stack.edge()),
        &json!({"title": "Retro", "questions": [
            {"question": "Went well?", "options": ["Yes", "No"]},
            {"question": "Went bad?", "options": ["Deploys", "Meetings"]}
        ]}),
    )
    .await;

    let presenter = Browser::open_as(&driver, &base, LAPTOP, false, true).await;
    presenter
        .goto(&format!("/e/{}/present#{}", event.code, event.token))
        .await;
    until_agenda(&presenter, json!(["Went well?", "Went bad?"]), "the agenda").await;
    let phone = Browser::open_as(&driver, &base, PHONE, false, true).await;
    phone.goto(&format!("/e/{}", event.code)).await;

    // Add a question with the form.
    until_usable(&presenter, "#add-question").await;
    presenter.click("#add-question").await;
    presenter.type_into("#editor-text", "Best snack?").await;
    presenter
        .type_into("#editor-options", "Crisps\nFruit")
        .await;
    presenter.screenshot("event-questions-editor.png").await;
    presenter.click("#editor-save").await;
    until_agenda(
        &presenter,
        json!(["Went well?", "Went bad?", "Best snack?"]),
        "the added question is listed",
    )
    .await;
    let form_hidden = "return document.getElementById('question-form').hidden;";
    assert_eq!(presenter.eval(form_hidden).await, json!(true));

    // Edit the second: the form starts from its text and its answers.
    let edit = "button[aria-label='Edit question 2']";
    until_usable(&presenter, edit).await;
    presenter.click(edit).await;
    let options = "return document.getElementById('editor-options').value;";
    presenter
        .until(PAGE_WAIT, "the form holds the answers", || async {
            (presenter.eval(options).await == json!("Deploys\nMeetings")).then_some(())
        })
        .await;
    let text = "return document.getElementById('editor-text').value;";
    assert_eq!(presenter.eval(text).await, json!("Went bad?"));
    presenter
        .type_into("#editor-text", "What went badly?")
        .await;
    presenter.click("#editor-save").await;
    until_agenda(
        &presenter,
        json!(["Went well?", "What went badly?", "Best snack?"]),
        "the edited question is listed in its place",
    )
    .await;

    // Move the new question to the top, one step at a time.
    let up_from_third = "button[aria-label='Move question 3 up']";
    until_usable(&presenter, up_from_third).await;
    presenter.click(up_from_third).await;
    until_agenda(
        &presenter,
        json!(["Went well?", "Best snack?", "What went badly?"]),
        "moved up once",
    )
    .await;
    let up_from_second = "button[aria-label='Move question 2 up']";
    until_usable(&presenter, up_from_second).await;
    // As a keyboard user does: the focus on the button, then Enter (a click).
    presenter
        .eval(&format!(
            "const b = document.querySelector(\"{up_from_second}\"); b.focus(); b.click(); return true;"
        ))
        .await;
    until_agenda(
        &presenter,
        json!(["Best snack?", "Went well?", "What went badly?"]),
        "moved to the top",
    )
    .await;
    // The keyboard focus stayed with the moved question, never on a "Show this one".
    let focus = "const f = document.activeElement; \
                 return [f.closest('li') && f.closest('li').querySelector('.agenda-question').textContent, \
                         f.classList.contains('agenda-show')];";
    presenter
        .until(
            PAGE_WAIT,
            "the focus follows the moved question",
            || async {
                (presenter.eval(focus).await == json!(["Best snack?", false])).then_some(())
            },
        )
        .await;

    // Show it: the phone follows; a shown question can no longer be edited or removed.
    let show_first = "button[aria-label='Show this one: question 1']";
    until_usable(&presenter, show_first).await;
    presenter.click(show_first).await;
    phone
        .until(PAGE_WAIT, "the phone shows the new question", || async {
            phone
                .eval("return document.body.innerText.includes('Best snack?');")
                .await
                .as_bool()
                .unwrap_or(false)
                .then_some(())
        })
        .await;
    let first_tools =
        "return Array.from(document.querySelectorAll('#agenda li:first-child .agenda-tool'), \
                       (b) => b.textContent);";
    presenter
        .until(
            PAGE_WAIT,
            "the shown question keeps only its moves",
            || async { (presenter.eval(first_tools).await == json!(["↑", "↓"])).then_some(()) },
        )
        .await;

    // Remove the last, unseen one (the confirmation answered yes).
    presenter
        .eval("window.confirm = () => true; return true;")
        .await;
    let remove = "button[aria-label='Remove question 3']";
    until_usable(&presenter, remove).await;
    presenter.click(remove).await;
    until_agenda(
        &presenter,
        json!(["Best snack?", "Went well?"]),
        "the removed question leaves the list",
    )
    .await;
    presenter.screenshot("event-questions-presenter.png").await;

    // The tools and the form in the dark, at 1080p and on a phone.
    for (name, window) in [
        ("event-questions-editor-dark.png", PROJECTOR),
        ("event-questions-editor-phone-dark.png", PHONE),
    ] {
        let dark = Browser::open_as(&driver, &base, window, true, true).await;
        dark.goto(&format!("/e/{}/present#{}", event.code, event.token))
            .await;
        until_agenda(
            &dark,
            json!(["Best snack?", "Went well?"]),
            "the dark agenda",
        )
        .await;
        let edit = "button[aria-label='Edit question 2']";
        until_usable(&dark, edit).await;
        dark.click(edit).await;
        dark.until(PAGE_WAIT, "the dark form holds the answers", || async {
            (dark.eval(options).await == json!("Yes\nNo")).then_some(())
        })
        .await;
        dark.screenshot(name).await;
        dark.close().await;
    }

    phone.close().await;
    presenter.close().await;
    driver.stop().await;
}
