//! The edge's HTTP/1.1 upstream connections (`--upstream-protocol=http1`), seen from
//! real upstream servers that speak only HTTP/1.1, on real ports: reused between requests, never reused with a response left unread or after the
//! upstream closed them, closed after the idle timeout, and ballots meeting an upstream
//! that closes idle connections early are all counted, once each.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use support::{client, send, wait_until, Edge};

/// The edge set to speak HTTP/1.1 to its upstreams, as these tests are about.
const HTTP1: &[&str] = &["--upstream-protocol=http1"];

/// What the test upstream saw.
#[derive(Default)]
struct Seen {
    /// Connections that carried at least one ballot.
    connections_used: AtomicUsize,
    /// Those of them still open.
    open: AtomicUsize,
    /// Ballots received.
    ballots: AtomicUsize,
}

/// A vote upstream: `POST /vote` answers 202 (`?close`: and closes the connection;
/// `?big`: with a 4 MiB body), anything else 200 (health checks).
struct Upstream {
    address: SocketAddr,
    seen: Arc<Seen>,
    _accepting: JoinHandle<()>,
}

/// The body `?big` answers: larger than the socket buffers, so it cannot all be sent
/// before the client reads.
const BIG_BODY_BYTES: usize = 4 << 20;

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let seen = Arc::new(Seen::default());
        let accepting = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    tokio::spawn(serve_connection(stream, seen.clone()));
                }
            }
        });
        Upstream {
            address,
            seen,
            _accepting: accepting,
        }
    }
}

async fn serve_connection(stream: TcpStream, seen: Arc<Seen>) {
    let used = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let service = service_fn({
        let (seen, used) = (seen.clone(), used.clone());
        move |request: Request<Incoming>| {
            let (seen, used) = (seen.clone(), used.clone());
            async move {
                if request.method() != Method::POST {
                    return Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"{\"status\":\"ok\"}",
                    ))));
                }
                if !used.swap(true, Ordering::SeqCst) {
                    seen.connections_used.fetch_add(1, Ordering::SeqCst);
                    seen.open.fetch_add(1, Ordering::SeqCst);
                }
                let query = request.uri().query().unwrap_or("").to_owned();
                let _ = request.into_body().collect().await;
                seen.ballots.fetch_add(1, Ordering::SeqCst);
                let mut response = match query.as_str() {
                    "big" => Response::new(Full::new(Bytes::from(vec![b'x'; BIG_BODY_BYTES]))),
                    _ => Response::new(Full::new(Bytes::from_static(b"{\"accepted\":true}"))),
                };
                *response.status_mut() = StatusCode::ACCEPTED;
                if query == "close" {
                    response
                        .headers_mut()
                        .insert(http::header::CONNECTION, "close".parse().expect("value"));
                }
                Ok(response)
            }
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if used.load(Ordering::SeqCst) {
        seen.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn ballot(edge: &Edge, path: &str) -> StatusCode {
    send(&client(), edge, Method::POST, path)
        .await
        .expect("the edge answers")
        .status
}

#[tokio::test]
async fn requests_one_after_another_share_one_connection() {
    let upstream = Upstream::start().await;
    let edge = Edge::start(&[upstream.address], &[upstream.address], HTTP1).await;
    for _ in 0..20 {
        assert_eq!(ballot(&edge, "/vote").await, StatusCode::ACCEPTED);
    }
    assert_eq!(upstream.seen.ballots.load(Ordering::SeqCst), 20);
    // One per worker thread at most: each worker keeps its own connections.
    let used = upstream.seen.connections_used.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&used),
        "20 ballots one after another used {used} connections"
    );
}

#[tokio::test]
async fn a_connection_the_upstream_closes_is_not_reused() {
    let upstream = Upstream::start().await;
    let edge = Edge::start(&[upstream.address], &[upstream.address], HTTP1).await;
    for _ in 0..10 {
        assert_eq!(ballot(&edge, "/vote?close").await, StatusCode::ACCEPTED);
    }
    assert_eq!(upstream.seen.ballots.load(Ordering::SeqCst), 10);
    assert_eq!(upstream.seen.connections_used.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn a_response_the_client_left_unread_never_reaches_another_request() {
    let upstream = Upstream::start().await;
    let edge = Edge::start(&[upstream.address], &[upstream.address], HTTP1).await;

    // A client that reads the head of a big answer and goes away.
    let mut stream = TcpStream::connect(edge.address).await.expect("connect");
    stream
        .write_all(b"POST /vote?big HTTP/1.1\r\nhost: tally\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 6\r\n\r\nvote=a")
        .await
        .expect("write");
    let mut head = [0u8; 64];
    let read = stream.read(&mut head).await.expect("read");
    assert!(
        head[..read].starts_with(b"HTTP/1.1 202"),
        "{:?}",
        String::from_utf8_lossy(&head[..read])
    );
    drop(stream);

    // Every later ballot gets its own small answer, not the rest of the big one.
    for _ in 0..10 {
        let answer = send(&client(), &edge, Method::POST, "/vote")
            .await
            .expect("the edge answers");
        assert_eq!(answer.status, StatusCode::ACCEPTED);
        assert_eq!(answer.body, Bytes::from_static(b"{\"accepted\":true}"));
    }
    assert_eq!(upstream.seen.ballots.load(Ordering::SeqCst), 11);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let upstream = Upstream::start().await;
    let edge = Edge::start(
        &[upstream.address],
        &[upstream.address],
        &["--pool-idle-timeout=1s", HTTP1[0]],
    )
    .await;
    assert_eq!(ballot(&edge, "/vote").await, StatusCode::ACCEPTED);
    assert_eq!(upstream.seen.open.load(Ordering::SeqCst), 1);
    wait_until("the idle connection is closed", || async {
        upstream.seen.open.load(Ordering::SeqCst) == 0
    })
    .await;
}

/// An upstream that closes a connection once it has been idle for `idle`, as a server
/// with a keep-alive timeout shorter than the edge's does. Raw HTTP/1.1, so that the
/// close happens exactly when it should; counts every ballot it read in full.
async fn impatient_upstream(idle: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let ballots = Arc::new(AtomicUsize::new(0));
    let counted = ballots.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer_until_idle(stream, idle, counted.clone()));
        }
    });
    (address, ballots)
}

async fn answer_until_idle(mut stream: TcpStream, idle: Duration, ballots: Arc<AtomicUsize>) {
    let mut buffer = Vec::new();
    loop {
        // A request: its head, then as many body bytes as its Content-Length says.
        let request = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().expect("length"));
                if buffer.len() >= end + 4 + length {
                    let request: Vec<u8> = buffer.drain(..end + 4 + length).collect();
                    break request;
                }
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(idle, stream.read(&mut chunk)).await {
                Ok(Ok(read)) if read > 0 => buffer.extend_from_slice(&chunk[..read]),
                // Idle for too long, or the edge closed it.
                _ => return,
            }
        };
        if request.starts_with(b"POST") {
            ballots.fetch_add(1, Ordering::SeqCst);
        }
        let answer = b"HTTP/1.1 202 Accepted\r\ncontent-length: 17\r\n\r\n{\"accepted\":true}";
        if stream.write_all(answer).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn ballots_spaced_around_the_upstreams_keep_alive_are_all_counted_once() {
    // The upstream's keep-alive (150 ms) is shorter than the edge's (5 s): ballots
    // spaced around 150 ms find their pooled connection open, closed, or closing.
    let idle = Duration::from_millis(150);
    let (address, ballots) = impatient_upstream(idle).await;
    let edge = Edge::start(&[address], &[address], HTTP1).await;
    let client = client();
    let cast = 30;
    for round in 0..cast {
        let answer = send(&client, &edge, Method::POST, "/vote")
            .await
            .expect("the edge answers");
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "ballot {round}: {answer:?}"
        );
        // 130 to 170 ms apart: on both sides of the upstream's idle timeout.
        tokio::time::sleep(Duration::from_millis(130 + (round % 5) * 10)).await;
    }
    assert_eq!(
        ballots.load(Ordering::SeqCst),
        cast as usize,
        "each ballot arrived once"
    );
}
