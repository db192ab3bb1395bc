//! The result service's configuration, from flags and environment variables.

use std::net::SocketAddr;

use clap::Parser;
use tally_runtime::ServerArgs;

/// tally-result: serves poll results, cache-first from Redis, Postgres on a miss.
#[derive(Debug, Clone, Parser)]
#[command(name = "tally-result", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "RESULT_LISTEN", default_value = "0.0.0.0:8082")]
    pub listen: SocketAddr,

    /// Address of the admin port: `/metrics` for Prometheus, `/healthz`, `/readyz`.
    /// Never published; it must differ from the public port.
    #[arg(long, env = "RESULT_ADMIN_LISTEN", default_value = "0.0.0.0:9182")]
    pub admin_listen: SocketAddr,

    /// Redis holding the results cache.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/", value_parser = tally_connect::parse_redis_url)]
    pub redis_url: String,

    /// Prefix of every Redis key (lets several deployments or tests share one Redis).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,

    /// Postgres to read results from on a cache miss, as the read-only role.
    #[arg(
        long,
        env = "RESULT_DATABASE_URL",
        default_value = "postgres://tally_result@127.0.0.1:5432/tally",
        hide_env_values = true,
        value_parser = tally_connect::parse_database_url
    )]
    pub database_url: tokio_postgres::Config,

    /// File holding the connection string (a container secret); wins over RESULT_DATABASE_URL.
    #[arg(long, env = "RESULT_DATABASE_URL_FILE", value_parser = tally_connect::read_database_url_file)]
    pub database_url_file: Option<tokio_postgres::Config>,

    /// Postgres connections kept at most.
    #[arg(long, env = "RESULT_DB_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub db_pool_size: u32,

    #[command(flatten)]
    pub server: ServerArgs,

    #[command(flatten)]
    pub live: crate::live::LiveArgs,
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

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("tally-result").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_parse() {
        let config = parse(&[]).expect("defaults parse");
        assert_eq!(config.listen.port(), 8082);
        assert_eq!(config.db_pool_size, 8);
        assert_eq!(config.database_url.get_user(), Some("tally_result"));
        assert_eq!(config.database_url.get_dbname(), Some("tally"));
    }

    #[test]
    fn bad_values_fail_to_parse() {
        assert!(parse(&["--database-url", "postgres://host:notaport/db"]).is_err());
        assert!(parse(&["--redis-url", "http://nope"]).is_err());
        assert!(parse(&["--db-pool-size", "0"]).is_err());
    }

    #[test]
    fn the_password_stays_out_of_debug_output() {
        let config = parse(&["--database-url", "postgres://u:hunter2@db/tally"]).expect("parses");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
