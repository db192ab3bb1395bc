//! Forwarding one request to an upstream pool: check the body's declared size, rewrite
//! the headers, pick a replica (and the next one if connecting fails, which is always
//! safe since nothing was sent), wait for the response head within the timeout, and
//! stream the response back.

use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Response, Uri, Version};
use http_body_util::{BodyExt, Either, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tally_runtime::{Body, BoxError, Request, RequestContext};
use tokio::time::Instant;

use crate::error::EdgeError;
use crate::forwarding::{set_forwarded, strip_hop_by_hop};
use crate::request_body::{AttemptBody, RequestBody};
use crate::upstream::{Pool, Upstream};

/// How long an idle upstream connection is kept for reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections kept per upstream: enough for a burst of concurrent votes without
/// reconnecting, bounded so a burst does not pin file descriptors forever.
const POOL_MAX_IDLE_PER_HOST: usize = 256;

/// Time to open a TCP connection to an upstream before trying the next one; replicas
/// are on the same network, so a healthy one connects in well under a millisecond.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the edge sends upstream: the client's body, or nothing (health checks).
pub type UpstreamBody = Either<AttemptBody, Empty<Bytes>>;

/// The one HTTP client the edge talks to every upstream through.
pub type UpstreamClient = Client<HttpConnector, UpstreamBody>;

/// A pooled HTTP/1.1 client for upstream requests.
pub fn upstream_client() -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .build(connector)
}

/// Forwards requests to upstream pools.
#[derive(Debug)]
pub struct Proxy {
    client: UpstreamClient,
    timeout: Duration,
    max_body_bytes: u64,
}

impl Proxy {
    /// A proxy that gives upstreams `timeout` to answer and refuses bodies over
    /// `max_body_bytes`.
    pub fn new(client: UpstreamClient, timeout: Duration, max_body_bytes: u64) -> Self {
        Proxy {
            client,
            timeout,
            max_body_bytes,
        }
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
        if declared_length(&parts.headers).is_some_and(|length| length > self.max_body_bytes) {
            return Err(EdgeError::TooLarge(self.max_body_bytes));
        }
        let host = parts.headers.remove(header::HOST).or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        strip_hop_by_hop(&mut parts.headers);
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
        let body = RequestBody::new(body, self.max_body_bytes);

        let mut attempts = pool.attempts().peekable();
        while let Some(upstream) = attempts.next() {
            let mut upstream_request = http::Request::new(Either::Left(body.lend()));
            *upstream_request.method_mut() = parts.method.clone();
            *upstream_request.uri_mut() =
                upstream_uri(upstream, &path).ok_or(EdgeError::UpstreamUnavailable(pool.kind()))?;
            *upstream_request.version_mut() = Version::HTTP_11;
            *upstream_request.headers_mut() = if attempts.peek().is_some() {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            };
            let sent = tokio::time::timeout_at(deadline, self.client.request(upstream_request));
            match sent.await {
                Ok(Ok(response)) => return Ok(into_client_response(response)),
                Err(_elapsed) => {
                    tracing::warn!(upstream = %upstream.address, kind = pool.kind(), "upstream timed out");
                    return Err(EdgeError::UpstreamTimeout(pool.kind()));
                }
                Ok(Err(error)) if body.too_large() => {
                    tracing::debug!(%error, "request body over the limit");
                    return Err(EdgeError::TooLarge(self.max_body_bytes));
                }
                Ok(Err(error)) if error.is_connect() && body.unsent() => {
                    tracing::warn!(upstream = %upstream.address, kind = pool.kind(), error = %causes(&error), "cannot connect to upstream");
                }
                Ok(Err(error)) => {
                    tracing::warn!(upstream = %upstream.address, kind = pool.kind(), error = %causes(&error), "upstream request failed");
                    return Err(EdgeError::UpstreamUnavailable(pool.kind()));
                }
            }
        }
        Err(EdgeError::UpstreamUnavailable(pool.kind()))
    }

    /// Whether `upstream` answers `GET /healthz` with a success within `timeout`.
    pub async fn healthy(&self, upstream: &Upstream, timeout: Duration) -> bool {
        let Some(uri) = upstream_uri(upstream, &PathAndQuery::from_static("/healthz")) else {
            return false;
        };
        let mut request = http::Request::new(Either::Right(Empty::new()));
        *request.uri_mut() = uri;
        matches!(
            tokio::time::timeout(timeout, self.client.request(request)).await,
            Ok(Ok(response)) if response.status().is_success()
        )
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

/// `http://<upstream address><path and query>`; both parts are already valid, so this
/// only fails if `http` changes its rules.
fn upstream_uri(upstream: &Upstream, path: &PathAndQuery) -> Option<Uri> {
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(upstream.authority.clone())
        .path_and_query(path.clone())
        .build()
        .ok()
}

/// The upstream's response with its hop-by-hop fields removed and its body streamed.
fn into_client_response(response: Response<hyper::body::Incoming>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = body
        .map_err(|error| -> BoxError { Box::new(error) })
        .boxed();
    Response::from_parts(parts, body)
}
