//! The worker's HTTP side: only `/healthz` and `/readyz` (answered by the runtime).

use std::sync::Arc;

use deadpool_postgres::Pool;
use http::{Response, StatusCode};
use redis::aio::ConnectionManager;
use tally_runtime::{error_body, Body, Handler, Request, RequestContext};

/// Health of the worker's dependencies.
#[derive(Debug)]
pub struct WorkerHealth {
    pub(crate) redis: ConnectionManager,
    pub(crate) pool: Pool,
}

impl Handler for WorkerHealth {
    async fn handle(
        self: Arc<Self>,
        _request: Request,
        _context: RequestContext,
    ) -> Response<Body> {
        error_body(
            StatusCode::NOT_FOUND,
            "the worker serves only /healthz and /readyz",
        )
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.redis.clone())
            .await
            .map_err(|error| format!("redis: {error}"))?;
        let client = self
            .pool
            .get()
            .await
            .map_err(|error| format!("postgres: {error}"))?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|error| format!("postgres: {error}"))?;
        Ok(())
    }
}
