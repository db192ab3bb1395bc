//! Conditional requests on static files: `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range`, evaluated in the order and with
//! the precedence of RFC 9110 §13.2.2.

use std::time::SystemTime;

use http::header::{self, HeaderMap, HeaderValue};
use http::Method;

use crate::etag::{parse_list, strong_match, weak_match};

/// What the preconditions say about a request for a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answer normally; `range_allowed` is false when `If-Range` did not match, so a
    /// `Range` must be ignored and the whole representation sent (§13.1.5).
    Proceed { range_allowed: bool },
    /// `304 Not Modified` (§15.4.5).
    NotModified,
    /// `412 Precondition Failed` (§15.5.13).
    Failed,
}

/// The current representation's validators.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// Its strong entity tag.
    pub etag: &'a HeaderValue,
    /// Its modification time, whole seconds (what `Last-Modified` says).
    pub modified: SystemTime,
}

/// Evaluates the request's preconditions against `current` (RFC 9110 §13.2.2):
/// 1. `If-Match` → 412 unless a member matches strongly; when absent,
/// 2. `If-Unmodified-Since` → 412 if modified after the date;
/// 3. `If-None-Match` → 304 (GET/HEAD) if a member matches weakly; when absent,
/// 4. `If-Modified-Since` (GET/HEAD) → 304 unless modified after the date;
/// 5. `If-Range` (GET with `Range`) decides whether the range applies.
pub fn evaluate(method: &Method, headers: &HeaderMap, current: Validators<'_>) -> Outcome {
    let safe = method == Method::GET || method == Method::HEAD;
    // Step 1, §13.1.1: "*" matches any current representation.
    if let Some(if_match) = list_of(headers, &header::IF_MATCH) {
        if !if_match.iter().any(|m| strong_match(*m, current.etag)) {
            return Outcome::Failed;
        }
    } else if let Some(since) = date_of(headers, &header::IF_UNMODIFIED_SINCE) {
        // Step 2, §13.1.4.
        if current.modified > since {
            return Outcome::Failed;
        }
    }
    if let Some(if_none_match) = list_of(headers, &header::IF_NONE_MATCH) {
        // Step 3, §13.1.2: weak comparison.
        if if_none_match.iter().any(|m| weak_match(*m, current.etag)) {
            return if safe {
                Outcome::NotModified
            } else {
                Outcome::Failed
            };
        }
    } else if safe {
        // Step 4, §13.1.3: ignored when If-None-Match is present or the date is invalid.
        if let Some(since) = date_of(headers, &header::IF_MODIFIED_SINCE) {
            if current.modified <= since {
                return Outcome::NotModified;
            }
        }
    }
    let range_allowed = match headers.get(header::IF_RANGE) {
        Some(value) if method == Method::GET => if_range_matches(value, current),
        _ => true,
    };
    Outcome::Proceed { range_allowed }
}

/// §13.1.5: an entity tag must match strongly; a date must equal `Last-Modified` exactly.
fn if_range_matches(value: &HeaderValue, current: Validators<'_>) -> bool {
    let bytes = value.as_bytes().trim_ascii();
    if bytes.starts_with(b"\"") || bytes.starts_with(b"W/") {
        let members = parse_list(bytes);
        return members.len() == 1 && strong_match(members[0], current.etag);
    }
    parse_date(value).is_some_and(|date| date == current.modified)
}

/// The members of every `name` field, or `None` when the request has none. A field
/// present but unparsable is an empty list, which matches nothing.
fn list_of<'h>(
    headers: &'h HeaderMap,
    name: &header::HeaderName,
) -> Option<Vec<crate::etag::TagMatch<'h>>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    Some(
        values
            .flat_map(|value| parse_list(value.as_bytes()))
            .collect(),
    )
}

/// The date in a single `name` field; `None` if absent, repeated or not an HTTP-date
/// (§13.1.3 and §13.1.4: such a field is ignored).
fn date_of(headers: &HeaderMap, name: &header::HeaderName) -> Option<SystemTime> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse_date(value)
}

fn parse_date(value: &HeaderValue) -> Option<SystemTime> {
    httpdate::parse_http_date(value.to_str().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const TAG: HeaderValue = HeaderValue::from_static("\"abc\"");

    fn modified() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn date(offset: i64) -> String {
        let at = if offset >= 0 {
            modified() + Duration::from_secs(offset as u64)
        } else {
            modified() - Duration::from_secs((-offset) as u64)
        };
        httpdate::fmt_http_date(at)
    }

    fn check(method: Method, pairs: &[(&str, &str)]) -> Outcome {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        let current = Validators {
            etag: &TAG,
            modified: modified(),
        };
        evaluate(&method, &headers, current)
    }

    const PROCEED: Outcome = Outcome::Proceed {
        range_allowed: true,
    };

    #[test]
    fn no_preconditions_proceed() {
        assert_eq!(check(Method::GET, &[]), PROCEED);
    }

    /// §13.1.2: weak comparison, `*`, and 304 only for GET/HEAD.
    #[test]
    fn if_none_match() {
        assert_eq!(
            check(Method::GET, &[("if-none-match", "\"x\", W/\"abc\"")]),
            Outcome::NotModified
        );
        assert_eq!(
            check(Method::HEAD, &[("if-none-match", "*")]),
            Outcome::NotModified
        );
        assert_eq!(check(Method::GET, &[("if-none-match", "\"x\"")]), PROCEED);
    }

    /// §13.1.3 and §13.2.2 step 4: If-Modified-Since only without If-None-Match.
    #[test]
    fn if_modified_since_and_its_precedence() {
        let same = date(0);
        let earlier = date(-10);
        assert_eq!(
            check(Method::GET, &[("if-modified-since", &same)]),
            Outcome::NotModified
        );
        assert_eq!(
            check(Method::GET, &[("if-modified-since", &earlier)]),
            PROCEED
        );
        assert_eq!(
            check(
                Method::GET,
                &[("if-none-match", "\"x\""), ("if-modified-since", &same)]
            ),
            PROCEED,
            "If-None-Match takes precedence"
        );
        assert_eq!(
            check(Method::GET, &[("if-modified-since", "yesterday")]),
            PROCEED
        );
    }

    /// §13.1.1 and §13.1.4: If-Match is strong and beats If-Unmodified-Since.
    #[test]
    fn if_match_and_if_unmodified_since() {
        assert_eq!(check(Method::GET, &[("if-match", "\"abc\"")]), PROCEED);
        assert_eq!(
            check(Method::GET, &[("if-match", "W/\"abc\"")]),
            Outcome::Failed
        );
        assert_eq!(
            check(Method::GET, &[("if-unmodified-since", &date(-1))]),
            Outcome::Failed
        );
        assert_eq!(
            check(
                Method::GET,
                &[("if-match", "*"), ("if-unmodified-since", &date(-1))]
            ),
            PROCEED
        );
    }

    /// §13.1.5: a strong tag or the exact date keeps the Range; anything else drops it.
    #[test]
    fn if_range() {
        let keep = PROCEED;
        let drop = Outcome::Proceed {
            range_allowed: false,
        };
        assert_eq!(check(Method::GET, &[("if-range", "\"abc\"")]), keep);
        assert_eq!(check(Method::GET, &[("if-range", "W/\"abc\"")]), drop);
        assert_eq!(check(Method::GET, &[("if-range", "\"old\"")]), drop);
        assert_eq!(check(Method::GET, &[("if-range", &date(0))]), keep);
        assert_eq!(check(Method::GET, &[("if-range", &date(5))]), drop);
    }
}
