//! The live results feed, `GET /live/<poll>` as a WebSocket: one Redis pattern
//! subscription per process ([`subscription`]) feeds per-poll channels ([`fanout`]) that
//! every session ([`socket`]) reads at its own pace. Any replica can serve any client.

pub mod args;
pub mod fanout;
pub mod handshake;
pub mod message;
pub mod route;
pub mod socket;
pub mod subscription;

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use hyper_util::rt::TokioIo;
use tally_model::Keys;
use tally_runtime::{Body, HttpError, Request};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use args::LiveArgs;
use fanout::Hub;
use handshake::{accept_key, switching_protocols, HandshakeError};
use message::Ending;
use socket::{Session, SessionParts};

use crate::lookup::ResultsLookup;
use crate::metrics::LiveCounters;

/// Read buffer per client: clients send only pongs and close frames, so a small buffer
/// keeps memory per connection low (tungstenite's default is 128 KiB).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Largest message a client may send; anything legitimate is a control frame.
const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

/// Write buffer bound per client: one results document (10 options of 200 characters
/// and a 500-character question stay far below it) plus framing.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// The live feed of one process.
#[derive(Debug, Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    hub: Arc<Hub>,
    lookup: ResultsLookup,
    clients: Arc<Semaphore>,
    args: LiveArgs,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    counters: LiveCounters,
}

impl Live {
    /// Starts the Redis subscription (it connects, and reconnects, in the background).
    pub fn start(
        args: LiveArgs,
        redis_url: &str,
        keys: Keys,
        lookup: ResultsLookup,
    ) -> Result<Live, redis::RedisError> {
        let client = redis::Client::open(redis_url)?;
        let hub = Hub::new();
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(subscription::run(
            client,
            keys,
            hub.clone(),
            shutdown.clone(),
        ));
        Ok(Live {
            inner: Arc::new(Inner {
                hub,
                lookup,
                clients: Arc::new(Semaphore::new(args.live_max_clients as usize)),
                args,
                shutdown,
                tasks,
                counters: LiveCounters::default(),
            }),
        })
    }

    /// Answers a request for `poll`'s live feed: `101` and a session, or an HTTP error.
    /// Unknown polls and clients over the cap are told with a close code after the
    /// upgrade, since a browser's WebSocket API shows nothing of an HTTP error.
    pub fn accept(&self, mut request: Request, poll: &str) -> Response<Body> {
        let accept = match accept_key(&request) {
            Ok(accept) if !self.inner.shutdown.is_cancelled() => accept,
            Ok(_) => return HandshakeError::ShuttingDown.to_response(),
            Err(error) => return error.to_response(),
        };
        let permit = self.inner.clients.clone().try_acquire_owned().ok();
        let upgrade = hyper::upgrade::on(&mut request);
        let inner = self.inner.clone();
        let poll = poll.to_owned();
        let span = tracing::info_span!("live", poll = %poll);
        self.inner.tasks.spawn(
            async move {
                let upgraded = match upgrade.await {
                    Ok(upgraded) => upgraded,
                    Err(error) => {
                        tracing::debug!(%error, "upgrade failed");
                        return;
                    }
                };
                let mut ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(websocket_config()),
                )
                .await;
                let Some(_permit) = permit else {
                    socket::close(&mut ws, Ending::TooManyClients).await;
                    return;
                };
                let parts = SessionParts {
                    feed: inner.hub.watch(&poll),
                    link: inner.hub.link(),
                    poll,
                    lookup: inner.lookup.clone(),
                    interval: inner.args.update_interval(),
                    send_timeout: inner.args.live_send_timeout,
                    ping_interval: inner.args.live_ping_interval,
                    shutdown: inner.shutdown.clone(),
                    counters: inner.counters.clone(),
                };
                Session::new(ws, parts).run().await;
            }
            .instrument(span),
        );
        switching_protocols(accept)
    }

    /// Live clients connected now.
    pub fn clients(&self) -> usize {
        self.inner.args.live_max_clients as usize - self.inner.clients.available_permits()
    }

    /// Messages sent and slow clients dropped, for the metrics.
    pub fn counters(&self) -> &LiveCounters {
        &self.inner.counters
    }

    /// Closes every session with 1001 and stops the subscription.
    pub fn shut_down(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
    }

    /// Waits until every session has closed, or `grace` has passed.
    pub async fn closed(&self, grace: Duration) {
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("live sessions still open after the grace period");
        }
    }
}

fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE_BYTES))
}
