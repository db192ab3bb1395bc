//! How large a request body the edge passes on: one limit for every route, and a larger
//! one for `POST /events`, whose body holds a whole event (up to 30 questions, each as
//! large as a poll; the vote service reads up to 31 times its poll limit for it).

use http::Method;

/// The path whose `POST` creates an event.
const EVENTS_PATH: &str = "/events";

/// The body limits, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Every request but an event's creation.
    pub default: u64,
    /// `POST /events`.
    pub event: u64,
}

impl BodyLimits {
    /// The limit for a request with `method` on `path`.
    pub fn for_request(&self, method: &Method, path: &str) -> u64 {
        if method == Method::POST && path == EVENTS_PATH {
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
    fn only_an_event_creation_gets_the_larger_limit() {
        let limits = BodyLimits {
            default: 64,
            event: 512,
        };
        assert_eq!(limits.for_request(&Method::POST, "/events"), 512);
        for (method, path) in [
            (Method::POST, "/events/12345678/next"),
            (Method::POST, "/vote"),
            (Method::PUT, "/events"),
            (Method::POST, "/events/"),
        ] {
            assert_eq!(limits.for_request(&method, path), 64, "{method} {path}");
        }
    }
}
