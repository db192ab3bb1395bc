//! What the server sends a live client: JSON text frames, and the close codes it ends with.

use serde::Serialize;
use tally_model::PollResults;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A text frame from the server (see README, "Live results").
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage<'a> {
    /// The poll's results, always the public view.
    Results {
        /// The document as `GET /results/<poll>` serves it.
        results: &'a PollResults,
    },
    /// The state of the feed itself.
    Status {
        /// `reconnecting` while Redis is lost, `live` once it is back.
        state: &'static str,
    },
}

/// Status sent when the Redis link is lost.
pub const RECONNECTING: &str = "reconnecting";
/// Status sent when the Redis link is back (a fresh snapshot follows).
pub const LIVE: &str = "live";

/// Why the server ends a session: the close code and its reason (RFC 6455 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The poll does not exist (private-use code, RFC 6455 §7.4.2).
    UnknownPoll,
    /// This process serves its maximum of live clients (1013 Try Again Later).
    TooManyClients,
    /// The client does not read fast enough (1008 Policy Violation).
    TooSlow,
    /// The service is shutting down (1001 Going Away).
    ShuttingDown,
    /// Results could not be read (1011 Internal Error).
    Unavailable,
    /// The client did not answer a ping (1001 Going Away).
    NoPong,
}

/// The private-use close code for an unknown poll, echoing HTTP's 404.
pub const UNKNOWN_POLL_CODE: u16 = 4404;

impl Ending {
    /// The close code.
    pub fn code(self) -> CloseCode {
        match self {
            Ending::UnknownPoll => CloseCode::Library(UNKNOWN_POLL_CODE),
            Ending::TooManyClients => CloseCode::Again,
            Ending::TooSlow => CloseCode::Policy,
            Ending::ShuttingDown | Ending::NoPong => CloseCode::Away,
            Ending::Unavailable => CloseCode::Error,
        }
    }

    /// The close reason (at most 123 bytes, RFC 6455 §5.5).
    pub fn reason(self) -> &'static str {
        match self {
            Ending::UnknownPoll => "no such poll",
            Ending::TooManyClients => "too many live clients",
            Ending::TooSlow => "too slow",
            Ending::ShuttingDown => "server shutting down",
            Ending::Unavailable => "results unavailable; try again shortly",
            Ending::NoPong => "no pong",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_frames_are_tagged_json() {
        let text = serde_json::to_string(&ServerMessage::Status {
            state: RECONNECTING,
        })
        .expect("serialises");
        assert_eq!(text, r#"{"type":"status","state":"reconnecting"}"#);
    }

    #[test]
    fn close_codes_follow_the_contract() {
        assert_eq!(u16::from(Ending::UnknownPoll.code()), 4404);
        assert_eq!(u16::from(Ending::TooManyClients.code()), 1013);
        assert_eq!(u16::from(Ending::TooSlow.code()), 1008);
        assert_eq!(u16::from(Ending::ShuttingDown.code()), 1001);
    }
}
