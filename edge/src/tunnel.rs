//! WebSocket pass-through: after the upstream's `101 Switching Protocols` the client's
//! and the upstream's connections are spliced, both directions at once, with
//! backpressure (a side is read only as fast as the other takes it). A tunnel ends when
//! either side closes (the other direction gets a moment to finish), when nothing moved
//! for the idle timeout, or when the grace period after shutdown is over.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::Version;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::upstream::InFlight;

/// The one protocol the edge switches to (RFC 6455 §4.1); other upgrades, such as
/// HTTP/2's `h2c`, concern only the client's hop and are dropped with the other
/// hop-by-hop fields.
const WEBSOCKET: &str = "websocket";

/// Time the other direction gets once one side has closed: enough for the last frame
/// of a WebSocket closing handshake (RFC 6455 §7.1.1), short enough that a peer that
/// never closes its half cannot hold the tunnel open.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// `Connection: upgrade`, which must accompany `Upgrade` on each hop (RFC 9110 §7.8).
const CONNECTION_UPGRADE: HeaderValue = HeaderValue::from_static("upgrade");

/// The `Upgrade` value of an HTTP/1.1 request asking to switch to WebSocket: the
/// `Upgrade` field naming it and `Connection` listing `upgrade` (RFC 9110 §7.8).
pub fn websocket_upgrade(version: Version, headers: &HeaderMap) -> Option<HeaderValue> {
    if version != Version::HTTP_11 {
        return None;
    }
    // Looked for first: almost no request has it, and then nothing else is read.
    let upgrade = headers.get(header::UPGRADE)?;
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    let websocket = upgrade
        .to_str()
        .ok()?
        .split(',')
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(WEBSOCKET));
    (connection_upgrade && websocket).then(|| upgrade.clone())
}

/// Puts `Upgrade: <protocol>` and `Connection: upgrade` back on a message whose
/// hop-by-hop fields were stripped: the switch is negotiated hop by hop.
pub fn restore_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::UPGRADE, protocol);
    headers.insert(header::CONNECTION, CONNECTION_UPGRADE);
}

/// The open tunnels, so that shutdown can wait for them.
#[derive(Debug, Clone)]
pub struct Tunnels {
    tracker: TaskTracker,
    closing: CancellationToken,
    idle_timeout: Duration,
}

impl Tunnels {
    /// No tunnels yet; each will close after `idle_timeout` without traffic.
    pub fn new(idle_timeout: Duration) -> Tunnels {
        Tunnels {
            tracker: TaskTracker::new(),
            closing: CancellationToken::new(),
            idle_timeout,
        }
    }

    /// Splices `client` and `upstream` once both have switched, in a task of its own;
    /// `in_flight` keeps the tunnel counted against its replica.
    pub fn open(
        &self,
        client: OnUpgrade,
        upstream: OnUpgrade,
        replica: SocketAddr,
        in_flight: InFlight,
    ) {
        let idle_timeout = self.idle_timeout;
        let closing = self.closing.clone();
        self.tracker.spawn(async move {
            splice(client, upstream, replica, idle_timeout, closing).await;
            drop(in_flight);
        });
    }

    /// Tunnels open now.
    pub fn open_count(&self) -> usize {
        self.tracker.len()
    }

    /// Lets the open tunnels finish until `deadline`, then closes the rest.
    pub async fn drain(&self, deadline: Instant) {
        self.tracker.close();
        if self.tracker.is_empty() {
            return;
        }
        tracing::info!(
            tunnels = self.tracker.len(),
            "waiting for WebSocket tunnels"
        );
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tunnels = self.tracker.len(),
                "grace period over; closing WebSocket tunnels"
            );
            self.closing.cancel();
            self.tracker.wait().await;
        }
    }
}

async fn splice(
    client: OnUpgrade,
    upstream: OnUpgrade,
    replica: SocketAddr,
    idle_timeout: Duration,
    closing: CancellationToken,
) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(upstream = %replica, %error, "upgrade did not complete");
            return;
        }
    };
    let activity = Activity::new();
    let mut client = Active::new(TokioIo::new(client), activity.clone());
    let mut upstream = Active::new(TokioIo::new(upstream), activity.clone());
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => match copied {
            Ok((sent, received)) => tracing::debug!(upstream = %replica, sent, received, "tunnel closed"),
            Err(error) => tracing::debug!(upstream = %replica, %error, "tunnel broken"),
        },
        () = activity.idle_for(idle_timeout) => {
            tracing::info!(upstream = %replica, ?idle_timeout, "tunnel idle; closed");
        }
        () = activity.one_side_closed(CLOSE_LINGER) => {
            tracing::debug!(upstream = %replica, "one side closed; tunnel closed");
        }
        () = closing.cancelled() => {}
    }
    // Dropping both connections here closes each side.
}

/// When a tunnel last carried a byte, in either direction, and whether a side closed.
#[derive(Debug, Clone)]
struct Activity {
    opened: Instant,
    last_millis: Arc<AtomicU64>,
    closed: Arc<Notify>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last_millis: Arc::new(AtomicU64::new(0)),
            closed: Arc::new(Notify::new()),
        }
    }

    /// Completes `linger` after either side has closed its sending half.
    async fn one_side_closed(&self, linger: Duration) {
        self.closed.notified().await;
        tokio::time::sleep(linger).await;
    }

    fn touch(&self) {
        let millis = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(millis, Ordering::Relaxed);
    }

    /// Completes once nothing has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last =
                self.opened + Duration::from_millis(self.last_millis.load(Ordering::Relaxed));
            let until = last + limit;
            if Instant::now() >= until {
                return;
            }
            tokio::time::sleep_until(until).await;
        }
    }
}

/// A connection that reports every byte it carries to its tunnel's [`Activity`].
#[derive(Debug)]
struct Active<T> {
    io: T,
    activity: Activity,
}

impl<T> Active<T> {
    fn new(io: T, activity: Activity) -> Active<T> {
        Active { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Active<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let asked = buf.remaining() > 0;
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) {
            if buf.filled().len() > before {
                self.activity.touch();
            } else if asked {
                // Nothing read into room for something: end of stream.
                self.activity.closed.notify_one();
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Active<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).expect("name"),
                    HeaderValue::from_str(value).expect("value"),
                )
            })
            .collect()
    }

    #[test]
    fn only_websocket_upgrades_over_http1_are_recognised() {
        let asks = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
        ]);
        assert_eq!(
            websocket_upgrade(Version::HTTP_11, &asks)
                .as_ref()
                .map(HeaderValue::as_bytes),
            Some(&b"WebSocket"[..])
        );
        assert!(websocket_upgrade(Version::HTTP_2, &asks).is_none());
        let no_connection = headers(&[("upgrade", "websocket")]);
        assert!(websocket_upgrade(Version::HTTP_11, &no_connection).is_none());
        let h2c = headers(&[("connection", "upgrade"), ("upgrade", "h2c")]);
        assert!(websocket_upgrade(Version::HTTP_11, &h2c).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn activity_postpones_the_idle_end() {
        let activity = Activity::new();
        let idle = activity.idle_for(Duration::from_secs(10));
        tokio::pin!(idle);
        tokio::time::sleep(Duration::from_secs(6)).await;
        activity.touch();
        assert!(
            tokio::time::timeout(Duration::from_secs(6), &mut idle)
                .await
                .is_err(),
            "touched at 6s: still open at 12s"
        );
        tokio::time::timeout(Duration::from_secs(5), &mut idle)
            .await
            .expect("idle by 16s");
    }
}
