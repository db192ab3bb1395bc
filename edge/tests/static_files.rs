//! The static front end through a real socket: negotiation, validators, ranges, HEAD,
//! the path rules, and the security headers on every kind of response.

mod client_side;

use client_side::{body_of, header_of, raw, start_edge, Edge};

/// Long enough to be compressed at load time.
fn script() -> String {
    "document.title = 'Tally';\n".repeat(50)
}

async fn edge() -> (Edge, tempfile::TempDir, tempfile::TempDir) {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.txt"), "secret").expect("write");
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::write(www.path().join("index.html"), "<h1>Cats vs Dogs</h1>").expect("write");
    std::fs::write(www.path().join("app.js"), script()).expect("write");
    std::fs::write(www.path().join("app.3f9a2c1b.js"), script()).expect("write");
    std::fs::write(www.path().join(".env"), "KEY=1").expect("write");
    std::fs::create_dir(www.path().join("docs")).expect("mkdir");
    std::fs::write(www.path().join("docs/index.html"), "docs").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        www.path().join("leak.txt"),
    )
    .expect("symlink");
    let edge = start_edge(www.path(), &[], false).await;
    (edge, www, outside)
}

fn status(answer: &str) -> &str {
    answer.get(9..12).unwrap_or("")
}

fn assert_security_headers(answer: &str) {
    let csp = header_of(answer, "content-security-policy").expect("CSP");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert_eq!(header_of(answer, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header_of(answer, "referrer-policy"), Some("no-referrer"));
    assert_eq!(
        header_of(answer, "strict-transport-security"),
        None,
        "plain HTTP"
    );
}

#[tokio::test]
async fn negotiation_validators_and_caching() {
    let (edge, _www, _outside) = edge().await;
    let host = "GET /app.js HTTP/1.1\r\nHost: t";
    let br = raw(
        edge.plain,
        &format!("{host}\r\nAccept-Encoding: gzip, br;q=0.9"),
    )
    .await;
    assert_eq!(status(&br), "200");
    assert_eq!(
        header_of(&br, "content-encoding"),
        Some("gzip"),
        "q-values decide"
    );
    assert_eq!(header_of(&br, "vary"), Some("accept-encoding"));
    assert_eq!(header_of(&br, "cache-control"), Some("no-cache"));
    assert_eq!(
        header_of(&br, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_security_headers(&br);
    let tag = header_of(&br, "etag").expect("etag").to_owned();
    let date = header_of(&br, "last-modified").expect("date").to_owned();

    // RFC 9110 §13.1.2 / §15.4.5: same tag → 304 with the tag and Vary, no body.
    let again = raw(
        edge.plain,
        &format!("{host}\r\nAccept-Encoding: gzip\r\nIf-None-Match: {tag}"),
    )
    .await;
    assert_eq!(status(&again), "304");
    assert_eq!(header_of(&again, "etag"), Some(tag.as_str()));
    assert_eq!(header_of(&again, "vary"), Some("accept-encoding"));
    assert!(body_of(&again).is_empty());
    assert_security_headers(&again);

    // §13.1.3: If-Modified-Since at Last-Modified → 304.
    let by_date = raw(edge.plain, &format!("{host}\r\nIf-Modified-Since: {date}")).await;
    assert_eq!(status(&by_date), "304");

    let immutable = raw(edge.plain, "GET /app.3f9a2c1b.js HTTP/1.1\r\nHost: t").await;
    assert_eq!(
        header_of(&immutable, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let page = raw(edge.plain, "GET /docs HTTP/1.1\r\nHost: t").await;
    assert_eq!(status(&page), "200");
    assert_eq!(body_of(&page), "docs");
}

/// RFC 9110 §14: one range → 206 with Content-Range; past the end → 416 JSON.
#[tokio::test]
async fn ranges_and_head() {
    let (edge, _www, _outside) = edge().await;
    let total = script().len();
    let partial = raw(
        edge.plain,
        "GET /app.js HTTP/1.1\r\nHost: t\r\nRange: bytes=0-7\r\nAccept-Encoding: br",
    )
    .await;
    assert_eq!(status(&partial), "206");
    assert_eq!(
        header_of(&partial, "content-range"),
        Some(format!("bytes 0-7/{total}").as_str())
    );
    assert_eq!(body_of(&partial), "document");

    let past = raw(
        edge.plain,
        "GET /app.js HTTP/1.1\r\nHost: t\r\nRange: bytes=999999-",
    )
    .await;
    assert_eq!(status(&past), "416");
    assert_eq!(
        header_of(&past, "content-range"),
        Some(format!("bytes */{total}").as_str())
    );
    assert_eq!(body_of(&past), "{\"error\":\"range not satisfiable\"}");

    let head = raw(edge.plain, "HEAD /app.js HTTP/1.1\r\nHost: t").await;
    assert_eq!(status(&head), "200");
    assert_eq!(
        header_of(&head, "content-length"),
        Some(total.to_string().as_str())
    );
    assert!(body_of(&head).is_empty());
}

/// Traversal, encoded traversal, dotfiles and a link out of the root: all 404 JSON.
#[tokio::test]
async fn paths_outside_the_front_end_are_404() {
    let (edge, _www, _outside) = edge().await;
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/docs/%2E%2E/.env",
        "/.env",
        "/leak.txt",
        "/nope.html",
    ] {
        let answer = raw(edge.plain, &format!("GET {path} HTTP/1.1\r\nHost: t")).await;
        assert_eq!(status(&answer), "404", "{path}: {answer}");
        assert_eq!(body_of(&answer), "{\"error\":\"not found\"}", "{path}");
        assert_security_headers(&answer);
    }
}

/// The runtime answers /healthz itself; the headers are set there too.
#[tokio::test]
async fn health_answers_carry_the_security_headers() {
    let (edge, _www, _outside) = edge().await;
    let health = raw(edge.plain, "GET /healthz HTTP/1.1\r\nHost: t").await;
    assert_eq!(status(&health), "200");
    assert_security_headers(&health);
    let vote = raw(
        edge.plain,
        "POST /vote HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nvote=a",
    )
    .await;
    assert_eq!(status(&vote), "202");
    assert_security_headers(&vote);
}
