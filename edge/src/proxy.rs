//! Forwarding one request to an upstream pool, in phases after pingora's `ProxyHttp`:
//! request filter (body size, WebSocket upgrade) → upstream request (headers rewritten
//! once) → choose a replica and send, again on another replica where [`crate::retry`]
//! says it is safe → response filter (hop-by-hop fields, the request counted against
//! its replica until its body ends) → a tunnel when the upstream switched protocols.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::PathAndQuery;
use http::{Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, SizeHint};
use hyper::upgrade::OnUpgrade;
use tally_runtime::{Body, BoxError, Request, RequestContext, TimerTable};
use tokio::time::Instant;

use crate::access_log::ServedBy;
use crate::body_limits::BodyLimits;
use crate::connections::{ConnectError, Connections, Sender};
use crate::error::EdgeError;
use crate::exchange::{needs_http1, SendError, UpstreamIncoming};
use crate::forwarding::{set_forwarded, strip_hop_by_hop};
use crate::request_body::{ReadError, RequestBody};
use crate::retry::{retry_for, AttemptError, Failure, Refusal, Retries, Retry};
use crate::tunnel::{restore_upgrade, websocket_upgrade, Tunnels};
use crate::upstream::{InFlight, Pool, Replica};

/// Time a client has to send a body it declared the length of: nginx's
/// `client_body_timeout` is 60 s between reads; a ballot is one packet.
const CLIENT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Forwards requests to upstream pools.
#[derive(Debug)]
pub struct Proxy {
    connections: Arc<Connections>,
    /// Each request's time for its response head, across all its attempts.
    timeout: Duration,
    /// This worker's upstream deadlines.
    deadlines: Arc<TimerTable>,
    body_limits: BodyLimits,
    tunnels: Tunnels,
}

impl Proxy {
    /// A proxy that sends requests over `connections`, gives upstreams `timeout` to
    /// send their response head, refuses bodies over `body_limits`, and opens
    /// WebSocket tunnels in `tunnels`.
    pub fn new(
        connections: Arc<Connections>,
        timeout: Duration,
        body_limits: BodyLimits,
        tunnels: Tunnels,
    ) -> Self {
        Proxy {
            connections,
            timeout,
            deadlines: TimerTable::new(),
            body_limits,
            tunnels,
        }
    }

    /// The open WebSocket tunnels.
    pub fn tunnels(&self) -> &Tunnels {
        &self.tunnels
    }

    /// This worker's upstream connections.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.connections
    }

    /// Sends `request` to a replica in `pool` and returns its response, streaming, and
    /// which replica sent it.
    ///
    /// Not an `async fn`: one would keep the whole request in its future beside its
    /// parts. The future is written whole into the connection's slot for each request,
    /// memory that has gone cold at high concurrency, so every byte of it is paid for.
    pub fn forward<'a>(
        &'a self,
        pool: &'a Pool,
        request: Request,
        context: &'a RequestContext,
    ) -> impl Future<Output = Result<(Response<Body>, ServedBy), EdgeError>> + Send + 'a {
        let (mut parts, body) = request.into_parts();
        async move {
            // Request filter. hyper's size hint is the declared Content-Length, when
            // there is one: the field is not looked up again.
            let limit = self
                .body_limits
                .for_request(&parts.method, parts.uri.path());
            if body.size_hint().lower() > limit {
                // Drained (bounded) so that the client reads the 413 rather than a reset.
                tally_runtime::drain(body).await;
                return Err(EdgeError::TooLarge(limit));
            }
            let upgrade = websocket_upgrade(parts.version, &parts.headers);
            let client_upgrade = upgrade
                .as_ref()
                .and_then(|_| parts.extensions.remove::<OnUpgrade>());

            // The upstream request's fields: rewritten once; each attempt makes its
            // request from them. `Host` is read, not removed: each attempt sets the
            // replica's own.
            let host = parts.headers.get(header::HOST).cloned().or_else(|| {
                parts
                    .uri
                    .authority()
                    .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            });
            strip_hop_by_hop(&mut parts.headers);
            if let (Some(protocol), Some(_)) = (upgrade, &client_upgrade) {
                restore_upgrade(&mut parts.headers, protocol);
            }
            set_forwarded(
                &mut parts.headers,
                context.peer.ip(),
                host,
                &context.request_id,
            );
            let path = parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            // Keep the read a single await: a read pinned here and polled across two
            // awaits (say, once before arming the timer) is kept by rustc beside the
            // attempts, 330 bytes more in this future for every request.
            let read = RequestBody::read(body, limit);
            let body = match tokio::time::timeout(CLIENT_BODY_TIMEOUT, read).await {
                Ok(Ok(body)) => body,
                Ok(Err(ReadError::TooLarge(_))) => return Err(EdgeError::TooLarge(limit)),
                Ok(Err(ReadError::Broken(error))) => {
                    tracing::debug!(%error, "client body broke off");
                    return Err(EdgeError::BodyUnreadable);
                }
                Err(_elapsed) => return Err(EdgeError::BodyTimeout),
            };

            // The upstream's time for its response head starts now that the body is
            // here: a slow client does not use it up.
            let deadline = self.deadlines.insert_after(self.timeout);

            // Choose, send, and retry where that is safe. The fields go to the first
            // attempt; an attempt that did not send them gives them back for the next.
            // A copy is kept only where a request that went out may be repeated, and
            // over HTTP/2, where a replica that is going away refuses requests, and a
            // connection that closed before a request was written fails it, without
            // giving it back.
            let needs_http1 = needs_http1(&parts.method, client_upgrade.is_some(), &body);
            let spare_headers = ((self.connections.multiplexes() && !needs_http1)
                || matches!(
                    retry_for(Failure::BeforeResponse, &parts.method, true),
                    Retry::Once
                ))
            .then(|| parts.headers.clone());
            let mut unsent_headers = Some(std::mem::take(&mut parts.headers));
            let mut retries = Retries::default();
            // Replicas that failed this request; allocated only when one does.
            let mut tried: Vec<SocketAddr> = Vec::new();
            while let Some(replica) = pool.pick(&tried) {
                retries.attempt();
                let Some(headers) = unsent_headers.take().or_else(|| spare_headers.clone()) else {
                    return Err(EdgeError::UpstreamUnavailable(pool.kind()));
                };
                let in_flight = InFlight::start(replica.clone());
                let sent_at = Instant::now();
                // The request is made once a connection is there, so that it is not held
                // (and copied) while one is found.
                let attempt = async {
                    let checkout = self
                        .connections
                        .checkout(replica.address, needs_http1)
                        .await;
                    let mut checkout = match checkout {
                        Ok(checkout) => checkout,
                        Err(error) => return Attempt::NotConnected(error, headers),
                    };
                    let head = upstream_head(&parts.method, &path, &replica, headers);
                    match checkout.sender.send(head, Some(&body)).await {
                        Ok(response) => Attempt::Answered(response, checkout.sender),
                        Err(SendError::Unsent(error, headers)) => {
                            Attempt::Unsent(error, headers, checkout.reused)
                        }
                        Err(SendError::Refused(error, refusal)) => Attempt::Refused(error, refusal),
                        Err(SendError::Failed(error)) => Attempt::Failed(error),
                    }
                };
                let failure = match deadline.bound(attempt).await {
                    Ok(Attempt::Answered(response, sender)) => {
                        pool.metrics().observe_latency(sent_at.elapsed());
                        let response = self.response_filter(
                            pool,
                            response,
                            &replica,
                            in_flight,
                            client_upgrade,
                            sender,
                        )?;
                        return Ok((response, ServedBy(replica.address)));
                    }
                    Err(_elapsed) => {
                        tracing::warn!(upstream = %replica.address, kind = pool.kind(), "upstream timed out");
                        return Err(EdgeError::UpstreamTimeout(pool.kind()));
                    }
                    Ok(Attempt::NotConnected(error, headers)) => {
                        unsent_headers = Some(headers);
                        tried.push(replica.address);
                        tracing::warn!(upstream = %replica.address, kind = pool.kind(), %error, "upstream connect failed");
                        Failure::Connect
                    }
                    Ok(Attempt::Unsent(error, headers, reused)) => {
                        unsent_headers = headers;
                        tracing::debug!(upstream = %replica.address, kind = pool.kind(), reused, error = %causes(&*error), "upstream connection closed before the request went out");
                        if !reused {
                            // A reused one closing is not the replica's doing: it may be
                            // picked again, for a fresh connection.
                            tried.push(replica.address);
                        }
                        Failure::Unsent
                    }
                    Ok(Attempt::Refused(error, refusal)) => {
                        // A refused stream may be sent again on the same connection; a
                        // replica going away is left for the others.
                        if refusal == Refusal::GoingAway {
                            tried.push(replica.address);
                        }
                        tracing::debug!(upstream = %replica.address, kind = pool.kind(), ?refusal, error = %causes(&*error), "upstream refused the request unprocessed");
                        Failure::Refused
                    }
                    Ok(Attempt::Failed(error)) => {
                        tried.push(replica.address);
                        tracing::warn!(upstream = %replica.address, kind = pool.kind(), error = %causes(&*error), "upstream attempt failed");
                        Failure::BeforeResponse
                    }
                };
                let failure =
                    AttemptError::classify(failure, &parts.method, body.unsent(), body.too_large());
                match failure.failure {
                    Failure::BodyTooLarge => return Err(EdgeError::TooLarge(limit)),
                    Failure::Connect => pool.eject(&replica),
                    Failure::BeforeResponse | Failure::Unsent | Failure::Refused => {}
                }
                if !retries.allow(&failure) {
                    return Err(EdgeError::UpstreamUnavailable(pool.kind()));
                }
                pool.metrics().retries.inc();
            }
            Err(EdgeError::UpstreamUnavailable(pool.kind()))
        }
    }

    /// The upstream's response for the client: hop-by-hop fields removed, the body
    /// streamed and counted against `replica` until it ends; on `101`, a tunnel.
    fn response_filter(
        &self,
        pool: &Pool,
        mut response: Response<UpstreamIncoming>,
        replica: &Replica,
        in_flight: InFlight,
        client_upgrade: Option<OnUpgrade>,
        sender: Sender,
    ) -> Result<Response<Body>, EdgeError> {
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        let protocol = switching
            .then(|| response.headers().get(header::UPGRADE).cloned())
            .flatten();
        strip_hop_by_hop(response.headers_mut());
        let in_flight = if switching {
            // A server must not switch unless asked (RFC 9110 §15.2.2).
            let (Some(client_upgrade), Some(protocol)) = (client_upgrade, protocol) else {
                tracing::warn!(upstream = %replica.address, "upstream switched protocols unasked");
                return Err(EdgeError::UpstreamUnavailable(pool.kind()));
            };
            restore_upgrade(response.headers_mut(), protocol);
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            self.tunnels
                .open(client_upgrade, upstream_upgrade, replica.address, in_flight);
            None
        } else {
            Some(in_flight)
        };
        let (parts, body) = response.into_parts();
        let body = match in_flight {
            Some(in_flight) => UpstreamResponseBody {
                body,
                ended: false,
                _in_flight: in_flight,
                connection: Some((self.connections.clone(), replica.address, sender)),
            }
            .boxed(),
            // The connection now carries the tunnel: it is never reused.
            None => body.boxed(),
        };
        Ok(Response::from_parts(parts, body))
    }
}

/// How one attempt ended.
enum Attempt {
    /// A response head came back on this connection.
    Answered(Response<UpstreamIncoming>, Sender),
    /// No connection could be opened; the request's fields are given back.
    NotConnected(ConnectError, HeaderMap),
    /// The connection closed before the request went out (`reused`: it was idle in the
    /// pool, or shared); HTTP/1.1 gives the request's fields back (with this replica's
    /// `Host`, which the next attempt replaces), HTTP/2 keeps them.
    Unsent(BoxError, Option<HeaderMap>, bool),
    /// The replica refused the request without processing it (HTTP/2: it is going
    /// away, or has too many streams open); the request is not given back.
    Refused(BoxError, Refusal),
    /// The request went out, or may have, and no response head came back.
    Failed(BoxError),
}

/// The request head for one attempt on `replica`: the client's, rewritten, with
/// `headers` (the rewritten fields) and the replica's own `Host`. In origin form with
/// `Host` over HTTP/2 too, as a request forwarded from HTTP/1.1 (`h2` gives it the
/// `http` scheme; RFC 9113 §8.3.1 allows `Host` in place of `:authority`).
fn upstream_head(
    method: &http::Method,
    path: &PathAndQuery,
    replica: &Replica,
    mut headers: HeaderMap,
) -> http::Request<()> {
    headers.insert(header::HOST, replica.host.clone());
    let mut request = http::Request::new(());
    *request.method_mut() = method.clone();
    *request.uri_mut() = Uri::from(path.clone());
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    request
}

/// An upstream response's body on its way to the client: its request is counted against
/// its replica until the body ends or is dropped, and its connection goes back to the
/// worker's idle connections once the body was read to its end.
struct UpstreamResponseBody {
    body: UpstreamIncoming,
    ended: bool,
    _in_flight: InFlight,
    connection: Option<(Arc<Connections>, SocketAddr, Sender)>,
}

impl hyper::body::Body for UpstreamResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match polled {
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                // The connection broke: it is not reusable.
                self.connection = None;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for UpstreamResponseBody {
    fn drop(&mut self) {
        // A body left unread would arrive ahead of the next response: only a connection
        // whose response ended is reused.
        if let Some((connections, address, sender)) = self.connection.take() {
            if self.ended || hyper::body::Body::is_end_stream(&self.body) {
                connections.give_back(address, sender);
            }
        }
    }
}

/// `error` and its sources, `: `-separated (the client's own message is only "client
/// error (Connect)").
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
