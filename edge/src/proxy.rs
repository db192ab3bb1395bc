//! Forwarding one request to an upstream pool, in phases after pingora's `ProxyHttp`:
//! request filter (body size, WebSocket upgrade) → upstream request (headers rewritten
//! once) → choose a replica and send, again on another replica where [`crate::retry`]
//! says it is safe → response filter (hop-by-hop fields, the request counted against
//! its replica until its body ends) → a tunnel when the upstream switched protocols.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Either, Empty};
use hyper::body::{Frame, SizeHint};
use hyper::upgrade::OnUpgrade;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tally_runtime::{Body, BoxError, Request, RequestContext};
use tokio::time::Instant;

use crate::access_log::ServedBy;
use crate::error::EdgeError;
use crate::forwarding::{set_forwarded, strip_hop_by_hop};
use crate::request_body::{AttemptBody, ReadError, RequestBody};
use crate::retry::{AttemptError, Failure, Retries};
use crate::tunnel::{restore_upgrade, websocket_upgrade, Tunnels};
use crate::upstream::{InFlight, Pool, Replica};
use crate::upstream_args::UpstreamArgs;

/// Idle connections kept per replica: enough for a burst of concurrent votes without
/// reconnecting, bounded so a burst does not pin file descriptors forever.
const POOL_MAX_IDLE_PER_HOST: usize = 256;

/// Time a client has to send a body it declared the length of: nginx's
/// `client_body_timeout` is 60 s between reads; a ballot is one packet.
const CLIENT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the edge sends upstream: the client's body, or nothing (health checks).
pub type UpstreamBody = Either<AttemptBody, Empty<Bytes>>;

/// The one HTTP client the edge talks to every upstream through; it keeps one pool of
/// connections per URI authority, which is one replica's address.
pub type UpstreamClient = Client<HttpConnector, UpstreamBody>;

/// A pooled HTTP/1.1 client for upstream requests, with the connect and pool-idle
/// timeouts of `args`.
pub fn upstream_client(args: &UpstreamArgs) -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(args.connect_timeout));
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(args.pool_idle_timeout)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .build(connector)
}

/// Forwards requests to upstream pools.
#[derive(Debug)]
pub struct Proxy {
    client: UpstreamClient,
    timeout: Duration,
    max_body_bytes: u64,
    tunnels: Tunnels,
}

impl Proxy {
    /// A proxy that gives upstreams `timeout` to send their response head, refuses
    /// bodies over `max_body_bytes`, and opens WebSocket tunnels in `tunnels`.
    pub fn new(
        client: UpstreamClient,
        timeout: Duration,
        max_body_bytes: u64,
        tunnels: Tunnels,
    ) -> Self {
        Proxy {
            client,
            timeout,
            max_body_bytes,
            tunnels,
        }
    }

    /// The open WebSocket tunnels.
    pub fn tunnels(&self) -> &Tunnels {
        &self.tunnels
    }

    /// Whether `replica` answers `GET /healthz` with a success within `timeout`.
    pub async fn healthy(&self, replica: &Replica, timeout: Duration) -> bool {
        crate::health::probe(&self.client, replica, timeout).await
    }

    /// Sends `request` to a replica in `pool` and returns its response, streaming.
    pub async fn forward(
        &self,
        pool: &Pool,
        request: Request,
        context: &RequestContext,
    ) -> Result<Response<Body>, EdgeError> {
        let deadline = Instant::now() + self.timeout;
        let (mut parts, body) = request.into_parts();

        // Request filter.
        if declared_length(&parts.headers).is_some_and(|length| length > self.max_body_bytes) {
            // Drained (bounded) so that the client reads the 413 rather than a reset.
            tally_runtime::drain(body).await;
            return Err(EdgeError::TooLarge(self.max_body_bytes));
        }
        let upgrade = websocket_upgrade(parts.version, &parts.headers);
        let client_upgrade = upgrade
            .as_ref()
            .and_then(|_| parts.extensions.remove::<OnUpgrade>());

        // Upstream request: rewritten once, copied for each attempt.
        let host = parts.headers.remove(header::HOST).or_else(|| {
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
        let body = match tokio::time::timeout(
            CLIENT_BODY_TIMEOUT,
            RequestBody::read(body, self.max_body_bytes),
        )
        .await
        {
            Ok(Ok(body)) => body,
            Ok(Err(ReadError::TooLarge(_))) => {
                return Err(EdgeError::TooLarge(self.max_body_bytes))
            }
            Ok(Err(ReadError::Broken(error))) => {
                tracing::debug!(%error, "client body broke off");
                return Err(EdgeError::BodyUnreadable);
            }
            Err(_elapsed) => return Err(EdgeError::BodyTimeout),
        };

        // Choose, send, and retry where that is safe.
        let mut retries = Retries::default();
        let mut tried: Vec<SocketAddr> = Vec::new();
        while let Some(replica) = pool.pick(&tried) {
            tried.push(replica.address);
            retries.attempt();
            let uri = upstream_uri(&replica.authority, &path)
                .ok_or(EdgeError::UpstreamUnavailable(pool.kind()))?;
            let mut upstream_request = http::Request::new(Either::Left(body.lend()));
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.uri_mut() = uri;
            *upstream_request.version_mut() = Version::HTTP_11;
            *upstream_request.headers_mut() = parts.headers.clone();
            let in_flight = InFlight::start(replica.clone());
            let sent_at = Instant::now();
            let error = match tokio::time::timeout_at(
                deadline,
                self.client.request(upstream_request),
            )
            .await
            {
                Ok(Ok(response)) => {
                    pool.metrics().observe_latency(sent_at.elapsed());
                    return self.response_filter(
                        pool,
                        response,
                        &replica,
                        in_flight,
                        client_upgrade,
                    );
                }
                Err(_elapsed) => {
                    tracing::warn!(upstream = %replica.address, kind = pool.kind(), "upstream timed out");
                    return Err(EdgeError::UpstreamTimeout(pool.kind()));
                }
                Ok(Err(error)) => error,
            };
            let failure =
                AttemptError::classify(&error, &parts.method, body.unsent(), body.too_large());
            tracing::warn!(upstream = %replica.address, kind = pool.kind(), failure = ?failure.failure, retry = ?failure.retry, error = %causes(&error), "upstream attempt failed");
            match failure.failure {
                Failure::BodyTooLarge => return Err(EdgeError::TooLarge(self.max_body_bytes)),
                Failure::Connect => pool.eject(&replica),
                Failure::BeforeResponse => {}
            }
            if !retries.allow(&failure) {
                return Err(EdgeError::UpstreamUnavailable(pool.kind()));
            }
            pool.metrics().retries.inc();
        }
        Err(EdgeError::UpstreamUnavailable(pool.kind()))
    }

    /// The upstream's response for the client: hop-by-hop fields removed, the body
    /// streamed and counted against `replica` until it ends; on `101`, a tunnel.
    fn response_filter(
        &self,
        pool: &Pool,
        mut response: Response<hyper::body::Incoming>,
        replica: &Replica,
        in_flight: InFlight,
        client_upgrade: Option<OnUpgrade>,
    ) -> Result<Response<Body>, EdgeError> {
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        let protocol = response.headers().get(header::UPGRADE).cloned();
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
        let (mut parts, body) = response.into_parts();
        parts.extensions.insert(ServedBy(replica.address));
        let body = body
            .map_err(|error| -> BoxError { Box::new(error) })
            .boxed();
        let body = match in_flight {
            Some(in_flight) => CountedBody {
                body,
                _in_flight: in_flight,
            }
            .boxed(),
            None => body,
        };
        Ok(Response::from_parts(parts, body))
    }
}

/// A response body that keeps its request counted against its replica until it ends.
struct CountedBody {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for CountedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
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

/// The `Content-Length` the client declared, if any and readable.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// `http://<replica address><path and query>`; both parts are already valid, so this
/// only fails if `http` changes its rules.
pub fn upstream_uri(authority: &Authority, path: &PathAndQuery) -> Option<Uri> {
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority.clone())
        .path_and_query(path.clone())
        .build()
        .ok()
}
