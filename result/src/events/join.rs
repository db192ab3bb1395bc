//! `/j/<code>` and `/j?code=<code>`: what a person typed (with spaces, dashes or dots
//! between the groups), sent on to the event's page with `303 See Other`; a code that
//! names no event, or is not a code, gets the join form again with the reason.

use http::{header, HeaderValue, Method, Response, StatusCode};
use percent_encoding::percent_decode_str;
use tally_model::event::normalise_join_code;
use tally_runtime::Body;

use super::html::join_page;
use super::store::EventStore;
use crate::error::ResultError;
use crate::page::{html_response, method_not_allowed_page};

/// Longest text kept from what was typed, to show it back: a code with separators fits.
const MAX_TYPED_CHARS: usize = 40;

/// Answers a join request; `typed` is the path segment after `/j/` (still encoded),
/// or `None` for `/j`, whose code is the `code` field of `query`.
pub async fn respond(
    events: &EventStore,
    method: &Method,
    typed: Option<&str>,
    query: Option<&str>,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed_page();
    }
    let typed = match typed {
        Some(segment) => Some(percent_decode_str(segment).decode_utf8_lossy().into_owned()),
        None => code_field(query),
    };
    let mut response = match typed {
        None => html_response(StatusCode::OK, join_page(None, "")),
        Some(typed) => join(events, &typed).await,
    };
    if method == Method::HEAD {
        *response.body_mut() = tally_runtime::empty();
    }
    response
}

async fn join(events: &EventStore, typed: &str) -> Response<Body> {
    let shown: String = typed.chars().take(MAX_TYPED_CHARS).collect();
    let Some(code) = normalise_join_code(typed) else {
        return html_response(
            StatusCode::BAD_REQUEST,
            join_page(Some("A join code is 8 digits, like 1234 5678."), &shown),
        );
    };
    match events.by_code(&code).await {
        // While the event cannot be read, its page says so (and a reload may work).
        Ok(_) | Err(ResultError::Unavailable) => see_other(&format!("/e/{code}")),
        Err(_) => html_response(
            StatusCode::NOT_FOUND,
            join_page(
                Some(
                    "No event has this code. Check it on the presenter's screen and type it again.",
                ),
                &shown,
            ),
        ),
    }
}

/// The `code` field of a query string, if it has a non-empty one.
fn code_field(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code)
        .filter(|code| !code.trim().is_empty())
}

/// `303 See Other` to `location`, a path built from a checked code.
fn see_other(location: &str) -> Response<Body> {
    let mut response = Response::new(tally_runtime::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_field_is_read_from_the_query() {
        assert_eq!(
            code_field(Some("code=1234+5678")).as_deref(),
            Some("1234 5678")
        );
        assert_eq!(code_field(Some("x=1&code=12-34")).as_deref(), Some("12-34"));
        assert_eq!(code_field(Some("code=")), None);
        assert_eq!(code_field(Some("code=%20")), None);
        assert_eq!(code_field(None), None);
    }
}
