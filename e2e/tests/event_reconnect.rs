//! A participant whose network drops comes back on the question shown now: in headless
//! Chromium through the edge of a whole Tally, a phone follows an event; its WebSockets
//! are closed and new ones refused (as on a train going into a tunnel) while the
//! presenter moves on; the phone shows the new question anyway (its feed asks over HTTP
//! while no socket opens), and once sockets work again it is live on the feed and
//! follows the next move within a second.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use tally_e2e::browser::{Browser, BrowserOptions, Chromedriver, PAGE_WAIT, PHONE};
use tally_e2e::event_api::{create_event_ready, event_command};
use tally_e2e::{Client, Stack};

/// The promise: once connected, a phone follows the presenter within a second.
const FOLLOW_WITHIN: Duration = Duration::from_secs(1);

/// Keeps every WebSocket the page opens in `window.tallySockets`, and refuses new ones
/// while `window.tallyOffline` is true, as a dead network would.
const NETWORK_SWITCH: &str = "
  (function () {
    const Real = window.WebSocket;
    window.tallySockets = [];
    window.tallyOffline = false;
    window.WebSocket = function (url, protocols) {
      if (window.tallyOffline) throw new DOMException('offline', 'NetworkError');
      const socket = protocols === undefined ? new Real(url) : new Real(url, protocols);
      window.tallySockets.push(socket);
      return socket;
    };
    window.WebSocket.prototype = Real.prototype;
    Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  })();
";

async fn question(phone: &Browser) -> String {
    phone
        .eval(
            "const q = document.getElementById('question'); return q ? q.textContent.trim() : '';",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn until_question(phone: &Browser, wanted: &str, what: &str) -> Duration {
    let started = Instant::now();
    phone
        .until(PAGE_WAIT, what, || async {
            (question(phone).await == wanted).then_some(())
        })
        .await;
    started.elapsed()
}

async fn conn_state(phone: &Browser) -> String {
    phone
        .eval("const c = document.getElementById('conn'); return c ? c.dataset.state : '';")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_phone_that_loses_its_network_comes_back_on_the_current_question() {
    let driver = Chromedriver::start().await;
    let stack = Stack::builder().start().await;
    let api = Client::new(stack.edge());
    let event = create_event_ready(
        &api,
        &json!({"title": "Train ride", "questions": [
            {"question": "Window or aisle?", "options": ["Window", "Aisle"]},
            {"question": "Quiet coach?", "options": ["Yes", "No"]},
        ]}),
    )
    .await;
    event_command(&api, &event, "next").await;

    let phone = Browser::open(
        &driver,
        &format!("http://{}", stack.edge()),
        BrowserOptions {
            window: PHONE,
            ..BrowserOptions::default()
        },
    )
    .await;
    phone.before_every_page(&driver, NETWORK_SWITCH).await;
    phone.goto(&format!("/e/{}", event.code)).await;
    until_question(&phone, "Window or aisle?", "the phone shows question 1").await;
    phone
        .until(PAGE_WAIT, "the phone is live on the feed", || async {
            (conn_state(&phone).await == "live").then_some(())
        })
        .await;

    // The network goes: open sockets close, new ones fail; the presenter moves on.
    phone
        .eval(
            "window.tallyOffline = true; \
             window.tallySockets.forEach((s) => s.close()); return true;",
        )
        .await;
    phone
        .until(PAGE_WAIT, "the phone says it is reconnecting", || async {
            (conn_state(&phone).await == "reconnecting").then_some(())
        })
        .await;
    event_command(&api, &event, "next").await;
    until_question(
        &phone,
        "Quiet coach?",
        "the phone without sockets still reaches question 2",
    )
    .await;

    // The network comes back: the phone is live again, on the question shown now,
    // and follows the next move at the feed's pace.
    let opened_before = phone
        .eval("return window.tallySockets.length;")
        .await
        .as_u64()
        .unwrap();
    phone
        .eval("window.tallyOffline = false; return true;")
        .await;
    phone
        .until(
            Duration::from_secs(30),
            "the phone reconnects to the feed",
            || async {
                let opened = phone
                    .eval("return window.tallySockets.filter((s) => s.readyState === 1).length;")
                    .await
                    .as_u64()
                    .unwrap();
                (opened == 1 && conn_state(&phone).await == "live").then_some(())
            },
        )
        .await;
    assert!(
        phone
            .eval("return window.tallySockets.length;")
            .await
            .as_u64()
            .unwrap()
            > opened_before,
        "a new socket was opened"
    );
    assert_eq!(question(&phone).await, "Quiet coach?");
    event_command(&api, &event, "previous").await;
    let took = until_question(&phone, "Window or aisle?", "the phone follows live again").await;
    assert!(
        took < FOLLOW_WITHIN * 2,
        "followed in {took:?} after reconnecting"
    );
    phone.close().await;
    driver.stop().await;
}
