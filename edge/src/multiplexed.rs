//! One worker's HTTP/2 connections to upstream replicas (cleartext, prior knowledge:
//! every Tally service speaks h2c on its port): one connection per replica address,
//! carrying every request the worker sends there at once. Opened on first use by one
//! request while the others that arrive meanwhile wait for it; closed when the replica
//! closes it or after an idle period with no request.
//!
//! One connection instead of one per request in flight: at 256 concurrent votes the
//! edge and the replica each read and write a few sockets many requests at a time,
//! where HTTP/1.1 has a read and a write per request on each side.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustc_hash::FxHashMap;

use crate::connections::{open_stream, ConnectError};
use crate::proxy::UpstreamBody;

/// The sending half of one multiplexed connection; clones share it.
pub type Sender = http2::SendRequest<UpstreamBody>;

/// How often a connection with no frame from the replica is pinged, and how long the
/// answer may take: a replica gone without closing its sockets (its host lost, its
/// container paused) is noticed in this time, not one request timeout after another.
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

    /// The connection to `address`, opened if there is none, and whether it was open
    /// before (then a request it refuses may only mean that it just closed).
    pub async fn checkout(&self, address: SocketAddr) -> Result<(Sender, bool), ConnectError> {
        let opening = {
            let mut slots = self.lock();
            match slots.get_mut(&address) {
                Some(Slot::Open { sender, used }) if !sender.is_closed() => {
                    *used = true;
                    return Ok((sender.clone(), true));
                }
                Some(Slot::Opening(opening)) => opening.clone(),
                _ => {
                    let opening = open(address, self.connect_timeout).boxed().shared();
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
                Ok((sender, false))
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

    /// Sends no more requests on the connection to `address` (it refused one: it is
    /// going away); it closes once the requests it carries have ended.
    pub fn forget(&self, address: SocketAddr) {
        let mut slots = self.lock();
        if matches!(slots.get(&address), Some(Slot::Open { .. })) {
            slots.remove(&address);
        }
    }

    /// Closes the connections no request used since the last call, and those the
    /// replica closed; a connection still carrying a request closes once it is done.
    /// Called every half idle timeout, it closes a connection between half an idle
    /// timeout and one after its last request.
    pub fn close_unused(&self) {
        self.lock().retain(|_, slot| match slot {
            Slot::Opening(_) => true,
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

/// Connects to `address` and starts HTTP/2 on it; the connection's I/O runs on a task
/// of the calling worker until every sender is dropped and its streams have ended.
async fn open(address: SocketAddr, connect_timeout: Duration) -> Result<Sender, Arc<ConnectError>> {
    let stream = open_stream(address, connect_timeout).await?;
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|error| Arc::new(ConnectError::Handshake(error)))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(upstream = %address, %error, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}
