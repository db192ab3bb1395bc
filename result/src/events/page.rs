//! `GET /e/<code>` (the audience page of an event, showing the question the presenter
//! shows now) and `GET /e/<code>/qr.svg` (its join link as a QR code, for a projector).

use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use tally_runtime::{full, Body};

use super::html::{audience_page, join_page, ShownQuestion};
use super::store::EventStore;
use crate::error::ResultError;
use crate::lookup::ResultsLookup;
use crate::page::view::{chosen_options, now_ms, PageView};
use crate::page::{html_response, method_not_allowed_page, qr, unavailable_page};

/// The join link does not change; a projector's browser may keep the picture an hour.
const QR_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=3600");

const SVG: HeaderValue = HeaderValue::from_static("image/svg+xml");

/// Everything an event page reads from.
#[derive(Debug, Clone, Copy)]
pub struct PageSources<'s> {
    /// Events by code.
    pub events: &'s EventStore,
    /// Results of the questions.
    pub results: &'s ResultsLookup,
}

/// What the page request is.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'r> {
    /// GET or HEAD (anything else is answered 405).
    pub method: &'r Method,
    /// Its headers (the choice cookie; the forwarded host for the QR code's link).
    pub headers: &'r HeaderMap,
    /// The request URI's authority, when it has one.
    pub authority: Option<&'r str>,
    /// The join code.
    pub code: &'r str,
}

/// Answers `/e/<code>`, or `/e/<code>/qr.svg` when `qr`.
pub async fn respond(
    sources: PageSources<'_>,
    request: PageRequest<'_>,
    qr: bool,
) -> Response<Body> {
    if request.method != Method::GET && request.method != Method::HEAD {
        return method_not_allowed_page();
    }
    let mut response = if qr {
        qr_code(sources.events, request).await
    } else {
        audience(sources, request).await
    };
    if request.method == Method::HEAD {
        *response.body_mut() = tally_runtime::empty();
    }
    response
}

async fn qr_code(events: &EventStore, request: PageRequest<'_>) -> Response<Body> {
    match events.by_code(request.code).await {
        // A QR code needs no state: while the event cannot be read, it is still the link.
        Ok(_) | Err(ResultError::Unavailable) => {
            let path = format!("/j/{}", request.code);
            let url = qr::share_url(request.headers, request.authority, &path);
            let mut response = Response::new(full(qr::svg(&url)));
            response.headers_mut().insert(header::CONTENT_TYPE, SVG);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, QR_CACHE_CONTROL);
            response
        }
        Err(error) => failure_page(&error, request.code),
    }
}

async fn audience(sources: PageSources<'_>, request: PageRequest<'_>) -> Response<Body> {
    let found = match sources.events.by_code(request.code).await {
        Ok(found) => found,
        Err(error) => return failure_page(&error, request.code),
    };
    let event = found.definition.view();
    let Some(current) = &event.current else {
        return html_response(StatusCode::OK, audience_page(&event, None));
    };
    let view = match sources.results.body(&current.poll).await.and_then(|body| {
        PageView::from_document(&body, now_ms()).map_err(|error| {
            tracing::error!(%error, poll = current.poll, "results document did not parse");
            ResultError::Unavailable
        })
    }) {
        Ok(view) => view,
        Err(error) => return failure_page(&error, request.code),
    };
    let chosen = chosen_options(request.headers, &current.poll);
    let shown = ShownQuestion {
        view: &view,
        chosen: &chosen,
    };
    html_response(StatusCode::OK, audience_page(&event, Some(shown)))
}

/// The page for an event that is not there (the join form again) or cannot be read.
fn failure_page(error: &ResultError, code: &str) -> Response<Body> {
    match error {
        ResultError::UnknownEvent(_) | ResultError::UnknownPoll(_) => html_response(
            StatusCode::NOT_FOUND,
            join_page(
                Some(
                    "No event has this code. Check it on the presenter's screen and type it again.",
                ),
                code,
            ),
        ),
        _ => unavailable_page(
            "The event is unavailable",
            "The event cannot be read right now. Reload the page in a moment.",
        ),
    }
}
