//! The file server's rules, request by request, on files held in memory.

use http_body_util::BodyExt;

use super::*;

/// Long enough to be worth compressing.
fn script() -> Bytes {
    Bytes::from("console.log('tally');\n".repeat(40))
}

fn files() -> StaticFiles {
    StaticFiles::from_files([
        (
            "/index.html".to_owned(),
            Bytes::from_static(b"<h1>vote</h1>"),
        ),
        ("/docs/index.html".to_owned(), Bytes::from_static(b"docs")),
        ("/style.css".to_owned(), Bytes::from_static(b"body{}")),
        ("/app.js".to_owned(), script()),
    ])
}

fn get(files: &StaticFiles, method: Method, path: &str, pairs: &[(&str, &str)]) -> Response<Body> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    files
        .serve(&method, path, &headers)
        .unwrap_or_else(|error| {
            use tally_runtime::HttpError;
            error.to_response()
        })
}

async fn body(response: Response<Body>) -> Bytes {
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

#[test]
fn root_and_directories_serve_their_index() {
    let files = files();
    for path in ["/", "/index.html", "/docs", "/docs/"] {
        let response = get(&files, Method::GET, path, &[]);
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
    }
}

#[test]
fn headers_of_a_small_file() {
    let response = get(&files(), Method::GET, "/style.css", &[]);
    let headers = response.headers();
    assert_eq!(headers[header::CONTENT_LENGTH], "6");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(headers[header::ETAG], etag_for(b"body{}"));
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert!(headers.contains_key(header::LAST_MODIFIED));
    assert!(!headers.contains_key(header::VARY), "nothing to vary on");
}

#[tokio::test]
async fn encodings_are_negotiated_with_vary() {
    let files = files();
    let br = get(
        &files,
        Method::GET,
        "/app.js",
        &[("accept-encoding", "gzip, br")],
    );
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(br.headers()[header::VARY], "accept-encoding");
    let br_tag = br.headers()[header::ETAG].clone();
    let decoded = crate::precompressed::decode(Encoding::Brotli, &body(br).await);
    assert_eq!(decoded.as_deref(), Some(&script()[..]));

    let plain = get(&files, Method::GET, "/app.js", &[]);
    assert!(!plain.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(plain.headers()[header::VARY], "accept-encoding");
    assert_ne!(
        plain.headers()[header::ETAG],
        br_tag,
        "one tag per representation"
    );
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let response = get(
        &files(),
        Method::HEAD,
        "/app.js",
        &[("accept-encoding", "gzip")],
    );
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let length: usize = response.headers()[header::CONTENT_LENGTH]
        .to_str()
        .ok()
        .and_then(|text| text.parse().ok())
        .expect("length");
    assert!(length > 0 && length < script().len());
    assert!(body(response).await.is_empty());
}

/// RFC 9110 §13.2.2 through the file server: 304 keeps ETag, Cache-Control and Vary.
#[test]
fn conditional_requests() {
    let files = files();
    let first = get(&files, Method::GET, "/app.js", &[("accept-encoding", "br")]);
    let tag = first.headers()[header::ETAG]
        .to_str()
        .expect("tag")
        .to_owned();
    let date = first.headers()[header::LAST_MODIFIED]
        .to_str()
        .expect("date")
        .to_owned();

    let again = get(
        &files,
        Method::GET,
        "/app.js",
        &[("accept-encoding", "br"), ("if-none-match", &tag)],
    );
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], tag.as_str());
    assert_eq!(again.headers()[header::VARY], "accept-encoding");
    assert!(!again.headers().contains_key(header::CONTENT_TYPE));

    let other_coding = get(&files, Method::GET, "/app.js", &[("if-none-match", &tag)]);
    assert_eq!(
        other_coding.status(),
        StatusCode::OK,
        "the identity form has another tag"
    );

    let by_date = get(
        &files,
        Method::GET,
        "/app.js",
        &[("if-modified-since", &date)],
    );
    assert_eq!(by_date.status(), StatusCode::NOT_MODIFIED);

    let failed = get(&files, Method::GET, "/app.js", &[("if-match", "\"other\"")]);
    assert_eq!(failed.status(), StatusCode::PRECONDITION_FAILED);
}

/// RFC 9110 §14: one range → 206 of the identity bytes; past the end → 416.
#[tokio::test]
async fn ranges() {
    let files = files();
    let partial = get(
        &files,
        Method::GET,
        "/app.js",
        &[("range", "bytes=0-6"), ("accept-encoding", "br")],
    );
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    let total = script().len();
    assert_eq!(
        partial.headers()[header::CONTENT_RANGE],
        format!("bytes 0-6/{total}").as_str()
    );
    assert!(!partial.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(body(partial).await, "console");

    let past = get(&files, Method::GET, "/app.js", &[("range", "bytes=99999-")]);
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        past.headers()[header::CONTENT_RANGE],
        format!("bytes */{total}").as_str()
    );

    let stale = get(
        &files,
        Method::GET,
        "/app.js",
        &[("range", "bytes=0-6"), ("if-range", "\"old\"")],
    );
    assert_eq!(stale.status(), StatusCode::OK);
    let several = get(
        &files,
        Method::GET,
        "/app.js",
        &[("range", "bytes=0-1,5-6")],
    );
    assert_eq!(several.status(), StatusCode::OK);
    let head = get(&files, Method::HEAD, "/app.js", &[("range", "bytes=0-6")]);
    assert_eq!(
        head.status(),
        StatusCode::OK,
        "Range applies to GET only (§14.2)"
    );
}

#[test]
fn siblings_become_forms_of_their_file() {
    let original = script();
    let gz = crate::precompressed::encode(Encoding::Gzip, &original).expect("gzip");
    let files = StaticFiles::from_files([
        ("/app.js".to_owned(), original),
        ("/app.js.gz".to_owned(), Bytes::from(gz.clone())),
        ("/orphan.txt.gz".to_owned(), Bytes::from(gz)),
    ]);
    assert_eq!(files.len(), 2);
    let response = get(
        &files,
        Method::GET,
        "/app.js",
        &[("accept-encoding", "gzip")],
    );
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        get(&files, Method::GET, "/app.js.gz", &[]).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&files, Method::GET, "/orphan.txt.gz", &[]).status(),
        StatusCode::OK
    );
}

#[test]
fn unknown_traversing_and_other_methods() {
    let files = files();
    for path in [
        "/nope.html",
        "/..",
        "/%2e%2e",
        "/%2e%2e/index.html",
        "/..%2findex.html",
        "/docs/../index.html",
    ] {
        assert_eq!(
            get(&files, Method::GET, path, &[]).status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let post = get(&files, Method::POST, "/index.html", &[]);
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}
