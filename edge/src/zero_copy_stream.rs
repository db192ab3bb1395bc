//! The edge's plain-TCP connections: what hyper writes goes to the socket as it is,
//! except a buffer that lies within a large static body, which goes out with
//! `sendfile(2)` from the file holding a copy of that body ([`ZeroCopyFiles`]). hyper (HTTP/1.1,
//! writing vectored) hands a response's head and body over together; the head is
//! written first, with `MSG_MORE` so that the kernel holds it for the body, then the
//! body is sent from the file, as nginx sends a file. HTTP/2
//! (h2c) hands bodies over in frames of 16 KB, under the threshold: they are written.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustix::fs::sendfile;
use rustix::net::{sendmsg, SendAncillaryBuffer, SendFlags};
use tally_runtime::Handshake;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::zero_copy::{FileSpan, ZeroCopyFiles};

/// A client's TCP connection that sends large static bodies from their files.
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

/// Sends `buf`, which `span` locates in a file, on `stream` once it can take
/// it; like a write, it may send less. Where the system refuses `sendfile` (a sandbox
/// that forbids it), `buf` is written instead, and so is every body after it.
fn poll_send_file(
    stream: &mut TcpStream,
    files: &ZeroCopyFiles,
    cx: &mut Context<'_>,
    span: FileSpan<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_write_ready(cx))?;
        let mut offset = span.offset;
        let sent = stream.try_io(Interest::WRITABLE, || {
            sendfile(&*stream, span.file, Some(&mut offset), buf.len()).map_err(io::Error::from)
        });
        match sent {
            Ok(sent) => {
                files.count_sent(sent);
                return Poll::Ready(Ok(sent));
            }
            // try_io cleared the readiness: the next poll waits for the socket.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if refused(&error) => {
                files.refuse(&error);
                return Pin::new(stream).poll_write(cx, buf);
            }
            Err(error) => return Poll::Ready(Err(error)),
        }
    }
}

/// Whether `error` says that this system does not let `sendfile` send to a socket, as
/// opposed to the connection failing.
fn refused(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied | io::ErrorKind::InvalidInput
    )
}

/// Writes `bufs` (a response's head) with `MSG_MORE`: the kernel holds them for the
/// body that follows from its file, so head and body leave in the same segments, as
/// nginx's `tcp_nopush` has them, rather than the head in a small packet of its own.
fn poll_send_more(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_write_ready(cx))?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            sendmsg(
                stream,
                bufs,
                &mut SendAncillaryBuffer::default(),
                SendFlags::MORE | SendFlags::NOSIGNAL,
            )
            .map_err(io::Error::from)
        });
        match sent {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            sent => return Poll::Ready(sent),
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
            Some(span) => poll_send_file(&mut this.stream, &this.files, cx, span, buf),
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
            Some((0, span)) => poll_send_file(&mut this.stream, &this.files, cx, span, &bufs[0]),
            Some((index, _)) => poll_send_more(&this.stream, cx, &bufs[..index]),
        }
    }

    /// hyper queues a body's `Bytes` as they are only for a stream that writes vectored;
    /// otherwise it copies them into its own buffer, where no file holds them.
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpSocket};

    use crate::zero_copy::MIN_BYTES;

    /// A body many send buffers long, through a socket whose send buffer is small: the
    /// head is written alone, the body goes out from its file in many pieces, each
    /// resumed where the last stopped, and the reader gets every byte in order.
    #[tokio::test]
    async fn sends_the_body_from_its_file_in_pieces() {
        let body = Bytes::from(
            (0..1024 * 1024 + 5)
                .map(|i: usize| (i * 7 % 251) as u8)
                .collect::<Vec<_>>(),
        );
        let files = Arc::new(crate::zero_copy::ZeroCopyFiles::new(
            [&body],
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let expected = body.len() + b"head\r\n".len();
        let reader = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut received = Vec::new();
            stream.read_to_end(&mut received).await.expect("read");
            received
        });
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_send_buffer_size(16 * 1024).expect("SO_SNDBUF");
        let stream = socket.connect(address).await.expect("connect");
        let mut stream = ZeroCopyStream::new(stream, files.clone());

        let head = b"head\r\n";
        let first = stream
            .write_vectored(&[IoSlice::new(head), IoSlice::new(&body)])
            .await
            .expect("head");
        assert_eq!(
            first,
            head.len(),
            "the head goes out alone, before the body"
        );
        stream.write_all(&body).await.expect("body");
        stream.shutdown().await.expect("shutdown");

        let received = reader.await.expect("reader");
        assert_eq!(received.len(), expected);
        assert!(received[..head.len()] == *head && received[head.len()..] == body[..]);
        // What is left once under MIN_BYTES is written; everything before it was sent
        // from the file.
        let sent = files.bytes_sent() as usize;
        assert!(
            sent > body.len() - MIN_BYTES && sent <= body.len(),
            "{sent} of {} bytes sent from the file",
            body.len()
        );
    }
}
