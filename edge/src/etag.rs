//! Entity tags for static files, and the `If-None-Match` check that turns a repeat
//! request into `304 Not Modified`.

use http::header::{self, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// Hex digits of the SHA-256 kept in a tag: 64 bits tell apart every version of a file
/// a deployment will ever have, and keep the header short.
const TAG_HEX_DIGITS: usize = 16;

/// A strong tag for `content`: `"` + the first hex digits of its SHA-256 + `"`.
pub fn etag_for(content: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(content);
    let hex: String = digest
        .iter()
        .take(TAG_HEX_DIGITS / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

/// Whether the request's `If-None-Match` matches `etag`, so the answer is 304.
/// The comparison is weak (RFC 9110 §13.1.2: a `W/` prefix on either side is ignored),
/// and `*` matches any current representation (§13.1.2, last paragraph).
pub fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = opaque(etag.as_bytes());
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|candidate| candidate == b"*" || opaque(candidate) == ours)
}

/// The quoted part of a tag, without a weakness prefix.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(if_none_match: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(if_none_match).expect("value"),
        );
        headers
    }

    #[test]
    fn tags_are_quoted_short_and_stable() {
        let tag = etag_for(b"hello");
        // sha256("hello") = 2cf24dba5fb0a30e...
        assert_eq!(tag, "\"2cf24dba5fb0a30e\"");
        assert_ne!(etag_for(b"hello!"), tag);
    }

    #[test]
    fn matching_tags_mean_not_modified() {
        let tag = etag_for(b"hello");
        assert!(not_modified(&request("\"2cf24dba5fb0a30e\""), &tag));
        assert!(not_modified(
            &request("\"other\", W/\"2cf24dba5fb0a30e\""),
            &tag
        ));
        assert!(not_modified(&request("*"), &tag));
    }

    #[test]
    fn other_tags_or_none_mean_modified() {
        let tag = etag_for(b"hello");
        assert!(!not_modified(&HeaderMap::new(), &tag));
        assert!(!not_modified(&request("\"2cf24dba5fb0a30f\""), &tag));
        assert!(!not_modified(&request("2cf24dba5fb0a30e"), &tag));
    }
}
