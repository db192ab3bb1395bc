//! The security headers every response from the edge carries: files, proxied answers,
//! the edge's own errors and the runtime's `/healthz` alike (the runtime sets them on
//! each response it sends, see `ServeConfig::response_headers`).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// What the front end in `www/` needs and nothing more: its own scripts, styles, images
/// (plus `data:` images), fetches and WebSocket (`'self'` covers ws/wss of the same
/// host, CSP Level 3 §6.7.2.8) and form posts; no inline script or style, no plugins,
/// no framing (`frame-ancestors`, which supersedes X-Frame-Options), no `<base>`.
const CONTENT_SECURITY_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
     connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'",
);

/// Browsers remember for a year to use HTTPS only (RFC 6797 §6.1.1); sent only over
/// TLS, as browsers ignore it on plain HTTP (§8.1) and it would lock out a plain-only
/// deployment.
const STRICT_TRANSPORT_SECURITY: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// The headers on every response, in this order.
const HEADERS: [(HeaderName, HeaderValue); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    // Never guess a type from the bytes: a text file must not become a script.
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    // Links out of a poll do not tell the other site which poll someone came from.
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    // For browsers without CSP's frame-ancestors.
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
];

/// The security headers for a listener; `tls` adds `Strict-Transport-Security`.
pub fn security_headers(tls: bool) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(HEADERS.len() + 1);
    for (name, value) in HEADERS {
        headers.insert(name, value);
    }
    if tls {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_and_hsts_only_with_tls() {
        let plain = security_headers(false);
        assert_eq!(plain.len(), 4);
        assert_eq!(plain[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(plain[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(plain[header::REFERRER_POLICY], "no-referrer");
        assert!(!plain.contains_key(header::STRICT_TRANSPORT_SECURITY));
        let csp = plain[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));

        let tls = security_headers(true);
        assert_eq!(tls[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
    }

    /// The policy must let the real front end run: no inline scripts or styles in it.
    #[test]
    fn the_front_end_needs_no_inline_code() {
        let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
        let pages: Vec<String> = std::fs::read_dir(&www)
            .expect("www")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".html"))
            .collect();
        assert!(pages.len() >= 5, "pages found: {pages:?}");
        for page in &pages {
            let html = std::fs::read_to_string(www.join(page)).expect("page");
            assert!(!html.contains("<style"), "{page} has an inline style block");
            assert!(!html.contains(" style="), "{page} has a style attribute");
            let handler = html.split(" on").skip(1).any(|rest| {
                let name_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(0);
                name_end > 0 && rest[name_end..].starts_with('=')
            });
            assert!(!handler, "{page} has an inline event handler");
            for script in html.split("<script").skip(1) {
                assert!(
                    script.trim_start().starts_with("src="),
                    "{page}: inline script"
                );
            }
        }
    }
}
