//! The edge's request handling: route, then proxy or serve a file, then add the
//! security headers; and its readiness.

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use tally_runtime::{Body, Handler, HttpError, Request, RequestContext};

use crate::proxy::Proxy;
use crate::routes::{route, Route};
use crate::security::add_security_headers;
use crate::static_files::StaticFiles;
use crate::upstream::Pool;

/// Time one upstream has to answer `/healthz` during a readiness check.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub struct EdgeService {
    pub(crate) proxy: Proxy,
    pub(crate) vote: Pool,
    pub(crate) result: Pool,
    pub(crate) files: StaticFiles,
}

impl Handler for EdgeService {
    async fn handle(self: Arc<Self>, request: Request, context: RequestContext) -> Response<Body> {
        let answer = match route(request.method(), request.uri().path()) {
            Route::Vote => self.proxy.forward(&self.vote, request, &context).await,
            Route::Result => self.proxy.forward(&self.result, request, &context).await,
            Route::Static => {
                self.files
                    .serve(request.method(), request.uri().path(), request.headers())
            }
        };
        let mut response = answer.unwrap_or_else(|error| error.to_response());
        add_security_headers(response.headers_mut());
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
        for upstream in pool.upstreams() {
            if self.proxy.healthy(upstream, HEALTH_CHECK_TIMEOUT).await {
                return true;
            }
        }
        false
    }
}
