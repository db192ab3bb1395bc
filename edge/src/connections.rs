//! One worker's connections to upstream replicas, in the protocol the edge is set to
//! speak to them. HTTP/2 ([`crate::multiplexed`]): one connection per replica carries
//! every request. HTTP/1.1 (and every WebSocket, whatever the setting): opened on
//! demand, one idle list per replica address, reused most recent first, given back only
//! once a response has been read to its end, and closed after sitting idle for the idle
//! timeout.
//!
//! Each worker thread owns its connections, so a request and the connection that
//! carries it run on the same thread; hyper-util's pooled client, shared by every
//! worker, cost a spawned task per request (to wait until the connection could be
//! pooled again) and a lock shared across threads.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustc_hash::FxHashMap;
use tokio::net::TcpStream;
use tokio::time::Instant;

pub use crate::exchange::Sender;
use crate::exchange::UpstreamBody;
use crate::multiplexed::Multiplexed;

/// The protocol the edge speaks to its upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UpstreamProtocol {
    /// HTTP/2 over cleartext TCP, without an upgrade (h2c prior knowledge, RFC 9113
    /// §3.3): what Tally's services speak beside HTTP/1.1 on their ports.
    H2c,
    /// HTTP/1.1 with keep-alive: one connection per request in flight.
    Http1,
}

/// Idle connections kept per replica: enough for a burst of concurrent votes without
/// reconnecting, bounded so that a burst does not pin file descriptors forever.
const MAX_IDLE_PER_REPLICA: usize = 256;

/// Why no connection to a replica could be opened: nothing was sent, so any request may
/// be tried on another replica.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The replica refused or the network failed.
    #[error("connect: {0}")]
    Io(#[from] io::Error),
    /// No answer within the connect timeout.
    #[error("connect timed out")]
    TimedOut,
    /// The HTTP/1.1 connection could not be set up.
    #[error("handshake: {0}")]
    Handshake(#[from] hyper::Error),
    /// The HTTP/2 connection could not be set up.
    #[error("HTTP/2 handshake: {0}")]
    Http2(#[from] h2::Error),
    /// A connection opened for several requests at once failed for all of them.
    #[error(transparent)]
    Shared(Arc<ConnectError>),
}

/// A connection ready for one request.
#[derive(Debug)]
pub struct Checkout {
    /// Where the request goes.
    pub sender: Sender,
    /// Whether it carried a request before (then a failure to send may only mean that
    /// the replica closed it while it sat idle).
    pub reused: bool,
}

/// One worker's upstream connections, by replica address.
#[derive(Debug)]
pub struct Connections {
    protocol: UpstreamProtocol,
    /// HTTP/1.1 connections not carrying a request. Looked up twice per proxied
    /// request. The keys come from DNS, not from clients, so a fast hash without
    /// flooding resistance is safe here; SipHash cost about 230 instructions per lookup.
    idle: Mutex<FxHashMap<SocketAddr, Vec<Idle>>>,
    multiplexed: Multiplexed,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

#[derive(Debug)]
struct Idle {
    sender: http1::SendRequest<UpstreamBody>,
    since: Instant,
}

impl Connections {
    /// Connections in `protocol` that give a replica `connect_timeout` to accept and are
    /// closed after `idle_timeout` unused (keep it below the upstreams' own keep-alive
    /// timeout).
    pub fn new(
        protocol: UpstreamProtocol,
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(Connections {
            protocol,
            idle: Mutex::new(FxHashMap::default()),
            multiplexed: Multiplexed::new(connect_timeout),
            connect_timeout,
            idle_timeout,
        })
    }

    /// A connection to `address` that can take a request now: the replica's HTTP/2
    /// connection, or an idle HTTP/1.1 one, or a new one. A request that `needs_http1`
    /// gets an HTTP/1.1 one whatever the setting (see [`crate::exchange::needs_http1`]).
    pub async fn checkout(
        &self,
        address: SocketAddr,
        needs_http1: bool,
    ) -> Result<Checkout, ConnectError> {
        if self.protocol == UpstreamProtocol::H2c && !needs_http1 {
            // One that carried requests before may have been closed by a replica that
            // is fine (then the request goes to it again, on a new connection); one just
            // opened and closed says the replica is not.
            let (sender, reused) = match self.multiplexed.checkout_open(address) {
                Some(open) => (open, true),
                // Boxed for the rare path's sake, as below.
                None => (Box::pin(self.multiplexed.checkout(address)).await?, false),
            };
            return Ok(Checkout {
                sender: Sender::Http2(sender),
                reused,
            });
        }
        while let Some(mut sender) = self.take_idle(address) {
            // Given back after its last response ended, so ready at once or closed.
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Ok(Checkout {
                    sender: Sender::Http1(sender),
                    reused: true,
                });
            }
        }
        // Boxed: opening a connection (connect, timeout, handshake) is a large future and
        // the rare path; inline, every request's future would carry its size.
        let sender = Box::pin(self.connect_http1(address)).await?;
        Ok(Checkout {
            sender: Sender::Http1(sender),
            reused: false,
        })
    }

    /// Opens a connection to `address` in the configured protocol that only the
    /// caller uses (a health check), not pooled.
    pub async fn connect(&self, address: SocketAddr) -> Result<Sender, ConnectError> {
        Ok(match self.protocol {
            UpstreamProtocol::H2c => Sender::Http2(self.multiplexed.connect(address).await?),
            UpstreamProtocol::Http1 => Sender::Http1(self.connect_http1(address).await?),
        })
    }

    /// Whether ordinary requests share one connection per replica (HTTP/2).
    pub fn multiplexes(&self) -> bool {
        self.protocol == UpstreamProtocol::H2c
    }

    /// Opens an HTTP/1.1 connection to `address` (not pooled until given back); its
    /// I/O runs on a task of the calling worker until both halves are done with it.
    async fn connect_http1(
        &self,
        address: SocketAddr,
    ) -> Result<http1::SendRequest<UpstreamBody>, ConnectError> {
        let stream = open_stream(address, self.connect_timeout).await?;
        // Requests upstream are small (a ballot): head and body copied into one buffer
        // and written at once cost fewer instructions than a vectored write of the two
        // (about 400 per vote, counted by benches/edge-instructions.sh).
        let (sender, connection) = http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(upstream = %address, %error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Keeps `sender` for the next request to `address`, unless it is closed; the
    /// oldest idle connection is closed when the replica has too many. A share of an
    /// HTTP/2 connection is simply dropped: the connection stays for the others.
    pub fn give_back(&self, address: SocketAddr, sender: Sender) {
        let Sender::Http1(sender) = sender else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        let list = idle.entry(address).or_default();
        if list.len() >= MAX_IDLE_PER_REPLICA {
            list.remove(0);
        }
        list.push(Idle {
            sender,
            since: Instant::now(),
        });
    }

    /// Closes every connection idle for longer than the idle timeout (HTTP/2: unused
    /// since the last call; and those the replica closed), so that replicas gone from
    /// DNS leave nothing behind.
    pub fn close_expired(&self) {
        self.multiplexed.close_unused();
        let now = Instant::now();
        self.lock().retain(|_, list| {
            list.retain(|idle| {
                now.duration_since(idle.since) < self.idle_timeout && !idle.sender.is_closed()
            });
            !list.is_empty()
        });
    }

    /// Calls [`Connections::close_expired`] every half idle timeout, for as long as the
    /// task runs (a worker runs it until its runtime ends).
    pub async fn keep_closing_expired(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(self.idle_timeout / 2);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.close_expired();
        }
    }

    /// The most recently used idle connection to `address` that is neither expired nor
    /// closed; the expired and closed ones met on the way are dropped.
    fn take_idle(&self, address: SocketAddr) -> Option<http1::SendRequest<UpstreamBody>> {
        let mut idle = self.lock();
        let list = idle.get_mut(&address)?;
        let now = Instant::now();
        while let Some(candidate) = list.pop() {
            if now.duration_since(candidate.since) < self.idle_timeout
                && !candidate.sender.is_closed()
            {
                return Some(candidate.sender);
            }
        }
        None
    }

    fn lock(&self) -> MutexGuard<'_, FxHashMap<SocketAddr, Vec<Idle>>> {
        // The map stays consistent whatever panicked while holding it.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A TCP connection to `address`, within `connect_timeout`, with Nagle's delay off
/// (votes are small requests and responses).
pub async fn open_stream(
    address: SocketAddr,
    connect_timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(address))
        .await
        .map_err(|_elapsed| ConnectError::TimedOut)??;
    stream.set_nodelay(true)?;
    Ok(stream)
}
