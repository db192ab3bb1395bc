//! Request limits the edge answers itself, as JSON: request heads over the size or field
//! count limit (431, RFC 6585 §5) and clients over their vote rate (429 with
//! `Retry-After`, RFC 6585 §4). hyper enforces a hard ceiling of twice the configured
//! limits while reading ([`hard_limits`]); past that it closes with a bare 431.

use std::time::Duration;

use http::{Request, StatusCode};
use tally_runtime::HttpError;

/// hyper's own limits are this many times the edge's, so requests between the two get
/// the JSON answer and only absurd ones are cut off while reading.
const HARD_LIMIT_FACTOR: usize = 2;

/// Bytes counted per field beyond name and value: `": "` and CRLF on HTTP/1.1.
const FIELD_OVERHEAD: usize = 4;

/// Why the edge refused a request before routing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The request line and header fields are larger than allowed.
    #[error("request header fields are larger than {0} bytes")]
    HeadersTooLarge(usize),
    /// More header fields than allowed.
    #[error("more than {0} request header fields")]
    TooManyHeaders(usize),
    /// The client is over its rate on the vote routes.
    #[error("too many requests; retry later")]
    RateLimited(Duration),
}

impl HttpError for LimitError {
    fn status(&self) -> StatusCode {
        match self {
            LimitError::HeadersTooLarge(_) | LimitError::TooManyHeaders(_) => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            LimitError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            // Retry-After has whole seconds; round up so a client that obeys succeeds.
            LimitError::RateLimited(wait) => {
                Some(Duration::from_secs(wait.as_secs_f64().ceil() as u64))
            }
            _ => None,
        }
    }
}

/// The size and count limits of a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLimits {
    /// Largest request line plus header fields, in bytes.
    pub max_bytes: usize,
    /// Most header fields.
    pub max_count: usize,
}

impl HeaderLimits {
    /// Checks the head of a request against the limits.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), LimitError> {
        if request.headers().len() > self.max_count {
            return Err(LimitError::TooManyHeaders(self.max_count));
        }
        let target = request
            .uri()
            .path_and_query()
            .map_or(1, |target| target.as_str().len());
        let request_line = request.method().as_str().len() + target + "  HTTP/1.1\r\n".len();
        let fields: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + FIELD_OVERHEAD)
            .sum();
        if request_line + fields > self.max_bytes {
            return Err(LimitError::HeadersTooLarge(self.max_bytes));
        }
        Ok(())
    }

    /// hyper's ceilings for these limits: `(max_header_bytes, max_headers)`.
    pub fn hard_limits(&self) -> (usize, usize) {
        (
            self.max_bytes.saturating_mul(HARD_LIMIT_FACTOR),
            self.max_count.saturating_mul(HARD_LIMIT_FACTOR),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeaderLimits = HeaderLimits {
        max_bytes: 200,
        max_count: 3,
    };

    fn head(headers: &[(&str, String)]) -> Request<()> {
        let mut request = Request::get("/vote?x=1");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.body(()).expect("request")
    }

    #[test]
    fn within_the_limits() {
        assert_eq!(
            LIMITS.check(&head(&[("a", "1".into()), ("b", "2".into())])),
            Ok(())
        );
    }

    #[test]
    fn too_many_or_too_large_is_431() {
        let many = head(&[
            ("a", "1".into()),
            ("b", "2".into()),
            ("c", "3".into()),
            ("d", "4".into()),
        ]);
        let error = LIMITS.check(&many).expect_err("too many");
        assert_eq!(error, LimitError::TooManyHeaders(3));
        assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let large = head(&[("cookie", "x".repeat(200))]);
        assert_eq!(LIMITS.check(&large), Err(LimitError::HeadersTooLarge(200)));
    }

    /// RFC 6585 §4: 429 may say how long to wait; whole seconds, rounded up.
    #[test]
    fn rate_limited_is_429_with_retry_after() {
        let response = LimitError::RateLimited(Duration::from_millis(1200)).to_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
        assert_eq!(LIMITS.hard_limits(), (400, 6));
    }
}
