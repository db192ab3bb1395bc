//! The accept loop every service runs: HTTP/1.1 and h2c on one port, a connection
//! limit, header-read timeout, HTTP/2 keep-alive, request ids, health endpoints and a
//! graceful drain on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{header::HeaderName, HeaderValue, Method, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::body::{json, Body};
use crate::error::error_body;
use crate::handler::{Handler, Request, RequestContext};

/// The header that carries a request's id between the edge, the services and logs.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest inbound request id kept; longer ones are replaced, so logs stay bounded.
const MAX_REQUEST_ID_LEN: usize = 128;

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
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
            h2_keep_alive_interval: Duration::from_secs(30),
        }
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
    let builder = connection_builder(&config);
    let graceful = GracefulShutdown::new();
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
        let handler = handler.clone();
        let service = service_fn(move |request: Request| {
            let handler = handler.clone();
            async move { Ok::<_, Infallible>(respond(handler, request, peer).await) }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    tracing::info!(grace = ?config.shutdown_grace, "draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("drained"),
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!("grace period over; closing the remaining connections");
        }
    }
}

fn connection_builder(config: &ServeConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.h2_keep_alive_interval)
        .keep_alive_timeout(config.h2_keep_alive_interval);
    builder
}

/// Runs one request through the health endpoints or the handler, inside its span.
async fn respond<H: Handler>(
    handler: Arc<H>,
    request: Request,
    peer: std::net::SocketAddr,
) -> Response<Body> {
    let request_id = request_id_of(&request);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    );
    async move {
        let started = Instant::now();
        let mut response = match (request.method(), request.uri().path()) {
            (&Method::GET | &Method::HEAD, "/healthz") => {
                json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
            }
            (&Method::GET | &Method::HEAD, "/readyz") => match handler.ready().await {
                Ok(()) => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
                Err(reason) => error_body(StatusCode::SERVICE_UNAVAILABLE, &reason),
            },
            _ => {
                let context = RequestContext {
                    request_id: request_id.clone(),
                    peer,
                };
                handler.handle(request, context).await
            }
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let status = response.status().as_u16();
        let micros = started.elapsed().as_micros() as u64;
        if response.status().is_server_error() {
            tracing::warn!(status, micros, "request failed");
        } else {
            tracing::debug!(status, micros, "request done");
        }
        response
    }
    .instrument(span)
    .await
}

/// The inbound `x-request-id` when it is a sane token, otherwise a fresh one.
fn request_id_of(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string())
}
