//! Everything the result service can answer instead of results, each with its status.

use std::time::Duration;

use http::StatusCode;
use tally_runtime::HttpError;

/// How long a client is told to wait when neither the cache nor Postgres answered.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Why a request got no results.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// No route for this path (including poll ids that cannot exist).
    #[error("no such endpoint")]
    NotFound,
    /// A well-formed poll id that names no poll.
    #[error("no poll {0:?}")]
    UnknownPoll(String),
    /// A well-formed join code that names no event.
    #[error("no event with join code {0}")]
    UnknownEvent(String),
    /// A token that is not the event owner's.
    #[error("this token is not the owner's of event {0}")]
    NotOwner(String),
    /// The route exists but not for this method.
    #[error("method not allowed; use GET or HEAD")]
    MethodNotAllowed,
    /// An admin-only resource asked for without a token.
    #[error("send the poll's admin token as Authorization: Bearer <token>")]
    Unauthorized,
    /// A token that does not administer this poll.
    #[error("this token does not administer poll {0:?}")]
    Forbidden(String),
    /// The token could not be checked (the poll definitions in Redis are unreachable).
    #[error("the admin token cannot be checked right now; try again shortly")]
    AdminUnavailable,
    /// The cache missed and Postgres did not answer.
    #[error("results are unavailable; try again shortly")]
    Unavailable,
}

impl HttpError for ResultError {
    fn status(&self) -> StatusCode {
        match self {
            ResultError::NotFound | ResultError::UnknownPoll(_) | ResultError::UnknownEvent(_) => {
                StatusCode::NOT_FOUND
            }
            ResultError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ResultError::Unauthorized => StatusCode::UNAUTHORIZED,
            ResultError::Forbidden(_) | ResultError::NotOwner(_) => StatusCode::FORBIDDEN,
            ResultError::Unavailable | ResultError::AdminUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(
            self,
            ResultError::Unavailable | ResultError::AdminUnavailable
        )
        .then_some(RETRY_AFTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_poll_names_the_poll_as_json_string() {
        assert_eq!(
            ResultError::UnknownPoll("x".into()).to_string(),
            "no poll \"x\""
        );
    }

    #[test]
    fn only_unavailable_asks_to_retry() {
        let response = ResultError::Unavailable.to_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "2");
        assert!(ResultError::NotFound.retry_after().is_none());
    }
}
