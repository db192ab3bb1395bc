//! HTTPS with a certificate made at test time: h2 and HTTP/1.1 chosen by ALPN (RFC 7301),
//! HSTS over TLS only, and the plain port redirecting everything but /healthz.

mod client_side;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use client_side::{header_of, raw, start_edge, Edge};

struct Setup {
    edge: Edge,
    client: TlsConnector,
    _dir: tempfile::TempDir,
}

/// The edge with TLS from a fresh self-signed certificate for `localhost`, and a client
/// that trusts exactly that certificate and offers `alpn`.
async fn setup(alpn: &[&[u8]]) -> Setup {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).expect("write");
    std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write");
    std::fs::write(dir.path().join("index.html"), "<h1>Tally</h1>").expect("write");
    let flags = [
        format!("--tls-cert={}", cert.display()),
        format!("--tls-key={}", key.display()),
    ];
    let edge = start_edge(dir.path(), &flags, true).await;

    let mut roots = RootCertStore::empty();
    roots.add(generated.cert.der().clone()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Setup {
        edge,
        client: TlsConnector::from(Arc::new(config)),
        _dir: dir,
    }
}

async fn connect(setup: &Setup) -> tokio_rustls::client::TlsStream<TcpStream> {
    let address: SocketAddr = setup.edge.tls.expect("TLS port");
    let tcp = TcpStream::connect(address).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    setup
        .client
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

#[tokio::test]
async fn h2_is_negotiated_by_alpn_and_responses_carry_hsts() {
    let setup = setup(&[b"h2", b"http/1.1"]).await;
    let stream = connect(&setup).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let port = setup.edge.tls.expect("TLS port").port();
    for path in ["/", "/healthz"] {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("https://localhost:{port}{path}"))
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000",
            "{path}"
        );
        assert!(response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY));
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert!(!body.is_empty());
    }
}

#[tokio::test]
async fn http1_clients_get_http1_over_tls() {
    let setup = setup(&[b"http/1.1"]).await;
    let stream = connect(&setup).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("h1 handshake");
    tokio::spawn(connection);
    let request = Request::builder()
        .uri("/")
        .header(header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .contains_key(header::STRICT_TRANSPORT_SECURITY));
}

/// With TLS on, the plain port sends browsers to HTTPS (308 keeps a POST a POST),
/// except /healthz, which container health checks call over plain HTTP.
#[tokio::test]
async fn the_plain_port_redirects_to_https() {
    let setup = setup(&[b"h2"]).await;
    let (plain, port) = (setup.edge.plain, setup.edge.tls.expect("TLS port").port());
    let page = raw(
        plain,
        "GET /results.html?poll=lunch HTTP/1.1\r\nHost: tally.test:8080",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 301"), "{page}");
    let expected = format!("https://tally.test:{port}/results.html?poll=lunch");
    assert_eq!(header_of(&page, "location"), Some(expected.as_str()));
    assert_eq!(header_of(&page, "strict-transport-security"), None);

    let vote = raw(
        plain,
        "POST /vote HTTP/1.1\r\nHost: tally.test\r\nContent-Length: 6\r\n\r\nvote=a",
    )
    .await;
    assert!(vote.starts_with("HTTP/1.1 308"), "{vote}");

    let health = raw(plain, "GET /healthz HTTP/1.1\r\nHost: tally.test").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}
