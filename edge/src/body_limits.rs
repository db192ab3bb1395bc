//! How large a request body the edge passes on: one limit for every route, and a larger
//! one for `POST /events`, whose body holds a whole event (up to 30 questions, each as
//! large as a poll; the vote service reads up to 31 times its poll limit for it), and
//! for `POST /events/<code>/block-words`, whose body holds a whole block list (up to
//! 500 answers of 40 characters: 96 KiB at most in the vote service).

use http::Method;

/// The path whose `POST` creates an event.
const EVENTS_PATH: &str = "/events";

/// The last segment of the path whose `POST` replaces an event's block list.
const BLOCK_LIST_COMMAND: &str = "/block-words";

/// The body limits, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Every request but an event's creation.
    pub default: u64,
    /// `POST /events` and `POST /events/<code>/block-words`.
    pub event: u64,
}

impl BodyLimits {
    /// The limit for a request with `method` on `path`.
    pub fn for_request(&self, method: &Method, path: &str) -> u64 {
        let block_list = path
            .strip_prefix(EVENTS_PATH)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.strip_suffix(BLOCK_LIST_COMMAND))
            .is_some_and(|code| !code.is_empty() && !code.contains('/'));
        if method == Method::POST && (path == EVENTS_PATH || block_list) {
            self.event
        } else {
            self.default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_event_creation_and_a_block_list_get_the_larger_limit() {
        let limits = BodyLimits {
            default: 64,
            event: 512,
        };
        assert_eq!(limits.for_request(&Method::POST, "/events"), 512);
        assert_eq!(
            limits.for_request(&Method::POST, "/events/12345678/block-words"),
            512
        );
        for (method, path) in [
            (Method::POST, "/events/12345678/next"),
            (Method::POST, "/events//block-words"),
            (Method::POST, "/events/1/2/block-words"),
            (Method::GET, "/events/12345678/block-words"),
            (Method::POST, "/vote"),
            (Method::PUT, "/events"),
            (Method::POST, "/events/"),
        ] {
            assert_eq!(limits.for_request(&method, path), 64, "{method} {path}");
        }
    }
}
