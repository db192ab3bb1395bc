//! Voter codes and room passcodes through the real pages (headless Chromium through
//! chromedriver, the edge and every service in-process, real Redis and Postgres): a
//! creator asks /new for a poll behind voter codes, sees the codes once, downloads them
//! as CSV, and voters type them on the poll's page, where a code again replaces its
//! ballot and a made-up one is refused; a poll behind a typed passcode and an event
//! behind a drawn one show the passcode to their creator and take ballots from pages
//! that type it. The page of codes is photographed for CI's artifacts.

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
    let expected: String = std::iter::once("code,poll\r\n".to_owned())
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
    creator.goto("/new-event").await;
    assert!(!creator.displayed("#passcode").await);
    creator.type_into("#title", "Town hall").await;
    creator.type_into("#q1-text", "Move the office?").await;
    creator.type_into("#q1-option-1", "Yes").await;
    creator.type_into("#q1-option-2", "No").await;
    creator.click("input[name=identity][value=passcode]").await;
    assert!(creator.displayed("#passcode").await);
    creator.click("#create-event button[type=submit]").await;
    let passcode = creator
        .until(PAGE_WAIT, "the page shows the drawn passcode", || async {
            if !creator.displayed("#created-passcode-block").await {
                return None;
            }
            Some(creator.text("#created-passcode").await)
        })
        .await;
    eprintln!("saw: the event's drawn passcode {passcode:?}");
    assert_eq!(passcode.chars().count(), 6, "{passcode}");
    let spaced = creator.text("#created-code").await;
    let code: String = spaced.chars().filter(char::is_ascii_digit).collect();
    creator.click("#open-presenter").await;
    creator
        .until(PAGE_WAIT, "the presenter can show the question", || async {
            let next = creator.find("#next").await;
            (next.is_enabled().await.unwrap() && next.is_displayed().await.unwrap()).then_some(())
        })
        .await;
    creator.click("#next").await;

    let phone = Browser::open(
        &driver,
        &base,
        BrowserOptions {
            window: PHONE,
            ..BrowserOptions::default()
        },
    )
    .await;
    phone.goto(&format!("/e/{code}")).await;
    phone
        .until_displayed("#passcode-field", "the phone asks for the room's passcode")
        .await;
    phone.type_into("#passcode", &passcode.to_uppercase()).await;
    phone.click("#ballot label.option:nth-of-type(1)").await;
    phone.click("#ballot button[type=submit]").await;
    let said = phone
        .until(
            PAGE_WAIT,
            "the phone hears its vote was received",
            || async {
                let status = phone.text("#status").await;
                status.contains("received").then_some(status)
            },
        )
        .await;
    eprintln!("saw: the phone says {said:?}");

    for browser in [creator, voter, phone] {
        browser.close().await;
    }
    driver.stop().await;
}
