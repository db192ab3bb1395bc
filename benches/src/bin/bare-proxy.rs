//! The floor under the edge's proxied path: hyper's HTTP/1.1 server and client and
//! nothing else. Each request's body is read, the request is sent on an idle upstream
//! connection of the thread that took it (or a new one), and the response is read and
//! returned. No routing, limits, retries, health, forwarding fields, request ids,
//! security headers or metrics. `benches/nginx-compare.sh` runs it beside the edge and
//! nginx, so that the edge's cost can be split into what hyper and tokio take and what
//! the edge adds on top.
//!
//!   bare-proxy [listen=127.0.0.1:19084] [upstream=127.0.0.1:19081]

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};

/// Where it listens and forwards unless told otherwise: loopback only, it is a bench
/// fixture.
const DEFAULT_LISTEN: &str = "127.0.0.1:19084";
const DEFAULT_UPSTREAM: &str = "127.0.0.1:19081";

thread_local! {
    /// This thread's idle upstream connections, most recent last.
    static IDLE: RefCell<Vec<SendRequest<Full<Bytes>>>> = const { RefCell::new(Vec::new()) };
}

type Answer = Response<Full<Bytes>>;

async fn forward(
    request: http::Request<Incoming>,
    upstream: SocketAddr,
) -> Result<Answer, Infallible> {
    Ok(exchange(request, upstream).await.unwrap_or_else(|error| {
        eprintln!("bare-proxy: {error}");
        let mut response = Response::new(Full::new(Bytes::from_static(b"bad gateway")));
        *response.status_mut() = StatusCode::BAD_GATEWAY;
        response
    }))
}

async fn exchange(
    request: http::Request<Incoming>,
    upstream: SocketAddr,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut sender = match IDLE.with(|idle| idle.borrow_mut().pop()) {
        Some(sender) => sender,
        None => connect(upstream).await?,
    };
    let response = sender
        .send_request(http::Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    IDLE.with(|idle| idle.borrow_mut().push(sender));
    Ok(Response::from_parts(parts, Full::new(body)))
}

async fn connect(
    upstream: SocketAddr,
) -> Result<SendRequest<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(connection);
    Ok(sender)
}

/// One thread's accept loop on its own SO_REUSEPORT socket, as the edge's workers run.
async fn serve(listen: SocketAddr, upstream: SocketAddr) -> std::io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseport(true)?;
    socket.bind(listen)?;
    let listener = socket.listen(tally_runtime::LISTEN_BACKLOG)?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let service = hyper::service::service_fn(move |request| forward(request, upstream));
        tokio::task::spawn_local(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service),
        );
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = |given: Option<String>, default: &str| {
        given
            .as_deref()
            .unwrap_or(default)
            .parse::<SocketAddr>()
            .map_err(std::io::Error::other)
    };
    let listen = address(args.next(), DEFAULT_LISTEN)?;
    let upstream = address(args.next(), DEFAULT_UPSTREAM)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    eprintln!("bare-proxy on {listen} to {upstream}, {threads} threads");
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || -> std::io::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                tokio::task::LocalSet::new().block_on(&runtime, serve(listen, upstream))
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| std::io::Error::other("a worker panicked"))??;
    }
    Ok(())
}
