//! How the services reach Redis and Postgres, the same way everywhere: parsing the
//! connection settings during configuration (so a bad URL exits 64 before binding), a
//! Redis connection that connects lazily and reconnects by itself, and a Postgres pool
//! that connects lazily — so a service starts, and says it is not ready, while either
//! is down.

pub mod postgres;
pub mod redis_link;

pub use postgres::{parse_database_url, read_database_url_file, PostgresPool};
pub use redis_link::{parse_redis_url, RedisLink};
