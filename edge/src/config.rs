//! The edge's configuration, from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tally_runtime::{parse_duration, ServerArgs};

use crate::body_limits::BodyLimits;
use crate::client_side_args::ClientSideArgs;
use crate::routes::{parse_rule, RouteRule};
use crate::upstream_args::UpstreamArgs;
use crate::voter_key_args::VoterKeyArgs;

/// tally-edge: the public port; static files, and proxying to the vote and result services.
#[derive(Debug, Clone, Parser)]
#[command(name = "tally-edge", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "EDGE_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Address of the admin port: `/metrics` for Prometheus, `/healthz`, `/readyz`.
    /// Never published and never routed to; it must differ from the public port.
    #[arg(long, env = "EDGE_ADMIN_LISTEN", default_value = "0.0.0.0:9180")]
    pub admin_listen: SocketAddr,

    /// Vote service replicas, as comma-separated `host:port`; names are resolved at start.
    #[arg(long, env = "EDGE_VOTE_UPSTREAMS", default_value = "127.0.0.1:8081", value_delimiter = ',', value_parser = parse_host_port)]
    pub vote_upstreams: Vec<String>,

    /// Result service replicas, as comma-separated `host:port`; names are resolved at start.
    #[arg(long, env = "EDGE_RESULT_UPSTREAMS", default_value = "127.0.0.1:8082", value_delimiter = ',', value_parser = parse_host_port)]
    pub result_upstreams: Vec<String>,

    /// Directory of the static front end, loaded into memory at start.
    #[arg(long, env = "EDGE_WWW_DIR", default_value = "www")]
    pub www_dir: PathBuf,

    /// Time an upstream has to send its response headers before the client gets 504.
    #[arg(long, env = "EDGE_UPSTREAM_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// Largest request body passed to an upstream, in bytes.
    #[arg(long, env = "EDGE_MAX_BODY_BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_body_bytes: u64,

    /// Largest body of `POST /events` passed to the vote service, in bytes: a whole
    /// event, up to 30 questions (the vote service reads up to 31 × its poll limit,
    /// 496 KiB by default); also of `POST /events/<code>/block-words`, a whole block
    /// list (96 KiB at most).
    #[arg(long, env = "EDGE_MAX_EVENT_BODY_BYTES", default_value_t = 512 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_event_body_bytes: u64,

    /// Routing rules tried before the defaults, comma-separated
    /// `[METHOD ]/prefix=vote|result|static` (`/api/votes=vote,GET /stats=result`).
    #[arg(long, env = "EDGE_ROUTES", value_delimiter = ',', value_parser = parse_rule)]
    pub routes: Vec<RouteRule>,

    /// Threads serving requests, each with its own accept loop and upstream
    /// connections (nginx's `worker_processes`); 0 means one per CPU core.
    #[arg(long, env = "EDGE_WORKER_THREADS", default_value_t = 0)]
    pub worker_threads: usize,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub upstream: UpstreamArgs,

    #[command(flatten)]
    pub client_side: ClientSideArgs,

    #[command(flatten)]
    pub voter_key: VoterKeyArgs,
}

impl Config {
    /// The number of worker threads to run: as configured, or one per CPU core.
    pub fn worker_count(&self) -> usize {
        match self.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            count => count,
        }
    }

    /// The request body limits, per route.
    pub fn body_limits(&self) -> BodyLimits {
        BodyLimits {
            default: self.max_body_bytes,
            event: self.max_event_body_bytes.max(self.max_body_bytes),
        }
    }
}

/// Accepts `host:port` (`[v6]:port` for IPv6 literals) with a port from 1 to 65535.
pub fn parse_host_port(text: &str) -> Result<String, String> {
    let text = text.trim();
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not host:port"))?;
    let bare_host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare_host.is_empty() || bare_host.contains(['/', '@', ' ']) {
        return Err(format!("{text:?} has no usable host"));
    }
    if bare_host.contains(':') && !host.starts_with('[') {
        return Err(format!("{text:?}: write IPv6 addresses as [addr]:port"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(text.to_owned()),
        _ => Err(format!("{text:?} has no valid port")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("tally-edge").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_parse() {
        let config = parse(&[]).expect("defaults parse");
        assert_eq!(config.listen.port(), 8080);
        assert_eq!(config.vote_upstreams, ["127.0.0.1:8081"]);
        assert_eq!(config.result_upstreams, ["127.0.0.1:8082"]);
        assert_eq!(config.max_body_bytes, 65_536);
        assert_eq!(config.body_limits().event, 524_288);
        assert_eq!(config.upstream_timeout, Duration::from_secs(10));
    }

    #[test]
    fn upstream_lists_split_on_commas() {
        let config =
            parse(&["--vote-upstreams", "vote:8081, 10.0.0.5:9000,[::1]:8081"]).expect("parses");
        assert_eq!(
            config.vote_upstreams,
            ["vote:8081", "10.0.0.5:9000", "[::1]:8081"]
        );
    }

    #[test]
    fn bad_upstreams_are_refused() {
        for bad in [
            "vote",
            "vote:",
            "vote:0",
            "vote:99999",
            ":8081",
            "::1:8081",
            "a/b:80",
        ] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_fail_to_parse() {
        assert!(parse(&["--max-body-bytes", "0"]).is_err());
        assert!(parse(&["--upstream-timeout", "soon"]).is_err());
    }
}
