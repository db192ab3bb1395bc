//! The vote service's configuration, from flags and environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tally_runtime::{parse_duration, ServerArgs};

use tally_voter::CookieKeySource;

use crate::durability::Durability;

/// tally-vote: accepts ballots and queues them in the Redis stream.
#[derive(Debug, Clone, Parser)]
#[command(name = "tally-vote", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "VOTE_LISTEN", default_value = "0.0.0.0:8081")]
    pub listen: SocketAddr,

    /// Address of the admin port: `/metrics` for Prometheus, `/healthz`, `/readyz`.
    /// Never published; it must differ from the public port.
    #[arg(long, env = "VOTE_ADMIN_LISTEN", default_value = "0.0.0.0:9181")]
    pub admin_listen: SocketAddr,

    /// Redis holding the vote stream and the poll definitions.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/", value_parser = tally_connect::parse_redis_url)]
    pub redis_url: String,

    /// Prefix of every Redis key (lets several deployments or tests share one Redis).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,

    /// Key that signs voter cookies (at least 32 bytes). Prefer VOTE_COOKIE_KEY_FILE.
    #[arg(
        long,
        env = "VOTE_COOKIE_KEY",
        hide_env_values = true,
        conflicts_with = "cookie_key_file"
    )]
    pub cookie_key: Option<String>,

    /// File holding the cookie key (a container secret, for example).
    #[arg(long, env = "VOTE_COOKIE_KEY_FILE")]
    pub cookie_key_file: Option<PathBuf>,

    /// Lets the public development key sign cookies although other machines can reach
    /// the service: for trying Tally out on a private network, never where strangers vote.
    #[arg(long, env = "VOTE_ALLOW_PUBLIC_COOKIE_KEY", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub allow_public_cookie_key: bool,

    /// The address the stack's public port is published on, when the service is reached
    /// only through an edge (compose passes TALLY_PUBLISH_ADDRESS): on loopback, only
    /// this machine can vote, so the development key may sign cookies.
    #[arg(long, env = "VOTE_PUBLISHED_ON")]
    pub published_on: Option<IpAddr>,

    /// What a 202 promises: `fsync` (on the Redis primary's disk: needs Redis with
    /// `appendonly yes` and `appendfsync always`; votes are refused until it has them),
    /// `written` (Redis has the vote; on disk within Redis's `appendfsync` interval, so a
    /// power cut can lose the last second), `replicated` (on VOTE_DURABILITY_REPLICAS
    /// replicas, through `WAIT`).
    #[arg(long, env = "VOTE_DURABILITY", value_enum, default_value_t = Durability::Fsync)]
    pub durability: Durability,

    /// Replicas that must have a vote before it is answered, with VOTE_DURABILITY=replicated.
    #[arg(long, env = "VOTE_DURABILITY_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub durability_replicas: u32,

    /// How long a vote waits for its replicas before it is answered 503
    /// (VOTE_DURABILITY=replicated); at most 1.5 s, under Redis's response timeout.
    #[arg(long, env = "VOTE_DURABILITY_TIMEOUT", default_value = "500ms", value_parser = parse_replica_wait)]
    pub durability_timeout: Duration,

    /// Votes waiting to be counted above which new votes get 503 + Retry-After.
    #[arg(long, env = "VOTE_QUEUE_HIGH_WATER", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_high_water: u64,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "VOTE_MAX_BODY_BYTES", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(64..=1_048_576))]
    pub max_body_bytes: u32,

    /// Largest body accepted when creating a poll, in bytes (10 labels of 200 characters
    /// in any script need more than a ballot).
    #[arg(long, env = "VOTE_MAX_POLL_BODY_BYTES", default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1024..=1_048_576))]
    pub max_poll_body_bytes: u32,

    /// How long a poll definition read from Redis is reused.
    #[arg(long, env = "VOTE_POLL_CACHE_TTL", default_value = "1s", value_parser = parse_duration)]
    pub poll_cache_ttl: Duration,

    /// How often the queue's backlog is measured for back-pressure.
    #[arg(long, env = "VOTE_BACKLOG_INTERVAL", default_value = "100ms", value_parser = parse_duration)]
    pub backlog_interval: Duration,

    /// Name sent in `x-tally-replica` on every response (default: the host name).
    #[arg(long, env = "VOTE_REPLICA_NAME")]
    pub replica_name: Option<String>,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// A configuration value that parses but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl Config {
    /// The cookie key from VOTE_COOKIE_KEY, VOTE_COOKIE_KEY_FILE, or the development
    /// default, which is refused where voters on other machines reach the service
    /// (it listens, or VOTE_PUBLISHED_ON is, beyond loopback) unless
    /// VOTE_ALLOW_PUBLIC_COOKIE_KEY is set.
    pub fn cookie_key(&self) -> Result<Vec<u8>, ConfigError> {
        CookieKeySource {
            value: self.cookie_key.as_deref(),
            file: self.cookie_key_file.as_deref(),
            value_variable: "VOTE_COOKIE_KEY",
            file_variable: "VOTE_COOKIE_KEY_FILE",
            reachable_on: self.published_on.unwrap_or(self.listen.ip()),
            allow_public: self.allow_public_cookie_key,
            allow_variable: "VOTE_ALLOW_PUBLIC_COOKIE_KEY",
        }
        .load()
        .map_err(|problem| ConfigError {
            variable: problem.variable,
            message: problem.message,
        })
    }

    /// The name this replica reports in `x-tally-replica`.
    pub fn replica_name(&self) -> String {
        self.replica_name.clone().unwrap_or_else(host_name)
    }
}

/// Longest replica wait: it must end well before the service gives up on Redis's answer
/// (2 s), or a slow replica would look like Redis being away.
const MAX_REPLICA_WAIT: Duration = Duration::from_millis(1500);

/// A replica wait between 1 ms and [`MAX_REPLICA_WAIT`].
fn parse_replica_wait(text: &str) -> Result<Duration, String> {
    let wait = parse_duration(text)?;
    if wait.is_zero() || wait > MAX_REPLICA_WAIT {
        return Err(format!(
            "must be between 1ms and {}ms",
            MAX_REPLICA_WAIT.as_millis()
        ));
    }
    Ok(wait)
}

/// The machine's (or container's) host name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("tally-vote").chain(args.iter().copied()))
    }

    #[test]
    fn the_public_key_is_refused_where_others_can_vote() {
        let key = |args: &[&str]| parse(args).unwrap().cookie_key();
        let error = key(&[]).expect_err("0.0.0.0 with the built-in key");
        assert_eq!(error.variable, "VOTE_COOKIE_KEY_FILE");
        assert!(error.message.contains("0.0.0.0"), "{}", error.message);
        assert!(key(&["--listen", "127.0.0.1:8081"]).is_ok());
        assert!(key(&["--published-on", "127.0.0.1"]).is_ok());
        assert!(key(&["--published-on", "192.0.2.7"]).is_err());
        assert!(key(&["--allow-public-cookie-key", "true"]).is_ok());
        assert!(key(&["--allow-public-cookie-key", "false"]).is_err());
        let error = key(&["--cookie-key", "short"]).expect_err("short");
        assert_eq!(error.variable, "VOTE_COOKIE_KEY");
    }

    #[test]
    fn bad_values_fail_to_parse() {
        assert!(parse(&["--redis-url", "http://nope"]).is_err());
        assert!(parse(&["--queue-high-water", "0"]).is_err());
        assert!(parse(&["--listen", "nowhere"]).is_err());
        assert!(parse(&["--durability", "maybe"]).is_err());
        assert!(parse(&["--durability-timeout", "0s"]).is_err());
        assert!(parse(&["--durability-timeout", "5s"]).is_err());
        assert!(parse(&["--durability-replicas", "0"]).is_err());
    }

    #[test]
    fn durability_defaults_to_fsync() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.durability, Durability::Fsync);
        let config = parse(&["--durability", "replicated", "--durability-timeout", "1s"]).unwrap();
        assert_eq!(config.durability, Durability::Replicated);
        assert_eq!(config.durability_timeout, Duration::from_secs(1));
    }
}
