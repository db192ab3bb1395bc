//! The one response body type the services use, and constructors for it.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use serde::Serialize;

/// Any error a body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body: a whole buffer for the services, a stream for the edge's proxying.
pub type Body = BoxBody<Bytes, BoxError>;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body with nothing in it.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

const JSON_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("application/json");

/// A response with `value` as its JSON body.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    // Serialising the services' own plain data types cannot fail; should it ever, the
    // client gets an empty object rather than a dropped connection.
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    json_bytes(status, bytes)
}

/// A response whose body is already-encoded JSON.
pub fn json_bytes(status: StatusCode, bytes: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
    response
}
