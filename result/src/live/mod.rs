//! The live feeds as WebSockets, `GET /live/<poll>` (a poll's results) and
//! `GET /live/e/<code>` (an event's state and its current question's results): one Redis
//! pattern subscription per process ([`subscription`]) feeds per-poll and per-event
//! channels ([`fanout`]) that every session ([`socket`]) reads at its own pace. Any
//! replica can serve any client.

pub mod args;
pub mod fanout;
pub mod handshake;
pub mod message;
pub mod route;
pub mod socket;
pub mod subscription;

use std::future::Future;
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
use socket::{EventParts, Session, SessionParts};

use crate::error::ResultError;
use crate::events::EventStore;
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
    events: EventStore,
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
        events: EventStore,
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
                events,
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
    pub fn accept(&self, request: Request, poll: &str) -> Response<Body> {
        let inner = self.inner.clone();
        let poll = poll.to_owned();
        let span = tracing::info_span!("live", poll = %poll);
        self.upgrade(request, span, async move {
            Ok(inner.parts(Some(poll.clone()), Some(inner.hub.watch(&poll)), None))
        })
    }

    /// Answers a request for the live feed of the event with join code `code`, as
    /// [`Live::accept`] does for a poll (an unknown code is closed with 4404).
    pub fn accept_event(&self, request: Request, code: &str) -> Response<Body> {
        let inner = self.inner.clone();
        let code = code.to_owned();
        let span = tracing::info_span!("live_event", code = %code);
        self.upgrade(request, span, async move {
            // The id names the event's channel; watched before its state is first read.
            let found = inner
                .events
                .by_code(&code)
                .await
                .map_err(|error| match error {
                    ResultError::UnknownEvent(_) => Ending::UnknownEvent,
                    _ => Ending::Unavailable,
                })?;
            let event = EventParts {
                feed: inner.hub.watch_event(&found.definition.id),
                code,
                store: inner.events.clone(),
                hub: inner.hub.clone(),
            };
            Ok(inner.parts(None, None, Some(event)))
        })
    }

    /// Upgrades `request` and runs a session on the parts `prepare` gives, or closes
    /// with the ending it gives instead.
    fn upgrade(
        &self,
        mut request: Request,
        span: tracing::Span,
        prepare: impl Future<Output = Result<SessionParts, Ending>> + Send + 'static,
    ) -> Response<Body> {
        let accept = match accept_key(&request) {
            Ok(accept) if !self.inner.shutdown.is_cancelled() => accept,
            Ok(_) => return HandshakeError::ShuttingDown.to_response(),
            Err(error) => return error.to_response(),
        };
        let permit = self.inner.clients.clone().try_acquire_owned().ok();
        let upgrade = hyper::upgrade::on(&mut request);
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
                match prepare.await {
                    Ok(parts) => Session::new(ws, parts).run().await,
                    Err(ending) => socket::close(&mut ws, ending).await,
                }
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

impl Inner {
    /// A session's parts around what it watches.
    fn parts(
        &self,
        poll: Option<String>,
        feed: Option<fanout::Feed>,
        event: Option<EventParts>,
    ) -> SessionParts {
        SessionParts {
            poll,
            feed,
            event,
            link: self.hub.link(),
            lookup: self.lookup.clone(),
            interval: self.args.update_interval(),
            send_timeout: self.args.live_send_timeout,
            ping_interval: self.args.live_ping_interval,
            shutdown: self.shutdown.clone(),
            counters: self.counters.clone(),
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
