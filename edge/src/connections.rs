//! One worker's HTTP/1.1 connections to upstream replicas: opened on demand, one idle
//! list per replica address, reused most recent first, given back only once a response
//! has been read to its end, and closed after sitting idle for the idle timeout.
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

use crate::proxy::UpstreamBody;

/// The sending half of one upstream connection.
pub type Sender = http1::SendRequest<UpstreamBody>;

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
    /// Looked up twice per proxied request. The keys come from DNS, not from clients,
    /// so a fast hash without flooding resistance is safe here; SipHash cost about 230
    /// instructions per lookup.
    idle: Mutex<FxHashMap<SocketAddr, Vec<Idle>>>,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

#[derive(Debug)]
struct Idle {
    sender: Sender,
    since: Instant,
}

impl Connections {
    /// Connections that give a replica `connect_timeout` to accept and are closed after
    /// `idle_timeout` unused (keep it below the upstreams' own keep-alive timeout).
    pub fn new(connect_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Connections {
            idle: Mutex::new(FxHashMap::default()),
            connect_timeout,
            idle_timeout,
        })
    }

    /// An idle connection to `address` that can take a request now, or a new one.
    pub async fn checkout(&self, address: SocketAddr) -> Result<Checkout, ConnectError> {
        while let Some(mut sender) = self.take_idle(address) {
            // Given back after its last response ended, so ready at once or closed.
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Ok(Checkout {
                    sender,
                    reused: true,
                });
            }
        }
        // Boxed: opening a connection (connect, timeout, handshake) is a large future and
        // the rare path; inline, every request's future would carry its size.
        let sender = Box::pin(self.connect(address)).await?;
        Ok(Checkout {
            sender,
            reused: false,
        })
    }

    /// Opens a connection to `address` (not pooled until given back); its I/O runs on
    /// a task of the calling worker until both halves are done with it.
    pub async fn connect(&self, address: SocketAddr) -> Result<Sender, ConnectError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(address))
            .await
            .map_err(|_elapsed| ConnectError::TimedOut)??;
        // Votes are small requests and responses: no Nagle's delay.
        stream.set_nodelay(true)?;
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
    /// oldest idle connection is closed when the replica has too many.
    pub fn give_back(&self, address: SocketAddr, sender: Sender) {
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

    /// Closes every connection idle for longer than the idle timeout (and those the
    /// replica closed), so that replicas gone from DNS leave nothing behind.
    pub fn close_expired(&self) {
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
    fn take_idle(&self, address: SocketAddr) -> Option<Sender> {
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
