//! Entity tags: the strong tag of each static representation, and the two comparison
//! functions of RFC 9110 §8.8.3.2 over the tag lists clients send back.

use http::header::HeaderValue;
use sha2::{Digest, Sha256};

/// Hex digits of the SHA-256 kept in a tag: 64 bits tell apart every version of a file
/// a deployment will ever have, and keep the header short.
const TAG_HEX_DIGITS: usize = 16;

/// A strong tag for `content`: `"` + the first hex digits of its SHA-256 + `"`.
pub fn etag_for(content: &[u8]) -> HeaderValue {
    tagged(&hex_digest(content), None)
}

/// The strong tag of an encoded representation of `content` (`"…-br"`, `"…-gzip"`).
/// Each encoding is its own representation, so it needs its own tag (RFC 9110 §8.8.3).
pub fn encoded_etag_for(content: &[u8], coding: &str) -> HeaderValue {
    tagged(&hex_digest(content), Some(coding))
}

fn hex_digest(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .take(TAG_HEX_DIGITS / 2)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn tagged(hex: &str, coding: Option<&str>) -> HeaderValue {
    let text = match coding {
        Some(coding) => format!("\"{hex}-{coding}\""),
        None => format!("\"{hex}\""),
    };
    // Hex digits and a coding name are always a valid header value.
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("\"\""))
}

/// One member of an `If-Match` / `If-None-Match` / `If-Range` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMatch<'a> {
    /// `*`: any current representation.
    Any,
    /// An entity tag: its opaque part (with quotes) and whether it was `W/`.
    Tag { opaque: &'a [u8], weak: bool },
}

/// The members of an entity-tag list (RFC 9110 §8.8.3: `W/"x", "y"` or `*`).
/// Anything malformed ends the list: a broken value matches nothing past the break.
pub fn parse_list(value: &[u8]) -> Vec<TagMatch<'_>> {
    let mut members = Vec::new();
    let mut rest = value.trim_ascii();
    if rest == b"*" {
        members.push(TagMatch::Any);
        return members;
    }
    while !rest.is_empty() {
        let (weak, after) = match rest.strip_prefix(b"W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let Some(body) = after.strip_prefix(b"\"") else {
            break;
        };
        let Some(close) = body.iter().position(|&b| b == b'"') else {
            break;
        };
        members.push(TagMatch::Tag {
            opaque: &after[..close + 2],
            weak,
        });
        rest = body[close + 1..].trim_ascii_start();
        rest = rest.strip_prefix(b",").unwrap_or(rest).trim_ascii_start();
    }
    members
}

/// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and the same.
pub fn strong_match(member: TagMatch<'_>, ours: &HeaderValue) -> bool {
    match member {
        TagMatch::Any => true,
        TagMatch::Tag { opaque, weak } => !weak && opaque == ours.as_bytes(),
    }
}

/// Weak comparison (RFC 9110 §8.8.3.2): the opaque parts are the same, `W/` ignored.
pub fn weak_match(member: TagMatch<'_>, ours: &HeaderValue) -> bool {
    match member {
        TagMatch::Any => true,
        TagMatch::Tag { opaque, .. } => opaque == ours.as_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_quoted_short_and_stable() {
        let tag = etag_for(b"hello");
        // sha256("hello") = 2cf24dba5fb0a30e...
        assert_eq!(tag, "\"2cf24dba5fb0a30e\"");
        assert_ne!(etag_for(b"hello!"), tag);
        assert_eq!(encoded_etag_for(b"hello", "br"), "\"2cf24dba5fb0a30e-br\"");
    }

    #[test]
    fn lists_parse_with_weakness_and_spaces() {
        let list = parse_list(b" \"a\",W/\"b\" ,  \"c,d\"");
        assert_eq!(
            list,
            [
                TagMatch::Tag {
                    opaque: b"\"a\"",
                    weak: false
                },
                TagMatch::Tag {
                    opaque: b"\"b\"",
                    weak: true
                },
                TagMatch::Tag {
                    opaque: b"\"c,d\"",
                    weak: false
                },
            ]
        );
        assert_eq!(parse_list(b"*"), [TagMatch::Any]);
        assert!(parse_list(b"unquoted").is_empty());
        assert_eq!(parse_list(b"\"a\", junk, \"b\"").len(), 1);
    }

    /// The table of RFC 9110 §8.8.3.2.
    #[test]
    fn strong_and_weak_comparison_follow_the_rfc_table() {
        let ours = HeaderValue::from_static("\"1\"");
        let strong = TagMatch::Tag {
            opaque: b"\"1\"",
            weak: false,
        };
        let weak = TagMatch::Tag {
            opaque: b"\"1\"",
            weak: true,
        };
        let other = TagMatch::Tag {
            opaque: b"\"2\"",
            weak: false,
        };
        assert!(strong_match(strong, &ours) && weak_match(strong, &ours));
        assert!(!strong_match(weak, &ours) && weak_match(weak, &ours));
        assert!(!strong_match(other, &ours) && !weak_match(other, &ours));
        assert!(strong_match(TagMatch::Any, &ours));
    }
}
