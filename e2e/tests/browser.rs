//! The front end in a real browser (Debian's headless Chromium through chromedriver),
//! through the edge of a whole in-process Tally with real Redis and Postgres: live
//! results follow votes from other browsers, the admin link closes a poll and downloads
//! its CSV, hidden results stay hidden, voting works without JavaScript, and the live
//! page is photographed light and dark for CI's artifacts.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tally_e2e::browser::{
    artifacts_dir, Browser, BrowserOptions, Chromedriver, PAGE_WAIT, PROJECTOR,
};
use tally_e2e::{Client, Stack};
use tokio::sync::Mutex;

/// The promise: a vote shows on the live page within a second.
const LIVE_WITHIN: Duration = Duration::from_secs(1);

/// The vote service reuses a poll definition this long (VOTE_POLL_CACHE_TTL's default),
/// so a close is enforced on votes at most this long after the worker applied it.
const POLL_CACHE_TTL: Duration = Duration::from_millis(1100);

/// Two cores: one scenario's browsers at a time, so timings measure Tally, not contention.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// A poll made through the create page.
struct Created {
    id: String,
    admin_url: String,
}

fn base(stack: &Stack) -> String {
    format!("http://{}", stack.edge())
}

/// Creates a poll through /new with JavaScript and returns where its admin page is.
async fn create_poll(browser: &Browser, question: &str, options: &[&str], hide: bool) -> Created {
    browser.goto("/new").await;
    browser.type_into("#question", question).await;
    for (index, option) in options.iter().enumerate() {
        if index >= 4 {
            browser.click("#add-option").await;
        }
        browser
            .type_into(&format!("#option-{}", index + 1), option)
            .await;
    }
    if hide {
        browser.click("#hide_results").await;
    }
    browser.click("#create button[type=submit]").await;
    let admin_url = browser
        .until(
            PAGE_WAIT,
            "the create page opens the admin page",
            || async {
                let url = browser.current_url().await;
                url.contains("/admin#").then_some(url)
            },
        )
        .await;
    let id = admin_url
        .split("/p/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    Created { id, admin_url }
}

/// Votes on `/p/<poll>` for `options` (by id) with JavaScript; returns the status text
/// and when the Vote button was pressed.
async fn vote_on_page(
    browser: &Browser,
    poll: &str,
    options: &[&str],
    reload: bool,
) -> (String, Instant) {
    if reload || !browser.current_url().await.contains(&format!("/p/{poll}")) {
        browser.goto(&format!("/p/{poll}")).await;
    }
    // Single choice: clicking the new option replaces the old one. Multiple: set exactly.
    let checked = browser
        .eval("return Array.from(document.querySelectorAll('input[name=option]:checked')).map(i => i.value)")
        .await;
    let checked: Vec<String> = serde_json::from_value(checked).unwrap();
    let multiple = browser.exists("input[type=checkbox][name=option]").await;
    if multiple {
        for id in &checked {
            if !options.contains(&id.as_str()) {
                browser
                    .click(&format!("input[name=option][value='{id}']"))
                    .await;
            }
        }
    }
    for id in options {
        if !checked.iter().any(|c| c == id) {
            browser
                .click(&format!("input[name=option][value='{id}']"))
                .await;
        }
    }
    browser
        .eval("document.getElementById('status').textContent = ''")
        .await;
    let pressed = Instant::now();
    browser.click("#ballot button[type=submit]").await;
    let said = browser
        .until(
            PAGE_WAIT,
            "the vote page says what became of the vote",
            || async {
                let text = browser.text("#status").await;
                (!text.is_empty()).then_some(text)
            },
        )
        .await;
    (said, pressed)
}

/// `option id -> votes` as the live page's rows say (rows without counts are absent).
async fn live_counts(browser: &Browser) -> BTreeMap<String, i64> {
    let rows = browser
        .eval(
            "return Array.from(document.querySelectorAll('#results .result'))\
             .filter(r => r.dataset.votes !== undefined)\
             .map(r => [r.dataset.option, Number(r.dataset.votes)])",
        )
        .await;
    serde_json::from_value::<Vec<(String, i64)>>(rows)
        .unwrap()
        .into_iter()
        .collect()
}

fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect()
}

/// Waits until the live page shows `expected`; returns how long after `since` it did.
async fn live_shows(live: &Browser, expected: &BTreeMap<String, i64>, since: Instant) -> Duration {
    live.until(
        PAGE_WAIT,
        &format!("the live page shows {expected:?}"),
        || async { (live_counts(live).await == *expected).then_some(()) },
    )
    .await;
    since.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_follows_votes_from_other_browsers() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = base(&stack);
    let projector = BrowserOptions {
        window: PROJECTOR,
        ..BrowserOptions::default()
    };
    let creator = Browser::open(&driver, &base, projector.clone()).await;
    let created = create_poll(
        &creator,
        "Tea or coffee?",
        &["Tea", "Coffee", "Water"],
        false,
    )
    .await;
    eprintln!(
        "saw: created poll {} (admin page {})",
        created.id, created.admin_url
    );

    creator.goto(&format!("/p/{}/live", created.id)).await;
    creator
        .until(PAGE_WAIT, "the live page connects", || async {
            (creator
                .find("#conn")
                .await
                .attr("data-state")
                .await
                .unwrap()
                .as_deref()
                == Some("live"))
            .then_some(())
        })
        .await;
    assert_eq!(creator.text("#question").await, "Tea or coffee?");
    let qr_loaded = creator
        .eval("const img = document.getElementById('qr'); return img.complete && img.naturalWidth > 0")
        .await;
    assert_eq!(qr_loaded, Value::Bool(true), "the QR code image loads");
    let link = creator.text("#share-link").await;
    assert_eq!(link, format!("{}/p/{}", stack.edge(), created.id));
    eprintln!("saw: live page connected, QR code loaded, share link {link}");

    let alice = Browser::open(&driver, &base, BrowserOptions::default()).await;
    let bob = Browser::open(&driver, &base, BrowserOptions::default()).await;
    let (said, _) = vote_on_page(&alice, &created.id, &["a"], false).await;
    assert!(said.contains("received"), "alice's page says {said:?}");
    let (said, pressed) = vote_on_page(&bob, &created.id, &["b"], false).await;
    assert!(said.contains("received"), "bob's page says {said:?}");
    let took = live_shows(&creator, &counts(&[("a", 1), ("b", 1), ("c", 0)]), pressed).await;
    eprintln!("saw: both votes on the live page {took:?} after the second voter pressed Vote");
    assert!(took < LIVE_WITHIN, "the live page took {took:?}");
    creator
        .until(PAGE_WAIT, "the total reads 2 votes", || async {
            (creator.text("#total").await == "2 votes").then_some(())
        })
        .await;

    alice.client.set_window_size(390, 844).await.unwrap();
    let (said, pressed) = vote_on_page(&alice, &created.id, &["b"], false).await;
    assert!(said.contains("received"), "alice's changed vote: {said:?}");
    let took = live_shows(&creator, &counts(&[("a", 0), ("b", 2), ("c", 0)]), pressed).await;
    eprintln!("saw: the bars followed alice's change {took:?} after she pressed Vote");
    assert!(took < LIVE_WITHIN, "the change took {took:?}");
    let widths = creator
        .eval(
            "return Array.from(document.querySelectorAll('#results .result-bar'))\
             .map(b => b.style.width)",
        )
        .await;
    assert_eq!(widths, serde_json::json!(["0%", "100%", "0%"]));
    creator
        .until(
            PAGE_WAIT,
            "the figures roll to their new values",
            || async {
                let text = creator
                    .text("#results .result:nth-child(2) .result-figures")
                    .await;
                (text.contains("2 votes") && text.contains("100")).then_some(())
            },
        )
        .await;

    // Screenshots for people (and CI's artifacts): the projector view, light and dark.
    tokio::time::sleep(Duration::from_millis(800)).await; // let the bars finish growing
    let light = creator.screenshot("live-light.png").await;
    alice.screenshot("vote-phone.png").await;
    let dark = Browser::open(
        &driver,
        &base,
        BrowserOptions {
            dark: true,
            ..projector
        },
    )
    .await;
    dark.goto(&format!("/p/{}/live", created.id)).await;
    dark.until(PAGE_WAIT, "the dark live page shows the votes", || async {
        (live_counts(&dark).await == counts(&[("a", 0), ("b", 2), ("c", 0)])).then_some(())
    })
    .await;
    let scheme = dark
        .eval("return matchMedia('(prefers-color-scheme: dark)').matches")
        .await;
    assert_eq!(scheme, Value::Bool(true), "the dark browser prefers dark");
    let background = dark
        .eval("return getComputedStyle(document.body).backgroundColor")
        .await;
    assert_eq!(
        background, "rgb(18, 19, 24)",
        "the page follows the dark scheme"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let dark_png = dark.screenshot("live-dark.png").await;
    for png in [&light, &dark_png] {
        let bytes = std::fs::read(png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{png:?}"
        );
    }
    eprintln!(
        "saw: screenshots {} and {}",
        light.display(),
        dark_png.display()
    );

    for browser in [creator, alice, bob, dark] {
        browser.close().await;
    }
    driver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_link_closes_the_poll_and_downloads_the_csv() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = base(&stack);
    let downloads = tempfile_dir("downloads");
    let admin = Browser::open(
        &driver,
        &base,
        BrowserOptions {
            downloads: Some(downloads.clone()),
            ..BrowserOptions::default()
        },
    )
    .await;
    let created = create_poll(
        &admin,
        "Best day for the meetup?",
        &["Monday", "Friday"],
        false,
    )
    .await;

    let voter = Browser::open(&driver, &base, BrowserOptions::default()).await;
    assert!(vote_on_page(&voter, &created.id, &["a"], false)
        .await
        .0
        .contains("received"));
    let other = Client::visitor(stack.edge(), &format!("/p/{}", created.id)).await;
    assert_eq!(other.vote_json(&created.id, "b").await.status, 202);
    let api = Client::new(stack.edge());
    api_eventually(&api, &created.id, |results| results["total"] == 2).await;

    admin.goto(&created.admin_url).await;
    admin
        .until(PAGE_WAIT, "the admin page shows both votes", || async {
            (admin.text("#total").await == "2 votes").then_some(())
        })
        .await;
    admin.click("#close").await;
    admin
        .until(
            PAGE_WAIT,
            "the admin page says the poll is closed",
            || async {
                (admin
                    .text("#poll-state")
                    .await
                    .eq_ignore_ascii_case("closed"))
                .then_some(())
            },
        )
        .await;
    eprintln!("saw: admin page closed the poll; state reads 'closed', Reopen offered");
    assert!(admin.find("#reopen").await.is_displayed().await.unwrap());

    // The voter's page was open before the close: the vote is refused, visibly.
    tokio::time::sleep(POLL_CACHE_TTL).await;
    let (said, _) = vote_on_page(&voter, &created.id, &["b"], false).await;
    assert!(said.contains("closed"), "the voter's page says {said:?}");
    let class = voter
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
    eprintln!("saw: the refused vote says {said:?}");
    voter.goto(&format!("/p/{}", created.id)).await;
    assert!(voter.text("#closed").await.contains("This poll is closed"));
    assert!(!voter.exists("#ballot").await, "a closed poll has no form");

    admin.click("#csv").await;
    let file = downloads.join(format!("tally-{}.csv", created.id));
    let csv = admin
        .until(PAGE_WAIT, "the CSV download lands", || async {
            let text = std::fs::read_to_string(&file).ok()?;
            text.ends_with("\r\n").then_some(text)
        })
        .await;
    eprintln!("saw: CSV {csv:?}");
    assert_eq!(
        csv,
        "option,label,votes,percent\r\na,Monday,1,50.0\r\nb,Friday,1,50.0\r\n"
    );

    for browser in [admin, voter] {
        browser.close().await;
    }
    driver.stop().await;
    let _ = std::fs::remove_dir_all(&downloads);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_results_show_no_counts_before_close() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let base = base(&stack);
    let admin = Browser::open(&driver, &base, BrowserOptions::default()).await;
    let created = create_poll(&admin, "Secret ballot?", &["Yes", "No"], true).await;
    let voter = Browser::open(&driver, &base, BrowserOptions::default()).await;
    assert!(vote_on_page(&voter, &created.id, &["a"], false)
        .await
        .0
        .contains("received"));
    let api = Client::new(stack.edge());
    stack.wait_drained().await;

    voter.goto(&format!("/p/{}", created.id)).await;
    let hidden = voter.text("#results-hidden").await;
    assert_eq!(hidden, "Results are hidden until the poll closes.");
    let source = voter.client.source().await.unwrap();
    assert!(
        !source.contains("data-votes") && !source.contains("result-count"),
        "{source}"
    );
    let results = api.get(&format!("/results/{}", created.id)).await.json();
    eprintln!("saw: voter page says {hidden:?}; API says {results}");
    assert_eq!(results["hidden"], true);
    assert_eq!(results["total"], Value::Null);
    assert!(results["options"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["votes"].is_null()));

    // The admin sees the count; once closed, everyone does.
    admin.goto(&created.admin_url).await;
    admin
        .until(PAGE_WAIT, "the admin sees the hidden count", || async {
            (admin.text("#total").await == "1 vote").then_some(())
        })
        .await;
    admin.click("#close").await;
    api_eventually(&api, &created.id, |results| results["total"] == 1).await;
    voter.goto(&format!("/p/{}", created.id)).await;
    assert_eq!(voter.text("#total").await, "1 vote");
    eprintln!("saw: after close the voter page shows '1 vote'");

    for browser in [admin, voter] {
        browser.close().await;
    }
    driver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voting_works_without_javascript() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let stack = Stack::builder().start().await;
    let driver = Chromedriver::start().await;
    let browser = Browser::open(
        &driver,
        &base(&stack),
        BrowserOptions {
            javascript: false,
            ..BrowserOptions::default()
        },
    )
    .await;
    let api = Client::new(stack.edge());

    // The default poll: the classic buttons post the form.
    browser.goto("/").await;
    let scripting = browser.exists("html.js").await;
    assert!(
        !scripting,
        "JavaScript is off: tally.js did not mark the page"
    );
    browser.click("button[name=vote][value=a]").await;
    browser
        .until(
            PAGE_WAIT,
            "the form post comes back to /#voted-a",
            || async {
                browser
                    .current_url()
                    .await
                    .ends_with("/#voted-a")
                    .then_some(())
            },
        )
        .await;
    let notice = browser.text("#voted-a").await;
    assert!(
        notice.contains("Your vote for Cats was received"),
        "{notice}"
    );
    api_eventually(&api, "default", |results| {
        results["options"][0]["votes"] == 1
    })
    .await;
    eprintln!("saw: default poll, no JavaScript: {notice:?}, API counts Cats 1");

    // A created poll (created without JavaScript too: the form posts to /polls).
    browser.goto("/new").await;
    browser.type_into("#question", "Lunch?").await;
    browser.type_into("#option-1", "Pizza").await;
    browser.type_into("#option-2", "Salad").await;
    browser.click("#create button[type=submit]").await;
    let admin_url = browser
        .until(
            PAGE_WAIT,
            "the form post lands on the admin page",
            || async {
                let url = browser.current_url().await;
                url.contains("/admin#").then_some(url)
            },
        )
        .await;
    let poll = admin_url
        .split("/p/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    browser
        .until(PAGE_WAIT, "the poll page appears", || async {
            browser.goto(&format!("/p/{poll}")).await;
            browser.exists("#ballot").await.then_some(())
        })
        .await;
    browser.click("input[name=option][value=b]").await;
    browser.click("#ballot button[type=submit]").await;
    browser
        .until(
            PAGE_WAIT,
            "the form post comes back to /p/<id>#voted",
            || async {
                browser
                    .current_url()
                    .await
                    .ends_with(&format!("/p/{poll}#voted"))
                    .then_some(())
            },
        )
        .await;
    let notice = browser.text("#voted").await;
    assert!(notice.contains("Your vote was received"), "{notice}");
    api_eventually(&api, &poll, |results| results["options"][1]["votes"] == 1).await;
    browser.goto(&format!("/p/{poll}")).await;
    let salad = browser.text(".result[data-option=b] .result-count").await;
    assert_eq!(salad, "1 vote");
    let checked = browser
        .find("input[name=option][value=b]")
        .await
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(
        checked.as_deref(),
        Some("true"),
        "the page remembers the choice"
    );
    eprintln!("saw: created poll {poll} without JavaScript; form vote counted ({salad:?} for Salad after reload)");

    browser.close().await;
    driver.stop().await;
}

/// Polls `GET /results/<poll>` until `done` holds.
async fn api_eventually(api: &Client, poll: &str, done: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + PAGE_WAIT;
    loop {
        let reply = api.get(&format!("/results/{poll}")).await;
        if reply.status == 200 && done(&reply.json()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "results of {poll} never matched: {} {:?}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh directory under the artifacts dir for one test's downloads.
fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = artifacts_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Path::new(&dir).is_dir());
    dir
}
