//! The settings of the edge's upstream half: re-resolution, balancing, health checks,
//! connection pooling and timeouts, and WebSocket tunnels. Flattened into
//! [`crate::Config`], so every field is a flag and an `EDGE_*` variable.

use std::time::Duration;

use clap::Args;
use http::uri::PathAndQuery;
use tally_runtime::parse_duration;

use crate::balance::Balance;
use crate::connections::UpstreamProtocol;
use crate::health::HealthPolicy;

/// Upstream discovery, balancing, health, pooling and tunnel settings.
#[derive(Debug, Clone, Args)]
pub struct UpstreamArgs {
    /// How often every upstream name is resolved again; a failed lookup keeps the
    /// addresses of the last one that worked.
    #[arg(long, env = "EDGE_RESOLVE_INTERVAL", default_value = "5s", value_parser = positive_duration)]
    pub resolve_interval: Duration,

    /// How a replica is chosen: `p2c` (the less busy of two at random) or `round-robin`.
    #[arg(long, env = "EDGE_BALANCE", default_value = "p2c", value_enum)]
    pub balance: Balance,

    /// The path every replica is checked on: `/healthz` (the process is alive) where the
    /// platform already keeps unready replicas out of DNS (Kubernetes), `/readyz` (its
    /// Redis and Postgres answer) where it does not (compose names every container).
    #[arg(long, env = "EDGE_HEALTH_PATH", default_value = crate::health::LIVENESS_PATH, value_parser = health_path)]
    pub health_path: PathAndQuery,

    /// How often every replica's health path is checked.
    #[arg(long, env = "EDGE_HEALTH_INTERVAL", default_value = "2s", value_parser = positive_duration)]
    pub health_interval: Duration,

    /// Time one health check may take before it counts as failed.
    #[arg(long, env = "EDGE_HEALTH_TIMEOUT", default_value = "1s", value_parser = positive_duration)]
    pub health_timeout: Duration,

    /// Consecutive failed health checks after which a replica gets no more requests.
    #[arg(long, env = "EDGE_EJECT_AFTER", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub eject_after: u32,

    /// Consecutive passed health checks after which an ejected replica is used again.
    #[arg(long, env = "EDGE_READMIT_AFTER", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub readmit_after: u32,

    /// What the edge speaks to replicas: `h2c` (HTTP/2 without TLS, one connection per
    /// replica carrying every request; Tally's services speak it) or `http1` (one
    /// connection per request in flight, for upstreams that speak only HTTP/1.1).
    /// WebSockets always go over HTTP/1.1.
    #[arg(
        long = "upstream-protocol",
        env = "EDGE_UPSTREAM_PROTOCOL",
        default_value = "h2c",
        value_enum
    )]
    pub protocol: UpstreamProtocol,

    /// Time to open a TCP connection to a replica before trying another one.
    #[arg(long, env = "EDGE_CONNECT_TIMEOUT", default_value = "1s", value_parser = positive_duration)]
    pub connect_timeout: Duration,

    /// How long an idle upstream connection is kept for reuse; keep it below the
    /// upstream's own idle timeout (HTTP_HEADER_READ_TIMEOUT, 10s) so the edge, not the
    /// upstream, closes idle connections and no request races a closing one.
    #[arg(long, env = "EDGE_POOL_IDLE_TIMEOUT", default_value = "5s", value_parser = positive_duration)]
    pub pool_idle_timeout: Duration,

    /// Time a WebSocket tunnel may carry nothing in either direction before it is closed.
    #[arg(long, env = "EDGE_TUNNEL_IDLE_TIMEOUT", default_value = "10m", value_parser = positive_duration)]
    pub tunnel_idle_timeout: Duration,
}

impl UpstreamArgs {
    /// The health-check policy these settings describe.
    pub fn health_policy(&self) -> HealthPolicy {
        HealthPolicy {
            path: self.health_path.clone(),
            interval: self.health_interval,
            timeout: self.health_timeout,
            eject_after: self.eject_after,
            readmit_after: self.readmit_after,
        }
    }
}

/// An origin-form path (RFC 9112 §3.2.1): starts with `/`, valid in a request line.
fn health_path(text: &str) -> Result<PathAndQuery, String> {
    if !text.starts_with('/') {
        return Err("must start with /".to_owned());
    }
    text.parse::<PathAndQuery>()
        .map_err(|_| "not a valid request path".to_owned())
}

/// A duration above zero (a zero interval would spin, a zero timeout would fail all).
fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("must be more than zero".to_owned()),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Only {
        #[command(flatten)]
        upstream: UpstreamArgs,
    }

    fn parse(args: &[&str]) -> Result<UpstreamArgs, clap::Error> {
        Only::try_parse_from(std::iter::once("edge").chain(args.iter().copied()))
            .map(|only| only.upstream)
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).expect("defaults parse");
        assert_eq!(args.resolve_interval, Duration::from_secs(5));
        assert_eq!(args.balance, Balance::P2c);
        assert_eq!(args.protocol, UpstreamProtocol::H2c);
        assert_eq!(args.pool_idle_timeout, Duration::from_secs(5));
        assert_eq!(args.tunnel_idle_timeout, Duration::from_secs(600));
        let policy = args.health_policy();
        assert_eq!((policy.eject_after, policy.readmit_after), (3, 2));
        assert_eq!(policy.path, "/healthz");
        let ready = parse(&["--health-path", "/readyz"]).expect("parses");
        assert_eq!(ready.health_policy().path, "/readyz");
    }

    #[test]
    fn choices_and_refusals() {
        let args = parse(&["--balance", "round-robin"]).expect("parses");
        assert_eq!(args.balance, Balance::RoundRobin);
        let args = parse(&["--upstream-protocol", "http1"]).expect("parses");
        assert_eq!(args.protocol, UpstreamProtocol::Http1);
        for bad in [
            ["--balance", "random"],
            ["--upstream-protocol", "h3"],
            ["--resolve-interval", "0s"],
            ["--eject-after", "0"],
            ["--connect-timeout", "soon"],
            ["--health-path", "readyz"],
            ["--health-path", "/ready z"],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
