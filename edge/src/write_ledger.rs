//! An upstream socket that counts its writes and notes how many had gone out when it
//! ended (its peer closed it, or it failed). A request on an HTTP/2 connection that a
//! replica closed without a `GOAWAY` fails with the same error whether it was written
//! or never left the edge; comparing the count taken before the request was queued
//! with the one noted at the end tells the two apart, so a request that never left may
//! be sent elsewhere whatever its method.
//!
//! Before each write the socket asks the kernel whether the peer has closed it (a
//! `MSG_PEEK` read that does not wait): tokio's readiness for the socket may not yet
//! show a close that has arrived, and h2 would write what requests queued meanwhile
//! before reading the end. A write into a closed socket is refused with `BrokenPipe`, so
//! what was queued after the close is never written, and is known not to have been.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use rustix::io::Errno;
use rustix::net::{recv, RecvFlags};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Stands for "still reading" in [`Ledger::writes_at_end`].
const STILL_READING: u64 = u64::MAX;

/// What a [`Counted`] socket has written, shared with the requests on its connection.
#[derive(Debug)]
pub struct Ledger {
    /// Writes that put at least one byte into the socket.
    writes: AtomicU64,
    /// `writes` when the socket stopped reading, or [`STILL_READING`].
    writes_at_end: AtomicU64,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger {
            writes: AtomicU64::new(0),
            writes_at_end: AtomicU64::new(STILL_READING),
        }
    }
}

impl Ledger {
    /// Writes made so far: take it before queueing a request.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// Whether the socket ended with no write made since the count was `before`:
    /// nothing queued after that count left the edge. Sound because no write succeeds
    /// after the end: h2 stops at a read or write error, and after an end of stream it
    /// only flushes what it holds, which the peek refuses (the closed peer still shows).
    pub fn ended_unwritten_since(&self, before: u64) -> bool {
        self.writes_at_end.load(Ordering::Acquire) == before
    }

    fn count_write(&self) {
        // One writer (the connection's task): a load and a store, no locked add.
        let writes = self.writes.load(Ordering::Relaxed) + 1;
        self.writes.store(writes, Ordering::Release);
    }

    fn note_end(&self) {
        let writes = self.writes.load(Ordering::Relaxed);
        let _ = self.writes_at_end.compare_exchange(
            STILL_READING,
            writes,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

/// A socket that can tell, without waiting, whether its peer has closed it.
pub trait PeerClosed {
    /// Whether the peer closed (or reset) the connection: its end is the next thing to
    /// read, with nothing before it.
    fn peer_closed(&self) -> bool;
}

impl PeerClosed for TcpStream {
    fn peer_closed(&self) -> bool {
        let mut byte = [0_u8; 1];
        match recv(self, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Ok((_, 0)) => true,
            // Data to read first (a response, a GOAWAY): h2 reads it before it writes.
            Ok(_) => false,
            // Reset, or the connection timed out: the peer reads nothing more.
            Err(Errno::CONNRESET | Errno::PIPE | Errno::TIMEDOUT) => true,
            // Open with nothing to read (AGAIN), or a local trouble that says nothing
            // of the peer.
            Err(_) => false,
        }
    }
}

/// A socket whose writes and end are kept in a [`Ledger`].
#[derive(Debug)]
pub struct Counted<T> {
    io: T,
    ledger: Arc<Ledger>,
}

impl<T> Counted<T> {
    /// `io`, with a new ledger.
    pub fn new(io: T) -> Counted<T> {
        Counted {
            io,
            ledger: Arc::default(),
        }
    }

    /// The ledger, for the requests that go over this socket.
    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }

    fn count<E>(&self, written: Poll<Result<usize, E>>) -> Poll<Result<usize, E>> {
        match &written {
            Poll::Ready(Ok(0)) | Poll::Pending => {}
            Poll::Ready(Ok(_)) => self.ledger.count_write(),
            // Nothing of this write went out, and the connection fails with it.
            Poll::Ready(Err(_)) => self.ledger.note_end(),
        }
        written
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (filled, room) = (buf.filled().len(), buf.remaining());
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        match &read {
            Poll::Ready(Ok(())) if room > 0 && buf.filled().len() == filled => {
                self.ledger.note_end();
            }
            Poll::Ready(Err(_)) => self.ledger.note_end(),
            _ => {}
        }
        read
    }
}

impl<T: PeerClosed> Counted<T> {
    /// `BrokenPipe` when the peer has closed the socket: what would be written now would
    /// not be read.
    fn refusal(&self) -> Option<io::Error> {
        if !self.io.peer_closed() {
            return None;
        }
        self.ledger.note_end();
        Some(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the replica closed the connection",
        ))
    }
}

impl<T: AsyncWrite + PeerClosed + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(refusal) = self.refusal() {
            return Poll::Ready(Err(refusal));
        }
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.count(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(refusal) = self.refusal() {
            return Poll::Ready(Err(refusal));
        }
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.count(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Both ends of a loopback TCP connection, the first counted.
    async fn pair() -> (Counted<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap());
        let (near, (far, _)) = tokio::try_join!(near, listener.accept()).unwrap();
        (Counted::new(near), far)
    }

    #[tokio::test]
    async fn the_end_is_noted_with_the_writes_made_before_it() {
        let (mut counted, mut far) = pair().await;
        let ledger = counted.ledger();
        counted.write_all(b"one").await.unwrap();
        counted.write_all(b"two").await.unwrap();
        let before = ledger.writes();
        assert_eq!(before, 2);
        assert!(!ledger.ended_unwritten_since(before), "still open");

        // Read, so that the close is a FIN rather than a reset.
        let mut received = [0_u8; 6];
        far.read_exact(&mut received).await.unwrap();
        far.write_all(b"answer").await.unwrap();
        drop(far);
        let mut read = Vec::new();
        counted.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, b"answer");
        assert!(ledger.ended_unwritten_since(before));
        assert!(
            !ledger.ended_unwritten_since(before - 1),
            "a write came after"
        );
    }

    #[tokio::test]
    async fn nothing_is_written_once_the_peer_has_closed() {
        let (mut counted, mut far) = pair().await;
        let ledger = counted.ledger();
        counted.write_all(b"sent").await.unwrap();
        let mut received = [0_u8; 4];
        far.read_exact(&mut received).await.unwrap();
        drop(far);
        // The close is in the socket; nothing has read it.
        wait_until_closed(&counted).await;
        let error = counted.write_all(b"lost").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(ledger.writes(), 1);
        assert!(ledger.ended_unwritten_since(1));
    }

    #[tokio::test]
    async fn unread_data_is_not_a_close() {
        let (counted, mut far) = pair().await;
        far.write_all(b"response").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!counted.io.peer_closed());
        far.shutdown().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!counted.io.peer_closed(), "the response comes first");
    }

    async fn wait_until_closed(counted: &Counted<TcpStream>) {
        for _ in 0..500 {
            if counted.io.peer_closed() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("the peer's close never arrived");
    }
}
