//! What the server sends a live client: JSON text frames, and the close codes it ends with.

use serde::Serialize;
use tally_model::event::{EventDefinition, EventView};
use tally_model::timestamp::parse_ms;
use tally_model::PollResults;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A text frame from the server (see README, "Live results").
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage<'a> {
    /// The poll's results, always the public view.
    Results {
        /// The document as `GET /results/<poll>` serves it.
        results: &'a PollResults,
    },
    /// An event's public state: sent first on an event's feed, then on each change.
    Event {
        /// The view `GET /events/<code>` gives anyone.
        event: &'a EventView,
    },
    /// The state of the feed itself.
    Status {
        /// `reconnecting` while Redis is lost, `live` once it is back.
        state: &'static str,
    },
}

/// The text of a results frame: the public view of `results` at `now_ms`.
pub fn results_text(results: &PollResults, now_ms: u64) -> Result<Utf8Bytes, serde_json::Error> {
    let view = results.clone().public_view(now_ms);
    serde_json::to_string(&ServerMessage::Results { results: &view }).map(Utf8Bytes::from)
}

/// A published document with its frame rendered once for every client watching: the
/// clients of a busy poll share one buffer instead of each serialising its own copy.
#[derive(Debug)]
pub struct Rendered {
    /// The document as published (with its counts).
    pub results: PollResults,
    text: Utf8Bytes,
    /// When the public view changes by itself: the closing time of a poll still open.
    stale_at_ms: Option<u64>,
}

impl Rendered {
    /// Renders `results` as of `now_ms`.
    pub fn new(results: PollResults, now_ms: u64) -> Result<Rendered, serde_json::Error> {
        let text = results_text(&results, now_ms)?;
        let stale_at_ms = results
            .closes_at
            .as_deref()
            .and_then(|closes_at| parse_ms(closes_at).ok())
            .filter(|closes_at| results.open && *closes_at > now_ms);
        Ok(Rendered {
            results,
            text,
            stale_at_ms,
        })
    }

    /// The document's version.
    pub fn version(&self) -> i64 {
        self.results.version
    }

    /// The frame's text at `now_ms`: the shared rendering unless the poll has closed
    /// by time since.
    pub fn text(&self, now_ms: u64) -> Result<Utf8Bytes, serde_json::Error> {
        match self.stale_at_ms {
            Some(stale_at) if now_ms >= stale_at => results_text(&self.results, now_ms),
            _ => Ok(self.text.clone()),
        }
    }
}

/// An event's published definition with its public frame rendered once for every
/// client following the event.
#[derive(Debug)]
pub struct RenderedEvent {
    /// The definition as published (with the owner's hash: never sent).
    pub definition: EventDefinition,
    /// Its public view.
    pub view: EventView,
    text: Utf8Bytes,
}

impl RenderedEvent {
    /// Renders the public frame of `definition`.
    pub fn new(definition: EventDefinition) -> Result<RenderedEvent, serde_json::Error> {
        let view = definition.view();
        let text = serde_json::to_string(&ServerMessage::Event { event: &view })?;
        Ok(RenderedEvent {
            definition,
            view,
            text: Utf8Bytes::from(text),
        })
    }

    /// The frame's text.
    pub fn text(&self) -> Utf8Bytes {
        self.text.clone()
    }
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
    /// No event has the join code (the same code as an unknown poll).
    UnknownEvent,
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
            Ending::UnknownPoll | Ending::UnknownEvent => CloseCode::Library(UNKNOWN_POLL_CODE),
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
            Ending::UnknownEvent => "no such event",
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

    fn hidden_until(closes_at: &str) -> PollResults {
        serde_json::from_value(serde_json::json!({
            "poll": "p", "question": "Q?", "options": [{"id": "a", "label": "A", "votes": 3}],
            "total": 3, "updated_at": "2026-01-01T00:00:00.000Z", "version": 1,
            "hide_results": true, "closes_at": closes_at,
        }))
        .expect("a document")
    }

    #[test]
    fn a_shared_frame_is_rendered_again_once_the_poll_closes_by_time() {
        // 2026-05-01T18:00:00Z
        let closes_at = 1_777_658_400_000;
        let rendered = Rendered::new(hidden_until("2026-05-01T18:00:00.000Z"), closes_at - 1)
            .expect("renders");
        let before = rendered.text(closes_at - 1).expect("text");
        assert!(
            before.as_str().contains(r#""votes":null"#),
            "{}",
            before.as_str()
        );
        let after = rendered.text(closes_at).expect("text");
        assert!(
            after.as_str().contains(r#""votes":3"#),
            "{}",
            after.as_str()
        );
    }

    #[test]
    fn close_codes_follow_the_contract() {
        assert_eq!(u16::from(Ending::UnknownPoll.code()), 4404);
        assert_eq!(u16::from(Ending::TooManyClients.code()), 1013);
        assert_eq!(u16::from(Ending::TooSlow.code()), 1008);
        assert_eq!(u16::from(Ending::ShuttingDown.code()), 1001);
    }
}
