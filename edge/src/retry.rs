//! When a failed upstream attempt may be tried again on another replica. After
//! pingora's errors, each failure carries whether a retry is safe, decided where the
//! failure is understood (connect errors are always safe: nothing was sent), and
//! [`Retries`] keeps the budget across the attempts of one request.

use http::Method;

/// Replicas one request is tried on at most: enough to get past one or two that just
/// died, few enough that a pool that is wholly down answers quickly.
pub const MAX_ATTEMPTS: usize = 3;

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be opened (refused, unreachable, connect timeout): nothing
    /// of the request left the edge.
    Connect,
    /// The request went out (or may have) and the connection failed before a response
    /// head came back.
    BeforeResponse,
    /// A reused connection turned out closed (the replica closed it while it sat idle)
    /// before any of the request was written; hyper gave the request back.
    Unsent,
    /// The replica refused the request before processing any of it: HTTP/2's
    /// `REFUSED_STREAM` (RFC 9113 §8.7), or a stream above the last one a `GOAWAY`
    /// says it processed (§6.8), as when a replica shuts down.
    Refused,
    /// The client's body passed the size limit while it was being sent.
    BodyTooLarge,
}

/// Whether another attempt may follow a failure (pingora's `RetryType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Always safe: the upstream saw nothing.
    Safe,
    /// Safe once per request: the method is safe and idempotent (RFC 9110 §9.2.1,
    /// §9.2.2) and its body, if any, was never sent, so repeating it elsewhere changes
    /// nothing.
    Once,
    /// Not safe: the upstream may have acted on it (a POST that reached it).
    Never,
}

/// One failed attempt.
#[derive(Debug)]
pub struct AttemptError {
    /// What went wrong.
    pub failure: Failure,
    /// Whether another replica may be tried.
    pub retry: Retry,
}

impl AttemptError {
    /// Classifies a failure of a request with `method`; `body_unsent` says no byte of
    /// the client's body was taken, `body_too_large` that the limit stopped it.
    pub fn classify(
        failure: Failure,
        method: &Method,
        body_unsent: bool,
        body_too_large: bool,
    ) -> AttemptError {
        let failure = if body_too_large {
            Failure::BodyTooLarge
        } else {
            failure
        };
        AttemptError {
            failure,
            retry: retry_for(failure, method, body_unsent),
        }
    }
}

/// The retry rule: connect failures are retried for any method whose body is still
/// here; a GET or HEAD that failed before its response once; nothing else.
pub fn retry_for(failure: Failure, method: &Method, body_unsent: bool) -> Retry {
    match failure {
        Failure::Connect | Failure::Unsent | Failure::Refused if body_unsent => Retry::Safe,
        Failure::Connect | Failure::BeforeResponse
            if body_unsent && (method == Method::GET || method == Method::HEAD) =>
        {
            Retry::Once
        }
        _ => Retry::Never,
    }
}

/// How a replica refused a request without processing it ([`Failure::Refused`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This request only (`REFUSED_STREAM`: too many at once, say); the connection
    /// takes others.
    Stream,
    /// The connection takes no more requests (`GOAWAY`: the replica is shutting down).
    GoingAway,
}

/// Whether `error` (of one attempt's HTTP/2 stream) says that the replica refused the
/// request without processing it, and how.
pub fn refusal(error: &h2::Error) -> Option<Refusal> {
    if !error.is_remote() {
        return None;
    }
    // h2 gives a received GOAWAY's error only to the streams above its last stream id,
    // whatever its code: the streams the replica processed end as the connection does.
    if error.is_go_away() {
        return Some(Refusal::GoingAway);
    }
    match error.reason() {
        Some(h2::Reason::REFUSED_STREAM) if error.is_reset() => Some(Refusal::Stream),
        _ => None,
    }
}

/// The retry budget of one request.
#[derive(Debug, Default)]
pub struct Retries {
    attempts: usize,
    repeated_after_send: bool,
}

impl Retries {
    /// Counts an attempt about to be made.
    pub fn attempt(&mut self) {
        self.attempts += 1;
    }

    /// Whether another attempt may follow `error`.
    pub fn allow(&mut self, error: &AttemptError) -> bool {
        if self.attempts >= MAX_ATTEMPTS {
            return false;
        }
        match error.retry {
            Retry::Safe => true,
            Retry::Once if !self.repeated_after_send => {
                self.repeated_after_send = true;
                true
            }
            Retry::Once | Retry::Never => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(failure: Failure, method: &Method, body_unsent: bool) -> AttemptError {
        AttemptError {
            failure,
            retry: retry_for(failure, method, body_unsent),
        }
    }

    #[test]
    fn the_rule() {
        use Failure::*;
        let cases = [
            (Connect, Method::POST, true, Retry::Safe),
            (Connect, Method::GET, true, Retry::Safe),
            (Unsent, Method::POST, true, Retry::Safe),
            (Refused, Method::POST, true, Retry::Safe),
            (Refused, Method::POST, false, Retry::Never),
            (BeforeResponse, Method::GET, true, Retry::Once),
            (BeforeResponse, Method::HEAD, true, Retry::Once),
            (BeforeResponse, Method::POST, true, Retry::Never),
            (BeforeResponse, Method::PUT, true, Retry::Never),
            (BeforeResponse, Method::DELETE, true, Retry::Never),
            (BeforeResponse, Method::GET, false, Retry::Never),
            (BodyTooLarge, Method::POST, false, Retry::Never),
        ];
        for (failure, method, unsent, expected) in cases {
            assert_eq!(
                retry_for(failure, &method, unsent),
                expected,
                "{failure:?} {method}"
            );
        }
    }

    #[test]
    fn connect_failures_are_retried_up_to_the_attempt_limit() {
        let mut retries = Retries::default();
        let refused = error(Failure::Connect, &Method::POST, true);
        for _ in 1..MAX_ATTEMPTS {
            retries.attempt();
            assert!(retries.allow(&refused));
        }
        retries.attempt();
        assert!(!retries.allow(&refused));
    }

    #[test]
    fn a_get_that_reached_an_upstream_is_repeated_once() {
        let mut retries = Retries::default();
        let cut = error(Failure::BeforeResponse, &Method::GET, true);
        retries.attempt();
        assert!(retries.allow(&cut));
        retries.attempt();
        assert!(!retries.allow(&cut));

        let mut retries = Retries::default();
        retries.attempt();
        assert!(!retries.allow(&error(Failure::BeforeResponse, &Method::POST, true)));
    }
}
