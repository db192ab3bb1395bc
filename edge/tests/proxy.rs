//! The edge through real sockets: a hyper client in front, tiny hyper servers behind
//! standing in for the vote and result services (the edge is what is under test).

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// How long the slow upstream path takes: longer than the edge's timeout in these tests.
const SLOW_UPSTREAM: Duration = Duration::from_secs(3);

/// A stand-in upstream: echoes what it received as JSON and counts requests.
struct FakeUpstream {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl FakeUpstream {
    async fn start(name: &'static str) -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let address = listener.local_addr().expect("address");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                let service = service_fn(move |request| {
                    let counter = counter.clone();
                    async move { Ok::<_, Infallible>(echo(name, &counter, request).await) }
                });
                // HTTP/1.1 and h2c on one port, as Tally's services.
                tokio::spawn(async move {
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                });
            }
        });
        FakeUpstream { address, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn echo(name: &str, hits: &AtomicUsize, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() == "/healthz" {
        return Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    }
    hits.fetch_add(1, Ordering::SeqCst);
    if request.uri().path().ends_with("/slow") {
        tokio::time::sleep(SLOW_UPSTREAM).await;
    }
    let (parts, body) = request.into_parts();
    let mut headers = BTreeMap::<String, Vec<String>>::new();
    for (key, value) in &parts.headers {
        let value = value.to_str().unwrap_or("<binary>").to_owned();
        headers
            .entry(key.as_str().to_owned())
            .or_default()
            .push(value);
    }
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let echoed = serde_json::json!({
        "upstream": name,
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body_len": body.len(),
        "body": String::from_utf8_lossy(&body),
    });
    let mut response = Response::new(Full::new(Bytes::from(echoed.to_string())));
    let headers = response.headers_mut();
    headers.insert("x-upstream", name.parse().expect("value"));
    headers.insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("value"),
    );
    headers.insert(
        header::CONNECTION,
        "x-upstream-private".parse().expect("value"),
    );
    headers.insert("x-upstream-private", "1".parse().expect("value"));
    headers.insert("keep-alive", "timeout=5".parse().expect("value"));
    response
}

/// An address nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

/// The edge running in-process on a free port.
struct Edge {
    address: SocketAddr,
    _stop: oneshot::Sender<()>,
    _www: tempfile::TempDir,
}

async fn start_edge(vote: &[SocketAddr], result: &[SocketAddr], extra: &[&str]) -> Edge {
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::write(www.path().join("index.html"), "<h1>Cats vs Dogs</h1>").expect("write");
    std::fs::write(www.path().join("results.html"), "<h1>Results</h1>").expect("write");
    std::fs::write(www.path().join("style.css"), "body { margin: 0 }").expect("write");
    std::fs::write(www.path().join(".secret"), "do not serve").expect("write");

    let list = |addresses: &[SocketAddr]| {
        addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut args = vec![
        "tally-edge".to_owned(),
        format!("--vote-upstreams={}", list(vote)),
        format!("--result-upstreams={}", list(result)),
        format!("--www-dir={}", www.path().display()),
    ];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let config = tally_edge::Config::try_parse_from(args).expect("config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        tally_edge::run(listener, config, shutdown)
            .await
            .expect("edge runs");
    });
    Edge {
        address,
        _stop: stop,
        _www: www,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The one value the upstream saw for header `name`.
    fn upstream_header(&self, name: &str) -> Option<String> {
        let echoed = self.json();
        let values = echoed["headers"][name].as_array()?;
        assert_eq!(values.len(), 1, "{name}: {values:?}");
        values[0].as_str().map(str::to_owned)
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(
    edge: &Edge,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", edge.address))
        .header(header::HOST, "tally.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    let response = client().request(request).await.expect("edge answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn get(edge: &Edge, path: &str) -> Answer {
    send(edge, Method::GET, path, &[], "").await
}

fn assert_security_headers(answer: &Answer) {
    let headers = &answer.headers;
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .is_ok_and(|csp| csp.contains("frame-ancestors 'none'")));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
}

#[tokio::test]
async fn routes_by_path() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[vote.address], &[result.address], &[]).await;

    let cases = [
        (Method::POST, "/", Some("vote")),
        (Method::POST, "/vote", Some("vote")),
        (Method::GET, "/vote/lunch", Some("vote")),
        (Method::GET, "/results", Some("result")),
        (Method::GET, "/results/lunch?format=json", Some("result")),
        (Method::GET, "/", None),
        (Method::GET, "/results.html", None),
    ];
    for (method, path, upstream) in cases {
        let answer = send(&edge, method.clone(), path, &[], "").await;
        assert_eq!(answer.status, StatusCode::OK, "{method} {path}");
        assert_security_headers(&answer);
        match upstream {
            Some(name) => {
                let echoed = answer.json();
                assert_eq!(echoed["upstream"], name, "{method} {path}");
                assert_eq!(echoed["method"], method.as_str());
                assert_eq!(echoed["uri"], path, "path and query pass unchanged");
            }
            None => assert!(answer.headers[header::CONTENT_TYPE]
                .to_str()
                .is_ok_and(|ct| ct.starts_with("text/html"))),
        }
    }
    assert_eq!(get(&edge, "/results.html").await.body, "<h1>Results</h1>");
    assert_eq!(vote.hits(), 3);
    assert_eq!(result.hits(), 2);
}

#[tokio::test]
async fn configured_routes_override_the_defaults() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let routes = "--routes=/api/ballots=vote,GET /stats=result,/results=static";
    let edge = start_edge(&[vote.address], &[result.address], &[routes]).await;

    let echoed = send(&edge, Method::POST, "/api/ballots/x", &[], "")
        .await
        .json();
    assert_eq!(echoed["upstream"], "vote");
    assert_eq!(echoed["uri"], "/api/ballots/x", "the path passes unchanged");
    assert_eq!(get(&edge, "/stats").await.json()["upstream"], "result");
    let stats_post = send(&edge, Method::POST, "/stats", &[], "").await;
    assert_eq!(
        stats_post.status,
        StatusCode::NOT_FOUND,
        "the rule is GET only: a file path, and no such file"
    );
    let results = get(&edge, "/results").await;
    assert_eq!(
        results.status,
        StatusCode::NOT_FOUND,
        "now a file path, and no such file"
    );
    assert_eq!(
        get(&edge, "/live/x").await.json()["upstream"],
        "result",
        "defaults stay"
    );
    assert_eq!((vote.hits(), result.hits()), (1, 2));
}

#[tokio::test]
async fn round_robin_over_replicas() {
    let first = support::Replica::start("vote-1").await;
    let second = support::Replica::start("vote-2").await;
    let result = support::Replica::start("result").await;
    let edge = support::Edge::start(
        &[first.address, second.address],
        &[result.address],
        &["--balance=round-robin", "--health-interval=100ms"],
    )
    .await;
    // Checked twice by the vote pool: both first results are in, so neither is
    // preferred as the only checked one.
    support::wait_until_checked(&[&first, &second], 2).await;

    let client = support::client();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let answer = support::send(&client, &edge, Method::POST, "/vote")
            .await
            .expect("the edge answers");
        seen.push(answer.upstream.expect("the replica names itself"));
    }
    assert_eq!(seen, ["vote-1", "vote-2", "vote-1", "vote-2"]);
}

#[tokio::test]
async fn forwards_headers_and_body_and_strips_hop_by_hop() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[vote.address], &[result.address], &[]).await;

    let answer = send(
        &edge,
        Method::POST,
        "/vote",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-request-id", "req-42"),
            ("connection", "x-client-private"),
            ("x-client-private", "secret"),
            ("keep-alive", "timeout=99"),
            ("te", "trailers"),
        ],
        "vote=a",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.upstream_header("x-forwarded-for").as_deref(),
        // 127.0.0.1 is not in EDGE_TRUSTED_PROXIES: its own X-Forwarded-* are dropped.
        Some("127.0.0.1")
    );
    assert_eq!(
        answer.upstream_header("x-forwarded-proto").as_deref(),
        Some("http")
    );
    assert_eq!(
        answer.upstream_header("x-forwarded-host").as_deref(),
        Some("tally.test")
    );
    assert_eq!(
        answer.upstream_header("x-request-id").as_deref(),
        Some("req-42")
    );
    assert_eq!(
        answer.upstream_header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        answer.upstream_header("host"),
        Some(vote.address.to_string())
    );
    for private in ["x-client-private", "keep-alive", "te", "connection"] {
        assert_eq!(
            answer.upstream_header(private),
            None,
            "{private} reached the upstream"
        );
    }
    assert_eq!(answer.json()["body_len"], 6);

    // The upstream's hop-by-hop fields stay on its hop too.
    assert_eq!(answer.headers["x-upstream"], "vote");
    assert!(!answer.headers.contains_key("x-upstream-private"));
    assert!(!answer.headers.contains_key("keep-alive"));
    assert_eq!(answer.headers["x-request-id"], "req-42");
    assert_security_headers(&answer);
}

/// A body with a length that arrives in several reads is forwarded whole, in order:
/// the edge reads it all before choosing a replica. It takes the client longer than
/// the upstream timeout, which starts only once the body is there.
#[tokio::test]
async fn a_body_arriving_in_pieces_is_forwarded_whole() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(
        &[vote.address],
        &[result.address],
        &["--upstream-timeout=200ms"],
    )
    .await;
    let pieces = ["vote=a&poll=", "default&note=", "in-three-pieces"];
    let length: usize = pieces.iter().map(|piece| piece.len()).sum();

    let mut stream = TcpStream::connect(edge.address).await.expect("connect");
    let head = format!(
        "POST /vote HTTP/1.1\r\nhost: tally.test\r\ncontent-type: \
         application/x-www-form-urlencoded\r\ncontent-length: {length}\r\n\
         connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for piece in pieces {
        // Apart in time, so that each is a read of its own at the edge; 300 ms in all.
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(piece.as_bytes()).await.expect("piece");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("answer");
    let answer = String::from_utf8(answer).expect("text");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split_once("\r\n\r\n").expect("head ends").1;
    let echoed: Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(echoed["body"], pieces.concat());
    assert_eq!(vote.hits(), 1);
}

#[tokio::test]
async fn fails_over_to_the_next_replica_when_connecting_fails() {
    let live = FakeUpstream::start("vote-live").await;
    let dead = closed_port().await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[dead, live.address], &[result.address], &[]).await;

    for _ in 0..4 {
        let answer = send(&edge, Method::POST, "/vote", &[], "vote=b").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.json()["upstream"], "vote-live");
        assert_eq!(
            answer.json()["body_len"],
            6,
            "the body survives the failed attempt"
        );
    }
    assert_eq!(live.hits(), 4);
}

#[tokio::test]
async fn no_reachable_upstream_is_502_json() {
    let vote = FakeUpstream::start("vote").await;
    let edge = start_edge(
        &[vote.address],
        &[closed_port().await, closed_port().await],
        &[],
    )
    .await;

    let answer = get(&edge, "/results").await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        answer.json(),
        serde_json::json!({"error": "upstream result unavailable"})
    );
    assert_security_headers(&answer);
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(
        &[vote.address],
        &[result.address],
        &["--upstream-timeout=300ms"],
    )
    .await;

    let answer = get(&edge, "/results/slow").await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        answer.json(),
        serde_json::json!({"error": "upstream result timed out"})
    );
}

#[tokio::test]
async fn declared_oversize_body_is_413_before_the_upstream() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[vote.address], &[result.address], &["--max-body-bytes=16"]).await;

    let answer = send(&edge, Method::POST, "/vote", &[], &"x".repeat(17)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.json()["error"].is_string());
    assert_eq!(vote.hits(), 0);

    let answer = send(&edge, Method::POST, "/vote", &[], &"x".repeat(16)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["body_len"], 16);
}

#[tokio::test]
async fn chunked_oversize_body_is_refused() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[vote.address], &[result.address], &["--max-body-bytes=16"]).await;

    let mut stream = TcpStream::connect(edge.address).await.expect("connect");
    let chunk = "x".repeat(20);
    let request = format!(
        "POST /vote HTTP/1.1\r\nHost: tally.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response));
    let _ = read.await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
}

#[tokio::test]
async fn serves_static_files() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[vote.address], &[result.address], &[]).await;

    let page = get(&edge, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, "<h1>Cats vs Dogs</h1>");
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    // A new browser: the page brings its voter cookie, so no shared cache may keep it.
    assert_eq!(page.headers[header::CACHE_CONTROL], "private, no-cache");
    assert!(page.headers.contains_key(header::SET_COOKIE));
    assert_security_headers(&page);
    let etag = page.headers[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();

    let again = send(
        &edge,
        Method::GET,
        "/index.html",
        &[("if-none-match", &etag)],
        "",
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    let head = send(&edge, Method::HEAD, "/style.css", &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers[header::CONTENT_LENGTH], "18");
    assert_eq!(
        head.headers[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    assert!(head.body.is_empty());

    for path in [
        "/nope.html",
        "/.secret",
        "/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
    ] {
        let missing = get(&edge, path).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(missing.json(), serde_json::json!({"error": "not found"}));
        assert_security_headers(&missing);
    }

    let post = send(&edge, Method::POST, "/style.css", &[], "x").await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers[header::ALLOW], "GET, HEAD");
    assert_eq!(vote.hits() + result.hits(), 0);
}

#[tokio::test]
async fn raw_dot_dot_paths_are_404() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[vote.address], &[result.address], &[]).await;

    // Sent byte for byte: a client library would normalise the path first.
    let mut stream = TcpStream::connect(edge.address).await.expect("connect");
    let request = "GET /../../etc/passwd HTTP/1.1\r\nHost: tally.test\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
}

#[tokio::test]
async fn ready_only_when_both_kinds_have_a_healthy_replica() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let healthy = start_edge(&[vote.address], &[closed_port().await, result.address], &[]).await;
    assert_eq!(get(&healthy, "/readyz").await.status, StatusCode::OK);

    let missing_result = start_edge(&[vote.address], &[closed_port().await], &[]).await;
    let answer = get(&missing_result, "/readyz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        answer.json(),
        serde_json::json!({"error": "no healthy result upstream"})
    );
}

#[tokio::test]
async fn http2_clients_are_proxied_over_http1() {
    let vote = FakeUpstream::start("vote").await;
    let result = FakeUpstream::start("result").await;
    let edge = start_edge(&[vote.address], &[result.address], &[]).await;

    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/vote?via=h2", edge.address))
        .body(Full::new(Bytes::from_static(b"vote=a")))
        .expect("request");
    let response = client.request(request).await.expect("edge answers h2c");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let echoed: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(echoed["uri"], "/vote?via=h2");
    assert_eq!(echoed["body_len"], 6);
    let authority = edge.address.to_string();
    assert_eq!(echoed["headers"]["x-forwarded-host"][0], authority.as_str());
}
