//! The admin port: `GET /metrics` (the service's registry in the OpenMetrics text
//! format) and `/healthz`, `/readyz` (the service's own readiness), on a listener of its
//! own so that nothing public ever reaches them. It runs the same serve loop as the
//! public port, without the HTTP metrics (scrapes would count themselves), and stops
//! after the public port has drained, so a scrape during the drain still answers.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::body::{full, Body};
use crate::error::error_body;
use crate::handler::{Handler, Request, RequestContext};
use crate::metrics::{encode, Registry};
use crate::serve::{serve, ServeConfig};

/// The path Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";

/// The content type of the OpenMetrics text exposition format (OpenMetrics 1.0 §3).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Connections the admin port serves at once: a few scrapers and health checks.
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// The sockets a service serves on: its public port and, when given, its admin port.
/// A bare listener is the public port alone (metrics are then recorded, not served).
#[derive(Debug)]
pub struct Ports {
    /// The public port.
    pub public: TcpListener,
    /// The admin port (`/metrics`, `/healthz`, `/readyz`).
    pub admin: Option<TcpListener>,
}

impl From<TcpListener> for Ports {
    fn from(public: TcpListener) -> Self {
        Ports {
            public,
            admin: None,
        }
    }
}

/// Answers the admin port's requests; readiness is the service's.
#[derive(Debug)]
pub struct AdminHandler<H> {
    registry: Registry,
    service: Arc<H>,
}

impl<H: Handler> Handler for AdminHandler<H> {
    async fn handle(self: Arc<Self>, request: Request, _context: RequestContext) -> Response<Body> {
        match (request.method(), request.uri().path()) {
            (&Method::GET | &Method::HEAD, METRICS_PATH) => match encode(&self.registry) {
                Ok(text) => {
                    let mut response = Response::new(full(text));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
                    );
                    response
                }
                Err(_) => error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the metrics could not be encoded",
                ),
            },
            (_, METRICS_PATH) => error_body(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
            _ => error_body(
                StatusCode::NOT_FOUND,
                "the admin port serves /metrics, /healthz and /readyz",
            ),
        }
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        self.service.clone().ready().await
    }
}

/// The admin port while it runs.
#[derive(Debug)]
pub struct AdminServer {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// Serves `registry` on `listener` (nothing when `None`), with `service`'s readiness.
    pub fn start<H: Handler>(
        listener: Option<TcpListener>,
        registry: Registry,
        service: Arc<H>,
    ) -> AdminServer {
        let Some(listener) = listener else {
            return AdminServer {
                stop: None,
                task: None,
            };
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let handler = Arc::new(AdminHandler { registry, service });
        let config = ServeConfig {
            max_connections: ADMIN_MAX_CONNECTIONS,
            ..ServeConfig::default()
        };
        let task = tokio::spawn(async move {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "admin port (metrics) listening");
            }
            serve(listener, config, handler, async {
                let _ = stopped.await;
            })
            .await;
        });
        AdminServer {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the admin port and waits until it has drained.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
