//! Byte ranges (RFC 9110 §14): one `Range` on a GET gets `206 Partial Content`, a range
//! past the end `416`, and several ranges the whole file (`200`), which §14.2 allows.

use std::ops::Range;

use http::header::HeaderValue;

/// What a `Range` field asks of a representation of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send everything: no usable range, several ranges, or another unit (§14.2).
    Full,
    /// Send these bytes with 206 (§15.3.7).
    Partial(Range<usize>),
    /// Nothing of it exists: 416 with `Content-Range: bytes */len` (§15.5.17).
    Unsatisfiable,
}

/// Reads a `Range` value (§14.1.2: `bytes=first-last`, `bytes=first-`, `bytes=-suffix`).
pub fn parse(value: &HeaderValue, len: usize) -> RangeRequest {
    let Ok(text) = value.to_str() else {
        return RangeRequest::Full;
    };
    let Some((unit, set)) = text.split_once('=') else {
        return RangeRequest::Full;
    };
    // §14.1: range units are case-insensitive; only "bytes" is known here.
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    let mut specs = set
        .split(',')
        .map(str::trim)
        .filter(|spec| !spec.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeRequest::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // suffix-range (§14.1.2): the last N bytes; N = 0 selects nothing.
        return match digits(last) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(suffix) => RangeRequest::Partial(len.saturating_sub(suffix)..len),
            None => RangeRequest::Full,
        };
    }
    let Some(first) = digits(first) else {
        return RangeRequest::Full;
    };
    let last = if last.is_empty() {
        None
    } else {
        match digits(last) {
            // §14.1.2: last < first makes the range-spec invalid, so it is ignored.
            Some(last) if last >= first => Some(last),
            _ => return RangeRequest::Full,
        }
    };
    // §14.1.2: a first position at or past the end is unsatisfiable.
    if first >= len {
        return RangeRequest::Unsatisfiable;
    }
    let end = last.map_or(len, |last| last.saturating_add(1).min(len));
    RangeRequest::Partial(first..end)
}

/// `Content-Range` of a 206 (§14.4): `bytes first-last/len`.
pub fn content_range(range: &Range<usize>, len: usize) -> HeaderValue {
    let text = format!(
        "bytes {}-{}/{len}",
        range.start,
        range.end.saturating_sub(1)
    );
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("bytes */0"))
}

/// `Content-Range` of a 416 (§14.4): `bytes */len`.
pub fn unsatisfied_range(len: usize) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes */{len}"))
        .unwrap_or(HeaderValue::from_static("bytes */0"))
}

/// A non-negative decimal; absurdly long numbers saturate (they mean "to the end").
fn digits(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, len: usize) -> RangeRequest {
        parse(&HeaderValue::from_str(value).expect("value"), len)
    }

    /// The examples of RFC 9110 §14.1.2 on a 10000-byte representation.
    #[test]
    fn rfc_examples() {
        assert_eq!(range("bytes=0-499", 10_000), RangeRequest::Partial(0..500));
        assert_eq!(
            range("bytes=500-999", 10_000),
            RangeRequest::Partial(500..1000)
        );
        assert_eq!(
            range("bytes=-500", 10_000),
            RangeRequest::Partial(9500..10_000)
        );
        assert_eq!(
            range("bytes=9500-", 10_000),
            RangeRequest::Partial(9500..10_000)
        );
        assert_eq!(range("Bytes = 0-0", 10_000), RangeRequest::Partial(0..1));
    }

    #[test]
    fn ranges_are_clamped_to_the_end() {
        assert_eq!(range("bytes=5-999", 10), RangeRequest::Partial(5..10));
        assert_eq!(range("bytes=-999", 10), RangeRequest::Partial(0..10));
        assert_eq!(
            range("bytes=0-99999999999999999999999", 10),
            RangeRequest::Partial(0..10)
        );
    }

    /// §14.1.2 and §15.5.17: no byte of the range exists.
    #[test]
    fn unsatisfiable() {
        assert_eq!(range("bytes=10-", 10), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=10-20", 10), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), RangeRequest::Unsatisfiable);
        assert_eq!(range("bytes=0-", 0), RangeRequest::Unsatisfiable);
    }

    /// §14.2: other units, invalid specs and multiple ranges may be ignored.
    #[test]
    fn ignored() {
        for value in [
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=",
            "bytes=0-1,3-4",
            "bytes=--1",
            "0-1",
        ] {
            assert_eq!(range(value, 10), RangeRequest::Full, "{value}");
        }
    }

    #[test]
    fn content_range_values() {
        assert_eq!(content_range(&(0..500), 10_000), "bytes 0-499/10000");
        assert_eq!(unsatisfied_range(10), "bytes */10");
    }
}
