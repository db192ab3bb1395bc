//! The client's request body on its way upstream. A body that declared its length (a
//! ballot, a poll) is read whole first, as nginx's `proxy_request_buffering` does: the
//! upstream gets head and body in one write, a slow client never holds an upstream
//! connection, and any attempt can send it again. A chunked body is streamed, limited in
//! size, and lent to one attempt at a time so that an attempt whose connection failed
//! before any of it was sent can hand it on to the next upstream.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, LengthLimitError, Limited};
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

/// A streamed body and what its attempts share.
#[derive(Debug)]
pub struct Shared {
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
pub enum RequestBody {
    /// Read whole: every attempt sends the same bytes.
    Buffered(Bytes),
    /// Streamed to the one attempt that takes it first.
    Streamed(Arc<Shared>),
}

/// Why the client's body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It grew past the limit (its `Content-Length` was not the truth).
    #[error(transparent)]
    TooLarge(#[from] BodyTooLarge),
    /// The client stopped sending or went away.
    #[error("the request body could not be read: {0}")]
    Broken(#[source] BoxError),
}

impl RequestBody {
    /// Takes `body` for forwarding, refusing more than `limit` bytes of it: read whole
    /// when it declared its length (the caller has refused a declared length over the
    /// limit), streamed otherwise.
    pub async fn read(body: Incoming, limit: u64) -> Result<Self, ReadError> {
        if body.size_hint().exact().is_none() {
            return Ok(Self::streamed(body, limit));
        }
        let limit_bytes = usize::try_from(limit).unwrap_or(usize::MAX);
        let declared = body.size_hint().lower();
        let mut body = Limited::new(body, limit_bytes);
        // One frame (the usual ballot) becomes the body as it is; several are joined.
        // `collect` would queue even the one frame in a list it allocates.
        let mut only: Option<Bytes> = None;
        let mut joined = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| {
                if error.is::<LengthLimitError>() {
                    ReadError::from(BodyTooLarge(limit))
                } else {
                    ReadError::Broken(error)
                }
            })?;
            // Trailers are dropped: the upstream request has a length, so it cannot
            // carry them.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if only.is_none() && joined.is_empty() {
                only = Some(data);
                continue;
            }
            if let Some(first) = only.take() {
                // Room for all of it at once (the declared length, within the limit).
                joined.reserve(usize::try_from(declared).unwrap_or(0).min(limit_bytes));
                joined.extend_from_slice(&first);
            }
            joined.extend_from_slice(&data);
        }
        Ok(RequestBody::Buffered(
            only.unwrap_or_else(|| joined.freeze()),
        ))
    }

    fn streamed(body: Incoming, limit: u64) -> Self {
        RequestBody::Streamed(Arc::new(Shared {
            size_hint: body.size_hint(),
            end_stream: body.is_end_stream(),
            unsent: Mutex::new(Some(body)),
            limit,
            too_large: AtomicBool::new(false),
        }))
    }

    /// A body for one upstream attempt. A streamed body is taken only when the
    /// upstream connection asks for the first frame.
    pub fn lend(&self) -> AttemptBody {
        match self {
            RequestBody::Buffered(bytes) => AttemptBody::Buffered(Some(bytes.clone())),
            RequestBody::Streamed(shared) => AttemptBody::Streamed {
                shared: shared.clone(),
                body: None,
                sent: 0,
            },
        }
    }

    /// Whether another attempt may send the body: it is buffered, or no attempt has
    /// begun sending it.
    pub fn unsent(&self) -> bool {
        match self {
            RequestBody::Buffered(_) => true,
            RequestBody::Streamed(shared) => shared
                .unsent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some(),
        }
    }

    /// Whether sending stopped because the body passed the limit.
    pub fn too_large(&self) -> bool {
        match self {
            RequestBody::Buffered(_) => false,
            RequestBody::Streamed(shared) => shared.too_large.load(Ordering::Relaxed),
        }
    }
}

/// One attempt's view of the request body.
#[derive(Debug)]
pub enum AttemptBody {
    /// The whole body, sent as one frame (`None` once sent or when empty).
    Buffered(Option<Bytes>),
    /// The client's body, once this attempt took it.
    Streamed {
        shared: Arc<Shared>,
        body: Option<Incoming>,
        sent: u64,
    },
}

impl Body for AttemptBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut *self {
            AttemptBody::Buffered(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            AttemptBody::Streamed { shared, body, sent } => poll_streamed(shared, body, sent, cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            AttemptBody::Buffered(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            AttemptBody::Streamed {
                body: Some(body), ..
            } => body.is_end_stream(),
            AttemptBody::Streamed { shared, .. } => shared.end_stream,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            AttemptBody::Buffered(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            AttemptBody::Streamed {
                body: Some(body), ..
            } => body.size_hint(),
            AttemptBody::Streamed { shared, .. } => shared.size_hint,
        }
    }
}

/// The next frame of a streamed body for the attempt holding `body` (taken from
/// `shared` on the first call), counting what was sent against the limit.
fn poll_streamed(
    shared: &Shared,
    body: &mut Option<Incoming>,
    sent: &mut u64,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    if body.is_none() {
        let taken = shared
            .unsent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match taken {
            Some(taken) => *body = Some(taken),
            None => return Poll::Ready(Some(Err(AlreadySent.into()))),
        }
    }
    let Some(body) = body.as_mut() else {
        return Poll::Ready(None);
    };
    let frame = match std::task::ready!(Pin::new(body).poll_frame(cx)) {
        None => return Poll::Ready(None),
        Some(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
        Some(Ok(frame)) => frame,
    };
    if let Some(data) = frame.data_ref() {
        *sent += data.len() as u64;
        if *sent > shared.limit {
            shared.too_large.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTooLarge(shared.limit).into())));
        }
    }
    Poll::Ready(Some(Ok(frame)))
}
