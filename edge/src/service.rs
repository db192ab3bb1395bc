//! The edge's request handling: route, admit (redirect, limits, rate), then proxy or
//! serve a file, and hand a new voter its cookie with a voting page; and its readiness.
//! Security headers are set by the serve loop.

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use tally_runtime::{Body, Handler, HttpError, HttpMetrics, Request, RequestContext};

use crate::access_log::AccessEntry;
use crate::admission::Admission;
use crate::proxy::Proxy;
use crate::routes::{self, static_alias, Route, Routes};
use crate::static_files::StaticFiles;
use crate::upstream::Pool;
use crate::voter_issue::VoterIssue;

/// Longest a readiness check waits for replicas the health checks have not judged yet
/// (the edge just started, or DNS just named them): they are checked within
/// [`crate::health::FIRST_CHECK_INTERVAL`], and a check takes `EDGE_HEALTH_TIMEOUT`
/// (1 s) at most.
const READINESS_PATIENCE: Duration = Duration::from_secs(1);

/// How often a readiness check looks again while it waits for a first health check.
const READINESS_POLL: Duration = Duration::from_millis(10);

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
    pub(crate) voters: VoterIssue,
}

impl Handler for EdgeService {
    // Not an `async fn`, which would hold the request and the context twice in its
    // future (as arguments and as the locals they are moved into); see `Proxy::forward`.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn's future holds its arguments twice"
    )]
    fn handle(
        self: Arc<Self>,
        mut request: Request,
        context: RequestContext,
    ) -> impl std::future::Future<Output = Response<Body>> + Send + 'static {
        async move {
            let route = self
                .shared
                .routes
                .route(request.method(), request.uri().path());
            // What the access line needs after the request is gone, kept only when the line
            // will be written.
            let logged = AccessEntry::enabled().then(|| {
                let started = tokio::time::Instant::now();
                (started, request.method().clone(), request.uri().clone())
            });
            let shared = &self.shared;
            let refused = shared.admission.refuse(&mut request, &context, route);
            // Decided now: the response no longer knows the request's cookie. The cookie is
            // HTTPS-only when the client's own connection was, here or at a trusted proxy.
            let new_voter = shared.voters.wanted(&request).then(|| {
                let trusted = &shared.admission.trusted;
                let (peer, headers) = (context.peer.ip(), request.headers());
                let secure = trusted.client_used_https(peer, context.tls, headers);
                (trusted.client_ip(peer, headers), secure)
            });
            let pool = match route {
                Route::Vote => Some(&shared.vote),
                Route::Result => Some(&shared.result),
                Route::Static => None,
            };
            let (answer, upstream) = match (refused, pool) {
                (Some(refused), _) => (Ok(refused), None),
                (None, Some(pool)) => match self.proxy.forward(pool, request, &context).await {
                    Ok((response, served_by)) => (Ok(response), Some(served_by)),
                    Err(error) => (Err(error), None),
                },
                (None, None) => {
                    let path = request.uri().path();
                    let file = static_alias(path).unwrap_or(path);
                    let served = shared
                        .files
                        .serve(request.method(), file, request.headers());
                    (served, None)
                }
            };
            let mut response = answer.unwrap_or_else(|error| error.to_response());
            if let Some((client, secure)) = new_voter {
                shared.voters.issue(&mut response, client, secure);
            }
            if let Some((started, method, uri)) = &logged {
                AccessEntry {
                    method,
                    path: uri.path(),
                    route: route.label(),
                    status: response.status(),
                    upstream,
                    duration: started.elapsed(),
                    request_id: context.request_id.as_str(),
                }
                .log();
            }
            response
        }
    }

    const ROUTES: &'static [&'static str] = &routes::LABELS;

    fn route(&self, request: &Request) -> &'static str {
        self.shared
            .routes
            .route(request.method(), request.uri().path())
            .label()
    }

    /// Ready when at least one replica of each upstream has passed its last active
    /// check (on `EDGE_HEALTH_PATH`): what the edge routes by, not a probe of its own.
    async fn ready(self: Arc<Self>) -> Result<(), String> {
        let shared = &self.shared;
        let (vote, result) = tokio::join!(
            any_confirmed(&shared.vote, READINESS_PATIENCE),
            any_confirmed(&shared.result, READINESS_PATIENCE)
        );
        let down: Vec<String> = [(vote, &shared.vote), (result, &shared.result)]
            .into_iter()
            .filter(|(ready, _)| !ready)
            .map(|(_, pool)| format!("no healthy {} upstream", pool.kind()))
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(down.join("; "))
        }
    }
}

/// Whether a replica of `pool` is in use and its last active check passed; while no
/// replica has passed but some are still to be checked, waits up to `patience` for them.
async fn any_confirmed(pool: &Pool, patience: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let replicas = pool.replicas();
        if replicas.iter().any(|replica| replica.health.is_confirmed()) {
            return true;
        }
        let unchecked = replicas.iter().any(|replica| !replica.health.is_checked());
        if !unchecked || tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(READINESS_POLL).await;
    }
}
