//! The client's request body on its way upstream: streamed, never buffered, limited in
//! size, and lent to one upstream attempt at a time so that an attempt whose connection
//! failed before any of it was sent can hand it on to the next upstream.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tally_runtime::BoxError;

/// The body has passed the configured limit (only possible without `Content-Length`,
/// which is checked before the upstream is contacted).
#[derive(Debug, thiserror::Error)]
#[error("request body is larger than {0} bytes")]
pub struct BodyTooLarge(pub u64);

/// A body an attempt asked for after another attempt had taken it.
#[derive(Debug, thiserror::Error)]
#[error("the request body was already sent to another upstream")]
struct AlreadySent;

#[derive(Debug)]
struct Shared {
    /// The body until an attempt starts sending it.
    unsent: Mutex<Option<Incoming>>,
    /// The body's own size hint and end flag, taken before it could be lent out.
    size_hint: SizeHint,
    end_stream: bool,
    limit: u64,
    too_large: AtomicBool,
}

/// The client's body, owned by the proxy for the length of one request.
#[derive(Debug, Clone)]
pub struct RequestBody(Arc<Shared>);

impl RequestBody {
    /// Wraps `body`, refusing to send more than `limit` bytes of it.
    pub fn new(body: Incoming, limit: u64) -> Self {
        RequestBody(Arc::new(Shared {
            size_hint: body.size_hint(),
            end_stream: body.is_end_stream(),
            unsent: Mutex::new(Some(body)),
            limit,
            too_large: AtomicBool::new(false),
        }))
    }

    /// A body for one upstream attempt. It takes the client's body only when the
    /// upstream connection asks for the first frame.
    pub fn lend(&self) -> AttemptBody {
        AttemptBody {
            shared: self.0.clone(),
            body: None,
            sent: 0,
        }
    }

    /// Whether no attempt has begun sending the body, so another attempt may.
    pub fn unsent(&self) -> bool {
        self.0
            .unsent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Whether sending stopped because the body passed the limit.
    pub fn too_large(&self) -> bool {
        self.0.too_large.load(Ordering::Relaxed)
    }
}

/// One attempt's view of the request body.
#[derive(Debug)]
pub struct AttemptBody {
    shared: Arc<Shared>,
    body: Option<Incoming>,
    sent: u64,
}

impl Body for AttemptBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.body.is_none() {
            let taken = this
                .shared
                .unsent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match taken {
                Some(body) => this.body = Some(body),
                None => return Poll::Ready(Some(Err(AlreadySent.into()))),
            }
        }
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = match std::task::ready!(Pin::new(body).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            this.sent += data.len() as u64;
            if this.sent > this.shared.limit {
                this.shared.too_large.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(BodyTooLarge(this.shared.limit).into())));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.body {
            Some(body) => body.is_end_stream(),
            None => self.shared.end_stream,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.body {
            Some(body) => body.size_hint(),
            None => self.shared.size_hint,
        }
    }
}
