//! Test kit for the edge's client side (static files, security, limits, TLS): a vote
//! upstream that answers 202, a www directory, the edge in-process on free ports, and
//! raw requests written byte for byte.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use clap::Parser;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tally_edge::Listeners;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// An upstream that answers every request `202 {"status":"queued"}`.
pub async fn accepting_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|_request| async {
                let mut response =
                    Response::new(Full::new(Bytes::from_static(b"{\"status\":\"queued\"}")));
                *response.status_mut() = StatusCode::ACCEPTED;
                Ok::<_, Infallible>(response)
            });
            // HTTP/1.1 and h2c on one port, as Tally's services.
            tokio::spawn(async move {
                hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await
            });
        }
    });
    address
}

/// The edge on free ports; stops when dropped.
pub struct Edge {
    pub plain: SocketAddr,
    pub tls: Option<SocketAddr>,
    _stop: oneshot::Sender<()>,
}

/// Starts the edge serving `www` with `extra` flags; `tls` binds a TLS port too (the
/// flags must then name the certificate and key).
pub async fn start_edge(www: &Path, extra: &[String], tls: bool) -> Edge {
    let upstream = accepting_upstream().await;
    let mut args = vec![
        "tally-edge".to_owned(),
        format!("--vote-upstreams={upstream}"),
        format!("--result-upstreams={upstream}"),
        format!("--www-dir={}", www.display()),
    ];
    args.extend(extra.iter().cloned());
    let config = tally_edge::Config::try_parse_from(args).expect("config");
    let plain = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tls_listener = if tls {
        Some(TcpListener::bind("127.0.0.1:0").await.expect("bind"))
    } else {
        None
    };
    let addresses = (
        plain.local_addr().expect("address"),
        tls_listener
            .as_ref()
            .map(|l| l.local_addr().expect("address")),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let listeners = Listeners {
        plain,
        tls: tls_listener,
        admin: None,
    };
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        tally_edge::run(listeners, config, shutdown)
            .await
            .expect("edge runs");
    });
    Edge {
        plain: addresses.0,
        tls: addresses.1,
        _stop: stop,
    }
}

/// A raw HTTP/1.1 exchange: `message` (a head without its blank line, or a head, blank
/// line and body) sent as is with `Connection: close` added; the whole answer as text.
pub async fn raw(address: SocketAddr, message: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let (head, body) = message.split_once("\r\n\r\n").unwrap_or((message, ""));
    let request = format!("{head}\r\nConnection: close\r\n\r\n{body}");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// The value of header `name` in a raw answer (case-insensitive), if present.
pub fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The body of a raw answer.
pub fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}
