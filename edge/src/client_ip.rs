//! Who the client is. The TCP peer, unless the peer is one of the configured trusted
//! proxies (`EDGE_TRUSTED_PROXIES`): then the forwarding fields it sent (`Forwarded`,
//! RFC 7239, else `X-Forwarded-For`) are walked from the nearest hop outwards, and the
//! first address that is not a trusted proxy is the client. A peer that is not trusted
//! has its forwarding fields removed: they are only its own claims.

use std::fmt::Write as _;
use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::forwarding::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};

/// The fields through which a proxy reports the original request (RFC 7239 §4 and the
/// de facto `X-Forwarded-*`), removed from untrusted peers.
static FORWARDING_FIELDS: [HeaderName; 4] = [
    header::FORWARDED,
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
];

/// Whether `name` is one of [`FORWARDING_FIELDS`], by its text: comparing with each
/// `HeaderName` of the list cost a copy and a drop of the list per field of every request.
fn is_forwarding_field(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "forwarded" | "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host"
    )
}

/// The networks whose hosts may tell the edge who the client was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trusts `networks`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies { networks }
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|network| network.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.contains(client) {
            return client;
        }
        let hops = if headers.contains_key(header::FORWARDED) {
            forwarded_for(headers)
        } else {
            x_forwarded_for(headers)
        };
        // Nearest hop last: walk back while the hop is one of ours.
        for hop in hops.into_iter().rev() {
            let Some(hop) = hop else {
                break; // "unknown" or an obfuscated node: the last trusted hop is all we know
            };
            client = canonical(hop);
            if !self.contains(client) {
                break;
            }
        }
        client
    }

    /// Whether the client reached us over HTTPS: this connection is TLS, or a trusted
    /// proxy in front (which ended the client's TLS) says `X-Forwarded-Proto: https`.
    pub fn client_used_https(&self, peer: IpAddr, tls: bool, headers: &HeaderMap) -> bool {
        tls || (self.contains(peer)
            && headers
                .get(&FORWARDING_FIELDS[2])
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .is_some_and(|scheme| scheme.trim().eq_ignore_ascii_case("https")))
    }

    /// Removes the forwarding fields unless `peer` is a trusted proxy.
    pub fn drop_untrusted(&self, peer: IpAddr, headers: &mut HeaderMap) {
        // One pass over the names finds the usual case (none sent) without hashing.
        if !self.contains(peer) && headers.keys().any(is_forwarding_field) {
            for name in &FORWARDING_FIELDS {
                headers.remove(name);
            }
        }
    }
}

/// Fields a proxied request gains on its way: `Forwarded`, `X-Forwarded-Proto` here;
/// `X-Forwarded-For`, `X-Forwarded-Host`, `X-Request-Id` and `Host` in the proxy.
const FIELDS_ADDED_FOR_UPSTREAM: usize = 6;

/// Before a request goes upstream: states the scheme the client used (`X-Forwarded-Proto`,
/// unless a trusted proxy already did) and appends this hop to `Forwarded` (RFC 7239 §4:
/// `for` the peer, `proto`, `host` as the client asked for it). Run after
/// [`TrustedProxies::drop_untrusted`], so what is appended to is trusted.
pub fn add_forwarded(headers: &mut HeaderMap, peer: IpAddr, tls: bool, host: Option<&str>) {
    // hyper sized the map to the fields received: room for these and for the proxy's
    // (`forwarding::set_forwarded`, `Host`) at once, where each would grow it.
    headers.reserve(FIELDS_ADDED_FOR_UPSTREAM);
    let proto = if tls { "https" } else { "http" };
    headers
        .entry(&FORWARDING_FIELDS[2])
        .or_insert(http::HeaderValue::from_static(proto));
    // One buffer for the whole element (§4), written in place.
    let mut value = String::with_capacity(64);
    if let Some(prior) = headers
        .get(header::FORWARDED)
        .and_then(|prior| prior.to_str().ok())
    {
        value.push_str(prior);
        value.push_str(", ");
    }
    // §6: an IPv6 node is bracketed, and then the value must be quoted (§4).
    match canonical(peer) {
        v4 @ IpAddr::V4(_) => {
            value.push_str("for=");
            push_ip(&mut value, v4);
        }
        v6 @ IpAddr::V6(_) => {
            value.push_str("for=\"[");
            push_ip(&mut value, v6);
            value.push_str("]\"");
        }
    }
    value.push_str(";proto=");
    value.push_str(proto);
    if let Some(host) = host.filter(|host| host.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
    {
        value.push_str(";host=\"");
        value.push_str(host);
        value.push('"');
    }
    if let Ok(value) = http::HeaderValue::try_from(value) {
        headers.insert(header::FORWARDED, value);
    }
}

/// Appends `ip` as text. An IPv4 address (every client on the default listener) is
/// written octet by octet: through `Display` it cost about a thousand instructions, and
/// each proxied request writes it twice (`Forwarded`, `X-Forwarded-For`).
pub fn push_ip(text: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (index, octet) in v4.octets().into_iter().enumerate() {
                if index > 0 {
                    text.push('.');
                }
                text.push_str(digits.format(octet));
            }
        }
        // Writing to a String cannot fail.
        IpAddr::V6(v6) => {
            let _ = write!(text, "{v6}");
        }
    }
}

/// Parses one CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an address or CIDR network"))
}

/// IPv4 clients of a dual-stack socket appear as `::ffff:a.b.c.d`; they are IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The `X-Forwarded-For` hops, oldest first; an unparsable one is `None`.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("unknown").split(','))
        .map(|hop| node_ip(hop.trim()))
        .collect()
}

/// The `for=` node of each `Forwarded` element (RFC 7239 §4), oldest first.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(header::FORWARDED)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("for=unknown").split(','))
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| node_ip(node.trim().trim_matches('"')))
        })
        .collect()
}

/// The address in a node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:47011`,
/// `[2001:db8::17]`, `[2001:db8::17]:4711`, or a bare IPv6 as X-Forwarded-For has it.
/// `unknown` and obfuscated identifiers (`_hidden`) are `None`.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?
        .0
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_forwarding_field_test_knows_every_field_of_the_list() {
        for name in &FORWARDING_FIELDS {
            assert!(is_forwarding_field(name), "{name}");
        }
        for name in [header::HOST, header::CONNECTION, header::FORWARDED] {
            assert_eq!(is_forwarding_field(&name), name == header::FORWARDED);
        }
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "10.9.100.255",
            "127.0.0.1",
            "2001:db8::7",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = text.parse().expect("address");
            let mut written = String::from("x=");
            push_ip(&mut written, ip);
            assert_eq!(written, format!("x={ip}"));
        }
    }

    fn trusted() -> TrustedProxies {
        TrustedProxies::new(vec![
            parse_network("10.0.0.0/8").expect("cidr"),
            parse_network("fd00::1").expect("address"),
        ])
    }

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

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let claims = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        assert_eq!(
            trusted().client_ip(ip("198.51.100.9"), &claims),
            ip("198.51.100.9")
        );
        let mut stripped = claims.clone();
        stripped.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        trusted().drop_untrusted(ip("198.51.100.9"), &mut stripped);
        assert!(stripped.is_empty());
        let mut kept = claims.clone();
        trusted().drop_untrusted(ip("10.1.1.1"), &mut kept);
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn x_forwarded_for_is_walked_past_trusted_hops() {
        let chain = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.5"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        assert_eq!(
            trusted().client_ip(ip("10.0.0.1"), &chain),
            ip("203.0.113.5")
        );
        let all_ours = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(
            trusted().client_ip(ip("10.0.0.1"), &all_ours),
            ip("10.0.0.3")
        );
        let garbage = headers(&[("x-forwarded-for", "203.0.113.5, nonsense")]);
        assert_eq!(
            trusted().client_ip(ip("10.0.0.1"), &garbage),
            ip("10.0.0.1")
        );
    }

    /// RFC 7239 §4 and §6 node forms; `Forwarded` wins over `X-Forwarded-For`.
    #[test]
    fn forwarded_nodes() {
        let forwarded = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.9:80",
            ),
            ("x-forwarded-for", "192.0.2.1"),
        ]);
        assert_eq!(
            trusted().client_ip(ip("::ffff:10.0.0.1"), &forwarded),
            ip("2001:db8:cafe::17")
        );
        let hidden = headers(&[("forwarded", "for=_hidden, for=10.0.0.9")]);
        assert_eq!(trusted().client_ip(ip("10.0.0.1"), &hidden), ip("10.0.0.9"));
        let quoted_v4 = headers(&[("forwarded", "For=\"192.0.2.60:8080\";by=10.0.0.1")]);
        assert_eq!(
            trusted().client_ip(ip("fd00::1"), &quoted_v4),
            ip("192.0.2.60")
        );
    }

    /// RFC 7239 §4 and §6: one element per hop, IPv6 bracketed and quoted.
    #[test]
    fn forwarded_is_appended_and_proto_stated() {
        let mut fresh = HeaderMap::new();
        add_forwarded(&mut fresh, ip("2001:db8::7"), true, Some("tally.test"));
        assert_eq!(
            fresh[header::FORWARDED],
            "for=\"[2001:db8::7]\";proto=https;host=\"tally.test\""
        );
        assert_eq!(fresh["x-forwarded-proto"], "https");

        let mut chained = headers(&[
            ("forwarded", "for=203.0.113.1"),
            ("x-forwarded-proto", "https"),
        ]);
        add_forwarded(&mut chained, ip("10.0.0.1"), false, None);
        assert_eq!(
            chained[header::FORWARDED],
            "for=203.0.113.1, for=10.0.0.1;proto=http"
        );
        assert_eq!(
            chained["x-forwarded-proto"], "https",
            "a trusted proxy's word is kept"
        );
    }

    #[test]
    fn networks_parse() {
        assert!(parse_network("192.168.0.0/16").is_ok());
        assert!(parse_network(" ::1 ").is_ok());
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("proxy").is_err());
    }
}
