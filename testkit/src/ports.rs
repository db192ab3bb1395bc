//! Choosing free TCP ports on 127.0.0.1 and watching them open and close.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rand::Rng;

/// Where the kernel's ephemeral port range is published.
const EPHEMERAL_RANGE_FILE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// Lowest port the kit picks: above the usual well-known and registered service ports.
const LOWEST_PORT: u16 = 20_000;

/// Fewer candidate ports than this below the ephemeral range and the kit lets the kernel choose.
const MIN_RANGE_WIDTH: u16 = 1_000;

/// How many random candidates to try before letting the kernel choose.
const CANDIDATE_TRIES: usize = 50;

/// How long one "is anything listening?" probe may take on loopback.
const CONNECT_PROBE_TIMEOUT: Duration = Duration::from_millis(250);

/// Pause between two probes while waiting for a port to close.
const CLOSE_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The loopback address every kit server listens on.
pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// A port on 127.0.0.1 that nothing listens on right now.
///
/// Ports are picked below the kernel's ephemeral range: ports in that range are also handed out as
/// local ports of outgoing connections, so while a server is stopped a reconnecting client could
/// take its port (restart would fail) or even connect to itself. Falls back to `bind(0)`.
pub(crate) fn free_port() -> u16 {
    let upper = ephemeral_range_start();
    if upper > LOWEST_PORT.saturating_add(MIN_RANGE_WIDTH) {
        let mut rng = rand::rng();
        for _ in 0..CANDIDATE_TRIES {
            let port = rng.random_range(LOWEST_PORT..upper);
            if TcpListener::bind(loopback(port)).is_ok() {
                return port;
            }
        }
    }
    TcpListener::bind(loopback(0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("tally-testkit: could not bind 127.0.0.1:0 to find a free port")
}

/// First port of the kernel's ephemeral range (Linux default 32768).
fn ephemeral_range_start() -> u16 {
    std::fs::read_to_string(EPHEMERAL_RANGE_FILE)
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn is_port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&loopback(port), CONNECT_PROBE_TIMEOUT).is_ok()
}

/// Wait until nothing accepts connections on 127.0.0.1:`port`; `false` if it is still open at `timeout`.
pub(crate) fn wait_port_closed(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !is_port_open(port) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(CLOSE_POLL_INTERVAL);
    }
}
