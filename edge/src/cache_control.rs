//! `Cache-Control` of a static file: fingerprinted names (`app.3f9a2c1b.js`) never change,
//! so browsers keep them for a year; everything else, HTML first, is revalidated on every
//! use (cheap with the `ETag`), so a deploy is seen at once.

use http::HeaderValue;

/// A file whose name carries a content hash is immutable: a new version gets a new name
/// (RFC 8246 `immutable`; a year is the longest `max-age` caches honour in practice).
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// May be stored, but must be revalidated before each use (RFC 9111 §5.2.2.4).
const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// Shortest hex run taken for a content hash: 8 digits (32 bits) is what bundlers emit
/// at least; shorter runs are too often ordinary words or version numbers.
const MIN_HASH_DIGITS: usize = 8;

/// Longest hex run taken for a content hash (a full SHA-256).
const MAX_HASH_DIGITS: usize = 64;

/// The `Cache-Control` for the file at `path`. HTML is never immutable: its URL is the
/// one people bookmark, so it must always lead to the current version.
pub fn cache_control_for(path: &str, content_type: &HeaderValue) -> HeaderValue {
    let html = content_type.as_bytes().starts_with(b"text/html");
    if !html && is_fingerprinted(path) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// Whether the file name has a dot-separated segment, neither the first nor the
/// extension, that is a hex content hash: `app.3f9a2c1b.js`, `style.0123abcd.min.css`.
pub fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let segments: Vec<&str> = name.split('.').collect();
    if segments.len() < 3 {
        return false;
    }
    segments[1..segments.len() - 1].iter().any(|segment| {
        (MIN_HASH_DIGITS..=MAX_HASH_DIGITS).contains(&segment.len())
            && segment.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JS: HeaderValue = HeaderValue::from_static("text/javascript; charset=utf-8");
    const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");

    #[test]
    fn fingerprinted_names() {
        for yes in [
            "/app.3f9a2c1b.js",
            "/css/style.0123ABCD.min.css",
            "/x.deadbeefdeadbeef.svg",
        ] {
            assert!(is_fingerprinted(yes), "{yes}");
        }
        for no in [
            "/app.js",
            "/3f9a2c1b.js",
            "/app.3f9a2c1.js",
            "/app.3f9a2c1z.js",
            "/jquery.min.js",
            "/a.b/c.js",
            "/app.js.3f9a2c1b",
        ] {
            assert!(!is_fingerprinted(no), "{no}");
        }
    }

    #[test]
    fn policies() {
        assert_eq!(cache_control_for("/app.3f9a2c1b.js", &JS), IMMUTABLE);
        assert_eq!(cache_control_for("/app.js", &JS), "no-cache");
        assert_eq!(cache_control_for("/index.html", &HTML), "no-cache");
        assert_eq!(cache_control_for("/page.3f9a2c1b.html", &HTML), "no-cache");
    }
}
