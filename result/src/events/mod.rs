//! Events as the room reaches them through the result service: `GET /events/<code>`
//! (the state as JSON, the question list too for the owner), `/e/<code>` (the audience
//! page, plain HTML that works without JavaScript), `/e/<code>/qr.svg` (the join link as
//! a QR code) and `/j/<code>` or `/j?code=` (what a person types, sent on to the page).
//! The live feed of an event is [`crate::live`]'s.

pub mod document;
mod html;
pub mod join;
pub mod page;
pub mod store;

use tally_model::event::is_join_code;

pub use store::{EventStore, FoundEvent};

/// The JSON state's path prefix: `/events/<code>`.
const DOCUMENT_PREFIX: &str = "/events/";

/// The audience page's path prefix: `/e/<code>`.
const PAGE_PREFIX: &str = "/e/";

/// The QR code's file under the audience page's path.
const QR_FILE: &str = "qr.svg";

/// The join path: `/j` with `?code=`, or `/j/<code as typed>`.
const JOIN_PATH: &str = "/j";

/// What an event path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPath<'p> {
    /// `/events/<code>`: the state as JSON.
    Document(&'p str),
    /// `/e/<code>`: the audience page.
    Page(&'p str),
    /// `/e/<code>/qr.svg`: the join link as a QR code.
    Qr(&'p str),
    /// `/j` (the code in the query) or `/j/<typed>` (the code as typed, still encoded).
    Join(Option<&'p str>),
}

impl EventPath<'_> {
    /// The `route` label of the HTTP metrics.
    pub fn label(self) -> &'static str {
        match self {
            EventPath::Document(_) => "event",
            EventPath::Page(_) | EventPath::Qr(_) => "event_page",
            EventPath::Join(_) => "join",
        }
    }
}

/// The event path `path` names, or `None`. Document and page paths take the canonical
/// code only (8 digits); `/j/` takes whatever was typed and tidies it.
pub fn event_path_of(path: &str) -> Option<EventPath<'_>> {
    if let Some(code) = path.strip_prefix(DOCUMENT_PREFIX) {
        return is_join_code(code).then_some(EventPath::Document(code));
    }
    if let Some(rest) = path.strip_prefix(PAGE_PREFIX) {
        let page = match rest.split_once('/') {
            None => EventPath::Page(rest),
            Some((code, QR_FILE)) => EventPath::Qr(code),
            Some(_) => return None,
        };
        let (EventPath::Page(code) | EventPath::Qr(code)) = page else {
            return None;
        };
        return is_join_code(code).then_some(page);
    }
    let rest = path.strip_prefix(JOIN_PATH)?;
    if rest.is_empty() {
        return Some(EventPath::Join(None));
    }
    let typed = rest.strip_prefix('/')?;
    (!typed.is_empty() && !typed.contains('/')).then_some(EventPath::Join(Some(typed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_what_they_ask_for() {
        assert_eq!(
            event_path_of("/events/01234567"),
            Some(EventPath::Document("01234567"))
        );
        assert_eq!(
            event_path_of("/e/01234567"),
            Some(EventPath::Page("01234567"))
        );
        assert_eq!(
            event_path_of("/e/01234567/qr.svg"),
            Some(EventPath::Qr("01234567"))
        );
        assert_eq!(event_path_of("/j"), Some(EventPath::Join(None)));
        assert_eq!(
            event_path_of("/j/1234%205678"),
            Some(EventPath::Join(Some("1234%205678")))
        );
    }

    #[test]
    fn other_paths_are_not_event_paths() {
        for path in [
            "/events",
            "/events/",
            "/events/1234567",
            "/events/123456789",
            "/events/1234abcd",
            "/events/01234567/next",
            "/e/",
            "/e/1234",
            "/e/01234567/present",
            "/e/01234567/qr.svg/x",
            "/j/",
            "/j/1/2",
            "/jx",
            "/join",
        ] {
            assert_eq!(event_path_of(path), None, "{path}");
        }
    }
}
