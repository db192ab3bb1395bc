//! The edge's request handling: route, admit (redirect, limits, rate), then proxy or
//! serve a file; and its readiness. Security headers are set by the serve loop.

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use tally_runtime::{Body, Handler, HttpError, Request, RequestContext};

use crate::access_log::{AccessEntry, ServedBy};
use crate::admission::Admission;
use crate::metrics::RequestMetrics;
use crate::proxy::Proxy;
use crate::routes::{route, static_alias, Route};
use crate::static_files::StaticFiles;
use crate::upstream::Pool;

/// Time one upstream has to answer `/healthz` during a readiness check.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub struct EdgeService {
    pub(crate) proxy: Proxy,
    pub(crate) vote: Arc<Pool>,
    pub(crate) result: Arc<Pool>,
    pub(crate) files: StaticFiles,
    pub(crate) metrics: RequestMetrics,
    pub(crate) admission: Admission,
}

impl Handler for EdgeService {
    async fn handle(
        self: Arc<Self>,
        mut request: Request,
        context: RequestContext,
    ) -> Response<Body> {
        let started = tokio::time::Instant::now();
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let route = route(&method, uri.path());
        let refused = self.admission.refuse(&mut request, &context, route);
        let answer = match (refused, route) {
            (Some(refused), _) => Ok(refused),
            (None, Route::Vote) => self.proxy.forward(&self.vote, request, &context).await,
            (None, Route::Result) => self.proxy.forward(&self.result, request, &context).await,
            (None, Route::Static) => {
                let path = request.uri().path();
                let file = static_alias(path).unwrap_or(path);
                self.files.serve(request.method(), file, request.headers())
            }
        };
        let response = answer.unwrap_or_else(|error| error.to_response());
        self.metrics.record(route, response.status());
        AccessEntry {
            method: &method,
            path: uri.path(),
            route: route.label(),
            status: response.status(),
            upstream: response.extensions().get::<ServedBy>().copied(),
            duration: started.elapsed(),
            request_id: &context.request_id,
        }
        .log();
        response
    }

    /// Ready when at least one replica of each upstream answers its `/healthz`.
    async fn ready(self: Arc<Self>) -> Result<(), String> {
        let (vote, result) =
            tokio::join!(self.any_healthy(&self.vote), self.any_healthy(&self.result));
        let down: Vec<String> = [(vote, &self.vote), (result, &self.result)]
            .into_iter()
            .filter(|(healthy, _)| !healthy)
            .map(|(_, pool)| format!("no healthy {} upstream", pool.kind()))
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(down.join("; "))
        }
    }
}

impl EdgeService {
    async fn any_healthy(&self, pool: &Pool) -> bool {
        for upstream in pool.replicas().iter() {
            if self.proxy.healthy(upstream, HEALTH_CHECK_TIMEOUT).await {
                return true;
            }
        }
        false
    }
}
