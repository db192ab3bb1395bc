//! What the result service's integration tests share: the service started in-process
//! against real Redis and Postgres, a WebSocket client, and frame readers.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use serde_json::Value;
use tally_model::{Keys, STORE_RESULTS_LUA};
use tally_testkit::{eventually, unique_prefix};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Long enough for a loaded machine, short enough to fail a stuck test quickly.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The result service in-process on a free port, with its key prefix.
pub(crate) struct Service {
    pub(crate) address: SocketAddr,
    pub(crate) keys: Keys,
    pub(crate) redis_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Service {
    pub(crate) async fn start(redis_url: &str, database_url: &str, extra: &[&str]) -> Service {
        let prefix = unique_prefix();
        let mut args = vec![
            "tally-result".to_owned(),
            format!("--redis-url={redis_url}"),
            format!("--redis-key-prefix={prefix}"),
            format!("--database-url={database_url}"),
            "--shutdown-grace=5s".to_owned(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let config = tally_result::Config::try_parse_from(args).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            tally_result::run(listener, config, shutdown).await.unwrap();
        });
        let service = Service {
            address,
            keys: Keys::new(prefix),
            redis_url: redis_url.to_owned(),
            stop: Some(stop),
            task,
        };
        service.wait_subscribed().await;
        service
    }

    /// Waits until the service's pattern subscription is in place, so that what a test
    /// publishes next is heard.
    pub(crate) async fn wait_subscribed(&self) {
        // PUBLISH answers how many subscribers (pattern ones included) received it.
        let probe = self.keys.tally_channel("probe");
        eventually(WAIT, "the live feed subscribes", || async {
            let mut redis = redis_connection(&self.redis_url).await?;
            let receivers: i64 = redis::cmd("PUBLISH")
                .arg(&probe)
                .arg("{}")
                .query_async(&mut redis)
                .await
                .ok()?;
            (receivers > 0).then_some(())
        })
        .await;
    }

    /// Opens the live feed of `poll`.
    pub(crate) async fn connect(&self, poll: &str) -> Socket {
        self.connect_path(&format!("/live/{poll}")).await
    }

    /// Opens a WebSocket on `path` (`/live/...`).
    pub(crate) async fn connect_path(&self, path: &str) -> Socket {
        let url = format!("ws://{}{path}", self.address);
        let (socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(response.status(), 101);
        socket
    }

    /// Caches and publishes `document` exactly as the worker does.
    pub(crate) async fn publish(&self, document: &Value) {
        let mut redis = redis_connection(&self.redis_url).await.unwrap();
        let poll = document["poll"].as_str().unwrap();
        let _: i64 = redis::Script::new(STORE_RESULTS_LUA)
            .key(self.keys.results_cache(poll))
            .arg(document["version"].as_i64().unwrap())
            .arg(document.to_string())
            .arg("1")
            .arg(self.keys.tally_channel(poll))
            .invoke_async(&mut redis)
            .await
            .unwrap();
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("the service stops within the grace period")
            .unwrap();
    }
}

/// A fresh connection to the Redis at `url`.
pub(crate) async fn redis_connection(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)
        .ok()?
        .get_multiplexed_async_connection()
        .await
        .ok()
}
/// The next text frame as JSON (pings are skipped; the client answers them itself).
pub(crate) async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}
/// The close frame that ends the session.
pub(crate) async fn next_close(socket: &mut Socket) -> (CloseCode, String) {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a close frame in time")
            .expect("the socket is open")
            .expect("a valid frame");
        if let Message::Close(frame) = message {
            let frame = frame.expect("a close code");
            return (frame.code, frame.reason.to_string());
        }
    }
}
