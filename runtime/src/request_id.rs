//! The id a request carries through the edge, the services and their logs: the inbound
//! `x-request-id` when it is a sane token, else a fresh UUIDv7 (time-ordered, so logs
//! sort by it). Held as a header value, so echoing it on the response and passing it
//! upstream shares one buffer instead of copying the text each time.

use std::fmt;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use uuid::timestamp::context::{ContextV7, ThreadLocalContext};
use uuid::Timestamp;

/// The header that carries a request's id between the edge, the services and logs.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

thread_local! {
    /// The counter behind each thread's ids. `Uuid::now_v7` shares one behind a
    /// process-wide lock, which every request of every worker thread took; ids from one
    /// thread still come in order, and across threads they stay unique (a random counter
    /// start each millisecond, then random bits).
    static ID_CLOCK: ContextV7 = const { ContextV7::new() };
}

/// Longest inbound request id kept; longer ones are replaced, so logs stay bounded.
const MAX_REQUEST_ID_LEN: usize = 128;

/// A request's id: printable ASCII, at most [`MAX_REQUEST_ID_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The inbound id in `headers` when it is a sane token, otherwise a fresh one.
    pub fn of(headers: &HeaderMap) -> RequestId {
        headers
            .get(&REQUEST_ID)
            .filter(|id| is_sane(id.as_bytes()))
            .map(|id| RequestId(id.clone()))
            .unwrap_or_else(RequestId::fresh)
    }

    /// A new id, a UUIDv7 in lower-case hex without dashes.
    pub fn fresh() -> RequestId {
        let clock = ThreadLocalContext::new(&ID_CLOCK);
        let mut text = [0; uuid::fmt::Simple::LENGTH];
        uuid::Uuid::new_v7(Timestamp::now(clock))
            .simple()
            .encode_lower(&mut text);
        RequestId(HeaderValue::from_bytes(&text).expect("hex digits are a valid header value"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only sane tokens and hex digits are ever held: ASCII.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value (a shared buffer: cloning it copies no text).
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl From<&str> for RequestId {
    /// `text` when it is a sane token, otherwise a fresh id.
    fn from(text: &str) -> RequestId {
        if is_sane(text.as_bytes()) {
            RequestId(HeaderValue::from_str(text).expect("a sane token is a valid header value"))
        } else {
            RequestId::fresh()
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Whether an inbound id is short and made of token characters only, so that it is
/// safe in logs and headers.
fn is_sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_with(id: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_bytes(id).expect("value"));
        headers
    }

    #[test]
    fn a_sane_inbound_id_is_kept() {
        let id = RequestId::of(&headers_with(b"edge-1.a_b:c"));
        assert_eq!(id.as_str(), "edge-1.a_b:c");
        assert_eq!(id.header_value(), "edge-1.a_b:c");
    }

    #[test]
    fn a_missing_long_or_odd_id_is_replaced_by_a_fresh_one() {
        let long = vec![b'a'; MAX_REQUEST_ID_LEN + 1];
        for headers in [
            HeaderMap::new(),
            headers_with(b""),
            headers_with(&long),
            headers_with(b"a b"),
            headers_with(b"a\"b"),
        ] {
            let id = RequestId::of(&headers);
            assert_eq!(id.as_str().len(), 32, "{id}");
            assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        assert_ne!(RequestId::fresh(), RequestId::fresh());
    }

    #[test]
    fn fresh_ids_are_unique_across_threads_and_in_order_within_one() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..2000)
                        .map(|_| RequestId::fresh().as_str().to_owned())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for thread in threads {
            let ids = thread.join().expect("thread");
            assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
            all.extend(ids);
        }
        assert_eq!(all.len(), 4 * 2000);
    }

    #[test]
    fn text_is_checked_like_a_header() {
        assert_eq!(RequestId::from("r-1").as_str(), "r-1");
        assert_eq!(RequestId::from("no spaces").as_str().len(), 32);
    }
}
