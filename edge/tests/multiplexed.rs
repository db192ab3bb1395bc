//! The edge's HTTP/2 upstream connections (the default, `--upstream-protocol=h2c`), seen
//! from real upstream servers on real ports: requests in flight together share one
//! connection per worker; a replica that shuts down gracefully while votes stream in
//! loses none and counts none twice; requests a replica refused unprocessed are sent
//! again; large responses arrive whole, and clients that do not read them hold back
//! nobody else's; `HEAD` goes over HTTP/1.1; an unused connection is closed after the
//! idle timeout.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use support::{client, send, wait_until, Edge};

/// How long each ballot takes the test upstream: long enough that a replica shutting
/// down still has ballots in flight while new ones keep coming.
const BALLOT_TIME: Duration = Duration::from_millis(20);

/// The body a `GET` on a path ending in `/big` answers: larger than the windows the
/// edge gives a stream and its connection, so it arrives only if the edge releases
/// them as it hands the body on.
const BIG_BODY_BYTES: usize = 6 << 20;

/// What one test upstream saw.
#[derive(Default)]
struct Seen {
    /// Connections that carried at least one ballot.
    carrying_ballots: AtomicUsize,
    open: AtomicUsize,
    ballots: AtomicUsize,
    over_http2: AtomicUsize,
    /// Answers to `GET …/big` begun.
    big_answered: AtomicUsize,
    /// `HEAD` requests that came over HTTP/1.1.
    heads_over_http1: AtomicUsize,
}

/// A vote replica speaking HTTP/1.1 and h2c on one port, as Tally's services do,
/// that can shut down gracefully: stop accepting, tell its connections it is going
/// away (HTTP/2 `GOAWAY`), finish what they carry.
struct Upstream {
    address: SocketAddr,
    seen: Arc<Seen>,
    stop: watch::Sender<bool>,
    serving: JoinHandle<()>,
}

impl Upstream {
    async fn start() -> Upstream {
        Upstream::start_with_streams(None).await
    }

    /// A replica that refuses (`REFUSED_STREAM`) requests past `max_streams` at once on
    /// one connection.
    async fn start_with_streams(max_streams: Option<u32>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let seen = Arc::new(Seen::default());
        let (stop, mut stopping) = watch::channel(false);
        let serving = tokio::spawn({
            let seen = seen.clone();
            async move {
                let graceful = GracefulShutdown::new();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let used = Arc::new(AtomicBool::new(false));
                            let service = service_fn({
                                let seen = seen.clone();
                                move |request| {
                                    let (seen, used) = (seen.clone(), used.clone());
                                    async move { Ok::<_, Infallible>(answer(seen, &used, request).await) }
                                }
                            });
                            let mut builder = auto::Builder::new(TokioExecutor::new());
                            builder.http2().max_concurrent_streams(max_streams);
                            let connection = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .into_owned();
                            let watched = graceful.watch(connection);
                            let seen = seen.clone();
                            seen.open.fetch_add(1, Ordering::SeqCst);
                            tokio::spawn(async move {
                                let _ = watched.await;
                                seen.open.fetch_sub(1, Ordering::SeqCst);
                            });
                        }
                        _ = stopping.changed() => break,
                    }
                }
                drop(listener);
                graceful.shutdown().await;
            }
        });
        Upstream {
            address,
            seen,
            stop,
            serving,
        }
    }

    fn ballots(&self) -> usize {
        self.seen.ballots.load(Ordering::SeqCst)
    }

    /// Shuts down gracefully; returns once every connection has ended.
    async fn shut_down(self) {
        let _ = self.stop.send(true);
        let _ = self.serving.await;
    }
}

async fn answer(
    seen: Arc<Seen>,
    connection_used: &AtomicBool,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if request.method() == Method::HEAD && request.version() == Version::HTTP_11 {
        seen.heads_over_http1.fetch_add(1, Ordering::SeqCst);
    }
    if request.method() != Method::POST {
        if request.uri().path().ends_with("/big") {
            seen.big_answered.fetch_add(1, Ordering::SeqCst);
            return Response::new(Full::new(Bytes::from(vec![b'x'; BIG_BODY_BYTES])));
        }
        return Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    }
    if !connection_used.swap(true, Ordering::SeqCst) {
        seen.carrying_ballots.fetch_add(1, Ordering::SeqCst);
    }
    if request.version() == Version::HTTP_2 {
        seen.over_http2.fetch_add(1, Ordering::SeqCst);
    }
    let _ = request.into_body().collect().await;
    tokio::time::sleep(BALLOT_TIME).await;
    seen.ballots.fetch_add(1, Ordering::SeqCst);
    let mut response = Response::new(Full::new(Bytes::from_static(b"{\"queued\":true}")));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// Sends `count` ballots from each of `clients` clients at once to the edge at
/// `address`; the statuses (599: no answer), in no order.
async fn ballots(address: SocketAddr, clients: usize, count: usize) -> Vec<StatusCode> {
    let senders: Vec<_> = (0..clients)
        .map(|_| {
            let client = client();
            tokio::spawn(async move {
                let mut statuses = Vec::with_capacity(count);
                for _ in 0..count {
                    statuses.push(ballot(&client, address).await);
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for sender in senders {
        statuses.extend(sender.await.expect("sender"));
    }
    statuses
}

async fn ballot(client: &support::TestClient, address: SocketAddr) -> StatusCode {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{address}/vote"))
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Full::new(Bytes::from_static(b"vote=a")))
        .expect("request");
    match client.request(request).await {
        Ok(response) => {
            let status = response.status();
            let _ = response.into_body().collect().await;
            status
        }
        Err(_) => StatusCode::from_u16(599).expect("status"),
    }
}

/// The edge with one worker (so one connection to `upstream` carries everything) and
/// no periodic health checks, both pools on `upstream`.
async fn one_worker_edge(upstream: &Upstream) -> Edge {
    let flags = ["--worker-threads=1", "--health-interval=1h"];
    Edge::start(&[upstream.address], &[upstream.address], &flags).await
}

/// Every status is 202.
fn all_accepted(statuses: &[StatusCode]) -> bool {
    statuses.iter().all(|s| *s == StatusCode::ACCEPTED)
}

#[tokio::test]
async fn ballots_in_flight_together_share_one_connection_per_worker() {
    let upstream = Upstream::start().await;
    let edge = one_worker_edge(&upstream).await;
    let statuses = ballots(edge.address, 32, 4).await;
    assert!(all_accepted(&statuses), "{statuses:?}");
    assert_eq!(upstream.ballots(), 128);
    assert_eq!(upstream.seen.over_http2.load(Ordering::SeqCst), 128);
    let connections = upstream.seen.carrying_ballots.load(Ordering::SeqCst);
    assert_eq!(
        connections, 1,
        "32 clients at once used {connections} connections"
    );
}

#[tokio::test]
async fn a_replica_shutting_down_gracefully_loses_no_ballot_and_counts_none_twice() {
    let (leaving, staying) = (Upstream::start().await, Upstream::start().await);
    let edge = Edge::start(&[leaving.address, staying.address], &[staying.address], &[]).await;
    // Both replicas carry ballots before one leaves.
    let warm = ballots(edge.address, 8, 2).await;
    assert!(all_accepted(&warm), "{warm:?}");
    assert!(leaving.ballots() > 0 && staying.ballots() > 0);

    let load = tokio::spawn(ballots(edge.address, 16, 25));
    wait_until("the load reaches the leaving replica", || async {
        leaving.ballots() > 16
    })
    .await;
    let before_shutdown = warm.len();
    let leaving_seen = leaving.seen.clone();
    leaving.shut_down().await;
    let statuses = load.await.expect("load");
    assert!(all_accepted(&statuses), "{statuses:?}");
    let counted = leaving_seen.ballots.load(Ordering::SeqCst) + staying.ballots();
    assert_eq!(
        counted,
        before_shutdown + statuses.len(),
        "every ballot answered 202 was counted once"
    );
}

#[tokio::test]
async fn ballots_a_replica_refused_unprocessed_are_sent_again() {
    // Before the replica's settings arrive, the edge may open more streams than the
    // replica allows; those it refuses are sent again, and counted once.
    let upstream = Upstream::start_with_streams(Some(2)).await;
    let edge = one_worker_edge(&upstream).await;
    let statuses = ballots(edge.address, 16, 1).await;
    assert!(all_accepted(&statuses), "{statuses:?}");
    assert_eq!(upstream.ballots(), 16);
}

#[tokio::test]
async fn a_response_larger_than_the_flow_control_windows_arrives_whole() {
    let upstream = Upstream::start().await;
    let edge = Edge::start(&[upstream.address], &[upstream.address], &[]).await;
    let answers = futures_util::future::join_all(
        (0..3).map(|_| async { send(&client(), &edge, Method::GET, "/results/big").await }),
    );
    let answers = tokio::time::timeout(support::PATIENCE, answers)
        .await
        .expect("the bodies arrive in time");
    for answer in answers {
        let answer = answer.expect("the edge answers");
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.len(), BIG_BODY_BYTES);
    }
}

#[tokio::test]
async fn clients_that_do_not_read_hold_back_their_own_responses_only() {
    let upstream = Upstream::start().await;
    let edge = one_worker_edge(&upstream).await;
    // Eight downloads larger than any window, by clients that never read: with a
    // stream window of 1 MiB and a connection window of 4 MiB they held the whole
    // connection, and every other response on it stopped after its head.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("small buffer");
        let mut stream = socket.connect(edge.address).await.expect("connect");
        stream
            .write_all(b"GET /results/big HTTP/1.1\r\nHost: tally.test\r\n\r\n")
            .await
            .expect("request");
        stalled.push(stream);
    }
    wait_until("the downloads reach the upstream", || async {
        upstream.seen.big_answered.load(Ordering::SeqCst) == 8
    })
    .await;
    let statuses = tokio::time::timeout(support::PATIENCE, ballots(edge.address, 8, 2))
        .await
        .expect("ballots answered while the downloads wait");
    assert!(all_accepted(&statuses), "{statuses:?}");
    drop(stalled);
}

#[tokio::test]
async fn head_requests_go_over_http1() {
    // An HTTP/2 server may send a body with its answer to HEAD, which h2 takes for a
    // protocol error, counted against the shared connection.
    let upstream = Upstream::start().await;
    let edge = Edge::start(&[upstream.address], &[upstream.address], &[]).await;
    for _ in 0..3 {
        let answer = send(&client(), &edge, Method::HEAD, "/results")
            .await
            .expect("the edge answers");
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(upstream.seen.heads_over_http1.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unused_connection_is_closed_after_the_idle_timeout() {
    let upstream = Upstream::start().await;
    let edge = Edge::start(
        &[upstream.address],
        &[upstream.address],
        &["--pool-idle-timeout=1s", "--health-interval=1h"],
    )
    .await;
    let first = send(&client(), &edge, Method::POST, "/vote")
        .await
        .expect("the edge answers");
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(upstream.seen.open.load(Ordering::SeqCst) >= 1);
    wait_until("the unused connection is closed", || async {
        upstream.seen.open.load(Ordering::SeqCst) == 0
    })
    .await;
    let again = send(&client(), &edge, Method::POST, "/vote")
        .await
        .expect("the edge answers");
    assert_eq!(
        again.status,
        StatusCode::ACCEPTED,
        "a new connection is opened"
    );
}
