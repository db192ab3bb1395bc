//! Everything the vote service can answer instead of `202`, each with its status.

use std::time::Duration;

use http::StatusCode;
use tally_model::{BallotError, PollRuleError};
use tally_runtime::HttpError;

/// How long a client is told to wait when the queue is full or Redis is away.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why a vote was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    /// The body could not be read as a ballot.
    #[error("{0}")]
    Malformed(String),
    /// A content type other than JSON or a form.
    #[error("send the body as application/json or application/x-www-form-urlencoded")]
    UnsupportedMediaType,
    /// The body is larger than the configured limit.
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// No poll with that id.
    #[error("no poll {0:?}")]
    UnknownPoll(String),
    /// The poll is closed.
    #[error("poll {0:?} is closed")]
    Closed(String),
    /// The ballot does not fit the poll.
    #[error("{0}")]
    Ballot(BallotError),
    /// A new poll breaks a rule (options, lengths, closing time).
    #[error("{0}")]
    PollRule(#[from] PollRuleError),
    /// No admin token was presented.
    #[error("send the poll's admin token as Authorization: Bearer <token>")]
    Unauthorized,
    /// The admin token is not this poll's.
    #[error("this token does not administer poll {0:?}")]
    Forbidden(String),
    /// No such route.
    #[error("no such endpoint")]
    NotFound,
    /// The route exists but not for this method.
    #[error("method not allowed; use POST")]
    MethodNotAllowed,
    /// The queue is above its high-water mark.
    #[error("too many votes are waiting to be counted; try again shortly")]
    Busy,
    /// Redis did not answer.
    #[error("the vote queue is unavailable; try again shortly")]
    QueueUnavailable,
}

impl From<BallotError> for VoteError {
    fn from(error: BallotError) -> Self {
        match error {
            BallotError::Closed(poll) => VoteError::Closed(poll),
            other => VoteError::Ballot(other),
        }
    }
}

impl HttpError for VoteError {
    fn status(&self) -> StatusCode {
        match self {
            VoteError::Malformed(_) => StatusCode::BAD_REQUEST,
            VoteError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            VoteError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            VoteError::UnknownPoll(_) | VoteError::NotFound => StatusCode::NOT_FOUND,
            VoteError::Closed(_) => StatusCode::CONFLICT,
            VoteError::Ballot(_) | VoteError::PollRule(_) => StatusCode::UNPROCESSABLE_ENTITY,
            VoteError::Unauthorized => StatusCode::UNAUTHORIZED,
            VoteError::Forbidden(_) => StatusCode::FORBIDDEN,
            VoteError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            VoteError::Busy | VoteError::QueueUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, VoteError::Busy | VoteError::QueueUnavailable).then_some(RETRY_AFTER)
    }
}
