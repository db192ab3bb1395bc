//! The result service's routes and its readiness.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Response, StatusCode};
use tally_runtime::{Body, Handler, HttpError, Request, RequestContext, OTHER_ROUTE};

use crate::document::{self, ResultsRequest};
use crate::error::ResultError;
use crate::live::{self, Live};
use crate::lookup::ResultsLookup;
use crate::page;
use crate::route::{route_of, Format};

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
        let result = match (request.method(), route_of(request.uri().path())) {
            (&Method::GET | &Method::HEAD, Some((poll, format))) => {
                let asked = ResultsRequest {
                    method: request.method(),
                    headers: request.headers(),
                    query: request.uri().query(),
                    poll,
                    format,
                };
                document::respond(&self.lookup, asked).await
            }
            (_, Some(_)) => Err(ResultError::MethodNotAllowed),
            (_, None) => Err(ResultError::NotFound),
        };
        let mut response = result.unwrap_or_else(|error| error.to_response());
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, CACHE_CONTROL);
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(header::ALLOW, ALLOW);
        }
        if response.status() == StatusCode::UNAUTHORIZED {
            // The scheme the client must use (RFC 9110 §11.6.1, RFC 6750 §3).
            let challenge = HeaderValue::from_static("Bearer");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }

    const ROUTES: &'static [&'static str] =
        &["results", "results_csv", "live", "poll_page", OTHER_ROUTE];

    fn route(&self, request: &Request) -> &'static str {
        let path = request.uri().path();
        if live::route::poll_of(path).is_some() {
            "live"
        } else if page::poll_page_of(path).is_some() {
            "poll_page"
        } else {
            match route_of(path) {
                Some((_, Format::Json)) => "results",
                Some((_, Format::Csv)) => "results_csv",
                None => OTHER_ROUTE,
            }
        }
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
