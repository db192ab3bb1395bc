//! Test kit for the edge's upstream half: replicas that can be killed and restarted on
//! their port, held requests, a WebSocket echo, a scripted resolver, and the edge
//! itself in-process on a free port.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tally_edge::resolve::{Lookup, Resolve};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

/// How long a test waits for a condition before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How long an upstream takes for a request on a path ending in `/slow`.
pub const SLOW: Duration = Duration::from_secs(3);

/// Polls `condition` until it holds, failing the test after [`PATIENCE`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What every replica counts.
#[derive(Debug, Default)]
pub struct Counts {
    /// Requests received (health checks not included).
    pub received: AtomicUsize,
    /// POST requests received.
    pub posts_received: AtomicUsize,
    /// Requests answered.
    pub answered: AtomicUsize,
    /// WebSocket sessions that have ended.
    pub sockets_closed: AtomicUsize,
    /// `GET /readyz` asked (not counted in `received`).
    pub readiness_checks: AtomicUsize,
    /// `GET /healthz` asked (not counted in `received`).
    pub health_checks: AtomicUsize,
    /// Set while the replica is not ready: `/readyz` and every ordinary request get
    /// 503 with Retry-After, as a Tally service whose Redis or Postgres is away.
    pub not_ready: AtomicBool,
}

/// A replica standing in for a vote or result service.
pub struct Replica {
    pub name: &'static str,
    pub address: SocketAddr,
    pub counts: Arc<Counts>,
    /// Requests on paths ending in `/hold` wait for a permit from here.
    pub gate: Arc<Semaphore>,
    /// How long each ordinary request takes.
    delay: Duration,
    server: Option<Server>,
}

/// A replica's running server: its task, and the signal that stops it.
struct Server {
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

impl Replica {
    pub async fn start(name: &'static str) -> Replica {
        Replica::start_with_delay(name, Duration::ZERO).await
    }

    pub async fn start_with_delay(name: &'static str, delay: Duration) -> Replica {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind replica");
        let mut replica = Replica {
            name,
            address: listener.local_addr().expect("address"),
            counts: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
            delay,
            server: None,
        };
        replica.serve(listener);
        replica
    }

    pub fn received(&self) -> usize {
        self.counts.received.load(Ordering::SeqCst)
    }

    pub fn posts_received(&self) -> usize {
        self.counts.posts_received.load(Ordering::SeqCst)
    }

    pub fn answered(&self) -> usize {
        self.counts.answered.load(Ordering::SeqCst)
    }

    pub fn readiness_checks(&self) -> usize {
        self.counts.readiness_checks.load(Ordering::SeqCst)
    }

    pub fn health_checks(&self) -> usize {
        self.counts.health_checks.load(Ordering::SeqCst)
    }

    /// Makes `/readyz` (and every ordinary request) answer 503 until set ready again;
    /// `/healthz` keeps answering 200: alive, not ready.
    pub fn set_ready(&self, ready: bool) {
        self.counts.not_ready.store(!ready, Ordering::SeqCst);
    }

    /// Stops the replica as a crash would: the listener and every HTTP connection close,
    /// unanswered requests with them. Returns once they are closed, so that what the test
    /// does next meets a dead replica, not one still dying. (WebSocket sessions, on tasks
    /// of their own once upgraded, are left to end by themselves.)
    pub async fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            let _ = server.task.await;
        }
    }

    /// Starts the replica again on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        let listener = TcpListener::bind(self.address)
            .await
            .expect("rebind replica");
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let (name, counts, gate, delay) = (
            self.name,
            self.counts.clone(),
            self.gate.clone(),
            self.delay,
        );
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            // Aborting this task (the replica dropped) drops the set, which aborts
            // every connection; `kill` instead stops the loop below and waits.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let (counts, gate) = (counts.clone(), gate.clone());
                        let service = service_fn(move |request| {
                            let (counts, gate) = (counts.clone(), gate.clone());
                            async move { Ok::<_, Infallible>(answer(name, delay, &counts, &gate, request).await) }
                        });
                        // HTTP/1.1 and h2c on one port, as Tally's services.
                        connections.spawn(async move {
                            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next() => {}
                }
            }
            // Closed first, so that no connection arrives while the others close; then
            // every connection aborted and dropped (its socket closed) before the task
            // ends.
            drop(listener);
            connections.shutdown().await;
        });
        self.server = Some(Server { task, stop });
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.task.abort();
        }
    }
}

async fn answer(
    name: &'static str,
    delay: Duration,
    counts: &Arc<Counts>,
    gate: &Semaphore,
    mut request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path == "/healthz" {
        counts.health_checks.fetch_add(1, Ordering::SeqCst);
        return Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    }
    let ready = !counts.not_ready.load(Ordering::SeqCst);
    if path == "/readyz" {
        counts.readiness_checks.fetch_add(1, Ordering::SeqCst);
        if ready {
            return Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ready\"}")));
        }
    }
    if !ready {
        if path != "/readyz" {
            counts.received.fetch_add(1, Ordering::SeqCst);
        }
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header("x-upstream", name)
            .header(header::RETRY_AFTER, "1")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(
                b"{\"error\":\"redis: connection refused\"}",
            )))
            .expect("503");
    }
    counts.received.fetch_add(1, Ordering::SeqCst);
    if request.method() == Method::POST {
        counts.posts_received.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() {
        let upgrade = hyper::upgrade::on(&mut request);
        let socket_counts = counts.clone();
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                echo(
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await,
                )
                .await;
            }
            socket_counts.sockets_closed.fetch_add(1, Ordering::SeqCst);
        });
        counts.answered.fetch_add(1, Ordering::SeqCst);
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(
                header::SEC_WEBSOCKET_ACCEPT,
                derive_accept_key(key.as_bytes()),
            )
            .body(Full::new(Bytes::new()))
            .expect("101");
    }
    if path.ends_with("/hold") {
        gate.acquire().await.expect("gate open").forget();
    } else if path.ends_with("/slow") {
        tokio::time::sleep(SLOW).await;
    } else if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let method = request.method().to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let echoed = serde_json::json!({"upstream": name, "method": method, "path": path, "body_len": body.len()});
    counts.answered.fetch_add(1, Ordering::SeqCst);
    Response::builder()
        .header("x-upstream", name)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(echoed.to_string())))
        .expect("response")
}

/// Sends every text message back until the client closes.
async fn echo<S>(mut socket: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(message)) = socket.next().await {
        if message.is_close() {
            break;
        }
        if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
            break;
        }
    }
}

/// A resolver whose answers the test sets; a name without an answer fails to resolve.
#[derive(Debug, Default, Clone)]
pub struct ScriptedDns {
    answers: Arc<Mutex<HashMap<String, io::Result<Vec<SocketAddr>>>>>,
    lookups: Arc<Mutex<HashMap<String, usize>>>,
}

impl ScriptedDns {
    /// Lookups of `name` so far.
    pub fn lookups(&self, name: &str) -> usize {
        self.lookups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    pub fn answer(&self, name: &str, addresses: &[SocketAddr]) {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), Ok(addresses.to_vec()));
    }

    pub fn fail(&self, name: &str) {
        let error = io::Error::other("SERVFAIL");
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), Err(error));
    }
}

impl Resolve for ScriptedDns {
    fn lookup<'a>(&'a self, name: &'a str) -> Lookup<'a> {
        *self
            .lookups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_owned())
            .or_default() += 1;
        let answer = match self
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            Some(Ok(addresses)) => Ok(addresses.clone()),
            Some(Err(error)) => Err(io::Error::new(error.kind(), error.to_string())),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "NXDOMAIN")),
        };
        Box::pin(async move { answer })
    }
}

/// Waits until every one of `replicas` has answered `checks` `GET /healthz` checks. The
/// edge prefers replicas whose first check passed over those not checked yet, so a test
/// that counts how requests spread waits until each has been checked; a pool sends its
/// next round only after recording the last, so two checks from each pool that holds a
/// replica mean that its first result is in.
pub async fn wait_until_checked(replicas: &[&Replica], checks: usize) {
    wait_until("every replica checked", || async {
        replicas
            .iter()
            .all(|replica| replica.health_checks() >= checks)
    })
    .await;
}

/// The edge running in-process on a free port.
pub struct Edge {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub stopped: JoinHandle<()>,
    _www: tempfile::TempDir,
}

impl Edge {
    /// Starts the edge with the system resolver.
    pub async fn start(vote: &[SocketAddr], result: &[SocketAddr], extra: &[&str]) -> Edge {
        let list = |addresses: &[SocketAddr]| {
            addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        Edge::start_named(
            &list(vote),
            &list(result),
            extra,
            Arc::new(tally_edge::resolve::SystemResolver),
        )
        .await
    }

    /// Starts the edge with upstream names looked up by `resolver`.
    pub async fn start_named(
        vote: &str,
        result: &str,
        extra: &[&str],
        resolver: Arc<dyn Resolve>,
    ) -> Edge {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        Edge::start_on(listener, vote, result, extra, resolver).await
    }

    /// Starts the edge on `listener`, with upstream names looked up by `resolver`.
    pub async fn start_on(
        listener: TcpListener,
        vote: &str,
        result: &str,
        extra: &[&str],
        resolver: Arc<dyn Resolve>,
    ) -> Edge {
        let www = tempfile::tempdir().expect("tempdir");
        std::fs::write(www.path().join("index.html"), "<h1>Cats vs Dogs</h1>").expect("write");
        let mut args = vec![
            "tally-edge".to_owned(),
            format!("--vote-upstreams={vote}"),
            format!("--result-upstreams={result}"),
            format!("--www-dir={}", www.path().display()),
            // The load here comes from one address; the rate limits have tests of their own.
            "--rate-limit=off".to_owned(),
            "--voter-rate-limit=off".to_owned(),
            "--create-rate-limit=off".to_owned(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let config = tally_edge::Config::try_parse_from(args).expect("config");
        let address = listener.local_addr().expect("address");
        let (stop, stop_signal) = oneshot::channel::<()>();
        let stopped = tokio::spawn(async move {
            let shutdown = async {
                let _ = stop_signal.await;
            };
            tally_edge::run_with_resolver(listener, config, resolver, shutdown)
                .await
                .expect("edge runs");
        });
        Edge {
            address,
            stop: Some(stop),
            stopped,
            _www: www,
        }
    }

    /// Begins a graceful shutdown.
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.address)
    }
}

/// One answer from the edge: status, which replica sent it, and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub upstream: Option<String>,
    pub body: Bytes,
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends one request; `Err` when the connection to the edge itself failed.
pub async fn send(
    client: &TestClient,
    edge: &Edge,
    method: Method,
    path: &str,
) -> Result<Answer, String> {
    let body = if method == Method::POST { "vote=a" } else { "" };
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", edge.address))
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request");
    let response = client
        .request(request)
        .await
        .map_err(|error| error.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|error| error.to_string())?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        upstream: parts
            .headers
            .get("x-upstream")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    })
}

pub async fn get(edge: &Edge, path: &str) -> Answer {
    send(&client(), edge, Method::GET, path)
        .await
        .expect("edge answers")
}
