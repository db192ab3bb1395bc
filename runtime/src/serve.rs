//! The accept loop every service runs: HTTP/1.1 and h2c on one port, a connection
//! limit, header-read timeout, HTTP/2 keep-alive, request ids, health endpoints and a
//! graceful drain on shutdown. Plain TCP by default; [`serve_with`] puts a
//! [`Handshake`] (TLS) between accepting and speaking HTTP.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::body::{json, Body};
use crate::error::error_body;
use crate::graceful::{Stopping, UntilStopped};
use crate::handler::{Handler, Request, RequestContext};
use crate::metrics::{HttpMetrics, HEALTHZ_ROUTE, READYZ_ROUTE};
use crate::request_id::{RequestId, REQUEST_ID};
use crate::stream_executor::{with_streams, ConnectionExecutor};
use crate::timer_table::TableTimer;

/// Pause after a failed `accept` (usually out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Limits and timeouts of the serve loop.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Time a client has to send a request head. hyper also applies it to the wait for
    /// the next request on a kept-alive HTTP/1.1 connection, so it is the idle timeout too.
    pub header_read_timeout: Duration,
    /// Connections served at once; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long in-flight requests may take to finish once shutdown begins.
    pub shutdown_grace: Duration,
    /// HTTP/2 PING interval; a peer that does not answer within it is dropped.
    pub h2_keep_alive_interval: Duration,
    /// Fields set on every response, the health endpoints' included (security headers).
    pub response_headers: HeaderMap,
    /// Largest request head in bytes (HTTP/1.1 read buffer, at least 8192; HTTP/2 header
    /// list); hyper answers a bare 431 past it. `None` keeps hyper's defaults.
    pub max_header_bytes: Option<usize>,
    /// Most request header fields on HTTP/1.1 (hyper answers 431 past it); `None`: 100.
    pub max_headers: Option<usize>,
    /// Where requests and connections are counted; `None` counts nothing.
    pub http_metrics: Option<HttpMetrics>,
    /// Who opens HTTP/2 streams here, which sets how many cancelled streams a
    /// connection may carry before it is closed.
    pub h2_clients: Http2Clients,
}

/// Who the HTTP/2 clients of a serve loop are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Http2Clients {
    /// Anyone: the rapid-reset defence (CVE-2023-44487) at h2's limits. A connection
    /// is closed with `GOAWAY(ENHANCE_YOUR_CALM)` once more than 20 of its streams at
    /// once are cancelled before the server took them, or once the server has reset
    /// 1,024 of its streams for errors over the connection's life.
    #[default]
    Anyone,
    /// Tally's edge, and no public client: the services' ports are not published, and
    /// the only other containers on their networks are Tally's own (seed, the
    /// observability stack). The edge cancels a stream whenever its own client leaves,
    /// so a crowd leaving at once (a load test ending, a dropped network) cancels
    /// hundreds of streams in one read; under [`Http2Clients::Anyone`] that closed the
    /// connection and failed every other request on it. Streams cancelled at once stay
    /// bounded (`GATEWAY_PENDING_RESETS`); the lifetime count of error resets does not,
    /// as the connection lives for days and streams the server refuses count there.
    Gateway,
}

impl Http2Clients {
    /// Sets `builder`'s HTTP/2 reset limits for these clients (h2's own for
    /// [`Http2Clients::Anyone`]). Public for servers outside the serve loop that stand
    /// in for a service behind the edge (benches' trivial upstream).
    pub fn limit_resets<E>(self, builder: &mut auto::Builder<E>) {
        if self == Http2Clients::Gateway {
            builder
                .http2()
                .max_pending_accept_reset_streams(GATEWAY_PENDING_RESETS)
                .max_local_error_reset_streams(None);
        }
    }
}

/// Streams a gateway may have cancelled before the server took them, at once. The edge
/// queues the requests past a replica's open-stream limit inside h2, and once a stream
/// frees it sends a cancelled one as HEADERS and RST_STREAM back to back; so one read
/// can bring a cancelled stream for each request the edge had in flight to that
/// replica. That is at most its client connections (10,000 by default) times their
/// streams; this bound is above any such crowd in practice, and still a bound on what
/// the streams hold (a few hundred bytes each).
const GATEWAY_PENDING_RESETS: usize = 65_536;

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
            h2_keep_alive_interval: Duration::from_secs(30),
            response_headers: HeaderMap::new(),
            max_header_bytes: None,
            max_headers: None,
            http_metrics: None,
            h2_clients: Http2Clients::Anyone,
        }
    }
}

/// What turns an accepted TCP connection into the stream HTTP is spoken over. It runs
/// in the connection's own task, within the header-read timeout, so a slow handshake
/// never holds up accepting.
pub trait Handshake: Send + Sync + 'static {
    /// The stream after the handshake.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Performs the handshake on `stream`.
    fn handshake(&self, stream: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send;

    /// Whether the stream is encrypted ([`RequestContext::tls`]).
    fn is_tls(&self) -> bool;
}

/// Plain TCP: no handshake.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;

    async fn handshake(&self, stream: TcpStream) -> io::Result<TcpStream> {
        Ok(stream)
    }

    fn is_tls(&self) -> bool {
        false
    }
}

/// Serves `handler` on `listener` until `shutdown` completes, then stops accepting,
/// lets in-flight requests finish within the grace period, and returns.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    config: ServeConfig,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(listener, Arc::new(Plain), config, handler, shutdown).await;
}

/// [`serve`], with `handshake` run on each connection before HTTP.
pub async fn serve_with<H: Handler, S: Handshake>(
    listener: TcpListener,
    handshake: Arc<S>,
    config: ServeConfig,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = connection_builder(&config);
    // One reference per request to what every request of this loop shares: a counted
    // reference of this loop's own, where cloning each part would touch counts that
    // other threads' loops touch too.
    let served = Arc::new(Served {
        handler,
        tls: handshake.is_tls(),
        headers: config.response_headers.clone(),
        metrics: config.http_metrics.clone(),
    });
    // Stopped when the loop stops; every connection's task is tracked until it ends.
    let stopping = Stopping::default();
    let connections = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(config.max_connections));
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "listening");
    }
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
        };
        // Votes are small requests and responses: send them without Nagle's delay.
        let _ = stream.set_nodelay(true);
        let open = served.metrics.as_ref().map(HttpMetrics::connection_opened);
        let served = served.clone();
        let service = service_fn(move |request: Request| respond(served.clone(), request, peer));
        let (builder, handshake, stopping) = (builder.clone(), handshake.clone(), stopping.clone());
        let handshake_timeout = config.header_read_timeout;
        connections.spawn(async move {
            let io =
                match tokio::time::timeout(handshake_timeout, handshake.handshake(stream)).await {
                    Ok(Ok(io)) => io,
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "handshake timed out");
                        return;
                    }
                };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            // HTTP/2 streams are polled on this task, beside their connection.
            let connection = with_streams(UntilStopped::new(connection.into_owned(), stopping));
            if let Err(error) = connection.await {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
            drop(open);
            drop(permit);
        });
    }

    drop(listener);
    tracing::info!(grace = ?config.shutdown_grace, "draining in-flight requests");
    stopping.stop();
    connections.close();
    tokio::select! {
        () = connections.wait() => tracing::info!("drained"),
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!("grace period over; closing the remaining connections");
        }
    }
}

fn connection_builder(config: &ServeConfig) -> auto::Builder<ConnectionExecutor> {
    let mut builder = auto::Builder::new(ConnectionExecutor);
    // hyper arms the header-read timer for every request on a kept-alive connection. A
    // loop on a thread of its own keeps those timers in one table; tokio's wheel is
    // for loops whose connections run on several threads.
    let one_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == RuntimeFlavor::CurrentThread);
    if one_thread {
        builder.http1().timer(TableTimer::new());
    } else {
        builder.http1().timer(TokioTimer::new());
    }
    builder
        .http1()
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.h2_keep_alive_interval)
        .keep_alive_timeout(config.h2_keep_alive_interval);
    if let Some(bytes) = config.max_header_bytes {
        builder.http1().max_buf_size(bytes.max(MIN_HTTP1_BUFFER));
        builder
            .http2()
            .max_header_list_size(u32::try_from(bytes).unwrap_or(u32::MAX));
    }
    if let Some(count) = config.max_headers {
        builder.http1().max_headers(count);
    }
    config.h2_clients.limit_resets(&mut builder);
    builder
}

/// hyper's smallest HTTP/1.1 read buffer (it panics below it).
const MIN_HTTP1_BUFFER: usize = 8192;

/// What every request of one serve loop is answered with.
struct Served<H> {
    handler: Arc<H>,
    tls: bool,
    /// Set on every response (security headers).
    headers: HeaderMap,
    metrics: Option<HttpMetrics>,
}

/// Runs one request through the health endpoints or the handler, inside its span.
///
/// The request goes straight into the handler's future, which is awaited where it is
/// made: each async layer between hyper and the handler moved the request and the
/// futures again (callgrind: 11 copies per proxied request here before, 4 now). Not an
/// `async fn`, whose future would hold the request twice: hyper writes this future
/// whole into the connection's slot for each request, memory that has gone cold when
/// many connections are open, so its size is paid on every request.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future holds its arguments twice"
)]
fn respond<H: Handler>(
    served: Arc<Served<H>>,
    request: Request,
    peer: std::net::SocketAddr,
) -> impl Future<Output = Result<Response<Body>, Infallible>> + Send {
    async move {
        let request_id = RequestId::of(request.headers());
        // Only the id: lines are found by it (the edge's access line has the method and
        // path), and each field of a span is formatted for every request when `info` is
        // logged. With the method and the path too, a proxied request at `info` took the
        // edge about 1 µs more user CPU, of about 19 µs in all (7 % fewer requests/s).
        let span = tracing::info_span!("request", request_id = request_id.as_str());
        // For the serve loop's own line, once the handler has the request.
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let started = Instant::now();
        let (route, mut response) = match (request.method(), request.uri().path()) {
            (&Method::GET | &Method::HEAD, "/healthz") => (
                HEALTHZ_ROUTE,
                json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
            ),
            (&Method::GET | &Method::HEAD, "/readyz") => {
                let ready = served.handler.clone().ready();
                let response = match ready.instrument(span.clone()).await {
                    Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
                    Err(reason) => error_body(StatusCode::SERVICE_UNAVAILABLE, &reason),
                };
                (READYZ_ROUTE, response)
            }
            _ => {
                let route = served.handler.route(&request);
                debug_assert!(
                    H::ROUTES.contains(&route),
                    "route {route:?} is missing from the handler's ROUTES"
                );
                let context = RequestContext {
                    request_id: request_id.clone(),
                    peer,
                    tls: served.tls,
                };
                let handler = served.handler.clone();
                // Awaited where it is made, so that it is built in place; wrapped only when
                // the span is recorded.
                let response = if span.is_disabled() {
                    handler.handle(request, context).await
                } else {
                    handler
                        .handle(request, context)
                        .instrument(span.clone())
                        .await
                };
                (route, response)
            }
        };
        // Nothing is awaited from here on: the span is entered for the lines below.
        let _entered = span.enter();
        let headers = response.headers_mut();
        // Room for all of them at once, rather than growing the map step by step.
        headers.reserve(served.headers.len() + 1);
        headers.insert(REQUEST_ID, request_id.header_value().clone());
        for (name, value) in served.headers.iter() {
            headers.insert(name, value.clone());
        }
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        if let Some(metrics) = &served.metrics {
            metrics.record(route, status, elapsed);
        }
        let micros = elapsed.as_micros() as u64;
        let path = uri.path();
        if response.status().is_server_error() {
            tracing::warn!(%method, path, status, micros, "request failed");
        } else {
            tracing::debug!(%method, path, status, micros, "request done");
        }
        Ok(response)
    }
}
