//! One worker's HTTP/2 connections to upstream replicas (cleartext, prior knowledge:
//! every Tally service speaks h2c on its port): one connection per replica address,
//! carrying every request the worker sends there at once. Opened on first use by one
//! request while the others that arrive meanwhile wait for it; closed when the replica
//! closes it, when a ping goes unanswered, or after an idle period with no request.
//!
//! One connection instead of one per request in flight: at 256 concurrent votes the
//! edge and the replica each read and write a few sockets many requests at a time,
//! where HTTP/1.1 has a read and a write per request on each side. Requests go through
//! the `h2` crate itself, from the request's own task: hyper's HTTP/2 client hands each
//! request to the connection's task through a channel and spawns a task per request to
//! wait for its response, about 3.5 µs of CPU per proxied vote more (measured on the
//! bare proxy, `benches/src/bin/bare-proxy.rs`).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use http::HeaderMap;
use hyper::body::{Frame, SizeHint};
use rustc_hash::FxHashMap;
use tally_runtime::BoxError;

use crate::connections::{open_stream, ConnectError};
use crate::write_ledger::{Counted, Ledger};

/// The sending half of one multiplexed connection; clones share it.
#[derive(Debug, Clone)]
pub struct Sender {
    requests: h2::client::SendRequest<Bytes>,
    /// Set by the connection's task when the connection has ended, or when a request
    /// found it going away.
    closed: Arc<AtomicBool>,
    /// What the connection's socket has written, and when it stopped reading.
    ledger: Arc<Ledger>,
}

impl Sender {
    /// Whether the connection has ended, or takes no more requests.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Sends no more requests on this connection (it is going away): the next request
    /// to its replica opens a new one, and this one closes once its streams have ended.
    pub fn retire(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Opens a stream for `head` and sends `body` on it; the response head, or the
    /// error of a stream that failed (an error before the stream opened means nothing
    /// was sent: the connection is going away or gone).
    pub async fn send(
        &mut self,
        head: http::Request<()>,
        body: Option<Bytes>,
    ) -> Result<http::Response<h2::RecvStream>, SendFailure> {
        std::future::poll_fn(|cx| self.requests.poll_ready(cx))
            .await
            .map_err(SendFailure::NotOpened)?;
        let writes_before = self.ledger.writes();
        let failed = |error: h2::Error| {
            // The socket failed or closed before writing anything queued after the
            // request: no byte of it left the edge.
            if error.is_io() && self.ledger.ended_unwritten_since(writes_before) {
                SendFailure::Unwritten(error)
            } else {
                SendFailure::Stream(error)
            }
        };
        let body = body.filter(|bytes| !bytes.is_empty());
        let (response, mut stream) = self
            .requests
            .send_request(head, body.is_none())
            .map_err(SendFailure::NotOpened)?;
        if let Some(bytes) = body {
            // What the stream's window does not take yet, h2 keeps until it does; the
            // body is bounded by EDGE_MAX_BODY_BYTES.
            stream.send_data(bytes, true).map_err(failed)?;
        }
        response.await.map_err(failed)
    }
}

/// Why a request on a multiplexed connection got no response head.
#[derive(Debug)]
pub enum SendFailure {
    /// No stream was opened: nothing of the request was sent.
    NotOpened(h2::Error),
    /// The stream was opened, and the connection closed (the replica closed it without
    /// a `GOAWAY`, or the socket failed) before any of the request was written.
    Unwritten(h2::Error),
    /// The stream was opened and then failed or was refused.
    Stream(h2::Error),
}

/// The flow-control window of the whole connection: what replicas may send the edge
/// before it has handed the data on. A stream keeps h2's default window (64 KiB), and
/// data is released as the client takes it, so a client that reads slowly holds back
/// at most 64 KiB of its connection's window: this one is exhausted only by 256 such
/// clients at once on one connection (Tally's responses are a few KiB; a replica serves
/// 200 streams at once), not by four, as with a 1 MiB stream window.
const CONNECTION_WINDOW: u32 = 16 << 20;

/// Streams opened on a new connection before the replica's SETTINGS say how many it
/// takes (h2's client would open any number): hyper's server default, which Tally's
/// services keep. Past its limit a replica refuses streams, and each refusal counts
/// against a limit on the connection's lifetime resets in servers with h2's defaults.
const STREAMS_BEFORE_SETTINGS: usize = 200;

/// How often a connection is pinged, and how long the answer may take: a replica gone
/// without closing its sockets (its host lost, its container paused) is noticed in this
/// time, not one request timeout after another.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection being opened, awaited by every request that wants it meanwhile.
type Opening = Shared<BoxFuture<'static, Result<Sender, Arc<ConnectError>>>>;

/// A replica's connection, or the opening of one.
enum Slot {
    Opening(Opening),
    Open {
        sender: Sender,
        /// Whether a request used it since the last expiry sweep.
        used: bool,
    },
}

/// One worker's multiplexed connections, by replica address.
pub struct Multiplexed {
    slots: Mutex<FxHashMap<SocketAddr, Slot>>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for Multiplexed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multiplexed")
            .field("replicas", &self.lock().len())
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl Multiplexed {
    /// Connections that give a replica `connect_timeout` to accept.
    pub fn new(connect_timeout: Duration) -> Multiplexed {
        Multiplexed {
            slots: Mutex::new(FxHashMap::default()),
            connect_timeout,
        }
    }

    /// The open connection to `address`, if there is one.
    pub fn checkout_open(&self, address: SocketAddr) -> Option<Sender> {
        match self.lock().get_mut(&address) {
            Some(Slot::Open { sender, used }) if !sender.is_closed() => {
                *used = true;
                Some(sender.clone())
            }
            _ => None,
        }
    }

    /// The connection to `address`, opened if there is none.
    pub async fn checkout(&self, address: SocketAddr) -> Result<Sender, ConnectError> {
        let opening = {
            let mut slots = self.lock();
            match slots.get_mut(&address) {
                Some(Slot::Open { sender, used }) if !sender.is_closed() => {
                    *used = true;
                    return Ok(sender.clone());
                }
                Some(Slot::Opening(opening)) => opening.clone(),
                _ => {
                    // On a task of its own, so that it ends (and its slot with it) even
                    // when every request that waited for it has given up.
                    let opened = tokio::spawn(open(address, self.connect_timeout));
                    let opening = async move {
                        opened.await.unwrap_or_else(|stopped| {
                            Err(Arc::new(ConnectError::Io(std::io::Error::other(stopped))))
                        })
                    }
                    .boxed()
                    .shared();
                    slots.insert(address, Slot::Opening(opening.clone()));
                    opening
                }
            }
        };
        let opened = opening.clone().await;
        let mut slots = self.lock();
        // Only the opening this request waited for is replaced: a newer one stays.
        let current = matches!(slots.get(&address), Some(Slot::Opening(o)) if o.ptr_eq(&opening));
        match opened {
            Ok(sender) => {
                if current {
                    let open = Slot::Open {
                        sender: sender.clone(),
                        used: true,
                    };
                    slots.insert(address, open);
                }
                Ok(sender)
            }
            Err(error) => {
                if current {
                    slots.remove(&address);
                }
                Err(ConnectError::Shared(error))
            }
        }
    }

    /// Opens a connection to `address` that only the caller uses (a health check).
    pub async fn connect(&self, address: SocketAddr) -> Result<Sender, ConnectError> {
        open(address, self.connect_timeout)
            .await
            .map_err(ConnectError::Shared)
    }

    /// Closes the connections no request used since the last call, and those that
    /// ended; a connection still carrying a request closes once it is done. Called
    /// every half idle timeout, it closes a connection between half an idle timeout
    /// and one after its last request.
    pub fn close_unused(&self) {
        self.lock().retain(|_, slot| match slot {
            // Opened with nobody left waiting: kept as unused, closed by the next call.
            Slot::Opening(opening) => match opening.peek() {
                None => true,
                Some(Ok(sender)) => {
                    let sender = sender.clone();
                    *slot = Slot::Open {
                        sender,
                        used: false,
                    };
                    true
                }
                Some(Err(_)) => false,
            },
            Slot::Open { sender, used } => {
                let keep = *used && !sender.is_closed();
                *used = false;
                keep
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, FxHashMap<SocketAddr, Slot>> {
        // The map stays consistent whatever panicked while holding it.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Connects to `address` and starts HTTP/2 on it. The connection's I/O runs on a task
/// of the calling worker, with a ping every [`KEEP_ALIVE_INTERVAL`], until every sender
/// is dropped and its streams have ended, the replica closes it, or a ping goes
/// unanswered.
async fn open(address: SocketAddr, connect_timeout: Duration) -> Result<Sender, Arc<ConnectError>> {
    let stream = Counted::new(open_stream(address, connect_timeout).await?);
    let ledger = stream.ledger();
    let handshake = h2::client::Builder::new()
        .initial_connection_window_size(CONNECTION_WINDOW)
        .initial_max_send_streams(STREAMS_BEFORE_SETTINGS)
        .handshake::<_, Bytes>(stream);
    let (requests, mut connection) = tokio::time::timeout(connect_timeout, handshake)
        .await
        .map_err(|_elapsed| ConnectError::TimedOut)?
        .map_err(|error| Arc::new(ConnectError::Http2(error)))?;
    let pings = connection.ping_pong();
    let closed = Arc::new(AtomicBool::new(false));
    let ended = closed.clone();
    tokio::spawn(async move {
        tokio::select! {
            result = &mut connection => {
                // A replica's GOAWAY with an error code (ENHANCE_YOUR_CALM when it
                // counts too many cancelled streams, say) fails what it carried: worth
                // seeing at the default level.
                if let Err(error) = result {
                    tracing::warn!(upstream = %address, %error, "upstream connection ended with an error");
                }
            }
            () = keep_alive(pings) => {
                tracing::warn!(upstream = %address, "upstream connection answered no ping; closed");
            }
        }
        ended.store(true, Ordering::Relaxed);
    });
    Ok(Sender {
        requests,
        closed,
        ledger,
    })
}

/// Pings every [`KEEP_ALIVE_INTERVAL`]; returns when a pong does not come in time.
async fn keep_alive(pings: Option<h2::PingPong>) {
    let Some(mut pings) = pings else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(KEEP_ALIVE_INTERVAL).await;
        let pong = tokio::time::timeout(KEEP_ALIVE_TIMEOUT, pings.ping(h2::Ping::opaque()));
        if !matches!(pong.await, Ok(Ok(_))) {
            return;
        }
    }
}

/// A response body arriving on a multiplexed connection, as a [`hyper::body::Body`]:
/// its data is handed on frame by frame and its window released as it goes, so the
/// replica sends as fast as the client reads; trailers follow the data.
#[derive(Debug)]
pub struct ResponseBody {
    stream: h2::RecvStream,
    size_hint: SizeHint,
    data_ended: bool,
}

impl ResponseBody {
    /// The body of a response with `headers` (their `Content-Length` is its size).
    pub fn new(stream: h2::RecvStream, headers: &HeaderMap) -> ResponseBody {
        let length = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse::<u64>().ok());
        let size_hint = match length {
            Some(length) => SizeHint::with_exact(length),
            None => SizeHint::default(),
        };
        ResponseBody {
            stream,
            size_hint,
            data_ended: false,
        }
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if !self.data_ended {
            match ready!(self.stream.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Released as handed on: what the client has not read yet is in
                    // the edge's buffers, bounded by the stream's window.
                    let _ = self.stream.flow_control().release_capacity(data.len());
                    if let Some(left) = self.size_hint.exact() {
                        let sent = u64::try_from(data.len()).unwrap_or(u64::MAX);
                        self.size_hint.set_exact(left.saturating_sub(sent));
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(Box::new(error)))),
                None => self.data_ended = true,
            }
        }
        match ready!(self.stream.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(error) => Poll::Ready(Some(Err(Box::new(error)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.size_hint
    }
}
