//! The result service's routes and its readiness.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use tally_runtime::{json_bytes, Body, Handler, HttpError, Request, RequestContext};

use crate::error::ResultError;
use crate::live::{self, Live};
use crate::lookup::ResultsLookup;
use crate::page;
use crate::route::poll_of;

/// Results change with every vote; a cached copy is stale at once.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("no-store");

/// The methods the results route answers, for `Allow` on a 405.
const ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub struct ResultService {
    pub(crate) lookup: ResultsLookup,
    pub(crate) live: Live,
}

impl ResultService {
    /// A service answering from `lookup`, with `live` serving `/live/<poll>`.
    pub fn new(lookup: ResultsLookup, live: Live) -> Self {
        ResultService { lookup, live }
    }
}

impl Handler for ResultService {
    async fn handle(self: Arc<Self>, request: Request, _context: RequestContext) -> Response<Body> {
        if let Some(poll) = live::route::poll_of(request.uri().path()) {
            let poll = poll.to_owned();
            return self.live.accept(request, &poll);
        }
        if let Some(poll_page) = page::poll_page_of(request.uri().path()) {
            let authority = request.uri().authority().map(|a| a.as_str());
            let (method, headers) = (request.method(), request.headers());
            return page::respond(&self.lookup, method, headers, authority, poll_page).await;
        }
        let head = request.method() == Method::HEAD;
        let result = match (request.method(), poll_of(request.uri().path())) {
            (&Method::GET | &Method::HEAD, Some(poll)) => self.lookup.body(poll).await,
            (_, Some(_)) => Err(ResultError::MethodNotAllowed),
            (_, None) => Err(ResultError::NotFound),
        };
        let mut response = match result {
            Ok(body) => results_response(body, head),
            Err(error) => error.to_response(),
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, CACHE_CONTROL);
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(header::ALLOW, ALLOW);
        }
        response
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        let (redis, postgres) =
            tokio::join!(self.lookup.cache().ping(), self.lookup.database().ping());
        let down: Vec<String> = [
            redis.err().map(|error| format!("redis: {error}")),
            postgres.err().map(|error| format!("postgres: {error}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(down.join("; "))
        }
    }
}

/// `200` with the results JSON; for HEAD the same headers and no body.
fn results_response(body: Bytes, head: bool) -> Response<Body> {
    if !head {
        return json_bytes(StatusCode::OK, body);
    }
    // An empty body; the length says what GET would send (RFC 9110 §9.3.2).
    let mut response = json_bytes(StatusCode::OK, Bytes::new());
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    response
}
