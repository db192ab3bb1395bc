//! The server side of the WebSocket opening handshake over HTTP/1.1 (RFC 6455 §4.2):
//! which requests may upgrade, the `101 Switching Protocols` answer, and the HTTP errors
//! for requests that may not.

use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Version};
use tally_runtime::{empty, Body, HttpError, Request};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The only WebSocket version there is (RFC 6455 §4.1, item 9).
const WEBSOCKET_VERSION: HeaderValue = HeaderValue::from_static("13");

const WEBSOCKET: HeaderValue = HeaderValue::from_static("websocket");
const UPGRADE: HeaderValue = HeaderValue::from_static("upgrade");

/// Why a request to a live path cannot become a WebSocket.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    /// Not GET (RFC 6455 §4.1, item 2).
    #[error("method not allowed; open a WebSocket with GET")]
    MethodNotAllowed,
    /// A plain HTTP request, or HTTP/2 (RFC 8441 is not supported).
    #[error("this is a WebSocket endpoint; send Upgrade: websocket over HTTP/1.1")]
    NotWebSocket,
    /// `Sec-WebSocket-Version` other than 13 (RFC 6455 §4.4).
    #[error("unsupported WebSocket version; use 13")]
    Version,
    /// `Sec-WebSocket-Key` missing or not 16 bytes in base64 (RFC 6455 §4.1, item 7).
    #[error("missing or malformed Sec-WebSocket-Key")]
    Key,
    /// The service is shutting down and takes no new live clients.
    #[error("shutting down; connect to another replica")]
    ShuttingDown,
}

impl HttpError for HandshakeError {
    fn status(&self) -> StatusCode {
        match self {
            HandshakeError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            HandshakeError::NotWebSocket | HandshakeError::Version => StatusCode::UPGRADE_REQUIRED,
            HandshakeError::Key => StatusCode::BAD_REQUEST,
            HandshakeError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn to_response(&self) -> Response<Body> {
        let mut response = tally_runtime::error_body(self.status(), &self.to_string());
        let headers = response.headers_mut();
        match self {
            HandshakeError::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
            }
            HandshakeError::NotWebSocket => {
                headers.insert(header::UPGRADE, WEBSOCKET);
                headers.insert(header::CONNECTION, UPGRADE);
            }
            HandshakeError::Version => {
                headers.insert(header::SEC_WEBSOCKET_VERSION, WEBSOCKET_VERSION);
            }
            HandshakeError::Key | HandshakeError::ShuttingDown => {}
        }
        response
    }
}

/// The `Sec-WebSocket-Accept` value for `request`, if it is a valid opening handshake.
pub fn accept_key(request: &Request) -> Result<HeaderValue, HandshakeError> {
    if request.method() != Method::GET {
        return Err(HandshakeError::MethodNotAllowed);
    }
    check(request.version(), request.headers())
}

fn check(version: Version, headers: &HeaderMap) -> Result<HeaderValue, HandshakeError> {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("websocket"));
    let connection = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if version != Version::HTTP_11 || !upgrade || !connection {
        return Err(HandshakeError::NotWebSocket);
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&WEBSOCKET_VERSION) {
        return Err(HandshakeError::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(HeaderValue::as_bytes)
        .filter(|key| is_nonce(key))
        .ok_or(HandshakeError::Key)?;
    HeaderValue::from_str(&derive_accept_key(key)).map_err(|_| HandshakeError::Key)
}

/// Whether `key` is 16 bytes in base64: 22 characters and `==` (RFC 6455 §4.1, item 7).
fn is_nonce(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// `101 Switching Protocols` accepting the handshake (RFC 6455 §4.2.2).
pub fn switching_protocols(accept: HeaderValue) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, WEBSOCKET);
    headers.insert(header::CONNECTION, UPGRADE);
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn the_rfc_example_key_gets_the_rfc_example_answer() {
        // RFC 6455 §1.3.
        let accept = check(Version::HTTP_11, &headers(GOOD)).expect("valid handshake");
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn plain_requests_and_http2_must_upgrade() {
        assert_eq!(
            check(Version::HTTP_11, &headers(&GOOD[2..])),
            Err(HandshakeError::NotWebSocket)
        );
        assert_eq!(
            check(Version::HTTP_2, &headers(GOOD)),
            Err(HandshakeError::NotWebSocket)
        );
    }

    #[test]
    fn wrong_versions_and_keys_are_refused() {
        let mut wrong_version = headers(GOOD);
        wrong_version.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        assert_eq!(
            check(Version::HTTP_11, &wrong_version),
            Err(HandshakeError::Version)
        );
        let mut short_key = headers(GOOD);
        short_key.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_static("abc"));
        assert_eq!(
            check(Version::HTTP_11, &short_key),
            Err(HandshakeError::Key)
        );
        assert_eq!(HandshakeError::NotWebSocket.to_response().status(), 426);
    }
}
