//! The result service's routes and its readiness.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Response, StatusCode};
use tally_runtime::{Body, Handler, HttpError, Request, RequestContext, OTHER_ROUTE};

use crate::document::{self, ResultsRequest};
use crate::error::ResultError;
use crate::events::page::{PageRequest, PageSources};
use crate::events::{self, event_path_of, EventPath, EventStore};
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
    pub(crate) events: EventStore,
    pub(crate) live: Live,
}

impl ResultService {
    /// A service answering from `lookup` and `events`, with `live` serving the live
    /// feeds (`/live/<poll>`, `/live/e/<code>`).
    pub fn new(lookup: ResultsLookup, events: EventStore, live: Live) -> Self {
        ResultService {
            lookup,
            events,
            live,
        }
    }
}

impl Handler for ResultService {
    async fn handle(self: Arc<Self>, request: Request, _context: RequestContext) -> Response<Body> {
        if let Some(poll) = live::route::poll_of(request.uri().path()) {
            let poll = poll.to_owned();
            return self.live.accept(request, &poll);
        }
        if let Some(code) = live::route::event_of(request.uri().path()) {
            let code = code.to_owned();
            return self.live.accept_event(request, &code);
        }
        let event_path = event_path_of(request.uri().path());
        match event_path {
            Some(EventPath::Page(code) | EventPath::Qr(code)) => {
                let sources = PageSources {
                    events: &self.events,
                    results: &self.lookup,
                };
                let page = PageRequest {
                    method: request.method(),
                    headers: request.headers(),
                    authority: request.uri().authority().map(|a| a.as_str()),
                    code,
                };
                let qr = matches!(event_path, Some(EventPath::Qr(_)));
                return events::page::respond(sources, page, qr).await;
            }
            Some(EventPath::Join(typed)) => {
                let query = request.uri().query();
                return events::join::respond(&self.events, request.method(), typed, query).await;
            }
            Some(EventPath::Document(_)) | None => {}
        }
        if let Some(poll_page) = page::poll_page_of(request.uri().path()) {
            let authority = request.uri().authority().map(|a| a.as_str());
            let (method, headers) = (request.method(), request.headers());
            return page::respond(&self.lookup, method, headers, authority, poll_page).await;
        }
        let path = request.uri().path();
        let result = match (request.method(), event_path, route_of(path)) {
            (method, Some(EventPath::Document(code)), _) => {
                events::document::respond(&self.events, method, request.headers(), code).await
            }
            (&Method::GET | &Method::HEAD, _, Some((poll, format))) => {
                let asked = ResultsRequest {
                    method: request.method(),
                    headers: request.headers(),
                    query: request.uri().query(),
                    poll,
                    format,
                };
                document::respond(&self.lookup, asked).await
            }
            (_, _, Some(_)) => Err(ResultError::MethodNotAllowed),
            (_, _, None) => Err(ResultError::NotFound),
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

    const ROUTES: &'static [&'static str] = &[
        "results",
        "results_csv",
        "results_ballots",
        "live",
        "live_event",
        "poll_page",
        "event",
        "event_page",
        "join",
        OTHER_ROUTE,
    ];

    fn route(&self, request: &Request) -> &'static str {
        let path = request.uri().path();
        if live::route::poll_of(path).is_some() {
            "live"
        } else if live::route::event_of(path).is_some() {
            "live_event"
        } else if let Some(event_path) = event_path_of(path) {
            event_path.label()
        } else if page::poll_page_of(path).is_some() {
            "poll_page"
        } else {
            match route_of(path) {
                Some((_, Format::Json)) => "results",
                Some((_, Format::Csv)) => "results_csv",
                Some((_, Format::Ballots)) => "results_ballots",
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
