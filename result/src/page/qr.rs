//! The QR code of a share link, as SVG, and the link itself: the address the browser
//! used to reach the edge (`X-Forwarded-Proto`/`X-Forwarded-Host`, which the edge sets,
//! else `Host`) followed by the path shared (`/p/<id>` for a poll, `/j/<code>` for an
//! event).

use http::{header, HeaderMap};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Smallest side of the picture in pixels; it scales as SVG, this only sets the ratio.
const MIN_SIZE: u32 = 256;

/// Host used when a request names none (HTTP/1.0): the link still has the right path.
const FALLBACK_HOST: &str = "localhost";

/// The link to `path` (absolute, built from checked ids) for the client that sent
/// `headers`.
pub(crate) fn share_url(headers: &HeaderMap, authority: Option<&str>, path: &str) -> String {
    let proto = match header_text(headers, "x-forwarded-proto") {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = header_text(headers, "x-forwarded-host")
        .or_else(|| header_text(headers, header::HOST.as_str()))
        .or(authority)
        .filter(|host| is_host(host))
        .unwrap_or(FALLBACK_HOST);
    format!("{proto}://{host}{path}")
}

/// The first value of a header (the first of a comma-separated list), trimmed.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// A host name or address with an optional port, nothing that could change the URL's
/// meaning (no `/`, `@`, `?`, `#`, spaces).
fn is_host(text: &str) -> bool {
    text.len() <= 255
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

/// `url` as a QR code in SVG, dark on light with the quiet zone the standard asks for.
pub(crate) fn svg(url: &str) -> String {
    // Medium error correction survives a projector's glare; a share link always fits.
    match QrCode::with_error_correction_level(url, EcLevel::M) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(MIN_SIZE, MIN_SIZE)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
        Err(error) => {
            tracing::error!(%error, url, "share link does not fit a QR code");
            format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{MIN_SIZE}\" height=\"{MIN_SIZE}\"/>"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_forwarded_address_wins_over_host() {
        let h = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "vote.example:8443"),
            ("host", "result:8082"),
        ]);
        assert_eq!(
            share_url(&h, None, "/p/abc"),
            "https://vote.example:8443/p/abc"
        );
    }

    #[test]
    fn host_is_the_fallback_and_junk_is_refused() {
        assert_eq!(
            share_url(&headers(&[("host", "tally.local")]), None, "/p/p"),
            "http://tally.local/p/p"
        );
        assert_eq!(
            share_url(&HeaderMap::new(), Some("h:1"), "/p/p"),
            "http://h:1/p/p"
        );
        let evil = headers(&[
            ("x-forwarded-host", "evil.example/x?"),
            ("x-forwarded-proto", "gopher"),
        ]);
        assert_eq!(share_url(&evil, None, "/p/p"), "http://localhost/p/p");
    }

    #[test]
    fn the_picture_is_an_svg_qr_code() {
        let picture = svg("http://localhost:8080/p/abcdefghij");
        assert!(picture.contains("<svg"), "{picture}");
        assert!(picture.contains("#000000"));
        assert!(picture.len() > 1000, "a real code has many modules");
    }
}
