//! The workload a profile-guided build of the edge learns from (`scripts/build-edge-pgo`):
//! keep-alive clients sending the edge's everyday requests: mostly proxied votes, then
//! the front end's files in each encoding, revalidations (304), ranges, proxied GETs,
//! health checks and misses. The optimiser lays the edge's code out for what runs most
//! here, so the mix is what the edge should be fast at: changing it changes the shipped
//! binary.
//!
//!   edge-train EDGE_ADDRESS [seconds=10] [connections=32] [extra path...]
//!
//! Extra paths (say, the largest file of the front end) join the static requests.
//! Prints the answers by status; exits non-zero when none came back, or when any was a
//! 5xx, since a profile of failures would teach the optimiser the wrong paths.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Votes a client casts for each round of the other requests (about two in three
/// requests): the vote is the edge's busiest path, and its hardest against nginx.
/// Measured with benches/edge-ab.sh, training on 30 against 6 per round (a quarter of
/// the requests): 13.3 against 13.8 us of CPU per vote, and no change on the static rows.
const VOTES_PER_ROUND: usize = 30;

/// Keep-alive connections unless told otherwise: enough that the edge's workers all see
/// load and its connection pools fill as they do in service.
const DEFAULT_CONNECTIONS: usize = 32;

/// Training time unless told otherwise: long enough for each request kind to be counted
/// hundreds of thousands of times, short beside the two builds around it.
const DEFAULT_SECONDS: u64 = 10;

/// How long the edge has to report ready (`/readyz`: its health checks have seen the
/// upstream) before training starts; it is seconds at most on a loaded builder.
const READY_PATIENCE: Duration = Duration::from_secs(60);

/// One request of the mix: method, path and the fields it carries.
struct Ask {
    method: Method,
    path: String,
    fields: Vec<(header::HeaderName, String)>,
    body: &'static [u8],
}

impl Ask {
    fn get(path: &str, fields: &[(header::HeaderName, &str)]) -> Ask {
        Ask {
            method: Method::GET,
            path: path.to_owned(),
            fields: fields
                .iter()
                .map(|(name, value)| (name.clone(), (*value).to_owned()))
                .collect(),
            body: b"",
        }
    }

    fn vote() -> Ask {
        Ask {
            method: Method::POST,
            path: "/vote".to_owned(),
            fields: vec![(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: b"vote=a",
        }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header(header::HOST, "tally.train");
        for (name, value) in &self.fields {
            request = request.header(name, value);
        }
        request
            .body(Full::new(Bytes::from_static(self.body)))
            .expect("the mix's requests are well-formed")
    }
}

/// One round of a client's requests.
fn round(extra_paths: &[String]) -> Vec<Ask> {
    let gzip = [(header::ACCEPT_ENCODING, "gzip, deflate")];
    let brotli = [(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")];
    let mut asks: Vec<Ask> = (0..VOTES_PER_ROUND).map(|_| Ask::vote()).collect();
    for path in ["/", "/app.js", "/style.css"]
        .into_iter()
        .map(str::to_owned)
        .chain(extra_paths.iter().cloned())
    {
        asks.push(Ask::get(&path, &brotli));
        asks.push(Ask::get(&path, &gzip));
        asks.push(Ask::get(&path, &[]));
    }
    asks.push(Ask::get("/", &[(header::IF_NONE_MATCH, "*")]));
    asks.push(Ask::get("/app.js", &[(header::RANGE, "bytes=0-99")]));
    asks.push(Ask::get("/results", &[]));
    asks.push(Ask::get("/healthz", &[]));
    asks.push(Ask::get("/no-such-file", &[]));
    asks
}

/// Sends `asks` in turn on one keep-alive connection until `deadline`, reconnecting when
/// the edge closes it; returns the answers by status.
async fn client(
    edge: SocketAddr,
    asks: Vec<Ask>,
    deadline: Instant,
) -> Result<BTreeMap<u16, u64>, BoxError> {
    let mut answers = BTreeMap::new();
    let mut sender = None;
    'rounds: while Instant::now() < deadline {
        for ask in &asks {
            let connection = match sender.as_mut() {
                Some(connection) => connection,
                None => sender.insert(connect(edge).await?),
            };
            match exchange(connection, ask).await {
                Ok(status) => *answers.entry(status.as_u16()).or_insert(0) += 1,
                Err(_closed) => {
                    sender = None;
                    continue 'rounds;
                }
            }
        }
    }
    Ok(answers)
}

async fn connect(edge: SocketAddr) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = TcpStream::connect(edge).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    ask: &Ask,
) -> Result<StatusCode, hyper::Error> {
    sender.ready().await?;
    let response = sender.send_request(ask.request()).await?;
    let status = response.status();
    response.into_body().collect().await?;
    Ok(status)
}

/// Returns once the edge answers `/readyz` with 200: training on 503s (no upstream yet)
/// would fail the run.
async fn wait_until_ready(edge: SocketAddr) {
    let given_up = Instant::now() + READY_PATIENCE;
    let readyz = Ask::get("/readyz", &[]);
    while Instant::now() < given_up {
        if let Ok(mut sender) = connect(edge).await {
            if let Ok(StatusCode::OK) = exchange(&mut sender, &readyz).await {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("edge-train: the edge at {edge} was not ready within {READY_PATIENCE:?}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: edge-train EDGE_ADDRESS [seconds] [connections] [extra path...]";
    let edge: SocketAddr = args
        .next()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("{usage}"));
    let seconds = args
        .next()
        .map_or(DEFAULT_SECONDS, |text| text.parse().expect(usage));
    let connections = args
        .next()
        .map_or(DEFAULT_CONNECTIONS, |text| text.parse().expect(usage));
    let extra_paths: Vec<String> = args.collect();

    wait_until_ready(edge).await;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(client(edge, round(&extra_paths), deadline)))
        .collect();
    let mut answers = BTreeMap::new();
    for finished in clients {
        let counts = finished
            .await
            .expect("a training client panicked")
            .unwrap_or_else(|error| panic!("edge-train: the edge at {edge} broke off: {error}"));
        for (status, count) in counts {
            *answers.entry(status).or_insert(0) += count;
        }
    }
    let total: u64 = answers.values().sum();
    let failed: u64 = answers
        .iter()
        .filter(|(status, _)| **status >= 500)
        .map(|(_, count)| count)
        .sum();
    println!("edge-train: {total} answers in {seconds} s, by status: {answers:?}");
    if total == 0 || failed > 0 {
        eprintln!("edge-train: the profile would be of failures; not using it");
        std::process::exit(1);
    }
}
