//! The Postgres pool: lazily connected, every wait bounded, so a dead database gives a
//! fast error rather than a hung request or a service that will not start.

use std::path::Path;
use std::time::Duration;

use deadpool_postgres::{BuildError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

/// Accepts a Postgres URL or key=value connection string (a clap value parser).
pub fn parse_database_url(text: &str) -> Result<tokio_postgres::Config, String> {
    text.parse::<tokio_postgres::Config>().map_err(|_| {
        "not a Postgres connection string (postgres://user:password@host:port/db)".to_owned()
    })
}

/// Reads a connection string from a file (a container secret) and parses it (a clap
/// value parser, so a missing or bad file fails configuration).
pub fn read_database_url_file(path: &str) -> Result<tokio_postgres::Config, String> {
    let text = std::fs::read_to_string(Path::new(path))
        .map_err(|error| format!("cannot read {path}: {error}"))?;
    parse_database_url(text.trim())
}

/// Settings of a [`PostgresPool`].
#[derive(Debug, Clone)]
pub struct PostgresPool {
    /// Where to connect.
    pub config: tokio_postgres::Config,
    /// Connections kept at most.
    pub max_size: usize,
    /// Time allowed to connect, and to wait for, create or recycle a pooled connection.
    pub timeout: Duration,
    /// Name the connections carry in `pg_stat_activity`, unless the URL sets one.
    pub application_name: &'static str,
}

impl PostgresPool {
    /// The pool; no connection is opened until one is asked for.
    pub fn build(self) -> Result<Pool, BuildError> {
        let mut config = self.config;
        config.connect_timeout(self.timeout);
        if config.get_application_name().is_none() {
            config.application_name(self.application_name);
        }
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(self.max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_do_not_echo_their_secrets() {
        let error = parse_database_url("postgres://u:s3cret@host:notaport/db").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = read_database_url_file("/nonexistent/tally-db-url").unwrap_err();
        assert!(error.contains("/nonexistent/tally-db-url"), "{error}");
    }
}
