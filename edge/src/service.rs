//! The edge's request handling: route, admit (redirect, limits, rate), then proxy or
//! serve a file; and its readiness. Security headers are set by the serve loop.

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use tally_runtime::{Body, Handler, HttpError, HttpMetrics, Request, RequestContext};

use crate::access_log::{AccessEntry, ServedBy};
use crate::admission::Admission;
use crate::proxy::Proxy;
use crate::routes::{static_alias, Route, Routes};
use crate::static_files::StaticFiles;
use crate::upstream::Pool;

/// Time one upstream has to answer `/healthz` during a readiness check.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// One worker thread's request handling: its own proxy (upstream connections and
/// tunnels live on the thread that made them) over the state every worker shares.
#[derive(Debug)]
pub struct EdgeService {
    pub(crate) proxy: Proxy,
    pub(crate) shared: Arc<SharedState>,
}

/// What every worker thread sees the same: replicas and their health, the files, the
/// counters and the rate limits.
#[derive(Debug)]
pub struct SharedState {
    pub(crate) routes: Routes,
    pub(crate) vote: Arc<Pool>,
    pub(crate) result: Arc<Pool>,
    pub(crate) files: StaticFiles,
    pub(crate) metrics: HttpMetrics,
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
        let route = self.shared.routes.route(&method, uri.path());
        let shared = &self.shared;
        let refused = shared.admission.refuse(&mut request, &context, route);
        let answer = match (refused, route) {
            (Some(refused), _) => Ok(refused),
            (None, Route::Vote) => self.proxy.forward(&shared.vote, request, &context).await,
            (None, Route::Result) => self.proxy.forward(&shared.result, request, &context).await,
            (None, Route::Static) => {
                let path = request.uri().path();
                let file = static_alias(path).unwrap_or(path);
                shared
                    .files
                    .serve(request.method(), file, request.headers())
            }
        };
        let response = answer.unwrap_or_else(|error| error.to_response());
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

    fn route(&self, request: &Request) -> &'static str {
        self.shared
            .routes
            .route(request.method(), request.uri().path())
            .label()
    }

    /// Ready when at least one replica of each upstream answers its `/healthz`.
    async fn ready(self: Arc<Self>) -> Result<(), String> {
        let shared = &self.shared;
        let (vote, result) = tokio::join!(
            self.any_healthy(&shared.vote),
            self.any_healthy(&shared.result)
        );
        let down: Vec<String> = [(vote, &shared.vote), (result, &shared.result)]
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
