//! The worker's configuration, from flags and environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tally_runtime::{parse_duration, ServerArgs};

/// tally-worker: applies the vote stream to Postgres, exactly once in effect.
#[derive(Debug, Clone, Parser)]
#[command(name = "tally-worker", version, about)]
pub struct Config {
    /// Address of the health endpoints (/healthz, /readyz).
    #[arg(long, env = "WORKER_LISTEN", default_value = "0.0.0.0:8083")]
    pub listen: SocketAddr,

    /// Address of the admin port: `/metrics` for Prometheus, `/healthz`, `/readyz`.
    /// Never published; it must differ from the public port.
    #[arg(long, env = "WORKER_ADMIN_LISTEN", default_value = "0.0.0.0:9183")]
    pub admin_listen: SocketAddr,

    /// Redis holding the vote stream.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/", value_parser = tally_connect::parse_redis_url)]
    pub redis_url: String,

    /// Prefix of every Redis key (lets several deployments or tests share one Redis).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,

    /// Postgres, as the read/write role that owns the schema.
    #[arg(long, env = "DATABASE_URL", default_value = "postgres://tally@127.0.0.1:5432/tally", value_parser = tally_connect::parse_database_url, hide_env_values = true)]
    pub database_url: tokio_postgres::Config,

    /// File holding the Postgres connection string (a container secret); wins over DATABASE_URL.
    #[arg(long, env = "DATABASE_URL_FILE", value_parser = tally_connect::read_database_url_file)]
    pub database_url_file: Option<tokio_postgres::Config>,

    /// Postgres connections in the pool.
    #[arg(long, env = "WORKER_DB_POOL_SIZE", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub db_pool_size: u32,

    /// Entries applied per transaction.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,

    /// How long one read waits for new entries.
    #[arg(long, env = "WORKER_BLOCK", default_value = "500ms", value_parser = parse_duration)]
    pub block: Duration,

    /// Pause after a batch that was not full, before the next read: while votes keep
    /// coming, they are applied in fewer, larger transactions (less CPU per vote for
    /// Postgres and the worker, left to the edge and the vote service); `0s` reads at once.
    #[arg(long, env = "WORKER_BATCH_LINGER", default_value = "20ms", value_parser = parse_duration)]
    pub batch_linger: Duration,

    /// Entries left pending this long by a consumer are taken over (it is presumed dead).
    #[arg(long, env = "WORKER_CLAIM_IDLE", default_value = "30s", value_parser = parse_duration)]
    pub claim_idle: Duration,

    /// How often acknowledged entries are trimmed and the poll definitions in Redis checked.
    #[arg(long, env = "WORKER_HOUSEKEEPING_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub housekeeping_interval: Duration,

    /// This worker's consumer name in the group (default: host name and a random suffix).
    #[arg(long, env = "WORKER_CONSUMER_NAME")]
    pub consumer_name: Option<String>,

    /// The default poll's question.
    #[arg(long, env = "WORKER_DEFAULT_QUESTION", default_value = "Cats vs Dogs")]
    pub default_question: String,

    /// The default poll's option `a` (the classic app's OPTION_A).
    #[arg(long, env = "OPTION_A", default_value = "Cats")]
    pub option_a: String,

    /// The default poll's option `b` (the classic app's OPTION_B).
    #[arg(long, env = "OPTION_B", default_value = "Dogs")]
    pub option_b: String,

    #[command(flatten)]
    pub server: ServerArgs,
}

impl Config {
    /// Where Postgres is: the file's connection string if one is given, else the URL.
    pub fn database(&self) -> &tokio_postgres::Config {
        self.database_url_file
            .as_ref()
            .unwrap_or(&self.database_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_bad_values_do_not() {
        assert!(Config::try_parse_from(["tally-worker"]).is_ok());
        for args in [
            ["--database-url", "mysql://nope"],
            ["--batch-size", "0"],
            ["--claim-idle", "forever"],
        ] {
            let all = std::iter::once("tally-worker").chain(args);
            assert!(Config::try_parse_from(all).is_err(), "{args:?}");
        }
    }
}
