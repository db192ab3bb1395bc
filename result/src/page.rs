//! The poll pages the result service renders: `GET /p/<id>`, the vote page as plain
//! HTML that works without JavaScript, and `GET /p/<id>/qr.svg`, a QR code of its
//! share link for a projector.

pub(crate) mod html;
pub(crate) mod qr;
pub(crate) mod ranking;
pub(crate) mod view;
pub(crate) mod words;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use tally_model::poll::is_valid_poll_id;
use tally_runtime::{full, Body};

use crate::error::{ResultError, RETRY_AFTER};
use crate::lookup::ResultsLookup;
use view::PageView;

/// Where poll pages live.
const POLL_PAGES: &str = "/p/";

/// The QR code's file name under a poll's path.
const QR_FILE: &str = "qr.svg";

/// The vote page shows live counts: never reuse a copy.
const PAGE_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("no-store");

/// A share link does not change; a host's browsers may keep its picture for an hour.
const QR_CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=3600");

const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const SVG: HeaderValue = HeaderValue::from_static("image/svg+xml");
const ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");

/// Which page a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollPage<'p> {
    /// `/p/<id>`: the vote page.
    Vote(&'p str),
    /// `/p/<id>/qr.svg`: the share link as a QR code.
    Qr(&'p str),
}

/// The poll page `path` names, or `None` (also for ids that cannot exist).
pub fn poll_page_of(path: &str) -> Option<PollPage<'_>> {
    let rest = path.strip_prefix(POLL_PAGES)?;
    let page = match rest.split_once('/') {
        None => PollPage::Vote(rest),
        Some((poll, QR_FILE)) => PollPage::Qr(poll),
        Some(_) => return None,
    };
    let (PollPage::Vote(poll) | PollPage::Qr(poll)) = page;
    is_valid_poll_id(poll).then_some(page)
}

/// Answers a request for `page`.
pub async fn respond(
    lookup: &ResultsLookup,
    method: &Method,
    headers: &HeaderMap,
    authority: Option<&str>,
    page: PollPage<'_>,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed_page();
    }
    let head = method == Method::HEAD;
    let found = match page {
        PollPage::Vote(poll) | PollPage::Qr(poll) => lookup.body(poll).await,
    };
    let mut response = match (page, found) {
        (PollPage::Vote(poll), Ok(body)) => vote_page(poll, &body, headers),
        (PollPage::Qr(poll), Ok(_) | Err(ResultError::Unavailable)) => {
            let url = qr::share_url(headers, authority, &format!("/p/{poll}"));
            let mut response = Response::new(full(qr::svg(&url)));
            response.headers_mut().insert(header::CONTENT_TYPE, SVG);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, QR_CACHE_CONTROL);
            response
        }
        (_, Err(ResultError::Unavailable)) => unavailable_page(
            "Results are unavailable",
            "The poll cannot be read right now. Reload the page in a moment.",
        ),
        (_, Err(_)) => html_response(
            StatusCode::NOT_FOUND,
            html::error_page(
                "No such poll",
                "This link names no poll. Check the address, or start a new poll.",
            ),
        ),
    };
    if head {
        *response.body_mut() = tally_runtime::empty();
    }
    response
}

/// The vote page from the results document `body` as the cache or Postgres holds it.
fn vote_page(poll: &str, body: &Bytes, headers: &HeaderMap) -> Response<Body> {
    match PageView::from_document(body, view::now_ms()) {
        Ok(view) => {
            let chosen = view::chosen_options(headers, poll);
            html_response(StatusCode::OK, html::vote_page(&view, &chosen))
        }
        Err(error) => {
            tracing::error!(%error, poll, "results document did not parse");
            html_response(
                StatusCode::SERVICE_UNAVAILABLE,
                html::error_page(
                    "Results are unavailable",
                    "The poll cannot be shown right now. Reload the page in a moment.",
                ),
            )
        }
    }
}

/// `405` for a page, which can only be read.
pub(crate) fn method_not_allowed_page() -> Response<Body> {
    let mut response = html_response(
        StatusCode::METHOD_NOT_ALLOWED,
        html::error_page("Method not allowed", "This page can only be read."),
    );
    response.headers_mut().insert(header::ALLOW, ALLOW);
    response
}

/// `503` with `title` and `message`, and when to try again.
pub(crate) fn unavailable_page(title: &str, message: &str) -> Response<Body> {
    let mut response = html_response(
        StatusCode::SERVICE_UNAVAILABLE,
        html::error_page(title, message),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(RETRY_AFTER.as_secs().max(1)),
    );
    response
}

pub(crate) fn html_response(status: StatusCode, page: String) -> Response<Body> {
    let mut response = Response::new(full(page));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HTML);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, PAGE_CACHE_CONTROL);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_a_page_and_a_valid_poll() {
        assert_eq!(poll_page_of("/p/x7Kq2"), Some(PollPage::Vote("x7Kq2")));
        assert_eq!(poll_page_of("/p/x7Kq2/qr.svg"), Some(PollPage::Qr("x7Kq2")));
        for path in [
            "/p/",
            "/p/x/live",
            "/p/x/qr.svg/y",
            "/p/a.b",
            "/p/../x",
            "/results",
            "/p",
        ] {
            assert_eq!(poll_page_of(path), None, "{path}");
        }
    }
}
