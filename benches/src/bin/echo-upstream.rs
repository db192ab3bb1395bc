//! A trivial upstream for comparing the edge with nginx: `POST /vote` gets
//! `202 {"status":"queued"}`, `/healthz` `200`, anything else `200 ok`. HTTP/1.1 with
//! keep-alive and h2c on one port, as Tally's services serve: nginx speaks HTTP/1.1 to
//! it, the edge HTTP/2 (or HTTP/1.1 when set to), each as it would to a real replica.
//!
//!   echo-upstream [address=127.0.0.1:19081]

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Where it listens unless told otherwise: loopback only, it is a bench fixture.
const DEFAULT_ADDRESS: &str = "127.0.0.1:19081";

const QUEUED: &[u8] = b"{\"status\":\"queued\"}";

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_vote = request.method() == Method::POST && request.uri().path() == "/vote";
    // Read the ballot like a real service would, so the proxy's body forwarding counts.
    let _ = request.into_body().collect().await;
    let (status, body) = if is_vote {
        (StatusCode::ACCEPTED, Bytes::from_static(QUEUED))
    } else {
        (StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}"))
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or(DEFAULT_ADDRESS)
        .parse()
        .map_err(std::io::Error::other)?;
    // Listens as the services do, so that a proxy opening many connections at once is
    // not refused by the fixture's accept queue.
    let listener = tally_runtime::bind_listener(address)?;
    eprintln!("echo-upstream listening on {address}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            // As the services behind the edge: the edge cancels a stream per client that
            // leaves, hundreds at once when a load run ends.
            tally_runtime::Http2Clients::Gateway.limit_resets(&mut builder);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
