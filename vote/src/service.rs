//! The vote service's routes and its readiness.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Response};
use redis::aio::ConnectionManager;
use tally_runtime::{Body, Handler, HttpError, Request, RequestContext};

use crate::accept::accept;
use crate::cookie::VoterSigner;
use crate::error::VoteError;
use crate::polls::PollDefinitions;
use crate::queue::{Backlog, Queue};

/// Names the replica that answered, so that balancing can be seen from outside.
pub const REPLICA_HEADER: &str = "x-tally-replica";

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub struct VoteService {
    pub(crate) signer: VoterSigner,
    pub(crate) polls: PollDefinitions,
    pub(crate) queue: Queue,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) queue_high_water: u64,
    pub(crate) max_body_bytes: usize,
    pub(crate) redis: ConnectionManager,
    pub(crate) replica: HeaderValue,
}

impl Handler for VoteService {
    async fn handle(self: Arc<Self>, request: Request, _context: RequestContext) -> Response<Body> {
        let replica = self.replica.clone();
        let result = match (request.method(), request.uri().path()) {
            (&Method::POST, "/vote" | "/") => accept(self, request).await,
            (_, "/vote" | "/") => Err(VoteError::MethodNotAllowed),
            _ => Err(VoteError::NotFound),
        };
        let mut response = result.unwrap_or_else(|error| {
            if error.status().is_server_error() {
                tracing::warn!(%error, "vote not accepted");
            }
            error.to_response()
        });
        if response.status() == http::StatusCode::METHOD_NOT_ALLOWED {
            let allow = HeaderValue::from_static("POST");
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response.headers_mut().insert(REPLICA_HEADER, replica);
        response
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.redis.clone())
            .await
            .map(|_| ())
            .map_err(|error| format!("redis: {error}"))
    }
}
