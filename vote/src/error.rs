//! Everything the vote service can answer instead of `202`, each with its status.

use std::time::Duration;

use http::StatusCode;
use tally_model::event::EventRuleError;
use tally_model::passcode::PasscodeError;
use tally_model::{BallotError, EventBallotError, PollRuleError};
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
    /// A content type other than JSON where only JSON is read (changes to questions).
    #[error("send the body as application/json")]
    JsonOnly,
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
    /// No event has this join code, or the path does not name one.
    #[error("{0}")]
    UnknownEvent(String),
    /// A new event breaks a rule (title, number of questions, a question's own rules).
    #[error("{0}")]
    EventRule(#[from] EventRuleError),
    /// The event does not take a ballot on this question now (locked, not current).
    #[error("{0}")]
    EventBallot(#[from] EventBallotError),
    /// A presenter's command that the event's state does not allow (next past the last
    /// question, close with nothing shown).
    #[error("{0}")]
    EventState(String),
    /// A position past the event's last question.
    #[error("position {0} is past the last question: the event has {1}")]
    NoSuchPosition(usize, usize),
    /// No owner token was presented for an event command.
    #[error("send the event's owner token as Authorization: Bearer <token>")]
    OwnerUnauthorized,
    /// A ballot without a valid voter cookie on a poll that counts one per browser.
    #[error(
        "this poll takes one ballot per browser: load its page first (that gives this \
         browser its voter cookie), then send the ballot with the cookie"
    )]
    VoterCookieRequired,
    /// A ballot without a voter code on a poll that counts one per code.
    #[error("this poll takes one ballot per voter code: send the code you were given as \"code\"")]
    VoterCodeRequired,
    /// A voter code that is not one of the poll's.
    #[error("this is not one of this poll's voter codes")]
    UnknownVoterCode,
    /// A ballot without the room passcode on a poll that takes one.
    #[error("this poll takes the room's passcode: send it as \"passcode\"")]
    PasscodeRequired,
    /// A passcode that is not the room's.
    #[error("this is not the room's passcode")]
    WrongPasscode,
    /// A new poll's or event's passcode that cannot be taken.
    #[error("{0}")]
    Passcode(#[from] PasscodeError),
    /// The owner token is not this event's.
    #[error("this token does not own event {0:?}")]
    OwnerForbidden(String),
    /// Every join code tried was taken (vanishingly rare below millions of events).
    #[error("no free join code was found; try again shortly")]
    NoFreeCode,
    /// The queue is above its high-water mark.
    #[error("too many votes are waiting to be counted; try again shortly")]
    Busy,
    /// Redis did not answer.
    #[error("the vote queue is unavailable; try again shortly")]
    QueueUnavailable,
    /// `VOTE_DURABILITY=fsync`, and Redis is not seen to fsync every write.
    #[error("votes are not taken now: {0}; try again shortly")]
    NotDurable(&'static str),
    /// `VOTE_DURABILITY=replicated`, and no replica confirmed the entry in time. The
    /// entry is in the stream and may be counted; sending the same ballot again replaces
    /// it rather than adding one.
    #[error("no Redis replica confirmed the vote in time; send it again")]
    NotReplicated,
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
            VoteError::UnsupportedMediaType | VoteError::JsonOnly => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            VoteError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            VoteError::UnknownPoll(_) | VoteError::NotFound => StatusCode::NOT_FOUND,
            VoteError::UnknownEvent(_) => StatusCode::NOT_FOUND,
            VoteError::Closed(_) | VoteError::EventBallot(_) | VoteError::EventState(_) => {
                StatusCode::CONFLICT
            }
            VoteError::Ballot(_)
            | VoteError::PollRule(_)
            | VoteError::EventRule(_)
            | VoteError::NoSuchPosition(..)
            | VoteError::Passcode(_) => StatusCode::UNPROCESSABLE_ENTITY,
            VoteError::Unauthorized | VoteError::OwnerUnauthorized => StatusCode::UNAUTHORIZED,
            VoteError::Forbidden(_)
            | VoteError::OwnerForbidden(_)
            | VoteError::VoterCookieRequired
            | VoteError::VoterCodeRequired
            | VoteError::UnknownVoterCode
            | VoteError::PasscodeRequired
            | VoteError::WrongPasscode => StatusCode::FORBIDDEN,
            VoteError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            VoteError::Busy
            | VoteError::QueueUnavailable
            | VoteError::NotDurable(_)
            | VoteError::NotReplicated
            | VoteError::NoFreeCode => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(
            self,
            VoteError::Busy
                | VoteError::QueueUnavailable
                | VoteError::NotDurable(_)
                | VoteError::NotReplicated
                | VoteError::NoFreeCode
        )
        .then_some(RETRY_AFTER)
    }

    /// The ballot's refusal reason (the metrics' label), for the refusals a page
    /// answers by asking the voter for something: the cookie, a code, the passcode.
    fn reason(&self) -> Option<&'static str> {
        match self {
            VoteError::VoterCookieRequired
            | VoteError::VoterCodeRequired
            | VoteError::UnknownVoterCode
            | VoteError::PasscodeRequired
            | VoteError::WrongPasscode => crate::metrics::reason_of(self),
            _ => None,
        }
    }
}
