//! The Redis connection: one multiplexed connection per use, pipelining concurrent
//! commands, connecting on first use and reconnecting after Redis restarts.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Time allowed to open (or reopen) the TCP connection to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts a URL the Redis client can use (a clap value parser).
pub fn parse_redis_url(text: &str) -> Result<String, String> {
    redis::Client::open(text)
        .map(|_| text.to_owned())
        .map_err(|error| format!("not a Redis URL: {error}"))
}

/// Builds Redis connections for one URL.
#[derive(Debug, Clone)]
pub struct RedisLink {
    url: String,
}

impl RedisLink {
    /// Connections to `url` (already checked by [`parse_redis_url`]).
    pub fn new(url: impl Into<String>) -> Self {
        RedisLink { url: url.into() }
    }

    /// A connection whose commands fail after `response_timeout`. It connects on first
    /// use, so Redis may be down when the service starts.
    pub fn connect(&self, response_timeout: Duration) -> redis::RedisResult<ConnectionManager> {
        let client = redis::Client::open(self.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(response_timeout))
            .set_connection_timeout(Some(CONNECT_TIMEOUT));
        ConnectionManager::new_lazy_with_config(client, config)
    }
}
