//! Errors as HTTP responses: every service's error type says its status once, and
//! the body is always `{"error": "..."}`, with a fixed `reason` word beside it where a
//! client acts on which refusal it got (a page asking for a passcode, say).

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::body::{json, Body};

/// An error that a service answers a request with.
pub trait HttpError: std::fmt::Display {
    /// The status this error is answered with.
    fn status(&self) -> StatusCode;

    /// How long the client should wait before trying again (sent as `Retry-After`).
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// A fixed word for this refusal that clients may branch on; `None` where the
    /// status says enough.
    fn reason(&self) -> Option<&'static str> {
        None
    }

    /// The JSON error response.
    fn to_response(&self) -> Response<Body> {
        let mut response = error_json(self.status(), &self.to_string(), self.reason());
        if let Some(wait) = self.retry_after() {
            // Retry-After takes whole seconds (RFC 9110 §10.2.3); never advertise 0.
            let seconds = wait.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// A `{"error": message}` response with `status`.
pub fn error_body(status: StatusCode, message: &str) -> Response<Body> {
    error_json(status, message, None)
}

fn error_json(status: StatusCode, message: &str, reason: Option<&'static str>) -> Response<Body> {
    json(
        status,
        &ErrorBody {
            error: message,
            reason,
        },
    )
}
