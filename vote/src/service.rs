//! The vote service's routes (ballots, polls and their commands, events and their
//! commands) and its readiness.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Response};
use redis::aio::ConnectionManager;
use tally_model::Keys;
use tally_runtime::{Body, Handler, HttpError, Request, RequestContext, OTHER_ROUTE};

use crate::accept::accept;
use crate::admin::{command, command_of};
use crate::create::create;
use crate::error::VoteError;
use crate::event_command::{event_command, event_command_of, EVENTS_PATH};
use crate::event_create::create_event;
use crate::events::EventDefinitions;
use crate::metrics::{command_label, event_command_label, reason_of, VoteMetrics};
use crate::polls::PollDefinitions;
use crate::queue::{Backlog, Queue};
use tally_voter::VoterSigner;

/// Names the replica that answered, so that balancing can be seen from outside.
pub const REPLICA_HEADER: &str = "x-tally-replica";

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub struct VoteService {
    pub(crate) signer: VoterSigner,
    pub(crate) polls: PollDefinitions,
    pub(crate) events: EventDefinitions,
    pub(crate) keys: Keys,
    pub(crate) queue: Queue,
    pub(crate) backlog: Arc<Backlog>,
    pub(crate) queue_high_water: u64,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_poll_body_bytes: usize,
    pub(crate) redis: ConnectionManager,
    pub(crate) replica: HeaderValue,
    pub(crate) metrics: VoteMetrics,
}

impl Handler for VoteService {
    async fn handle(self: Arc<Self>, request: Request, _context: RequestContext) -> Response<Body> {
        let replica = self.replica.clone();
        let path = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let result = match (request.method(), path.as_str()) {
            (&Method::POST, "/vote" | "/") => {
                let result = accept(self, request).await;
                if let Some(reason) = result.as_ref().err().and_then(reason_of) {
                    metrics.rejected(reason);
                }
                result
            }
            (&Method::POST, "/polls") => {
                let result = create(self, request).await;
                if result.is_ok() {
                    metrics.command("create");
                }
                result
            }
            (&Method::POST, EVENTS_PATH) => {
                let result = create_event(self, request).await;
                if result.is_ok() {
                    metrics.command("event_create");
                }
                result
            }
            (_, "/vote" | "/" | "/polls" | EVENTS_PATH) => Err(VoteError::MethodNotAllowed),
            (method, path) => match (event_command_of(path), command_of(path)) {
                (Some(_), _) if method != Method::POST => Err(VoteError::MethodNotAllowed),
                (Some(Ok((code, action))), _) => {
                    let result = event_command(self, request, code, action).await;
                    if result.is_ok() {
                        metrics.command(event_command_label(action));
                    }
                    result
                }
                (Some(Err(error)), _) => Err(error),
                (None, Some((poll, action))) if method == Method::POST => {
                    let result = command(self, request, poll, action).await;
                    if result.is_ok() {
                        metrics.command(command_label(action));
                    }
                    result
                }
                (None, Some(_)) => Err(VoteError::MethodNotAllowed),
                (None, None) => Err(VoteError::NotFound),
            },
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
        if response.status() == http::StatusCode::UNAUTHORIZED {
            // The scheme the client must use (RFC 9110 §11.6.1, RFC 6750 §3).
            let challenge = HeaderValue::from_static("Bearer");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response.headers_mut().insert(REPLICA_HEADER, replica);
        response
    }

    const ROUTES: &'static [&'static str] = &[
        "vote",
        "polls",
        "poll_command",
        "events",
        "event_command",
        OTHER_ROUTE,
    ];

    fn route(&self, request: &Request) -> &'static str {
        match request.uri().path() {
            "/vote" | "/" => "vote",
            "/polls" => "polls",
            path if command_of(path).is_some() => "poll_command",
            EVENTS_PATH => "events",
            path if event_command_of(path).is_some() => "event_command",
            _ => OTHER_ROUTE,
        }
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.redis.clone())
            .await
            .map_err(|error| format!("redis: {error}"))?;
        match self.queue.durability_problem().await {
            Some(problem) => Err(format!("durability: {problem}")),
            None => Ok(()),
        }
    }
}
