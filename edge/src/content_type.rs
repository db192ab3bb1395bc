//! `Content-Type` of a static file, from a fixed table by extension.

use http::HeaderValue;

/// Anything not in the table: browsers download it rather than guess (and with
/// `X-Content-Type-Options: nosniff` they never guess).
const FALLBACK: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// The front end's file types. Text types say UTF-8, so no browser guesses a charset.
const TABLE: [(&str, &str); 10] = [
    ("html", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("ico", "image/x-icon"),
    ("json", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("map", "application/json"),
];

/// The content type for a file named `path`.
pub fn content_type_for(path: &str) -> HeaderValue {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, extension)) = file_name.rsplit_once('.') else {
        return FALLBACK;
    };
    TABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(extension))
        .map(|(_, content_type)| HeaderValue::from_static(content_type))
        .unwrap_or(FALLBACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types() {
        let cases = [
            ("/index.html", "text/html; charset=utf-8"),
            ("/style.css", "text/css; charset=utf-8"),
            ("/app.js", "text/javascript; charset=utf-8"),
            ("/robots.txt", "text/plain; charset=utf-8"),
            ("/favicon.svg", "image/svg+xml"),
            ("/logo.PNG", "image/png"),
            ("/favicon.ico", "image/x-icon"),
            ("/data.json", "application/json"),
            ("/site.webmanifest", "application/manifest+json"),
        ];
        for (path, expected) in cases {
            assert_eq!(content_type_for(path), expected, "{path}");
        }
    }

    #[test]
    fn unknown_or_missing_extensions_fall_back() {
        for path in ["/LICENSE", "/archive.tar.gz", "/dir.d/file", "/x.exe"] {
            assert_eq!(content_type_for(path), "application/octet-stream", "{path}");
        }
    }
}
