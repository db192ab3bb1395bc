//! Errors as HTTP responses: every service's error type says its status once, and
//! the body is always `{"error": "..."}`.

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

    /// The JSON error response.
    fn to_response(&self) -> Response<Body> {
        let mut response = error_body(self.status(), &self.to_string());
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
}

/// A `{"error": message}` response with `status`.
pub fn error_body(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &ErrorBody { error: message })
}
