//! The header rules of a forwarding proxy: hop-by-hop fields stay on their own hop, and
//! the upstream learns who the client was (`X-Forwarded-*`) and which request this is.

use std::net::IpAddr;

use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue};

use tally_runtime::{RequestId, REQUEST_ID};

use crate::client_ip::push_ip;

/// Fields that describe one connection, not the message, so a proxy never forwards them
/// (RFC 9110 §7.6.1; `Keep-Alive` and `Proxy-Connection` are the pre-HTTP/1.1 forms,
/// `Trailer` the legacy list of RFC 2616 §13.5.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The client's address, appended to what earlier proxies reported.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// The scheme the client used to reach the edge.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// The host the client asked for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Room for an IPv6 address, so the usual `X-Forwarded-For` is written without growing.
const FORWARDED_FOR_CAPACITY: usize = 48;

/// The scheme when nothing earlier stated one (admission sets `https` for TLS requests).
const PROTO_HTTP: HeaderValue = HeaderValue::from_static("http");

/// Removes the hop-by-hop fields: the fixed list, and every field the `Connection`
/// header names (RFC 9110 §7.6.1).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // The usual message has none: one pass over its names tells, where removing each
    // field of the list would hash seven names per message each way.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Sets the `X-Forwarded-*` fields and the request id on a request about to go upstream.
/// `host` is what the client asked for (its `Host` header, or the HTTP/2 authority).
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    host: Option<HeaderValue>,
    request_id: &RequestId,
) {
    // The hops an earlier (trusted) proxy reported, then the peer, in one buffer.
    let mut forwarded_for = String::with_capacity(FORWARDED_FOR_CAPACITY);
    let prior = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty());
    for hop in prior {
        forwarded_for.push_str(hop);
        forwarded_for.push_str(", ");
    }
    push_ip(&mut forwarded_for, peer);
    if let Ok(value) = HeaderValue::try_from(forwarded_for) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    // Already set by the admission step (https over TLS, or a trusted proxy's value).
    headers.entry(X_FORWARDED_PROTO).or_insert(PROTO_HTTP);
    match host {
        Some(host) => headers.insert(X_FORWARDED_HOST, host),
        None => headers.remove(X_FORWARDED_HOST),
    };
    headers.insert(REQUEST_ID, request_id.header_value().clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn fixed_hop_by_hop_fields_are_removed() {
        let mut map = headers(&[
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("content-type", "application/json"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(map.len(), 1);
        assert!(map.contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn fields_named_in_connection_are_removed() {
        let mut map = headers(&[
            ("connection", "X-Private, close"),
            ("connection", " x-other "),
            ("x-private", "secret"),
            ("x-other", "1"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut map);
        let names: Vec<_> = map.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-kept"]);
    }

    #[test]
    fn garbage_in_connection_is_ignored() {
        let mut map = headers(&[("connection", "a b, ,,"), ("x-kept", "yes")]);
        strip_hop_by_hop(&mut map);
        assert!(map.contains_key("x-kept"));
    }

    #[test]
    fn forwarded_for_appends_the_peer() {
        let peer: IpAddr = "192.0.2.7".parse().expect("ip");
        let mut fresh = HeaderMap::new();
        set_forwarded(
            &mut fresh,
            peer,
            Some(HeaderValue::from_static("vote.example")),
            &RequestId::from("r1"),
        );
        assert_eq!(fresh[&X_FORWARDED_FOR], "192.0.2.7");
        assert_eq!(fresh[&X_FORWARDED_PROTO], "http");
        assert_eq!(fresh[&X_FORWARDED_HOST], "vote.example");
        assert_eq!(fresh[&REQUEST_ID], "r1");

        let mut chained = headers(&[
            ("x-forwarded-for", "203.0.113.1"),
            ("x-forwarded-for", "198.51.100.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "spoofed"),
        ]);
        set_forwarded(&mut chained, peer, None, &RequestId::from("r2"));
        assert_eq!(
            chained[&X_FORWARDED_FOR],
            "203.0.113.1, 198.51.100.2, 192.0.2.7"
        );
        assert_eq!(
            chained[&X_FORWARDED_PROTO], "https",
            "kept: untrusted ones are dropped earlier"
        );
        assert!(!chained.contains_key(&X_FORWARDED_HOST));
    }
}
