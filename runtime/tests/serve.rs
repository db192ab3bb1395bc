//! The serve loop over real sockets: HTTP/1.1 and h2c on one port, request ids, health
//! endpoints, the header-read timeout, the connection limit and the graceful drain.

// Test helpers unwrap: a panic is how a test reports a broken precondition.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tally_runtime::{full, serve, Body, Handler, Request, RequestContext, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Answers `/slow` after a pause and everything else at once; readiness is switchable.
struct TestHandler {
    ready: AtomicBool,
}

impl Handler for TestHandler {
    async fn handle(self: Arc<Self>, request: Request, context: RequestContext) -> Response<Body> {
        if request.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Response::new(full(format!("id={}", context.request_id)))
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        if self.ready.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err("test dependency down".into())
        }
    }
}

struct Server {
    addr: SocketAddr,
    handler: Arc<TestHandler>,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
}

async fn start(config: ServeConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(TestHandler {
        ready: AtomicBool::new(true),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, config, handler.clone(), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        handler,
        stop,
        done,
    }
}

fn client(http2: bool) -> Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .build_http()
}

async fn get(http2: bool, url: String) -> (StatusCode, Version, http::HeaderMap, String) {
    let response = client(http2).get(url.parse().unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.version,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn http1_and_h2c_share_one_port() {
    let server = start(ServeConfig::default()).await;
    let (status, version, ..) = get(false, format!("http://{}/", server.addr)).await;
    assert_eq!((status, version), (StatusCode::OK, Version::HTTP_11));
    let (status, version, ..) = get(true, format!("http://{}/", server.addr)).await;
    assert_eq!((status, version), (StatusCode::OK, Version::HTTP_2));
}

#[tokio::test]
async fn request_ids_are_kept_when_sane_and_made_when_not() {
    let server = start(ServeConfig::default()).await;
    let send = |id: &'static str| {
        let url = format!("http://{}/", server.addr);
        async move {
            let request = http::Request::get(url)
                .header("x-request-id", id)
                .body(Empty::new())
                .unwrap();
            let response = client(false).request(request).await.unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(send("edge-abc-123").await, "edge-abc-123");
    let replaced = send("bad id\twith spaces").await;
    assert_ne!(replaced, "bad id\twith spaces");
    assert_eq!(replaced.len(), 32, "a fresh uuid");
    let (.., body) = get(false, format!("http://{}/", server.addr)).await;
    assert!(
        body.starts_with("id=") && body.len() > 10,
        "the handler sees the id: {body}"
    );
}

#[tokio::test]
async fn health_endpoints_answer_json_and_readiness_follows_dependencies() {
    let server = start(ServeConfig::default()).await;
    let (status, _, headers, body) = get(false, format!("http://{}/healthz", server.addr)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, r#"{"status":"ok"}"#);
    assert_eq!(
        get(false, format!("http://{}/readyz", server.addr)).await.0,
        StatusCode::OK
    );
    server.handler.ready.store(false, Ordering::SeqCst);
    let (status, .., body) = get(false, format!("http://{}/readyz", server.addr)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, r#"{"error":"test dependency down"}"#);
}

/// The header-read timeout of the tests below.
const HEADER_TIMEOUT: Duration = Duration::from_millis(300);

/// Waits for the server to end `stream` for want of a request head: not before
/// [`HEADER_TIMEOUT`] (less a margin for timer granularity), and well before 5 s; it
/// closes, or answers 408 first.
async fn assert_closed_for_header_timeout(stream: &mut TcpStream) {
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("the server closes the connection well before 5 s");
    assert!(
        started.elapsed() >= HEADER_TIMEOUT - Duration::from_millis(50),
        "not before the timeout"
    );
    let text = String::from_utf8_lossy(&buffer[..read.unwrap_or(0)]).into_owned();
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "closed, or 408: {text:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let server = start(ServeConfig {
        header_read_timeout: HEADER_TIMEOUT,
        ..ServeConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    assert_closed_for_header_timeout(&mut stream).await;
}

#[tokio::test]
async fn a_kept_alive_connection_gets_the_timeout_afresh_for_each_request() {
    let server = start(ServeConfig {
        header_read_timeout: HEADER_TIMEOUT,
        ..ServeConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut buffer = [0u8; 1024];
    // Each request comes 200 ms after the last answer: within the timeout each time,
    // though the four together take longer than it.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    }
    // Then idle: closed after the timeout.
    assert_closed_for_header_timeout(&mut stream).await;
}

#[tokio::test]
async fn connections_past_the_limit_wait_for_a_free_slot() {
    let server = start(ServeConfig {
        max_connections: 1,
        ..ServeConfig::default()
    })
    .await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 512];
    assert!(
        first.read(&mut buffer).await.unwrap() > 0,
        "the first connection is served"
    );

    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buffer)).await;
    assert!(
        waited.is_err(),
        "the second connection is not served while the first holds the only slot"
    );
    drop(first);
    let read = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let server = start(ServeConfig::default()).await;
    let url = format!("http://{}/slow", server.addr);
    let in_flight = tokio::spawn(get(false, url));
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.send(()).unwrap();
    let (status, .., body) = in_flight.await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the slow request completed during the drain"
    );
    assert!(body.starts_with("id="));
    tokio::time::timeout(Duration::from_secs(5), server.done)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn shutdown_finishes_the_streams_in_flight_on_an_http2_connection() {
    let server = start(ServeConfig::default()).await;
    // One client: its requests share one HTTP/2 connection, each a stream polled on the
    // connection's task.
    let client = client(true);
    let streams = (0..3).map(|_| {
        let request = client.get(format!("http://{}/slow", server.addr).parse().unwrap());
        tokio::spawn(async move {
            let response = request.await.unwrap();
            let version = response.version();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (version, String::from_utf8_lossy(&body).into_owned())
        })
    });
    let streams: Vec<_> = streams.collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.send(()).unwrap();
    for stream in streams {
        let (version, body) = stream.await.unwrap();
        assert_eq!(version, Version::HTTP_2);
        assert!(
            body.starts_with("id="),
            "completed during the drain: {body}"
        );
    }
    tokio::time::timeout(Duration::from_secs(5), server.done)
        .await
        .expect("serve returns once the streams are done")
        .unwrap();
}

#[tokio::test]
async fn the_grace_period_bounds_the_drain() {
    let server = start(ServeConfig {
        shutdown_grace: Duration::from_millis(100),
        ..ServeConfig::default()
    })
    .await;
    let _in_flight = tokio::spawn(get(false, format!("http://{}/slow", server.addr)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    server.stop.send(()).unwrap();
    server.done.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(450),
        "serve returned after the grace, not the slow request"
    );
}

#[tokio::test]
async fn shutdown_closes_idle_kept_alive_connections_at_once() {
    let server = start(ServeConfig::default()).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let read = idle.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));

    let started = std::time::Instant::now();
    server.stop.send(()).unwrap();
    // The default grace is 10 s: an idle connection must not hold the drain that long.
    tokio::time::timeout(Duration::from_secs(2), server.done)
        .await
        .expect("serve returns without waiting out the grace period")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    let read = tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buffer))
        .await
        .expect("the idle connection is closed")
        .unwrap();
    assert_eq!(read, 0, "closed without another response");
}
