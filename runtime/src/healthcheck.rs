//! The subcommands every service binary carries for images that have no shell and no
//! curl (`FROM scratch`):
//!
//! - `healthcheck [PATH]`: `GET PATH` (default `/healthz`) from the service's own
//!   listen address over plain HTTP/1.1; exit 0 on `200`, 1 otherwise (the exit codes a
//!   container `HEALTHCHECK` expects; 2 is reserved there).
//! - `probe HOST:PORT`: resolve the name and open a TCP connection, printing what
//!   happened; exit 0 connected, 1 resolved but unreachable, 2 not resolvable. The
//!   container test uses it to show, from inside each container, which network
//!   neighbours a service can and cannot reach.
//!
//! Both are synchronous (std only): they run before any runtime is needed and finish
//! within their timeouts.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Time one health request may take: below the 3 s `timeout` the images' HEALTHCHECK
/// gives, so a hung service is reported unhealthy by us rather than killed by the engine.
pub const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Time one probe connection may take: a dropped SYN (firewalled route) shows as
/// unreachable within a test's patience instead of the kernel's ~2 minutes.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Path checked when `healthcheck` is given none: the process is alive and serving.
pub const DEFAULT_HEALTH_PATH: &str = "/healthz";

/// Largest response head read; a status line is far shorter.
const MAX_RESPONSE_HEAD: usize = 1024;

/// Exit status of `probe` when the name does not resolve.
pub const PROBE_UNRESOLVED: u8 = 2;

/// Runs `healthcheck` or `probe` when the command line asks for one and returns its
/// exit status; returns `None` (and the service starts normally) otherwise. `listen`
/// picks the listen address out of the service's configuration, which is read from the
/// environment exactly as the service itself would read it.
pub fn subcommand<T: Parser>(listen: impl FnOnce(&T) -> SocketAddr) -> Option<ExitCode> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let program = args.first().cloned().unwrap_or_default();
    let command = args.get(1).and_then(|arg| arg.to_str())?;
    let operand = args.get(2).and_then(|arg| arg.to_str());
    match command {
        "healthcheck" => {
            let config = match T::try_parse_from([program]) {
                Ok(config) => config,
                Err(error) => {
                    let first = error.to_string();
                    eprintln!("healthcheck: invalid configuration: {}", first.trim());
                    return Some(ExitCode::FAILURE);
                }
            };
            let path = operand.unwrap_or(DEFAULT_HEALTH_PATH);
            Some(match check(listen(&config), path, HEALTHCHECK_TIMEOUT) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("healthcheck: {error}");
                    ExitCode::FAILURE
                }
            })
        }
        "probe" => {
            let Some(target) = operand else {
                eprintln!("probe: usage: probe HOST:PORT");
                return Some(ExitCode::from(PROBE_UNRESOLVED));
            };
            let outcome = probe(target, PROBE_TIMEOUT);
            println!("probe {target}: {outcome}");
            Some(ExitCode::from(outcome.exit_status()))
        }
        _ => None,
    }
}

/// Why a health request failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// No connection, or it broke before a status line arrived.
    #[error("{address}: {error}")]
    Io {
        /// Where we tried.
        address: SocketAddr,
        /// What failed.
        error: std::io::Error,
    },
    /// The service answered, but not `200`.
    #[error("{address} answered {status_line:?}")]
    Status {
        /// Where we asked.
        address: SocketAddr,
        /// The status line received.
        status_line: String,
    },
}

/// `GET path` from `listen` (an unspecified address such as `0.0.0.0` means this host's
/// loopback); `Ok` only on status 200.
pub fn check(listen: SocketAddr, path: &str, timeout: Duration) -> Result<(), HealthError> {
    let address = SocketAddr::new(local_ip(listen.ip()), listen.port());
    let io = |error| HealthError::Io { address, error };
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    // RFC 9112 §3.2: HTTP/1.1 requests carry Host; `close` ends the exchange after one answer.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tally-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut head = Vec::with_capacity(MAX_RESPONSE_HEAD);
    let mut buffer = [0_u8; 256];
    while !head.contains(&b'\n') && head.len() < MAX_RESPONSE_HEAD {
        let read = stream.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().trim().to_owned();
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
    let mut parts = status_line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/1.") => Ok(()),
        _ => Err(HealthError::Status {
            address,
            status_line,
        }),
    }
}

/// The address to reach a service listening on `ip` from the same host.
fn local_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// What `probe` found.
#[derive(Debug)]
pub enum ProbeOutcome {
    /// The name gave no address.
    Unresolved(String),
    /// The name resolved, but no address accepted a connection.
    Unreachable(Vec<SocketAddr>, std::io::Error),
    /// A TCP connection to this address was established.
    Connected(SocketAddr),
}

impl ProbeOutcome {
    /// 0 connected, 1 unreachable, 2 unresolved.
    pub fn exit_status(&self) -> u8 {
        match self {
            ProbeOutcome::Connected(_) => 0,
            ProbeOutcome::Unreachable(..) => 1,
            ProbeOutcome::Unresolved(_) => PROBE_UNRESOLVED,
        }
    }
}

impl std::fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeOutcome::Unresolved(error) => write!(f, "cannot resolve ({error})"),
            ProbeOutcome::Unreachable(addresses, error) => {
                write!(f, "resolved to {addresses:?}, cannot connect ({error})")
            }
            ProbeOutcome::Connected(address) => write!(f, "connected to {address}"),
        }
    }
}

/// Resolves `target` (`host:port`) and tries each address in turn.
pub fn probe(target: &str, timeout: Duration) -> ProbeOutcome {
    let addresses: Vec<SocketAddr> = match target.to_socket_addrs() {
        Ok(found) => found.collect(),
        Err(error) => return ProbeOutcome::Unresolved(error.to_string()),
    };
    let mut last_error = std::io::Error::other("no address");
    for address in &addresses {
        match TcpStream::connect_timeout(address, timeout) {
            Ok(_) => return ProbeOutcome::Connected(*address),
            Err(error) => last_error = error,
        }
    }
    if addresses.is_empty() {
        return ProbeOutcome::Unresolved("no address".to_owned());
    }
    ProbeOutcome::Unreachable(addresses, last_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server on a free loopback port answering every request with `response`.
    fn answer_once(response: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0_u8; 512];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(response.as_bytes());
        });
        address
    }

    fn closed_port() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    #[test]
    fn ok_is_healthy() {
        let address = answer_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        check(address, "/healthz", HEALTHCHECK_TIMEOUT).unwrap();
    }

    #[test]
    fn an_error_status_is_unhealthy() {
        let address = answer_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let error = check(address, "/readyz", HEALTHCHECK_TIMEOUT).unwrap_err();
        assert!(matches!(error, HealthError::Status { .. }), "{error}");
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        let error = check(closed_port(), "/healthz", HEALTHCHECK_TIMEOUT).unwrap_err();
        assert!(matches!(error, HealthError::Io { .. }), "{error}");
    }

    #[test]
    fn an_unspecified_listen_address_is_checked_on_loopback() {
        assert_eq!(
            local_ip("0.0.0.0".parse().unwrap()),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            local_ip("[::]:1".parse::<SocketAddr>().unwrap().ip()),
            Ipv6Addr::LOCALHOST
        );
        assert_eq!(
            local_ip("10.1.2.3".parse().unwrap()).to_string(),
            "10.1.2.3"
        );
    }

    #[test]
    fn probe_tells_connected_from_unreachable_from_unresolved() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().to_string();
        assert_eq!(probe(&open, PROBE_TIMEOUT).exit_status(), 0);
        let closed = closed_port().to_string();
        assert_eq!(probe(&closed, PROBE_TIMEOUT).exit_status(), 1);
        assert_eq!(
            probe("no-port-here", PROBE_TIMEOUT).exit_status(),
            PROBE_UNRESOLVED
        );
    }
}
