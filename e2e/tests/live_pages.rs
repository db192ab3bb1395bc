//! Every live view follows the result service's WebSocket feed instead of asking
//! `/results` over and over: in headless Chromium through the edge of a whole Tally, the
//! home page's results page, a poll's own page, its projector page and its admin page
//! show a vote cast
//! elsewhere within a second or two, and none of them has requested `/results` over
//! HTTP after its first paint (the pages' own resource timings say so), so viewers
//! cost the servers nothing per second of watching.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use tally_e2e::browser::{Browser, BrowserOptions, Chromedriver, PAGE_WAIT};
use tally_e2e::{Client, Stack};

/// Long enough for the old pages to have polled several times (every 1 or 3 s).
const WATCH: Duration = Duration::from_secs(4);

/// Requests the page made to the results API (`/results`, `/results/<poll>`, any
/// query; not the page `/results.html` nor its script) since it loaded.
async fn results_requests(browser: &Browser) -> u64 {
    browser
        .eval(
            "return performance.getEntriesByType('resource').filter((entry) => \
               /^\\/results(\\/|$)/.test(new URL(entry.name).pathname)).length;",
        )
        .await
        .as_u64()
        .unwrap()
}

/// Waits until the page's element `selector` carries `data-total` = `total`.
async fn until_total(browser: &Browser, selector: &str, total: u64, what: &str) {
    let script = format!(
        "const e = document.querySelector({}); return e ? e.dataset.total || e.textContent : null;",
        serde_json::to_string(selector).unwrap()
    );
    browser
        .until(PAGE_WAIT, what, || async {
            let now = browser.eval(&script).await;
            let text = now.as_str().unwrap_or_default().to_owned();
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            (digits == total.to_string()).then_some(())
        })
        .await;
}

#[tokio::test]
async fn live_views_follow_the_feed_without_polling_results() {
    let driver = Chromedriver::start().await;
    let stack = Stack::builder().start().await;
    let base = format!("http://{}", stack.edge());
    let api = Client::new(stack.edge());
    let created = api
        .send(
            http::Method::POST,
            "/polls",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            json!({"question": "Tea or coffee?", "options": ["Tea", "Coffee"]}).to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{:?}", created.body);
    let poll = created.json()["poll"].as_str().unwrap().to_owned();
    let admin_path = created.json()["admin_path"].as_str().unwrap().to_owned();
    tally_testkit::eventually(tally_e2e::stack::WAIT, "the poll appears", || async {
        (api.get(&format!("/results/{poll}")).await.status == StatusCode::OK).then_some(())
    })
    .await;

    let open = |path: String| {
        let (driver, base) = (&driver, base.clone());
        async move {
            let browser = Browser::open(driver, &base, BrowserOptions::default()).await;
            browser.goto(&path).await;
            browser
        }
    };
    let results_page = open("/results.html".into()).await;
    let poll_page = open(format!("/p/{poll}")).await;
    let live_page = open(format!("/p/{poll}/live")).await;
    let admin_page = open(admin_path).await;
    for (page, name) in [
        (&results_page, "results"),
        (&live_page, "live"),
        (&admin_page, "admin"),
    ] {
        until_total(
            page,
            "#total",
            0,
            &format!("the {name} page's first numbers"),
        )
        .await;
    }
    let pages = [&results_page, &poll_page, &live_page, &admin_page];
    let mut first = Vec::new();
    for page in pages {
        first.push(results_requests(page).await);
    }

    // Votes cast elsewhere reach every page over its feed.
    let voters: Vec<Client> = (0..3).map(|_| Client::new(stack.edge())).collect();
    for voter in &voters {
        assert_eq!(voter.vote_json("default", "a").await.status, 202);
    }
    assert_eq!(voters[0].vote_json(&poll, "b").await.status, 202);
    until_total(
        &results_page,
        "#total",
        3,
        "the results page follows the feed",
    )
    .await;
    until_total(&poll_page, "#total", 1, "the poll page follows the feed").await;
    until_total(&live_page, "#total", 1, "the live page follows the feed").await;
    until_total(&admin_page, "#total", 1, "the admin page follows the feed").await;

    tokio::time::sleep(WATCH).await;
    let mut after = Vec::new();
    for page in pages {
        after.push(results_requests(page).await);
    }
    assert_eq!(
        after, first,
        "no page asked /results again while its feed was up (results, poll, live, admin pages)"
    );
    assert!(
        first[0] == 0 && first[1] == 0,
        "the results page and the poll page paint from the feed: {first:?}"
    );

    results_page.close().await;
    poll_page.close().await;
    live_page.close().await;
    admin_page.close().await;
    driver.stop().await;
}
