//! Which feed a live path asks for: `/live` is the default poll, `/live/<poll>` any
//! other, `/live/e/<code>` an event's (a poll id cannot hold `/`, so they never meet).

use tally_model::event::is_join_code;
use tally_model::poll::is_valid_poll_id;
use tally_model::DEFAULT_POLL_ID;

/// The live feed's path prefix.
pub const LIVE_PATH: &str = "/live";

/// An event's live feed: `/live/e/<code>`.
pub const LIVE_EVENT_PATH: &str = "/live/e/";

/// The poll `path` asks the live feed of, or `None` when it is not a live path or names
/// a poll id that cannot exist.
pub fn poll_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(LIVE_PATH)?;
    if rest.is_empty() {
        return Some(DEFAULT_POLL_ID);
    }
    let poll = rest.strip_prefix('/')?;
    is_valid_poll_id(poll).then_some(poll)
}

/// The join code of the event whose live feed `path` asks for, or `None`.
pub fn event_of(path: &str) -> Option<&str> {
    let code = path.strip_prefix(LIVE_EVENT_PATH)?;
    is_join_code(code).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_paths_name_their_poll() {
        assert_eq!(poll_of("/live"), Some("default"));
        assert_eq!(poll_of("/live/default"), Some("default"));
        assert_eq!(poll_of("/live/x7Kq2ab_-9"), Some("x7Kq2ab_-9"));
    }

    #[test]
    fn other_paths_are_not_live() {
        for path in [
            "/",
            "/live/",
            "/lively",
            "/live/a/b",
            "/live/..",
            "/results/a",
        ] {
            assert_eq!(poll_of(path), None, "{path}");
        }
    }

    #[test]
    fn event_paths_name_a_join_code() {
        assert_eq!(event_of("/live/e/01234567"), Some("01234567"));
        assert_eq!(poll_of("/live/e/01234567"), None);
        for path in ["/live/e/", "/live/e/123", "/live/e/01234567/x", "/live/e"] {
            assert_eq!(event_of(path), None, "{path}");
        }
    }
}
