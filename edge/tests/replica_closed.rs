//! A replica that closes its HTTP/2 connection without a `GOAWAY` (it crashed, or its
//! container was killed), seen by the edge's multiplexed connection: a request queued
//! after the close, before the edge had read it, never left and is reported so (it may
//! go to another replica whatever its method); a request written before the close may
//! have been processed and is reported as failed (a POST is then not sent again).

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use tally_edge::multiplexed::{Multiplexed, SendFailure, Sender};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// When the test replica closes its one connection.
#[derive(Clone, Copy)]
enum CloseWhen {
    /// When the test says so, answering every request until then.
    Told,
    /// As soon as a request arrives, unanswered.
    RequestArrives,
}

/// A replica on a thread and runtime of its own, so that the test's runtime (one
/// thread) runs nothing of the edge's while the test waits for the replica: the
/// edge's connection has not read the close when the next request is queued.
struct Replica {
    address: SocketAddr,
    close: Option<oneshot::Sender<()>>,
    closed: mpsc::Receiver<()>,
}

impl Replica {
    fn start(when: CloseWhen) -> Replica {
        let (bound, address) = mpsc::channel();
        let (close, told) = oneshot::channel();
        let (confirm, closed) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(serve(when, bound, told));
            let _ = confirm.send(());
        });
        Replica {
            address: address.recv().expect("replica bound"),
            close: Some(close),
            closed,
        }
    }

    /// Tells the replica to close its connection and blocks the calling thread until
    /// its socket is closed.
    fn close_now(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        self.wait_closed();
    }

    fn wait_closed(&self) {
        self.closed
            .recv_timeout(Duration::from_secs(10))
            .expect("replica closed its connection");
    }
}

async fn serve(when: CloseWhen, bound: mpsc::Sender<SocketAddr>, mut told: oneshot::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    bound
        .send(listener.local_addr().expect("address"))
        .expect("test waits");
    let (socket, _) = listener.accept().await.expect("accept");
    let mut connection = h2::server::handshake(socket).await.expect("handshake");
    loop {
        tokio::select! {
            _ = &mut told => return,
            accepted = connection.accept() => {
                let Some(Ok((_request, mut respond))) = accepted else { return };
                if matches!(when, CloseWhen::RequestArrives) {
                    return;
                }
                let answer = Response::builder().status(StatusCode::OK).body(()).expect("answer");
                respond.send_response(answer, true).expect("respond");
            }
        }
    }
    // Returning drops the connection and its socket, without a GOAWAY.
}

fn request(method: Method) -> Request<()> {
    Request::builder()
        .method(method)
        .uri("/vote")
        .header(http::header::HOST, "vote")
        .body(())
        .expect("request")
}

async fn connected(replica: &Replica) -> Sender {
    Multiplexed::new(CONNECT_TIMEOUT)
        .checkout(replica.address)
        .await
        .expect("connected")
}

#[tokio::test]
async fn a_request_queued_after_the_replica_closed_never_left() {
    let mut replica = Replica::start(CloseWhen::Told);
    let mut sender = connected(&replica).await;
    let answered = sender
        .send(request(Method::GET), None)
        .await
        .expect("the connection works");
    assert_eq!(answered.status(), StatusCode::OK);

    replica.close_now();
    let ballot = Some(Bytes::from_static(b"{\"option\":\"a\"}"));
    match sender.send(request(Method::POST), ballot).await {
        Err(SendFailure::Unwritten(error)) => assert!(error.is_io(), "{error}"),
        other => panic!("expected the POST unwritten, got {other:?}"),
    }
}

#[tokio::test]
async fn a_request_written_before_the_replica_closed_may_have_been_processed() {
    let replica = Replica::start(CloseWhen::RequestArrives);
    let mut sender = connected(&replica).await;
    let ballot = Some(Bytes::from_static(b"{\"option\":\"a\"}"));
    match sender.send(request(Method::POST), ballot).await {
        Err(SendFailure::Stream(error)) => assert!(error.is_io(), "{error}"),
        other => panic!("expected the POST failed after it was written, got {other:?}"),
    }
    replica.wait_closed();
}
