//! The edge's plain-TCP connections: what hyper writes goes to the socket as it is,
//! except a buffer that lies within a large static body, which goes out with
//! `sendfile(2)` from that body's memory file ([`ZeroCopyFiles`]). hyper hands a
//! response's head and body over together; the head is written first, then the body
//! is sent from the file, as nginx sends a file.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustix::fs::sendfile;
use tally_runtime::Handshake;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::zero_copy::{FileSpan, ZeroCopyFiles};

/// A client's TCP connection that sends large static bodies from their memory files.
#[derive(Debug)]
pub struct ZeroCopyStream {
    stream: TcpStream,
    files: Arc<ZeroCopyFiles>,
}

impl ZeroCopyStream {
    /// `stream`, sending the bodies `files` holds from their files.
    pub fn new(stream: TcpStream, files: Arc<ZeroCopyFiles>) -> Self {
        ZeroCopyStream { stream, files }
    }
}

/// Sends `len` bytes from `span` on `stream` once it can take them; like a write, it
/// may send fewer.
fn poll_send_file(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    span: FileSpan<'_>,
    len: usize,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_write_ready(cx))?;
        let mut offset = span.offset;
        let sent = stream.try_io(Interest::WRITABLE, || {
            sendfile(stream, span.file, Some(&mut offset), len).map_err(io::Error::from)
        });
        match sent {
            Ok(sent) => return Poll::Ready(Ok(sent)),
            // try_io cleared the readiness: the next poll waits for the socket.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Poll::Ready(Err(error)),
        }
    }
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.files.find(buf) {
            Some(span) => poll_send_file(&this.stream, cx, span, buf.len()),
            None => Pin::new(&mut this.stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // The buffers before the first one a file holds go out as they are; that one
        // goes out from its file on the next call, once they are all written.
        let first_held = bufs
            .iter()
            .enumerate()
            .find_map(|(index, buf)| this.files.find(buf).map(|span| (index, span)));
        match first_held {
            None => Pin::new(&mut this.stream).poll_write_vectored(cx, bufs),
            Some((0, span)) => poll_send_file(&this.stream, cx, span, bufs[0].len()),
            Some((index, _)) => Pin::new(&mut this.stream).poll_write_vectored(cx, &bufs[..index]),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The plain port's handshake: none, the connection wrapped to send files.
#[derive(Debug)]
pub struct ZeroCopyHandshake {
    files: Arc<ZeroCopyFiles>,
}

impl ZeroCopyHandshake {
    /// Connections that send the bodies `files` holds from their files.
    pub fn new(files: Arc<ZeroCopyFiles>) -> Self {
        ZeroCopyHandshake { files }
    }
}

impl Handshake for ZeroCopyHandshake {
    type Io = ZeroCopyStream;

    async fn handshake(&self, stream: TcpStream) -> io::Result<ZeroCopyStream> {
        Ok(ZeroCopyStream::new(stream, self.files.clone()))
    }

    fn is_tls(&self) -> bool {
        false
    }
}
