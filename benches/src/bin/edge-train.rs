//! The workload a profile-guided build of the edge learns from (`scripts/build-edge-pgo`):
//! keep-alive clients sending the edge's everyday requests: mostly proxied votes, then
//! the front end's files in each encoding, revalidations (304), ranges, proxied GETs,
//! health checks and misses. The optimiser lays the edge's code out for what runs most
//! here, so the mix is what the edge should be fast at: changing it changes the shipped
//! binary.
//!
//!   edge-train EDGE_ADDRESS [seconds=10] [connections=32]
//!
//! Prints the answers by status; exits non-zero when none came back, when any was not the
//! one its request should get (a refused vote, a 5xx), or when more than one exchange in
//! a hundred broke off or timed out, since a profile of failures would teach the
//! optimiser the wrong paths.

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

/// Longest a connect or an exchange may take: on loopback they take microseconds, so
/// one this slow means the edge is stuck, and the training ends rather than hang.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// One request of the mix: method, path, the fields it carries and the status it should
/// get.
struct Ask {
    method: Method,
    path: &'static str,
    fields: Vec<(header::HeaderName, String)>,
    body: &'static [u8],
    expect: StatusCode,
}

impl Ask {
    fn get(path: &'static str, fields: &[(header::HeaderName, &str)], expect: StatusCode) -> Ask {
        Ask {
            method: Method::GET,
            path,
            fields: fields
                .iter()
                .map(|(name, value)| (name.clone(), (*value).to_owned()))
                .collect(),
            body: b"",
            expect,
        }
    }

    fn vote() -> Ask {
        Ask {
            method: Method::POST,
            path: "/vote",
            fields: vec![(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: b"vote=a",
            expect: StatusCode::ACCEPTED,
        }
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(self.path)
            .header(header::HOST, "tally.train");
        for (name, value) in &self.fields {
            request = request.header(name, value);
        }
        request
            .body(Full::new(Bytes::from_static(self.body)))
            .expect("the mix's requests are well-formed")
    }
}

/// One round of a client's requests; `etag` is the front page's, for revalidations.
fn round(etag: &str) -> Vec<Ask> {
    let gzip = [(header::ACCEPT_ENCODING, "gzip, deflate")];
    let brotli = [(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")];
    let mut asks: Vec<Ask> = (0..VOTES_PER_ROUND).map(|_| Ask::vote()).collect();
    for path in ["/", "/app.js", "/style.css"] {
        asks.push(Ask::get(path, &brotli, StatusCode::OK));
        asks.push(Ask::get(path, &gzip, StatusCode::OK));
        asks.push(Ask::get(path, &[], StatusCode::OK));
    }
    asks.push(Ask::get(
        "/",
        &[(header::IF_NONE_MATCH, etag)],
        StatusCode::NOT_MODIFIED,
    ));
    asks.push(Ask::get(
        "/app.js",
        &[(header::RANGE, "bytes=0-99")],
        StatusCode::PARTIAL_CONTENT,
    ));
    asks.push(Ask::get("/results", &[], StatusCode::OK));
    asks.push(Ask::get("/healthz", &[], StatusCode::OK));
    asks.push(Ask::get("/no-such-file", &[], StatusCode::NOT_FOUND));
    asks
}

/// What one client saw: answers by status, and the requests answered otherwise than
/// expected (path and status).
#[derive(Default)]
struct Tally {
    answers: BTreeMap<u16, u64>,
    unexpected: BTreeMap<(&'static str, u16), u64>,
    /// Exchanges that broke off or timed out (the connection is opened again).
    broken: u64,
}

impl Tally {
    /// Adds what another client saw.
    fn add(&mut self, other: Tally) {
        for (status, count) in other.answers {
            *self.answers.entry(status).or_insert(0) += count;
        }
        for (what, count) in other.unexpected {
            *self.unexpected.entry(what).or_insert(0) += count;
        }
        self.broken += other.broken;
    }
}

/// Sends `asks` in turn on one keep-alive connection until `deadline`, reconnecting when
/// the edge closes it.
async fn client(edge: SocketAddr, asks: Vec<Ask>, deadline: Instant) -> Result<Tally, BoxError> {
    let mut tally = Tally::default();
    let mut sender = None;
    'rounds: while Instant::now() < deadline {
        for ask in &asks {
            let connection = match sender.as_mut() {
                Some(connection) => connection,
                None => sender.insert(connect(edge).await?),
            };
            match exchange(connection, ask).await {
                Ok(status) => {
                    *tally.answers.entry(status.as_u16()).or_insert(0) += 1;
                    if status != ask.expect {
                        *tally
                            .unexpected
                            .entry((ask.path, status.as_u16()))
                            .or_insert(0) += 1;
                    }
                }
                Err(_broken) => {
                    tally.broken += 1;
                    sender = None;
                    continue 'rounds;
                }
            }
        }
    }
    Ok(tally)
}

async fn connect(edge: SocketAddr) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = tokio::time::timeout(EXCHANGE_TIMEOUT, TcpStream::connect(edge)).await??;
    stream.set_nodelay(true)?;
    let (sender, connection) = tokio::time::timeout(
        EXCHANGE_TIMEOUT,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await??;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends `ask` and reads the whole answer; returns its status (and its ETag, wanted by
/// the first request).
async fn exchange_for_etag(
    sender: &mut SendRequest<Full<Bytes>>,
    ask: &Ask,
) -> Result<(StatusCode, Option<String>), BoxError> {
    let answer = async {
        sender.ready().await?;
        let response = sender.send_request(ask.request()).await?;
        let status = response.status();
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        response.into_body().collect().await?;
        Ok::<_, hyper::Error>((status, etag))
    };
    Ok(tokio::time::timeout(EXCHANGE_TIMEOUT, answer).await??)
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    ask: &Ask,
) -> Result<StatusCode, BoxError> {
    Ok(exchange_for_etag(sender, ask).await?.0)
}

/// Returns the front page's ETag once the edge answers `/readyz` with 200: training on
/// 503s (no upstream yet) would fail the run.
async fn wait_until_ready(edge: SocketAddr) -> String {
    let given_up = Instant::now() + READY_PATIENCE;
    let readyz = Ask::get("/readyz", &[], StatusCode::OK);
    let front_page = Ask::get("/", &[], StatusCode::OK);
    while Instant::now() < given_up {
        if let Ok(mut sender) = connect(edge).await {
            if let Ok(StatusCode::OK) = exchange(&mut sender, &readyz).await {
                match exchange_for_etag(&mut sender, &front_page).await {
                    Ok((StatusCode::OK, Some(etag))) => return etag,
                    other => {
                        panic!("edge-train: the front page did not come back 200 with an ETag: {other:?}")
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("edge-train: the edge at {edge} was not ready within {READY_PATIENCE:?}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: edge-train EDGE_ADDRESS [seconds] [connections]";
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

    let etag = wait_until_ready(edge).await;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(client(edge, round(&etag), deadline)))
        .collect();
    let mut all = Tally::default();
    for finished in clients {
        all.add(
            finished
                .await
                .expect("a training client panicked")
                .unwrap_or_else(|error| {
                    panic!("edge-train: the edge at {edge} broke off: {error}")
                }),
        );
    }
    let total: u64 = all.answers.values().sum();
    println!(
        "edge-train: {total} answers in {seconds} s, by status: {:?}; {} broke off",
        all.answers, all.broken
    );
    // A few connections may break off (one closed by the edge as it was reused); more
    // than one exchange in a hundred is a failing edge.
    if total == 0 || !all.unexpected.is_empty() || all.broken * 100 > total {
        eprintln!(
            "edge-train: answers other than expected (path, status: count) {:?}, {} broke off; \
             the profile would be of failures",
            all.unexpected, all.broken
        );
        std::process::exit(1);
    }
}
