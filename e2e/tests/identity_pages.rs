//! Voter codes and room passcodes through the real pages (headless Chromium through
//! chromedriver, the edge and every service in-process, real Redis and Postgres): a
//! creator asks /new for a poll behind voter codes, sees the codes once, downloads them
//! as CSV, and voters type them on the poll's page, where a code again replaces its
//! ballot and a made-up one is refused; a poll behind a typed passcode and an event
//! behind a drawn one show the passcode to their creator (and the event's presenter and
//! projector views in that browser) and take ballots from pages that type it; an event
//! behind voter codes lists them, and its audience page takes one and keeps it for the
//! tab. The page
//! of codes is photographed for CI's artifacts.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use tally_e2e::browser::{Browser, BrowserOptions, Chromedriver, PAGE_WAIT, PHONE};
use tally_e2e::Stack;
use tokio::sync::Mutex;

/// Two cores: one scenario's browsers at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How many codes the creator asks for.
const CODES: usize = 3;

/// A poll created on /new whose answer the page shows instead of moving on.
struct Shown {
    poll: String,
    admin_path: String,
}

/// Fills /new with a two-answer poll, picks `identity`, lets `detail` fill its field and
/// creates the poll; returns what the page then shows.
async fn create_on_new(browser: &Browser, question: &str, identity: &str) -> Shown {
    browser.goto("/new").await;
    browser.type_into("#question", question).await;
    browser.type_into("#option-1", "Yes").await;
    browser.type_into("#option-2", "No").await;
    browser
        .click(&format!("input[name=identity][value={identity}]"))
        .await;
    match identity {
        "code" => {
            assert!(browser.displayed("#voter_codes").await);
            assert!(!browser.displayed("#passcode").await);
            browser.type_into("#voter_codes", &CODES.to_string()).await;
        }
        "passcode" => {
            assert!(!browser.displayed("#voter_codes").await);
            browser.type_into("#passcode", "  Tiger   Lake ").await;
        }
        other => panic!("no detail for {other}"),
    }
    browser.click("#create button[type=submit]").await;
    browser
        .until_displayed("#created", "the page shows the new poll")
        .await;
    assert!(
        browser.current_url().await.ends_with("/new"),
        "the page stays until the creator moves on"
    );
    let share = browser
        .find("#created-share")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let poll = share.strip_prefix("/p/").expect("a share link").to_owned();
    let admin_path = browser
        .find("#open-admin")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        admin_path.starts_with(&format!("/p/{poll}/admin#")),
        "{admin_path}"
    );
    Shown { poll, admin_path }
}

/// Opens `/p/<poll>` until the poll's page has its `field` (the worker applies a new
/// poll within moments).
async fn open_poll_page(browser: &Browser, poll: &str, field: &str) {
    browser
        .until(
            PAGE_WAIT,
            "the poll's page asks for its credential",
            || async {
                browser.goto(&format!("/p/{poll}")).await;
                browser.exists(field).await.then_some(())
            },
        )
        .await;
}

/// Types `credential` into `field`, picks `option` and votes; returns what the page says.
async fn vote_with(browser: &Browser, field: &str, credential: &str, option: &str) -> String {
    browser.type_into(field, credential).await;
    browser
        .click(&format!("input[name=option][value='{option}']"))
        .await;
    browser
        .eval("document.getElementById('status').textContent = ''")
        .await;
    browser.click("#ballot button[type=submit]").await;
    browser
        .until(
            PAGE_WAIT,
            "the page says what became of the vote",
            || async {
                let text = browser.text("#status").await;
                (!text.is_empty()).then_some(text)
            },
        )
        .await
}

/// Creates a one-question event on /new-event with `identity`; returns its join code
/// once the page shows what it holds (the passcode or the codes).
async fn create_event_on_page(creator: &Browser, identity: &str) -> String {
    creator.goto("/new-event").await;
    assert!(!creator.displayed("#passcode").await);
    assert!(!creator.displayed("#voter_codes").await);
    creator.type_into("#title", "Town hall").await;
    creator.type_into("#q1-text", "Move the office?").await;
    creator.type_into("#q1-option-1", "Yes").await;
    creator.type_into("#q1-option-2", "No").await;
    creator
        .click(&format!("input[name=identity][value={identity}]"))
        .await;
    let (detail, block) = match identity {
        "passcode" => ("#passcode", "#created-passcode-block"),
        "code" => ("#voter_codes", "#created-codes-block"),
        other => panic!("no detail for {other}"),
    };
    assert!(creator.displayed(detail).await);
    if identity == "code" {
        creator.type_into(detail, &CODES.to_string()).await;
    }
    creator.click("#create-event button[type=submit]").await;
    creator
        .until_displayed(block, "the page shows what the event holds")
        .await;
    let spaced = creator.text("#created-code").await;
    spaced.chars().filter(char::is_ascii_digit).collect()
}

/// Opens the presenter view from the creation page and shows the first question.
async fn present_first_question(creator: &Browser) {
    creator.click("#open-presenter").await;
    creator
        .until(PAGE_WAIT, "the presenter can show the question", || async {
            let next = creator.find("#next").await;
            (next.is_enabled().await.unwrap() && next.is_displayed().await.unwrap()).then_some(())
        })
        .await;
    creator.click("#next").await;
}

async fn open_phone(driver: &Chromedriver, base: &str) -> Browser {
    let options = BrowserOptions {
        window: PHONE,
        ..BrowserOptions::default()
    };
    Browser::open(driver, base, options).await
}

/// Opens the event's audience page, types `credential` into `field` once the question
/// asks for it, votes the first answer; returns what the page says.
async fn vote_on_event_page(phone: &Browser, code: &str, field: &str, credential: &str) -> String {
    phone.goto(&format!("/e/{code}")).await;
    phone
        .until_displayed(field, "the phone asks for the credential")
        .await;
    phone.type_into(field, credential).await;
    phone.click("#ballot label.option:nth-of-type(1)").await;
    phone
        .eval("document.getElementById('status').textContent = ''")
        .await;
    phone.click("#ballot button[type=submit]").await;
    phone
        .until(
            PAGE_WAIT,
            "the phone hears what became of its vote",
            || async {
                let status = phone.text("#status").await;
                (!status.is_empty()).then_some(status)
            },
        )
        .await
}

fn downloads_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tally-identity-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_poll_made_on_the_page_hands_out_codes_that_voters_type() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = format!("http://{}", stack.edge());
    let downloads = downloads_dir();
    let creator = Browser::open(
        &driver,
        &base,
        BrowserOptions {
            downloads: Some(downloads.clone()),
            ..BrowserOptions::default()
        },
    )
    .await;
    let shown = create_on_new(&creator, "Approve the budget?", "code").await;
    let codes = creator
        .eval("return Array.from(document.querySelectorAll('#created-codes .join-code')).map((e) => e.textContent);")
        .await;
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    eprintln!("saw: the page lists codes {codes:?}");
    assert_eq!(codes.len(), CODES);
    assert!(codes
        .iter()
        .all(|code| code.len() == 11 && code.as_bytes()[5] == b'-'));
    creator.screenshot("poll-voter-codes.png").await;
    assert!(!creator.displayed("#created-passcode-block").await);

    creator.click("#download-codes").await;
    let file = downloads.join(format!("tally-{}-codes.csv", shown.poll));
    let csv = creator
        .until(PAGE_WAIT, "the codes' CSV lands", || async {
            let text = std::fs::read_to_string(&file).ok()?;
            (text.lines().count() == CODES + 1).then_some(text)
        })
        .await;
    let link = format!("{base}/p/{}", shown.poll);
    let expected: String = std::iter::once("code,link\r\n".to_owned())
        .chain(codes.iter().map(|code| format!("{code},{link}\r\n")))
        .collect();
    assert_eq!(csv, expected);

    // A voter types their code as they read it: lower case, no dash.
    let voter = Browser::open(&driver, &base, BrowserOptions::default()).await;
    open_poll_page(&voter, &shown.poll, "#voter-code").await;
    let typed = codes[0].replace('-', "").to_lowercase();
    let said = vote_with(&voter, "#voter-code", &typed, "a").await;
    assert!(said.contains("received"), "{said}");
    // The same code from another browser changes that ballot; a made-up code is refused.
    let other = Browser::open(&driver, &base, BrowserOptions::default()).await;
    open_poll_page(&other, &shown.poll, "#voter-code").await;
    let said = vote_with(&other, "#voter-code", &codes[0], "b").await;
    assert!(said.contains("received"), "{said}");
    let said = vote_with(&other, "#voter-code", "AAAAA-AAAAA", "a").await;
    assert!(
        said.contains("not one of this poll's voter codes"),
        "{said}"
    );
    let class = other
        .find("#status")
        .await
        .attr("class")
        .await
        .unwrap()
        .unwrap();
    assert!(
        class.contains("status--error"),
        "shown as an error: {class}"
    );

    tally_testkit::eventually(PAGE_WAIT, "the changed ballot is counted", || async {
        let tallies = stack.tallies(&shown.poll).await;
        (tallies.get("b") == Some(&1)).then_some(())
    })
    .await;
    assert_eq!(
        stack.ballot_count(&shown.poll).await,
        1,
        "one code, one ballot"
    );
    let tallies = stack.tallies(&shown.poll).await;
    assert_eq!(tallies.get("a").copied().unwrap_or(0), 0, "{tallies:?}");

    creator.click("#open-admin").await;
    creator
        .until(PAGE_WAIT, "the admin page opens", || async {
            let url = creator.current_url().await;
            url.ends_with(&shown.admin_path).then_some(())
        })
        .await;

    for browser in [creator, voter, other] {
        browser.close().await;
    }
    driver.stop().await;
    let _ = std::fs::remove_dir_all(&downloads);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passcode_poll_and_event_show_their_passcode_and_take_ballots_that_type_it() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = format!("http://{}", stack.edge());
    let creator = Browser::open(&driver, &base, BrowserOptions::default()).await;

    // A typed passcode, shown as it will be compared: spaces collapsed, lower case.
    let shown = create_on_new(&creator, "Extend the lunch break?", "passcode").await;
    assert_eq!(creator.text("#created-passcode").await, "tiger lake");
    assert!(!creator.displayed("#created-codes-block").await);
    let voter = Browser::open(&driver, &base, BrowserOptions::default()).await;
    open_poll_page(&voter, &shown.poll, "#passcode").await;
    let said = vote_with(&voter, "#passcode", "tiger", "a").await;
    assert!(said.contains("not the room's passcode"), "{said}");
    let said = vote_with(&voter, "#passcode", "TIGER LAKE", "a").await;
    assert!(said.contains("received"), "{said}");

    // An event whose passcode Tally draws: its creator sees it, a phone types it.
    let code = create_event_on_page(&creator, "passcode").await;
    let passcode = creator.text("#created-passcode").await;
    eprintln!("saw: the event's drawn passcode {passcode:?}");
    assert_eq!(passcode.chars().count(), 6, "{passcode}");
    present_first_question(&creator).await;
    // This browser was shown the passcode: its presenter and projector views show it.
    creator
        .until_displayed("#room-passcode-line", "the presenter shows the passcode")
        .await;
    assert_eq!(creator.text("#room-passcode").await, passcode);
    let projector = Browser::open(&driver, &base, BrowserOptions::default()).await;
    projector.goto(&format!("/e/{code}/screen")).await;
    assert!(
        !projector.displayed("#room-passcode").await,
        "another browser does not know it"
    );
    creator.goto(&format!("/e/{code}/screen")).await;
    creator
        .until_displayed("#room-passcode", "the projector view shows the passcode")
        .await;
    assert_eq!(creator.text("#room-passcode").await, passcode);

    let phone = open_phone(&driver, &base).await;
    let said = vote_on_event_page(&phone, &code, "#passcode", &passcode.to_uppercase()).await;
    assert!(said.contains("received"), "{said}");

    for browser in [creator, voter, phone, projector] {
        browser.close().await;
    }
    driver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_behind_voter_codes_hands_them_out_and_a_phone_types_one() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = format!("http://{}", stack.edge());
    let creator = Browser::open(&driver, &base, BrowserOptions::default()).await;
    let code = create_event_on_page(&creator, "code").await;
    let codes = creator
        .eval("return Array.from(document.querySelectorAll('#created-codes .join-code')).map((e) => e.textContent);")
        .await;
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), CODES, "{codes:?}");
    present_first_question(&creator).await;

    let phone = open_phone(&driver, &base).await;
    let said = vote_on_event_page(&phone, &code, "#voter-code", "AAAAA-AAAAA").await;
    assert!(
        said.contains("not one of this poll's voter codes"),
        "{said}"
    );
    let said = vote_on_event_page(&phone, &code, "#voter-code", &codes[1]).await;
    assert!(said.contains("received"), "{said}");
    // The tab keeps the code for the next question: a reload finds it typed.
    phone.goto(&format!("/e/{code}")).await;
    phone
        .until_displayed("#voter-code", "the phone asks for the code again")
        .await;
    let kept = phone
        .eval("return document.getElementById('voter-code').value;")
        .await;
    assert_eq!(kept.as_str(), Some(codes[1].as_str()));

    for browser in [creator, phone] {
        browser.close().await;
    }
    driver.stop().await;
}
