//! Many HTTP/2 streams cancelled at once, as the edge cancels them when a crowd of its
//! clients leaves, or refused at once, as a replica refuses streams past its limit: a
//! loop serving the public closes the connection (the rapid-reset defence), a loop
//! behind the gateway keeps it and answers the next request.
//!
//! The client writes its frames by hand so that every cancelled stream reaches the
//! server in the same read as its request, before the server can take it: the order a
//! busy replica sees, made certain.

// Test helpers unwrap: a panic is how a test reports a broken precondition.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use http::Response;
use tally_runtime::{
    full, serve, Body, Handler, Http2Clients, Request, RequestContext, ServeConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Streams opened and cancelled in the burst: past h2's limit of 20, far below the
/// gateway's.
const CANCELLED: u32 = 100;
/// Streams hyper's server takes at once (its `max_concurrent_streams`).
const ACCEPTED: usize = 200;
/// Streams requested in one write: the server refuses all but [`ACCEPTED`], past h2's
/// limit of 1,024 resets over a connection's life.
const OVERFLOWING: u32 = 1_300;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM_AND_HEADERS: u8 = 0x1 | 0x4;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;
/// HPACK static-table entries: `:method: GET`, `:scheme: http`, `:path: /`.
const GET_ROOT: &[u8] = &[0x82, 0x86, 0x84];

struct Answer;

impl Handler for Answer {
    async fn handle(self: Arc<Self>, _: Request, _: RequestContext) -> Response<Body> {
        Response::new(full("ok"))
    }

    async fn ready(self: Arc<Self>) -> Result<(), String> {
        Ok(())
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut bytes = vec![length[1], length[2], length[3], kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// How the server answered the request sent after the burst.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Answered,
    GoAway { error_code: u32, reason: String },
}

/// Requests `GET /` on each of `streams` (client stream ids, odd).
fn requests(streams: impl Iterator<Item = u32>) -> Vec<u8> {
    streams
        .flat_map(|stream| frame(HEADERS, END_STREAM_AND_HEADERS, stream, GET_ROOT))
        .collect()
}

/// Writes `burst` in one write, waits for the answers to `answered_first` of its
/// streams, then asks on stream `asked`.
async fn burst_then_ask(
    clients: Http2Clients,
    burst: &[u8],
    answered_first: usize,
    asked: u32,
) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = ServeConfig {
        h2_clients: clients,
        ..ServeConfig::default()
    };
    let server = tokio::spawn(serve(
        listener,
        config,
        Arc::new(Answer),
        std::future::pending(),
    ));

    let mut bytes = PREFACE.to_vec();
    bytes.extend(frame(SETTINGS, 0, 0, &[]));
    bytes.extend_from_slice(burst);
    let mut connection = TcpStream::connect(address).await.unwrap();
    connection.write_all(&bytes).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        let mut answers = 0;
        while answers < answered_first {
            match read_frame(&mut connection).await {
                Frame::GoAway(outcome) => return outcome,
                Frame::Answer(_) => answers += 1,
                Frame::Other => {}
            }
        }
        let ask = frame(HEADERS, END_STREAM_AND_HEADERS, asked, GET_ROOT);
        connection.write_all(&ask).await.unwrap();
        loop {
            match read_frame(&mut connection).await {
                Frame::GoAway(outcome) => return outcome,
                Frame::Answer(stream) if stream == asked => return Outcome::Answered,
                _ => {}
            }
        }
    })
    .await
    .expect("the server neither answered nor closed the connection");
    server.abort();
    outcome
}

/// What one frame from the server was.
enum Frame {
    /// A response head, on this stream.
    Answer(u32),
    GoAway(Outcome),
    Other,
}

async fn read_frame(connection: &mut TcpStream) -> Frame {
    let mut head = [0u8; 9];
    connection.read_exact(&mut head).await.unwrap();
    let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    let mut payload = vec![0u8; length];
    connection.read_exact(&mut payload).await.unwrap();
    match head[3] {
        HEADERS => Frame::Answer(stream),
        GOAWAY => Frame::GoAway(Outcome::GoAway {
            error_code: u32::from_be_bytes(payload[4..8].try_into().unwrap()),
            reason: String::from_utf8_lossy(&payload[8..]).into_owned(),
        }),
        _ => Frame::Other,
    }
}

/// [`CANCELLED`] streams opened and cancelled in one write, as the edge sends them when
/// its clients leave.
fn cancelled_crowd() -> (Vec<u8>, u32) {
    let streams = (0..CANCELLED).map(|index| 2 * index + 1);
    let mut burst = requests(streams.clone());
    for stream in streams {
        burst.extend(frame(RST_STREAM, 0, stream, &CANCEL.to_be_bytes()));
    }
    (burst, 2 * CANCELLED + 1)
}

/// More requests in one write than the server takes at once (hyper: 200 streams), as a
/// client that has not yet read the server's settings may send: the server refuses the
/// rest (`REFUSED_STREAM`), each refusal a reset it counts over the connection's life.
fn refused_crowd() -> (Vec<u8>, u32) {
    let burst = requests((0..OVERFLOWING).map(|index| 2 * index + 1));
    (burst, 2 * OVERFLOWING + 1)
}

#[tokio::test]
async fn a_public_loop_closes_a_connection_that_cancels_a_crowd_of_streams() {
    let (burst, asked) = cancelled_crowd();
    assert_eq!(
        burst_then_ask(Http2Clients::Anyone, &burst, 0, asked).await,
        Outcome::GoAway {
            error_code: ENHANCE_YOUR_CALM,
            reason: "too_many_resets".into()
        }
    );
}

#[tokio::test]
async fn a_loop_behind_the_gateway_keeps_the_connection_and_answers_the_next_request() {
    let (burst, asked) = cancelled_crowd();
    assert_eq!(
        burst_then_ask(Http2Clients::Gateway, &burst, 0, asked).await,
        Outcome::Answered
    );
}

#[tokio::test]
async fn a_public_loop_closes_a_connection_after_refusing_a_thousand_streams() {
    let (burst, asked) = refused_crowd();
    assert_eq!(
        burst_then_ask(Http2Clients::Anyone, &burst, 0, asked).await,
        Outcome::GoAway {
            error_code: ENHANCE_YOUR_CALM,
            reason: "too_many_internal_resets".into()
        }
    );
}

#[tokio::test]
async fn a_loop_behind_the_gateway_refuses_streams_without_closing_the_connection() {
    let (burst, asked) = refused_crowd();
    // The streams it took are answered first, so that the next one is taken too.
    assert_eq!(
        burst_then_ask(Http2Clients::Gateway, &burst, ACCEPTED, asked).await,
        Outcome::Answered
    );
}
