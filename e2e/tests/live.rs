//! The live feed through the edge: a browser-like WebSocket client on
//! `ws://<edge>/live/default` gets a snapshot, then an update after a real vote.
#![allow(clippy::unwrap_used)]

use futures_util::StreamExt;
use http::StatusCode;
use serde_json::Value;
use tally_e2e::stack::WAIT;
use tally_e2e::{Client, Stack};
use tokio_tungstenite::tungstenite::Message;

/// The next results document sent on `socket`.
async fn next_results<S>(socket: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid frame");
        if let Message::Text(text) = message {
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["type"] == "results" {
                return message["results"].clone();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_through_the_edge_shows_a_vote() {
    let stack = Stack::builder().start().await;
    let url = format!("ws://{}/live/default", stack.edge());
    let (mut socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);

    let snapshot = next_results(&mut socket).await;
    assert_eq!(snapshot["poll"], "default");
    let before = snapshot["total"].as_i64().unwrap();

    let reply = Client::new(stack.edge()).vote_json("default", "a").await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);

    // The update that counts the vote arrives without asking (an earlier document, such
    // as the worker's first publication, may come before it).
    loop {
        let update = next_results(&mut socket).await;
        assert!(update["version"].as_i64() >= snapshot["version"].as_i64());
        if update["total"].as_i64().unwrap() == before + 1 {
            assert_eq!(update["options"][0]["id"], "a");
            break;
        }
    }
}
