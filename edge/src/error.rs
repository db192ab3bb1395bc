//! Everything the edge itself answers with instead of a file or an upstream's response.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use tally_runtime::{error_body, Body, HttpError};

/// The methods a static path answers, for `Allow` on a 405 (RFC 9110 §15.5.6).
const STATIC_ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");

/// Why the edge answered a request itself.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// No file and no route for this path.
    #[error("not found")]
    NotFound,
    /// A static path asked for with a method other than GET or HEAD.
    #[error("method not allowed; use GET or HEAD")]
    MethodNotAllowed,
    /// The request body is over the limit.
    #[error("request body is larger than {0} bytes")]
    TooLarge(u64),
    /// The client did not finish sending the body it announced in time.
    #[error("request body not received in time")]
    BodyTimeout,
    /// The client's body broke off or was malformed.
    #[error("request body could not be read")]
    BodyUnreadable,
    /// No upstream of this kind could be reached, or it failed mid-answer.
    #[error("upstream {0} unavailable")]
    UpstreamUnavailable(&'static str),
    /// The upstream did not send its response headers in time.
    #[error("upstream {0} timed out")]
    UpstreamTimeout(&'static str),
}

impl HttpError for EdgeError {
    fn status(&self) -> StatusCode {
        match self {
            EdgeError::NotFound => StatusCode::NOT_FOUND,
            EdgeError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            EdgeError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            EdgeError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            EdgeError::BodyUnreadable => StatusCode::BAD_REQUEST,
            EdgeError::UpstreamUnavailable(_) => StatusCode::BAD_GATEWAY,
            EdgeError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn to_response(&self) -> Response<Body> {
        let mut response = error_body(self.status(), &self.to_string());
        if matches!(self, EdgeError::MethodNotAllowed) {
            response.headers_mut().insert(header::ALLOW, STATIC_ALLOW);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_allow() {
        let response = EdgeError::MethodNotAllowed.to_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(
            EdgeError::UpstreamUnavailable("vote").status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            EdgeError::UpstreamUnavailable("vote").to_string(),
            "upstream vote unavailable"
        );
        assert_eq!(
            EdgeError::UpstreamTimeout("result").status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert!(!EdgeError::TooLarge(1)
            .to_response()
            .headers()
            .contains_key(header::ALLOW));
    }
}
