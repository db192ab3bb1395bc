//! Reading and discarding what is left of a request body before refusing it.
//!
//! A server that answers (say, 413) and closes while the client's body is still unread
//! in its socket makes the kernel send RST instead of FIN, and the client may lose the
//! answer it was about to read. Draining a bounded amount first lets the answer arrive;
//! a client that sends more than that is cut off as before.

use std::time::Duration;

use http_body_util::BodyExt;

/// Most bytes read and thrown away: far above any body a client should send here.
pub const MAX_DRAIN_BYTES: u64 = 1024 * 1024;

/// Most time spent draining, so a slow client cannot hold the handler.
pub const MAX_DRAIN_TIME: Duration = Duration::from_secs(1);

/// Reads and discards `body` until it ends, [`MAX_DRAIN_BYTES`] have been read, or
/// [`MAX_DRAIN_TIME`] has passed.
pub async fn drain<B>(mut body: B)
where
    B: hyper::body::Body + Unpin,
{
    let discard = async {
        let mut read: u64 = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                read += bytes::Buf::remaining(data) as u64;
                if read > MAX_DRAIN_BYTES {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(MAX_DRAIN_TIME, discard).await;
}
