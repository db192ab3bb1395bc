//! What a service implements to be served: its request handler and its readiness.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::Response;

use crate::body::Body;
use crate::request_id::RequestId;

/// A request as the services receive it.
pub type Request = http::Request<hyper::body::Incoming>;

/// Facts about a request that are not in the request itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The id logged with the request and echoed in `x-request-id`.
    pub request_id: RequestId,
    /// The TCP peer (the edge, for services behind it).
    pub peer: SocketAddr,
    /// Whether the request came over TLS.
    pub tls: bool,
}

/// A service's request handling. `/healthz` and `/readyz` are answered by the runtime
/// and never reach [`Handler::handle`].
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. Errors are responses too (see [`crate::HttpError`]).
    fn handle(
        self: Arc<Self>,
        request: Request,
        context: RequestContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static;

    /// Whether the service can do its work now (its Redis/Postgres reachable); the
    /// error says what is not.
    fn ready(self: Arc<Self>) -> impl Future<Output = Result<(), String>> + Send + 'static;

    /// Every `route` label [`Handler::route`] gives. The HTTP metrics create each one's
    /// series at 0 on start ([`crate::HttpMetrics::register`]), so `rate()` and alerts
    /// see a route's first request; a label missing here fails a debug build's request.
    const ROUTES: &'static [&'static str] = &[OTHER_ROUTE];

    /// The `route` label of `request` in the HTTP metrics: one of [`Handler::ROUTES`],
    /// never the raw path (labels must stay bounded).
    fn route(&self, _request: &Request) -> &'static str {
        OTHER_ROUTE
    }
}

/// The route label of requests a service does not name.
pub const OTHER_ROUTE: &str = "other";
