//! One request's exchange with a replica, over whichever protocol its connection
//! speaks: the request head and body go out, the response head comes back with a body
//! to stream, or the failure says how far the request got (which decides whether it may
//! be sent again, see [`crate::retry`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, Version};
use http_body_util::{Either, Empty};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use tally_runtime::BoxError;

use crate::multiplexed::{self, ResponseBody, SendFailure};
use crate::request_body::{AttemptBody, RequestBody};
use crate::retry::{refusal, Refusal};

/// What the edge sends on an HTTP/1.1 connection: the client's body, or nothing
/// (health checks).
pub type UpstreamBody = Either<AttemptBody, Empty<Bytes>>;

/// The sending half of one upstream connection.
#[derive(Debug)]
pub enum Sender {
    /// An HTTP/1.1 connection: one request at a time.
    Http1(http1::SendRequest<UpstreamBody>),
    /// A share of a replica's HTTP/2 connection.
    Http2(multiplexed::Sender),
}

/// How a request that got no response head ended.
#[derive(Debug)]
pub enum SendError {
    /// Nothing of it was written: the connection had closed. HTTP/1.1 gives its fields
    /// back for another attempt; h2 keeps them.
    Unsent(BoxError, Option<HeaderMap>),
    /// The replica took none of it to process (HTTP/2: it refused the stream, or the
    /// connection is going away or gone).
    Refused(BoxError, Refusal),
    /// It went out, or may have, and no response head came back.
    Failed(BoxError),
}

/// Whether a request goes over HTTP/1.1 whatever the upstream protocol: a WebSocket
/// (its upgrade is an HTTP/1.1 mechanism, RFC 9110 §7.8), a body streamed as it arrives,
/// `HEAD` (an HTTP/2 server may send a body with its answer, which h2 takes for a
/// protocol error and counts against the connection) and `CONNECT` (its HTTP/2 form has
/// no path, RFC 9113 §8.5).
pub fn needs_http1(method: &Method, upgrade: bool, body: &RequestBody) -> bool {
    upgrade
        || matches!(body, RequestBody::Streamed(_))
        || method == Method::HEAD
        || method == Method::CONNECT
}

impl Sender {
    /// Sends `head` with `body` (none: empty) and waits for the response head.
    pub async fn send(
        &mut self,
        head: http::Request<()>,
        body: Option<&RequestBody>,
    ) -> Result<Response<UpstreamIncoming>, SendError> {
        match self {
            Sender::Http1(sender) => {
                let request = head.map(|()| match body {
                    Some(body) => Either::Left(body.lend()),
                    None => Either::Right(Empty::new()),
                });
                match sender.try_send_request(request).await {
                    Ok(response) => Ok(response.map(UpstreamIncoming::Http1)),
                    Err(mut error) => match error.take_message() {
                        Some(request) => Err(SendError::Unsent(
                            Box::new(error.into_error()),
                            Some(request.into_parts().0.headers),
                        )),
                        None => Err(SendError::Failed(Box::new(error.into_error()))),
                    },
                }
            }
            Sender::Http2(sender) => {
                let bytes = match body {
                    None => None,
                    Some(RequestBody::Buffered(bytes)) => Some(bytes.clone()),
                    Some(RequestBody::Streamed(_)) => {
                        return Err(SendError::Failed(
                            "a streamed body goes over HTTP/1.1 connections only".into(),
                        ))
                    }
                };
                let sent = match sender.send(head, bytes).await {
                    Ok(response) => Ok(response),
                    // The connection is going away or gone: nothing was sent.
                    Err(SendFailure::NotOpened(error)) if error.is_go_away() || error.is_io() => {
                        Err(SendError::Refused(Box::new(error), Refusal::GoingAway))
                    }
                    // A request h2 will not send: another try would fare no better.
                    Err(SendFailure::NotOpened(error)) => Err(SendError::Failed(Box::new(error))),
                    Err(SendFailure::Unwritten(error)) => {
                        Err(SendError::Unsent(Box::new(error), None))
                    }
                    Err(SendFailure::Stream(error)) => match refusal(&error) {
                        Some(refusal) => Err(SendError::Refused(Box::new(error), refusal)),
                        None => Err(SendError::Failed(Box::new(error))),
                    },
                };
                if matches!(
                    sent,
                    Err(SendError::Refused(_, Refusal::GoingAway) | SendError::Unsent(..))
                ) {
                    sender.retire();
                }
                let response = sent?;
                let (mut parts, stream) = response.into_parts();
                // Answered to the client in its own version.
                parts.version = Version::HTTP_11;
                let body = ResponseBody::new(stream, &parts.headers);
                Ok(Response::from_parts(parts, UpstreamIncoming::Http2(body)))
            }
        }
    }
}

/// A response body as a replica sends it, over either protocol.
#[derive(Debug)]
pub enum UpstreamIncoming {
    /// On an HTTP/1.1 connection.
    Http1(Incoming),
    /// On a stream of an HTTP/2 connection.
    Http2(ResponseBody),
}

impl Body for UpstreamIncoming {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            UpstreamIncoming::Http1(body) => Pin::new(body)
                .poll_frame(cx)
                .map_err(|error| -> BoxError { Box::new(error) }),
            UpstreamIncoming::Http2(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamIncoming::Http1(body) => body.is_end_stream(),
            UpstreamIncoming::Http2(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamIncoming::Http1(body) => body.size_hint(),
            UpstreamIncoming::Http2(body) => body.size_hint(),
        }
    }
}
